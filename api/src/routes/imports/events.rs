//! `GET /api/imports/{id}/events`: the import's lifecycle events as JSON:API resources, a
//! page at a time like every list; and `GET /api/imports/{id}/relationships/events`, their
//! linkage.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use crate::auth::Authenticated;
use crate::errors::{jsonapi, ApiError};
use crate::events::{event_resource, linkage, EventsWanted};
use crate::listing::{list_document, page_parameter, PageOf, DEFAULT_PAGE_SIZE};
use crate::routes::imports::find;
use crate::AppState;

/// A page of events asked for.
struct EventsQuery {
    page: i64,
    size: i64,
    wanted: EventsWanted,
    link_pairs: Vec<(String, String)>,
}

fn parse(pairs: &[(String, String)]) -> Result<EventsQuery, ApiError> {
    let mut q = EventsQuery {
        page: 1,
        size: DEFAULT_PAGE_SIZE,
        wanted: EventsWanted::default(),
        link_pairs: Vec::new(),
    };
    for (key, value) in pairs {
        if key != "page[number]" {
            q.link_pairs.push((key.clone(), value.clone()));
        }
        if let Some(n) = page_parameter(key, value)? {
            match key.as_str() {
                "page[number]" => q.page = n,
                _ => q.size = n,
            }
            continue;
        }
        match key.as_str() {
            "fields[events]" => {
                q.wanted.read(key, value)?;
            }
            _ => {
                return Err(ApiError::bad_parameter(
                    key,
                    format!("'{key}' is not a parameter of the events list"),
                ))
            }
        }
    }
    Ok(q)
}

/// The page of events, its meta and links, with each event rendered by `item`.
async fn page(
    state: &AppState,
    tenant: &imports_common::model::Tenant,
    id: &str,
    pairs: &[(String, String)],
    path: &str,
    item: impl Fn(&imports_storage::events::Event, &EventsWanted) -> Value,
) -> Result<Response, ApiError> {
    let q = parse(pairs)?;
    let client = state.pool.get().await?;
    find(&client, tenant, id).await?;
    let (total, events) =
        imports_storage::events::events_page(&*client, id, q.size, (q.page - 1) * q.size).await?;
    let data: Vec<Value> = events.iter().map(|e| item(e, &q.wanted)).collect();
    let base = format!(
        "{}/api/imports/{id}/{path}",
        state.config.public_url.trim_end_matches('/')
    );
    let at = PageOf {
        base: &base,
        link_pairs: &q.link_pairs,
        page: q.page,
        size: q.size,
        with_self: true,
    };
    Ok(jsonapi(StatusCode::OK, &list_document(data, total, &at)))
}

/// `GET /api/imports/{id}/events`: the import's lifecycle events, oldest first, paginated
/// (`page[number]`, `page[size]`), with `fields[events]`.
pub async fn events(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    page(&state, &tenant, &id, &pairs, "events", |e, wanted| {
        event_resource(e, wanted.fields.as_deref())
    })
    .await
}

/// `GET /api/imports/{id}/relationships/events`: the linkage of the import's events,
/// paginated as the events list.
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
        "relationships/events",
        |e, _| linkage(e),
    )
    .await
}
