//! `GET /api/imports/{id}/events`: the import's lifecycle events as JSON:API resources, a
//! page at a time like every list; and `GET /api/imports/{id}/relationships/events`, their
//! linkage.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use crate::auth::Authenticated;
use crate::errors::{jsonapi, ApiError};
use crate::events::{event_resource, linkage, EventsWanted};
use crate::listing::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::routes::imports::find;
use crate::routes::imports::list::encode;
use crate::AppState;

/// A page of events asked for.
struct EventsQuery {
    page: i64,
    size: i64,
    wanted: EventsWanted,
    link_pairs: Vec<(String, String)>,
}

fn whole(key: &str, value: &str, max: i64) -> Result<i64, ApiError> {
    match value.parse::<i64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_parameter(
            key,
            format!("{key} must be a whole number from 1 to {max}"),
        )),
    }
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
        match key.as_str() {
            "page[number]" => q.page = whole(key, value, i64::MAX / MAX_PAGE_SIZE)?,
            "page[size]" => q.size = whole(key, value, MAX_PAGE_SIZE)?,
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
        imports_storage::events::events_page(&**client, id, q.size, (q.page - 1) * q.size).await?;
    let data: Vec<Value> = events.iter().map(|e| item(e, &q.wanted)).collect();
    let page_count = (total + q.size - 1) / q.size;
    let base = format!(
        "{}/api/imports/{id}/{path}",
        state.config.public_url.trim_end_matches('/')
    );
    let link = |page: i64| {
        let mut pairs = q.link_pairs.clone();
        pairs.push(("page[number]".into(), page.to_string()));
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        format!("{base}?{}", query.join("&"))
    };
    let mut links = json!({"self": base, "first": link(1), "last": link(page_count.max(1))});
    if q.page > 1 {
        links["prev"] = json!(link((q.page - 1).min(page_count.max(1))));
    }
    if q.page < page_count {
        links["next"] = json!(link(q.page + 1));
    }
    Ok(jsonapi(
        StatusCode::OK,
        &json!({"data": data, "meta": {"record_count": total, "page_count": page_count}, "links": links}),
    ))
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
