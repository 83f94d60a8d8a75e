//! `PATCH /api/webhooks/{id}`: its writable attributes, and the triggers `_disable`,
//! `_enable` and `_reset_circuit`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use imports_common::webhooks::WEBHOOKS_TYPE;
use imports_storage::webhooks::{update_webhook, WebhookChanges};
use serde_json::Value;

use crate::auth::Authenticated;
use crate::document::{
    attributes, check_id, metadata, optional_bool, optional_string, pointer, read_document_of,
    Write,
};
use crate::errors::{jsonapi, ApiError};
use crate::routes::webhooks::{
    callback_url, document, find, include_resources, name, refuse_unwritable, topic,
};
use crate::AppState;

/// `PATCH /api/webhooks/{id}`.
pub async fn update(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let data = read_document_of(&headers, &body, WEBHOOKS_TYPE)?;
    check_id(&data, &id)?;
    let attrs = attributes(&data)?;
    refuse_unwritable(Write::Update, &attrs)?;
    let (disable, enable) = (
        optional_bool(&attrs, "_disable")?,
        optional_bool(&attrs, "_enable")?,
    );
    if disable && enable {
        return Err(ApiError::invalid(
            pointer("_enable"),
            "_disable and _enable cannot be sent together",
        ));
    }
    let not_null = |key: &str| -> Result<Option<&Value>, ApiError> {
        match attrs.get(key) {
            Some(Value::Null) => Err(ApiError::invalid(
                pointer(key),
                format!("{key} cannot be null"),
            )),
            other => Ok(other),
        }
    };
    let given = |key: &str| attrs.contains_key(key);
    // An unknown webhook is a 404 before its new URL is looked up (without holding a
    // connection while the lookup runs).
    {
        let client = state.pool.get().await?;
        find(&client, &tenant, &id).await?;
    }
    let changes = WebhookChanges {
        name: attrs.get("name").map(name).transpose()?,
        topic: not_null("topic")?.map(topic).transpose()?,
        callback_url: match not_null("callback_url")? {
            Some(v) => Some(callback_url(&state, &tenant, v).await?),
            None => None,
        },
        include_resources: attrs
            .get("include_resources")
            .map(include_resources)
            .transpose()?,
        reference: given("reference")
            .then(|| optional_string(&attrs, "reference"))
            .transpose()?,
        reference_origin: given("reference_origin")
            .then(|| optional_string(&attrs, "reference_origin"))
            .transpose()?,
        metadata: metadata(&attrs)?,
        disable: match (disable, enable) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        reset_circuit: optional_bool(&attrs, "_reset_circuit")?,
    };
    let client = state.pool.get().await?;
    let webhook = update_webhook(&*client, &tenant, &id, &changes)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    Ok(jsonapi(StatusCode::OK, &document(&state, &webhook)))
}
