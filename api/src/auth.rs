//! The bearer-token extractors: every `/api` handler takes an [`Authenticated`] tenant (or
//! the whole [`Caller`]), so no query can run unscoped. A token is a JWT access token,
//! checked in memory by [`crate::oauth`], or an `imp_` API token, found by its hash (at most
//! once a second per token and process: [`crate::known_tokens`]).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use imports_common::model::{Mode, Tenant};

use crate::errors::ApiError;
use crate::oauth::jwt::Claims;
use crate::oauth::Refused;
use crate::rate_limit::client_address;
use crate::AppState;

/// The tenant of the request's token.
pub struct Authenticated(pub Tenant);

/// Who made the request: the tenant, and the claims when the token is a JWT.
pub struct Caller {
    /// Whose data it reaches.
    pub tenant: Tenant,
    /// The access token's claims; `None` for an `imp_` API token.
    pub claims: Option<Claims>,
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(ApiError::unauthorized)?;
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(ApiError::unauthorized)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        let address = client_address(parts, &state.config.http);
        // A failed authentication spends one of the address's unauthenticated requests.
        let refused = |e: ApiError| match state.address_limiter.check(&address) {
            Ok(()) => e,
            Err(retry_after) => over_address_limit(retry_after),
        };
        let (limit_key, caller) = if token.starts_with("imp_") {
            // Once they are spent, an API token is not even looked up.
            if let Some(retry_after) = state.address_limiter.exhausted(&address) {
                return Err(over_address_limit(retry_after));
            }
            let (token_id, tenant) =
                crate::tokens::identify_known(&state.pool, &state.known_tokens, token)
                    .await?
                    .ok_or_else(|| refused(ApiError::unauthorized()))?;
            let caller = Caller {
                tenant,
                claims: None,
            };
            (token_id, caller)
        } else {
            let mut verified = state.oauth.verify(token);
            if matches!(verified, Err(Refused::NotReady))
                && state
                    .oauth
                    .wait_loaded(std::time::Duration::from_secs(10))
                    .await
            {
                verified = state.oauth.verify(token);
            }
            let claims = verified.map_err(|e| match e {
                Refused::Invalid(why) => {
                    tracing::debug!("access token refused: {why}");
                    refused(ApiError::unauthorized())
                }
                Refused::NotReady => ApiError::unavailable(e),
                // Only issuing writes claims; a check never meets this.
                Refused::Unwritable(_) => ApiError::internal(e),
            })?;
            let mode = if claims.test { Mode::Test } else { Mode::Live };
            let caller = Caller {
                tenant: Tenant {
                    organization_id: claims.organization.slug.clone(),
                    mode,
                },
                claims: Some(claims),
            };
            // An application's tokens share one budget, however many it fetches.
            let key = caller.claims.as_ref().map(|c| c.application.id.clone());
            (key.unwrap_or_default(), caller)
        };
        state.limiter.check(&limit_key).map_err(|retry_after| {
            ApiError::too_many(
                "this token is over its request rate; slow down",
                retry_after,
            )
        })?;
        Ok(caller)
    }
}

/// The 429 of an address that spent its unauthenticated requests.
fn over_address_limit(retry_after: u64) -> ApiError {
    ApiError::too_many(
        "too many unauthenticated requests from this address; slow down",
        retry_after,
    )
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Authenticated(
            Caller::from_request_parts(parts, state).await?.tenant,
        ))
    }
}
