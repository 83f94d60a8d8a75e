//! Which credentials a command uses, and the access tokens that client credentials get.
//!
//! importctl authenticates with an `imp_` API token (`--token`), or with an application's
//! client id and secret (`--client-id`, `--client-secret`, or those kept by `importctl
//! login`), which it exchanges for a JWT access token at `POST {auth}/oauth/token`, as
//! Commerce Layer's clients do. Flags and the environment (clap reads both; a flag wins)
//! come before the credentials file, setting by setting; a token and client credentials
//! given together are an error rather than a silent choice.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use base64::Engine;
use serde_json::Value;

use crate::config;

/// The API's URL when neither a flag, the environment nor the credentials file gives one.
pub const DEFAULT_API_URL: &str = "http://127.0.0.1:8080";

/// A token is renewed when it has less than this left (or half its lifetime, when that is
/// shorter), so that a call does not start with a token about to expire.
pub const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// An application's client credentials and where to exchange them for access tokens.
#[derive(Clone)]
pub struct ClientCredentials {
    /// The application's client id.
    pub client_id: String,
    /// Its client secret, sent to the token endpoint only.
    pub client_secret: String,
    /// `{auth}/oauth/token`.
    pub token_url: String,
    /// What to check when the token endpoint refuses them (flags, or the kept file).
    pub hint: String,
}

/// Never the secret, even in a debug print.
impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("token_url", &self.token_url)
            .finish_non_exhaustive()
    }
}

/// How a command authenticates.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// An `imp_` API token, sent as it is.
    Token(String),
    /// Client credentials, exchanged for access tokens as needed.
    Client(ClientCredentials),
}

/// What the command line and the environment give (empty values count as not given).
#[derive(Debug, Default, Clone)]
pub struct Given {
    /// `--api-url`, `IMPORTS_API_URL`.
    pub api_url: Option<String>,
    /// `--token`, `IMPORTS_TOKEN`.
    pub token: Option<String>,
    /// `--client-id`, `IMPORTS_CLIENT_ID`.
    pub client_id: Option<String>,
    /// `--client-secret`, `IMPORTS_CLIENT_SECRET`.
    pub client_secret: Option<String>,
    /// `--auth-url`, `IMPORTS_AUTH_URL`.
    pub auth_url: Option<String>,
    /// `--ca-file`, `IMPORTS_CA_FILE`.
    pub ca_file: Option<PathBuf>,
    /// `--config`, `IMPORTS_CONFIG`.
    pub config: Option<PathBuf>,
}

/// Where a command goes and how it authenticates.
#[derive(Debug)]
pub struct Resolved {
    /// The API's root URL.
    pub api_url: String,
    /// The credentials.
    pub credentials: Credentials,
    /// The extra CA certificates to trust.
    pub ca_file: Option<PathBuf>,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// `{auth}/oauth/token`.
pub fn token_url(auth_url: &str) -> String {
    format!("{}/oauth/token", auth_url.trim_end_matches('/'))
}

pub(crate) const FLAGS_HINT: &str =
    "check --client-id and --client-secret, or IMPORTS_CLIENT_ID and IMPORTS_CLIENT_SECRET";

/// The client credentials of the flags or the environment: `None` when neither is given.
/// Only one of the two is an error, as is either with a token.
pub fn given_client(g: &Given) -> Result<Option<(String, String)>> {
    let (id, secret) = (given(&g.client_id), given(&g.client_secret));
    if given(&g.token).is_some() && (id.is_some() || secret.is_some()) {
        bail!("both a token (--token, IMPORTS_TOKEN) and client credentials (--client-id/--client-secret, IMPORTS_CLIENT_ID/IMPORTS_CLIENT_SECRET) are given: use one");
    }
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(Some((id, secret))),
        (Some(_), None) => {
            bail!("--client-id needs --client-secret (or IMPORTS_CLIENT_SECRET)")
        }
        (None, Some(_)) => bail!("--client-secret needs --client-id (or IMPORTS_CLIENT_ID)"),
        (None, None) => Ok(None),
    }
}

