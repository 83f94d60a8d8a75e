//! `PATCH /api/imports/{id}`: the writable-on-update attributes, and `_interrupt`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use imports_storage::imports::{self, ImportChanges};
use serde_json::Value;

use crate::auth::Authenticated;
use crate::document::{attributes, check_id, metadata, optional_string, pointer, read_document};
use crate::errors::{jsonapi, ApiError};
use crate::render::{resource, shown, Single};
use crate::routes::imports::{find, refuse_unwritable, Write};
use crate::AppState;

/// `PATCH /api/imports/{id}`: `_interrupt`, `reference`, `reference_origin`, `metadata`.
pub async fn update(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let data = read_document(&headers, &body)?;
    check_id(&data, &id)?;
    let attrs = attributes(&data)?;
    refuse_unwritable(Write::Update, attrs.keys().map(String::as_str))?;
    let interrupt = match attrs.get("_interrupt") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => {
            return Err(ApiError::invalid(
                pointer("_interrupt"),
                "_interrupt must be true or false",
            ))
        }
    };
    let reference = attrs
        .contains_key("reference")
        .then(|| optional_string(&attrs, "reference"))
        .transpose()?;
    let reference_origin = attrs
        .contains_key("reference_origin")
        .then(|| optional_string(&attrs, "reference_origin"))
        .transpose()?;
    let metadata = metadata(&attrs)?;

    let mut client = state.pool.get().await?;
    let before = find(&client, &tenant, &id).await?;
    let changes = ImportChanges {
        reference,
        reference_origin,
        metadata,
    };
    imports::update_import(&*client, &id, &changes).await?;
    // A final import stays as it is; request_interrupt re-checks the status in its own
    // transaction, so a race with the worker is harmless.
    if interrupt && !before.status.is_final() {
        imports::request_interrupt(&mut client, &id).await?;
    }
    let import = find(&client, &tenant, &id).await?;
    let import = shown(&state, &client, import, None).await?;
    let data = resource(&state, &import, None);
    Ok(jsonapi(
        StatusCode::OK,
        &Single {
            data,
            included: None,
        },
    ))
}
