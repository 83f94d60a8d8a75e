//! `GET /api/imports/{id}`: one import, with `fields[imports]`, and its events with
//! `include=events` (and `fields[events]`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::auth::Authenticated;
use crate::errors::{jsonapi, ApiError};
use crate::render::{resource, shown, Single};
use crate::routes::imports::find;
use crate::{listing, AppState};

/// `GET /api/imports/{id}`.
pub async fn retrieve(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    // The parameters a single resource takes; the list's others are ignored here.
    let picked: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(k, _)| ["fields[imports]", "fields[events]", "include"].contains(&k.as_str()))
        .collect();
    let q = listing::parse(&picked)?;
    let client = state.pool.get().await?;
    let import = find(&client, &tenant, &id).await?;
    let fields = q.fields.as_deref();
    let import = shown(&state, &client, import, fields).await?;
    let mut data = [resource(&state, &import, fields)];
    let included = match q.events.include {
        true => Some(crate::events::include(&*client, &mut data, &q.events).await?),
        false => None,
    };
    let [data] = data;
    Ok(jsonapi(StatusCode::OK, &Single { data, included }))
}
