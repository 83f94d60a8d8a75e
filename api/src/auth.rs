//! The bearer-token extractor: every `/api/imports` handler takes an [`Authenticated`]
//! tenant, so no query can run unscoped.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use imports_common::model::Tenant;

use crate::errors::ApiError;
use crate::AppState;

/// The tenant of the request's token.
pub struct Authenticated(pub Tenant);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        let client = state.pool.get().await?;
        match crate::tokens::identify(&**client, token).await? {
            Some((token_id, tenant)) => {
                state.limiter.check(&token_id).map_err(|retry_after| {
                    ApiError::too_many(
                        "this token is over its request rate; slow down",
                        retry_after,
                    )
                })?;
                Ok(Authenticated(tenant))
            }
            None => Err(ApiError::unauthorized()),
        }
    }
}
