//! `GET /api/webhooks`: the tenant's webhooks, with the list parameters every list takes
//! (pages, `sort`, `fields[webhooks]`, `filter[ids]`, `filter[q][...]`).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use imports_common::webhooks::{webhook_resource, WEBHOOKS_TYPE, WEBHOOK_ATTRIBUTES};
use serde_json::Value;

use crate::auth::Authenticated;
use crate::errors::{jsonapi, ApiError};
use crate::listing::{list_document, parse_list, PageOf};
use crate::AppState;

/// `GET /api/webhooks`.
pub async fn list(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let q = parse_list(WEBHOOK_ATTRIBUTES, WEBHOOKS_TYPE, &pairs, |_, _| Ok(false))?;
    let client = state.pool.get().await?;
    let (total, webhooks) =
        imports_storage::webhooks::list_webhooks(&*client, &tenant, &q.query).await?;
    let base_url = &state.config.public_url;
    let data: Vec<Value> = webhooks
        .iter()
        .map(|w| webhook_resource(w, base_url, q.fields.as_deref()))
        .collect();
    let base = format!("{}/api/webhooks", base_url.trim_end_matches('/'));
    let at = PageOf {
        base: &base,
        link_pairs: &q.link_pairs,
        page: q.query.page,
        size: q.query.size,
        with_self: false,
    };
    Ok(jsonapi(StatusCode::OK, &list_document(data, total, &at)))
}
