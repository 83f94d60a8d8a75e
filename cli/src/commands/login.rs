//! `importctl login` and `logout`: an application's client credentials checked against the
//! token endpoint and kept in the credentials file for later commands, or forgotten.

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::print_json;
use crate::auth::{self, ClientCredentials, Credentials, Given, DEFAULT_API_URL};
use crate::client::Api;
use crate::config::{self, Kept};
use crate::EXIT_OK;

/// Runs `login`: gets an access token with the given client credentials and, if one comes,
/// keeps them (never printed) with the URLs and the CA file.
pub(super) fn login(json_output: bool, given: &Given) -> Result<i32> {
    let client = auth::given_client(given)?;
    if given.token.as_deref().is_some_and(|t| !t.trim().is_empty()) {
        bail!("login keeps client credentials, not a token: pass --client-id and --client-secret, without --token (IMPORTS_TOKEN)");
    }
    let Some((client_id, client_secret)) = client else {
        bail!("login needs --client-id and --client-secret (or IMPORTS_CLIENT_ID and IMPORTS_CLIENT_SECRET)");
    };
    let path = config::path(given.config.as_deref())?;
    // Logging in again keeps the URLs of the file unless others are given; a corrupt file
    // is what a new login repairs, so it is not an error here.
    let kept = config::read(&path).ok().flatten();
    let trimmed = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| u.trim_end_matches('/').to_owned())
    };
    let (api_url, kept) = match (trimmed(&given.api_url), kept) {
        (Some(url), _) => (url, None),
        (None, Some(kept)) => (kept.api_url.clone(), Some(kept)),
        (None, None) => (DEFAULT_API_URL.to_owned(), None),
    };
    let auth_url = trimmed(&given.auth_url).or_else(|| kept.as_ref()?.auth_url.clone());
    // Kept absolute: later commands may run from elsewhere.
    let ca_file = match &given.ca_file {
        Some(p) => Some(
            std::path::absolute(p)
                .with_context(|| format!("cannot read the CA file {}", p.display()))?,
        ),
        None => kept.as_ref().and_then(|k| k.ca_file.clone()),
    };
    let credentials = ClientCredentials {
        client_id: client_id.clone(),
        client_secret: client_secret.clone(),
        token_url: auth::token_url(auth_url.as_deref().unwrap_or(&api_url)),
        hint: auth::FLAGS_HINT.into(),
    };
    let api = Api::new(
        &api_url,
        Credentials::Client(credentials),
        ca_file.as_deref(),
    )?;
    // Client credentials always ask the token endpoint; only an API token has nothing to ask.
    let token = api
        .renew_token()?
        .ok_or_else(|| anyhow::anyhow!("login needs client credentials, not an API token"))?;
    config::write(
        &path,
        &Kept {
            api_url: api_url.clone(),
            auth_url: auth_url.clone(),
            ca_file,
            client_id: client_id.clone(),
            client_secret,
        },
    )?;
    let claims = token.claims().unwrap_or_default();
    let organization = claims["organization"]["slug"].as_str();
    let mode = claims["test"]
        .as_bool()
        .map(|test| if test { "test" } else { "live" });
    if json_output {
        print_json(&json!({
            "api_url": api_url,
            "auth_url": auth_url,
            "client_id": client_id,
            "organization": organization,
            "mode": mode,
            "scope": token.scope,
            "expires_in": token.expires_in.map(|d| d.as_secs()),
            "config": path,
        }))?;
    } else {
        let who = match (organization, mode) {
            (Some(o), Some(m)) => format!(" as {o} ({m})"),
            (Some(o), None) => format!(" as {o}"),
            _ => String::new(),
        };
        println!(
            "logged in to {api_url}{who} with client id {client_id}; credentials kept in {}",
            path.display()
        );
    }
    Ok(EXIT_OK)
}

/// Runs `logout`: removes the credentials file (nothing to remove is not an error).
pub(super) fn logout(json_output: bool, given: &Given) -> Result<i32> {
    let path = config::path(given.config.as_deref())?;
    let removed = config::remove(&path)?;
    if json_output {
        print_json(&json!({"config": path, "removed": removed}))?;
    } else if removed {
        println!("logged out: removed {}", path.display());
    } else {
        println!("not logged in: there is no {}", path.display());
    }
    Ok(EXIT_OK)
}
