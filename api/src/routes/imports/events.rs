//! `GET /api/imports/{id}/events`: the import's lifecycle events as JSON:API resources.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use crate::auth::Authenticated;
use crate::errors::{jsonapi, ApiError};
use crate::routes::imports::find;
use crate::AppState;

/// `GET /api/imports/{id}/events`: the import's lifecycle events, oldest first.
pub async fn events(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let client = state.pool.get().await?;
    find(&client, &tenant, &id).await?;
    let data: Vec<Value> = imports_storage::events::events(&**client, &id)
        .await?
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id.to_string(),
                "type": "events",
                "attributes": {
                    "name": e.name,
                    "payload": e.payload,
                    "created_at": e.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                },
                "relationships": {"import": {"data": {"type": "imports", "id": id}}},
            })
        })
        .collect();
    Ok(jsonapi(
        StatusCode::OK,
        &json!({"data": data, "meta": {"record_count": data.len()}}),
    ))
}