/// The credentials and URLs of a command. Each setting is taken from the flags or the
/// environment, else from the file `importctl login` kept, else its default: the token or
/// client credentials given, else the kept client credentials; the URL given, else the kept
/// one; the kept auth URL only with the kept URL. The file is read only when something is
/// missing, so a token and a URL need none.
pub fn resolve(g: &Given) -> Result<Resolved> {
    let client = given_client(g)?;
    let token = given(&g.token);
    let api_url = given(&g.api_url);
    let kept = if (token.is_none() && client.is_none()) || api_url.is_none() {
        let path = config::path(g.config.as_deref())?;
        config::read(&path)?.map(|kept| (path, kept))
    } else {
        None
    };
    let kept_auth_url = kept
        .as_ref()
        .filter(|_| api_url.is_none())
        .and_then(|(_, k)| k.auth_url.clone());
    let ca_file = g
        .ca_file
        .clone()
        .or_else(|| kept.as_ref().and_then(|(_, k)| k.ca_file.clone()));
    let api_url = api_url
        .or_else(|| kept.as_ref().map(|(_, k)| k.api_url.clone()))
        .unwrap_or_else(|| DEFAULT_API_URL.into());
    let auth = given(&g.auth_url)
        .or(kept_auth_url)
        .unwrap_or_else(|| api_url.clone());
    let credentials = match (token, client, kept) {
        (Some(token), _, _) => Credentials::Token(token),
        (None, Some((client_id, client_secret)), _) => Credentials::Client(ClientCredentials {
            client_id,
            client_secret,
            token_url: token_url(&auth),
            hint: FLAGS_HINT.into(),
        }),
        (None, None, Some((path, kept))) => Credentials::Client(ClientCredentials {
            client_id: kept.client_id,
            client_secret: kept.client_secret,
            token_url: token_url(&auth),
            hint: kept_hint(&path),
        }),
        (None, None, None) => bail!("no credentials: pass --token (IMPORTS_TOKEN), or --client-id and --client-secret (IMPORTS_CLIENT_ID, IMPORTS_CLIENT_SECRET), or run importctl login"),
    };
    Ok(Resolved {
        api_url,
        credentials,
        ca_file,
    })
}

/// What to check when the kept credentials are refused.
fn kept_hint(path: &Path) -> String {
    format!(
        "check the credentials kept in {}, or run importctl login again",
        path.display()
    )
}

/// An access token of the token endpoint, and when it should be renewed.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The JWT.
    pub token: String,
    /// Its lifetime as the token endpoint said it (`expires_in`), if it did.
    pub expires_in: Option<Duration>,
    /// Its `scope`.
    pub scope: Option<String>,
    /// When it was received.
    pub received: Instant,
}

