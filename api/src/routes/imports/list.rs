//! `GET /api/imports`: a page of the tenant's imports, filtered and sorted (see
//! [`crate::listing`]), with pagination links.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use imports_storage::imports;
use imports_storage::listing::list_import_ids;
use serde_json::json;

use crate::auth::Authenticated;
use crate::errors::{jsonapi, ApiError};
use crate::render::render;
use crate::{listing, AppState};

/// `GET /api/imports`.
pub async fn list(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let q = listing::parse(&pairs)?;
    let client = state.pool.get().await?;
    let (total, ids) = list_import_ids(&**client, &tenant, &q.query).await?;
    let mut data = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(import) = imports::get_import(&**client, &id).await? {
            data.push(render(&state, &client, import, q.fields.as_deref()).await?);
        }
    }
    let included = if q.events.include {
        Some(crate::events::include(&**client, &mut data, &q.events).await?)
    } else {
        None
    };
    let page_count = (total + q.query.size - 1) / q.query.size;
    let link = |page: i64| {
        let mut pairs = q.link_pairs.clone();
        pairs.push(("page[number]".into(), page.to_string()));
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        format!(
            "{}/api/imports?{}",
            state.config.public_url.trim_end_matches('/'),
            query.join("&")
        )
    };
    let mut links = json!({"first": link(1), "last": link(page_count.max(1))});
    if q.query.page > 1 {
        links["prev"] = json!(link((q.query.page - 1).min(page_count.max(1))));
    }
    if q.query.page < page_count {
        links["next"] = json!(link(q.query.page + 1));
    }
    let mut doc = json!({"data": data, "meta": {"record_count": total, "page_count": page_count}, "links": links});
    if let Some(included) = included {
        doc["included"] = json!(included);
    }
    Ok(jsonapi(StatusCode::OK, &doc))
}

/// Percent-encodes a query key or value for a pagination link.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
