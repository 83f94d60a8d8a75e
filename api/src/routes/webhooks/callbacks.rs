//! `GET /api/webhooks/{id}/last_event_callbacks`: each attempt to call the webhook, newest
//! first, a page at a time (the latest `CALLBACKS_KEPT` are kept); and its relationship's
//! linkage.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use imports_common::webhooks::{event_callback_resource, EVENT_CALLBACKS_TYPE};
use imports_storage::deliveries::callbacks_page;
use serde_json::{json, Value};

use crate::auth::Authenticated;
use crate::errors::{jsonapi, ApiError};
use crate::listing::{list_document, page_parameter, PageOf, DEFAULT_PAGE_SIZE};
use crate::routes::webhooks::find;
use crate::AppState;

/// The page asked for: its number, its size, and the query pairs for its links.
type Page = (i64, i64, Vec<(String, String)>);

/// Reads `page[number]` and `page[size]`, the only parameters of the list.
fn parse(pairs: &[(String, String)]) -> Result<Page, ApiError> {
    let (mut page, mut size, mut link_pairs) = (1, DEFAULT_PAGE_SIZE, Vec::new());
    for (key, value) in pairs {
        match page_parameter(key, value)? {
            Some(n) if key == "page[number]" => page = n,
            Some(n) => {
                size = n;
                link_pairs.push((key.clone(), value.clone()));
            }
            None => {
                return Err(ApiError::bad_parameter(
                    key,
                    format!("'{key}' is not a parameter of the event callbacks list"),
                ))
            }
        }
    }
    Ok((page, size, link_pairs))
}

async fn page(
    state: &AppState,
    tenant: &imports_common::model::Tenant,
    id: &str,
    pairs: &[(String, String)],
    path: &str,
    linkage_only: bool,
) -> Result<Response, ApiError> {
    let (page, size, link_pairs) = parse(pairs)?;
    let client = state.pool.get().await?;
    find(&client, tenant, id).await?;
    let offset = (page - 1).saturating_mul(size);
    let (total, callbacks) = callbacks_page(&*client, id, size, offset).await?;
    let base_url = &state.config.public_url;
    let data: Vec<Value> = callbacks
        .iter()
        .map(|c| match linkage_only {
            true => json!({"type": EVENT_CALLBACKS_TYPE, "id": c.id}),
            false => event_callback_resource(c, base_url),
        })
        .collect();
    let base = format!(
        "{}/api/webhooks/{id}/{path}",
        base_url.trim_end_matches('/')
    );
    let at = PageOf {
        base: &base,
        link_pairs: &link_pairs,
        page,
        size,
        with_self: true,
    };
    Ok(jsonapi(StatusCode::OK, &list_document(data, total, &at)))
}

/// `GET /api/webhooks/{id}/last_event_callbacks`.
pub async fn list(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    page(&state, &tenant, &id, &pairs, "last_event_callbacks", false).await
}

/// `GET /api/webhooks/{id}/relationships/last_event_callbacks`.
pub async fn relationship(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    page(
        &state,
        &tenant,
        &id,
        &pairs,
        "relationships/last_event_callbacks",
        true,
    )
    .await
}
