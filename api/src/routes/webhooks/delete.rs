//! `DELETE /api/webhooks/{id}`: the webhook with its deliveries and callbacks; deliveries
//! being sent at that moment finish, none is sent after.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::auth::Authenticated;
use crate::errors::ApiError;
use crate::AppState;

/// `DELETE /api/webhooks/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if id.contains('\0') {
        return Err(ApiError::not_found("webhook"));
    }
    let client = state.pool.get().await?;
    if !imports_storage::webhooks::delete_webhook(&*client, &tenant, &id).await? {
        return Err(ApiError::not_found("webhook"));
    }
    tracing::info!(webhook_id = %id, "webhook deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}
