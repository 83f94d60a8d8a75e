//! `DELETE /api/imports/{id}`: interrupts the import if it runs, then deletes it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use imports_storage::imports;

use crate::auth::Authenticated;
use crate::errors::ApiError;
use crate::routes::imports::find;
use crate::AppState;

/// `DELETE /api/imports/{id}`: interrupts a running import first; records already
/// imported stay.
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut client = state.pool.get().await?;
    let import = find(&client, &tenant, &id).await?;
    if !import.status.is_final() {
        imports::request_interrupt(&mut client, &id).await?;
    }
    imports::delete_import(&mut client, &id).await?;
    // Its events went with it: the log keeps what was deleted, in which state.
    tracing::info!(import_id = %id, status = import.status.as_str(), "import deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}
