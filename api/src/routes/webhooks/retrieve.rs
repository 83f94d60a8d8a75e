//! `GET /api/webhooks/{id}`: one webhook of the tenant (its secret is not shown again).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::auth::Authenticated;
use crate::errors::{jsonapi, ApiError};
use crate::routes::webhooks::{document, find};
use crate::AppState;

/// `GET /api/webhooks/{id}`.
pub async fn retrieve(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let client = state.pool.get().await?;
    let webhook = find(&client, &tenant, &id).await?;
    Ok(jsonapi(StatusCode::OK, &document(&state, &webhook)))
}
