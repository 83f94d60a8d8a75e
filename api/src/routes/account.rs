//! `GET /api/application` and `GET /api/organization`: the access token's application and
//! organization as JSON:API singletons with Commerce Layer's attributes (its CLI reads the
//! application before it creates imports).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use imports_common::accounts::Organization;
use imports_common::jsonapi::timestamp;
use imports_storage::applications;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::errors::{jsonapi, ApiError};
use crate::AppState;

/// `GET /api/application`: the application the token was issued to. An `imp_` API token
/// belongs to no application: 404.
pub async fn application(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let Some(claims) = caller.claims else {
        return Err(ApiError::not_found(
            "application (an imp_ API token has none)",
        ));
    };
    let client = state.pool.get().await?;
    let app = applications::application_by_id(&*client, &claims.application.id)
        .await?
        .ok_or_else(|| ApiError::not_found("application"))?;
    let data = json!({
        "id": app.id,
        "type": "applications",
        "links": {"self": format!("{}/api/application", state.config.public_url)},
        "attributes": {
            "name": app.name,
            "kind": app.kind.as_str(),
            "public_access": false,
            "redirect_uri": Value::Null,
            "scopes": app.scopes,
            "created_at": timestamp(app.created_at),
            "updated_at": timestamp(app.updated_at),
            "reference": Value::Null,
            "reference_origin": Value::Null,
            "metadata": {},
        },
    });
    Ok(jsonapi(StatusCode::OK, &json!({"data": data})))
}

fn organization_resource(org: &Organization, public_url: &str) -> Value {
    json!({
        "id": org.id,
        "type": "organizations",
        "links": {"self": format!("{public_url}/api/organization")},
        "attributes": {
            "name": org.name,
            "slug": org.slug,
            "domain": Value::Null,
            "support_phone": Value::Null,
            "support_email": Value::Null,
            "logo_url": Value::Null,
            "favicon_url": Value::Null,
            "primary_color": Value::Null,
            "config": Value::Null,
            "imports_skip_errors": false,
            "created_at": timestamp(org.created_at),
            "updated_at": timestamp(org.updated_at),
            "reference": Value::Null,
            "reference_origin": Value::Null,
            "metadata": {},
        },
    })
}

/// `GET /api/organization`: the organization the token acts for, when it has been made
/// (with an application); an `imp_` token's organization otherwise is only a name: 404.
pub async fn organization(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let client = state.pool.get().await?;
    let org = applications::organization_by_slug(&*client, &caller.tenant.organization_id)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let data = organization_resource(&org, &state.config.public_url);
    Ok(jsonapi(StatusCode::OK, &json!({"data": data})))
}
