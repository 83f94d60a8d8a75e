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
    let page_count = listing::page_count(total, q.query.size);
    let base = format!(
        "{}/api/imports",
        state.config.public_url.trim_end_matches('/')
    );
    let links = listing::page_links(&base, &q.link_pairs, q.query.page, page_count);
    let mut doc = json!({"data": data, "meta": {"record_count": total, "page_count": page_count}, "links": links});
    if let Some(included) = included {
        doc["included"] = json!(included);
    }
    Ok(jsonapi(StatusCode::OK, &doc))
}
