//! `GET /api/imports`: a page of the tenant's imports, filtered and sorted (see
//! [`crate::listing`]), with pagination links, read in one statement
//! ([`imports_storage::list_page`]).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use imports_storage::list_page::{list_page, PageWants};

use crate::auth::Authenticated;
use crate::errors::{jsonapi, ApiError};
use crate::events::MAX_INCLUDED_PER_IMPORT;
use crate::render::{resource, shown_listed, wants, LIST_INPUTS_MAX_BYTES};
use crate::{listing, AppState};

/// `GET /api/imports`.
pub async fn list(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let q = listing::parse(&pairs)?;
    let fields = q.fields.as_deref();
    let page_wants = PageWants {
        inputs_head_bytes: if wants(fields, "inputs") {
            LIST_INPUTS_MAX_BYTES
        } else {
            0
        },
        events_per_import: if q.events.include {
            MAX_INCLUDED_PER_IMPORT
        } else {
            0
        },
    };
    let page = {
        let client = state.pool.get().await?;
        list_page(&*client, &tenant, &q.query, page_wants).await?
    };
    let mut events = Vec::new();
    let mut imports = Vec::with_capacity(page.imports.len());
    for mut listed in page.imports {
        events.append(&mut listed.events);
        imports.push(shown_listed(&state, listed, fields));
    }
    let mut data: Vec<_> = imports
        .iter()
        .map(|i| resource(&state, i, fields))
        .collect();
    let included = q
        .events
        .include
        .then(|| crate::events::include_read(&mut data, events, q.events.fields.as_deref()));
    let base = format!(
        "{}/api/imports",
        state.config.public_url.trim_end_matches('/')
    );
    let at = listing::PageOf {
        base: &base,
        link_pairs: &q.link_pairs,
        page: q.query.page,
        size: q.query.size,
        with_self: false,
    };
    let mut doc = listing::list_document(data, page.total, &at);
    doc.included = included;
    Ok(jsonapi(StatusCode::OK, &doc))
}
