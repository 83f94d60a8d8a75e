//! The `/api/webhooks` resource (Commerce Layer's, for the imports topics), one file per
//! action, and what a create and an update both read from a body. Every query is scoped to
//! the token's tenant; another tenant's webhook is a 404.

pub mod callbacks;
pub mod create;
pub mod delete;
pub mod list;
pub mod retrieve;
pub mod update;

use imports_common::model::Tenant;
use imports_common::webhooks::{
    webhook_resource, Topic, Webhook, INCLUDABLE, MAX_NAME_CHARS, WEBHOOK_ATTRIBUTES,
};
use imports_runtime::callback_urls;
use serde_json::{Map, Value};

use crate::document::{pointer, Write};
use crate::errors::ApiError;
use crate::AppState;

/// Refuses an attribute of webhooks the write cannot set, naming it.
pub(crate) fn refuse_unwritable(write: Write, attrs: &Map<String, Value>) -> Result<(), ApiError> {
    crate::document::refuse_unwritable(
        WEBHOOK_ATTRIBUTES,
        "webhooks",
        write,
        attrs.keys().map(String::as_str),
    )
}

/// Reads a webhook of the tenant (without its secret).
pub(crate) async fn find<C: imports_storage::client::Db>(
    client: &C,
    tenant: &Tenant,
    id: &str,
) -> Result<Webhook, ApiError> {
    if id.contains('\0') {
        return Err(ApiError::not_found("webhook"));
    }
    imports_storage::webhooks::get_webhook(client, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))
}

/// The resource document of a webhook.
pub(crate) fn document(state: &AppState, w: &Webhook) -> Value {
    serde_json::json!({"data": webhook_resource(w, &state.config.public_url, None)})
}

/// `topic`: one of the imports topics.
pub(crate) fn topic(value: &Value) -> Result<Topic, ApiError> {
    let bad = || {
        let names: Vec<&str> = Topic::ALL.iter().map(|t| t.as_str()).collect();
        ApiError::invalid(
            pointer("topic"),
            format!("topic must be one of {}", names.join(", ")),
        )
    };
    value.as_str().ok_or_else(bad)?.parse().map_err(|_| bad())
}

/// `callback_url`: its form for the tenant's mode, and (unless private networks are
/// allowed) a host that resolves only to public addresses.
pub(crate) async fn callback_url(
    state: &AppState,
    tenant: &Tenant,
    value: &Value,
) -> Result<String, ApiError> {
    let invalid = |why: String| ApiError::invalid(pointer("callback_url"), why);
    let text = value
        .as_str()
        .ok_or_else(|| invalid("callback_url must be a string".into()))?;
    let url = callback_urls::check_form(text, tenant.mode).map_err(invalid)?;
    callback_urls::resolve(&url, state.config.allow_private_networks)
        .await
        .map_err(invalid)?;
    Ok(text.to_owned())
}

/// `include_resources`: an array of what imports can include (null is none).
pub(crate) fn include_resources(value: &Value) -> Result<Vec<String>, ApiError> {
    let bad = |why: String| ApiError::invalid(pointer("include_resources"), why);
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err(bad("include_resources must be an array of strings".into())),
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let name = item
            .as_str()
            .ok_or_else(|| bad("include_resources must be an array of strings".into()))?;
        if !INCLUDABLE.contains(&name) {
            return Err(bad(format!(
                "cannot include '{name}': an import's payload includes only {}",
                INCLUDABLE.join(", ")
            )));
        }
        if !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

/// `name`: at most [`MAX_NAME_CHARS`] characters, no NUL; null clears it.
pub(crate) fn name(value: &Value) -> Result<Option<String>, ApiError> {
    let bad = |why: String| ApiError::invalid(pointer("name"), why);
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.contains('\0') => Err(bad("name contains a NUL character".into())),
        Value::String(s) if s.chars().count() > MAX_NAME_CHARS => Err(bad(format!(
            "name is longer than {MAX_NAME_CHARS} characters"
        ))),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(bad("name must be a string".into())),
    }
}
