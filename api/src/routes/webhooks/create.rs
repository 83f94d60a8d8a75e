//! `POST /api/webhooks`: a webhook on one imports topic, with a generated shared secret
//! shown only in this answer.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use imports_common::webhooks::{MAX_WEBHOOKS_PER_TENANT, WEBHOOKS_TYPE};
use imports_storage::webhooks::{create_webhook, NewWebhook};

use crate::auth::Authenticated;
use crate::document::{
    attributes, metadata, optional_bool, optional_string, pointer, read_document_of, Write,
};
use crate::errors::{jsonapi, ApiError};
use crate::routes::webhooks::{
    callback_url, document, include_resources, name, refuse_unwritable, topic,
};
use crate::AppState;

/// `POST /api/webhooks`: `topic` and `callback_url` required; `name`, `include_resources`,
/// `reference`, `reference_origin`, `metadata`, `_disable` optional.
pub async fn create(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let data = read_document_of(&headers, &body, WEBHOOKS_TYPE)?;
    let attrs = attributes(&data)?;
    refuse_unwritable(Write::Create, &attrs)?;
    let required = |key: &str| {
        attrs
            .get(key)
            .filter(|v| !v.is_null())
            .ok_or_else(|| ApiError::invalid(pointer(key), format!("{key} is required")))
    };
    let topic = topic(required("topic")?)?;
    let disabled = optional_bool(&attrs, "_disable")?;
    if disabled && optional_bool(&attrs, "_enable")? {
        return Err(ApiError::invalid(
            pointer("_enable"),
            "_disable and _enable cannot be sent together",
        ));
    }
    let callback_url = callback_url(&state, &tenant, required("callback_url")?).await?;
    let new = NewWebhook {
        tenant: tenant.clone(),
        name: attrs.get("name").map(name).transpose()?.flatten(),
        topic,
        callback_url,
        include_resources: attrs
            .get("include_resources")
            .map(include_resources)
            .transpose()?
            .unwrap_or_default(),
        shared_secret: hex::encode(rand::random::<[u8; 16]>()),
        disabled,
        reference: optional_string(&attrs, "reference")?,
        reference_origin: optional_string(&attrs, "reference_origin")?,
        metadata: metadata(&attrs)?.unwrap_or_else(|| serde_json::json!({})),
    };
    let id = imports_common::ids::new_id();
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let Some(webhook) = create_webhook(&tx, &id, &new).await? else {
        return Err(ApiError::invalid(
            "/data",
            format!("this organization has {MAX_WEBHOOKS_PER_TENANT} webhooks in this mode, the most it may have; delete one first"),
        ));
    };
    tx.commit().await?;
    tracing::info!(webhook_id = %webhook.id, topic = webhook.topic.as_str(), "webhook created");
    let mut response = jsonapi(StatusCode::CREATED, &document(&state, &webhook));
    let location = format!(
        "{}/api/webhooks/{}",
        state.config.public_url.trim_end_matches('/'),
        webhook.id
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}
