//! OAuth2 as Commerce Layer's auth server does it, for its own clients: client credentials
//! get JWT access tokens ([`jwt`]), signed with a key set shared through Postgres ([`keys`]),
//! checked on every request in memory: signature (once per token, [`verified`]), expiry and
//! revocations ([`revocations`]),
//! which every replica refreshes twice a second.

pub mod jwt;
pub mod keys;
pub mod revocations;
pub mod verified;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use deadpool_postgres::Pool;
use imports_common::accounts::Application;
use imports_common::model::Mode;
use imports_runtime::config::OAuthConfig;
use imports_storage::signing_keys;
use tokio_util::sync::CancellationToken;

use jwt::{ApplicationClaim, Claims, Invalid, OrganizationClaim};
use keys::KeySet;
use revocations::Revocations;
use verified::{Verified, VerifiedTokens};

/// How often each replica rereads the key set and the revocations.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(500);

/// The region tokens name: Commerce Layer's claim, with no meaning here.
const REGION: &str = "self-hosted";

/// Why a token could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The token is not valid (a 401).
    #[error("{0}")]
    Invalid(#[from] Invalid),
    /// The key set has not been read from Postgres yet (a 503).
    #[error("the token signing keys are not loaded yet")]
    NotReady,
    /// The claims could not be written as JSON (a 500; not expected to happen).
    #[error("cannot write the token's claims: {0}")]
    Unwritable(#[from] serde_json::Error),
}

/// An issued access token.
pub struct Issued {
    /// The JWT.
    pub token: String,
    /// What it says.
    pub claims: Claims,
}

/// The token issuer and verifier of one API process.
pub struct OAuth {
    /// The settings.
    pub config: OAuthConfig,
    file_key: Option<(String, String)>,
    keys: RwLock<Option<Arc<KeySet>>>,
    /// What the key set was built from (kids and the signing one), to rebuild on change only.
    keys_source: RwLock<Vec<(String, bool)>>,
    revocations: Revocations,
    /// Tokens whose signature was checked already.
    verified: VerifiedTokens,
    /// True once the key set has been read.
    loaded: tokio::sync::watch::Sender<bool>,
}

impl OAuth {
    /// The issuer of `config`; it signs and verifies once [`OAuth::refresh`] has read the key
    /// set. A file key that cannot be read is an error now, at startup.
    pub fn new(config: OAuthConfig) -> anyhow::Result<Self> {
        let file_key = config
            .jwt_private_key
            .as_deref()
            .map(keys::read_key_file)
            .transpose()?;
        Ok(OAuth {
            config,
            file_key,
            keys: RwLock::new(None),
            keys_source: RwLock::new(Vec::new()),
            revocations: Revocations::default(),
            verified: VerifiedTokens::default(),
            loaded: tokio::sync::watch::Sender::new(false),
        })
    }

    fn lifetime_secs(&self) -> f64 {
        self.config.token_lifetime.as_secs_f64()
    }

    fn key_set(&self) -> Option<Arc<KeySet>> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Makes sure a signing key exists, then reads the key set and the revocations.
    pub async fn start(&self, pool: &Pool) -> anyhow::Result<()> {
        let mut client = pool.get().await?;
        keys::ensure(&mut client, self.file_key.as_ref(), self.lifetime_secs()).await?;
        drop(client);
        self.refresh(pool).await
    }

    /// Rereads the key set (rebuilt only when it changed) and the revocations in force.
    pub async fn refresh(&self, pool: &Pool) -> anyhow::Result<()> {
        let client = pool.get().await?;
        let stored = signing_keys::published_keys(&*client, self.lifetime_secs()).await?;
        let source: Vec<(String, bool)> =
            stored.iter().map(|k| (k.kid.clone(), k.signing)).collect();
        let changed = *self.keys_source.read().unwrap_or_else(|p| p.into_inner()) != source;
        if changed || self.key_set().is_none() {
            let set = keys::build(&stored, self.file_key.as_ref())?;
            *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(set));
            *self.keys_source.write().unwrap_or_else(|p| p.into_inner()) = source;
            self.loaded.send_replace(true);
        }
        self.revocations.refresh(&*client).await?;
        Ok(())
    }

    /// Keeps the key set and revocations current until `shutdown`, once Postgres has let
    /// [`OAuth::start`] succeed (retried until then).
    pub async fn run(self: Arc<Self>, pool: Pool, shutdown: CancellationToken) {
        let mut started = false;
        let mut failures = 0u32;
        let mut rounds = 0u64;
        loop {
            rounds += 1;
            // Every ten minutes or so, forget revocations of tokens long expired.
            if rounds.is_multiple_of(1200) {
                if let Ok(client) = pool.get().await {
                    let _ = imports_storage::revocations::purge_expired(&*client).await;
                }
            }
            let result = if started {
                self.refresh(&pool).await
            } else {
                self.start(&pool).await
            };
            match result {
                Ok(()) => {
                    started = true;
                    failures = 0;
                }
                Err(e) => {
                    failures += 1;
                    // Said once, then every minute or so while it lasts.
                    if failures == 1 || failures.is_multiple_of(120) {
                        tracing::warn!("cannot read the token keys and revocations: {e:#}");
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(REFRESH_INTERVAL) => {}
            }
        }
    }

    /// Whether the key set has been read: until then the API is not ready (`/readyz`).
    pub fn is_loaded(&self) -> bool {
        *self.loaded.borrow()
    }

    /// Waits, at most `within`, for the key set to be read (the first seconds after start,
    /// when the first replica makes the first key); `false` if it still is not.
    pub async fn wait_loaded(&self, within: Duration) -> bool {
        let mut loaded = self.loaded.subscribe();
        tokio::time::timeout(within, loaded.wait_for(|l| *l))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// A new access token for `app`, granted `scope`.
    pub fn issue(&self, app: &Application, scope: &str) -> Result<Issued, Refused> {
        let keys = self.key_set().ok_or(Refused::NotReady)?;
        let iat = chrono::Utc::now().timestamp();
        let claims = Claims {
            organization: OrganizationClaim {
                id: app.organization.id.clone(),
                slug: app.organization.slug.clone(),
                enterprise: false,
                region: REGION.into(),
            },
            application: ApplicationClaim {
                id: app.id.clone(),
                client_id: app.client_id.clone(),
                kind: app.kind.as_str().into(),
                public: false,
            },
            scope: scope.into(),
            test: app.mode == Mode::Test,
            exp: iat + self.config.token_lifetime.as_secs() as i64,
            iat,
            rand: rand::random::<f64>(),
            iss: self.config.auth_url.clone(),
        };
        let token = jwt::encode(&claims, &keys.signer.kid, &keys.signer.key)?;
        Ok(Issued { token, claims })
    }

    /// The claims of a valid token: signed by a key of the set, issued here, unexpired and
    /// not revoked. No query: everything it needs is in memory, and a token seen before
    /// skips only the signature check.
    pub fn verify(&self, token: &str) -> Result<Claims, Refused> {
        let keys = self.key_set().ok_or(Refused::NotReady)?;
        let now = chrono::Utc::now().timestamp();
        let claims = match self.verified.get(token) {
            Some(seen) => {
                if keys.verifier(&seen.kid).is_none() {
                    return Err(Invalid::UnknownKey.into());
                }
                seen.claims.unexpired(now)?;
                seen.claims
            }
            None => {
                let unverified = jwt::parse(token)?;
                let key = keys.verifier(&unverified.kid).ok_or(Invalid::UnknownKey)?;
                let kid = unverified.kid.clone();
                let claims = unverified.verify(key, &self.config.auth_url, now)?;
                let seen = Verified {
                    kid,
                    claims: claims.clone(),
                };
                self.verified.insert(token, seen, now);
                claims
            }
        };
        if self.revocations.revokes(&claims) {
            return Err(Invalid::Revoked.into());
        }
        Ok(claims)
    }

    /// The revocations of this process, to record one at once.
    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    /// The public keys, for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Result<serde_json::Value, Refused> {
        Ok(self.key_set().ok_or(Refused::NotReady)?.jwks.clone())
    }
}