impl AccessToken {
    /// Reads the token endpoint's answer.
    pub fn from_answer(answer: &Value, received: Instant) -> Result<AccessToken> {
        let token = answer["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| anyhow!("the token endpoint's answer has no access_token"))?;
        Ok(AccessToken {
            token: token.to_owned(),
            expires_in: answer["expires_in"].as_u64().map(Duration::from_secs),
            scope: answer["scope"].as_str().map(str::to_owned),
            received,
        })
    }

    /// Whether it can still be sent at `now`: it has more than [`RENEW_BEFORE`] left (or
    /// half its lifetime, for a short-lived one). Without an `expires_in`, only a 401 renews.
    pub fn fresh(&self, now: Instant) -> bool {
        match self.expires_in {
            None => true,
            Some(lifetime) => {
                let margin = RENEW_BEFORE.min(lifetime / 2);
                now.saturating_duration_since(self.received) + margin < lifetime
            }
        }
    }

    /// The JWT's claims, for what `login` tells (the organization and the mode); `None` for
    /// a token that is not a readable JWT.
    pub fn claims(&self) -> Option<Value> {
        let payload = self.token.split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn g() -> Given {
        Given {
            config: Some(std::env::temp_dir().join("importctl-no-such-dir/credentials.json")),
            ..Given::default()
        }
    }

    #[test]
    fn flags_decide_and_mixing_a_token_with_client_credentials_is_refused() {
        let mut token = g();
        token.token = Some("imp_x".into());
        let r = resolve(&token).unwrap();
        assert!(matches!(r.credentials, Credentials::Token(t) if t == "imp_x"));
        assert_eq!(r.api_url, DEFAULT_API_URL);

        let mut both = token.clone();
        both.client_id = Some("id".into());
        let e = resolve(&both).unwrap_err().to_string();
        assert!(e.contains("--token") && e.contains("--client-id"), "{e}");

        let mut client = g();
        client.client_id = Some("id".into());
        assert_eq!(
            resolve(&client).unwrap_err().to_string(),
            "--client-id needs --client-secret (or IMPORTS_CLIENT_SECRET)"
        );
        client.client_secret = Some("secret".into());
        client.api_url = Some("https://api.test/".into());
        let r = resolve(&client).unwrap();
        let Credentials::Client(c) = r.credentials else {
            panic!("client credentials")
        };
        assert_eq!(c.token_url, "https://api.test/oauth/token");
        assert!(!format!("{c:?}").contains("secret\""));
        client.auth_url = Some("https://auth.test".into());
        let Credentials::Client(c) = resolve(&client).unwrap().credentials else {
            panic!("client credentials")
        };
        assert_eq!(c.token_url, "https://auth.test/oauth/token");

        let mut blank = g();
        blank.token = Some("  ".into());
        assert!(resolve(&blank)
            .unwrap_err()
            .to_string()
            .starts_with("no credentials: pass --token"));
    }

    #[test]
    fn the_kept_file_fills_in_what_is_not_given() {
        let dir = std::env::temp_dir().join(format!("importctl-resolve-{}", std::process::id()));
        let path = dir.join("credentials.json");
        config::write(
            &path,
            &config::Kept {
                api_url: "https://kept.test".into(),
                auth_url: Some("https://auth.kept.test".into()),
                ca_file: Some("/kept/ca.pem".into()),
                client_id: "kept-id".into(),
                client_secret: "kept-secret".into(),
            },
        )
        .unwrap();
        let g = Given {
            config: Some(path.clone()),
            ..Given::default()
        };
        let r = resolve(&g).unwrap();
        assert_eq!(r.api_url, "https://kept.test");
        assert_eq!(r.ca_file, Some(PathBuf::from("/kept/ca.pem")));
        let Credentials::Client(c) = r.credentials else {
            panic!("client credentials")
        };
        assert_eq!(
            (c.client_id.as_str(), c.token_url.as_str()),
            ("kept-id", "https://auth.kept.test/oauth/token")
        );
        assert!(c.hint.contains(&path.display().to_string()));

        // Another URL: the kept auth URL is not sent the kept secret for it.
        let elsewhere = Given {
            api_url: Some("https://other.test".into()),
            ..g.clone()
        };
        let Credentials::Client(c) = resolve(&elsewhere).unwrap().credentials else {
            panic!("client credentials")
        };
        assert_eq!(c.token_url, "https://other.test/oauth/token");

        // A token: the kept URL still; with a URL too, the file is not read.
        let token = Given {
            token: Some("imp_x".into()),
            ..g.clone()
        };
        let r = resolve(&token).unwrap();
        assert!(matches!(r.credentials, Credentials::Token(_)));
        assert_eq!(r.api_url, "https://kept.test");
        std::fs::write(&path, "{").unwrap();
        assert!(resolve(&token).is_err());
        let both = Given {
            api_url: Some("https://other.test".into()),
            ..token
        };
        assert_eq!(resolve(&both).unwrap().api_url, "https://other.test");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_token_is_renewed_before_it_expires() {
        let at = Instant::now();
        let t = AccessToken::from_answer(
            &json!({"access_token": "a.eyJ0ZXN0Ijp0cnVlfQ.c", "expires_in": 7200}),
            at,
        )
        .unwrap();
        assert!(t.fresh(at + Duration::from_secs(7139)));
        assert!(!t.fresh(at + Duration::from_secs(7141)));
        assert_eq!(t.claims().unwrap()["test"], true);
        let short = AccessToken {
            expires_in: Some(Duration::from_secs(2)),
            ..t.clone()
        };
        assert!(short.fresh(at + Duration::from_millis(900)));
        assert!(!short.fresh(at + Duration::from_millis(1100)));
        assert!(AccessToken::from_answer(&json!({"token_type": "bearer"}), at).is_err());
    }
}
