//! `GET /api/imports/{id}`: one import, with `fields[imports]` if asked.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::auth::Authenticated;
use crate::errors::{jsonapi, ApiError};
use crate::render::render;
use crate::routes::imports::find;
use crate::{listing, AppState};

/// `GET /api/imports/{id}`.
pub async fn retrieve(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let fields = match pairs.iter().find(|(k, _)| k == "fields[imports]") {
        Some((_, v)) => Some(
            listing::parse(&[("fields[imports]".into(), v.clone())])?
                .fields
                .unwrap_or_default(),
        ),
        None => None,
    };
    let client = state.pool.get().await?;
    let import = find(&client, &tenant, &id).await?;
    let data = render(&state, &client, import, fields.as_deref()).await?;
    Ok(jsonapi(StatusCode::OK, &json!({"data": data})))
}
