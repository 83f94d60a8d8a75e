//! The router: every route of the API and the handler it runs, and the mapping of axum's own
//! rejections to JSON:API error documents.

pub mod account;
pub mod attachment;
pub mod imports;
pub mod oauth;
pub mod resource_types;
pub mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use imports_runtime::health;

use crate::errors::{self, ApiError};
use crate::{observe, request_limits, AppState};

/// The routes of the API.
pub fn router(state: AppState) -> Router {
    // Every body but a create's (which reads its own, under API_MAX_BODY_BYTES) is a small
    // document.
    let limit = crate::document::MAX_DOCUMENT_BYTES;
    let api = Router::new()
        .route(
            "/api/imports",
            get(imports::list::list).post(imports::create::create),
        )
        .route(
            "/api/imports/{id}",
            get(imports::retrieve::retrieve)
                .patch(imports::update::update)
                .delete(imports::delete::delete),
        )
        .route("/api/imports/{id}/events", get(imports::events::events))
        .route(
            "/api/imports/{id}/relationships/events",
            get(imports::events::relationship),
        )
        .route(
            "/api/imports/{id}/failed_inputs",
            get(imports::failed_inputs::failed_inputs),
        )
        .route("/api/imports/{id}/attachment", get(attachment::download))
        .route(
            "/api/webhooks",
            get(webhooks::list::list).post(webhooks::create::create),
        )
        .route(
            "/api/webhooks/{id}",
            get(webhooks::retrieve::retrieve)
                .patch(webhooks::update::update)
                .delete(webhooks::delete::delete),
        )
        .route(
            "/api/webhooks/{id}/last_event_callbacks",
            get(webhooks::callbacks::list),
        )
        .route(
            "/api/webhooks/{id}/relationships/last_event_callbacks",
            get(webhooks::callbacks::relationship),
        )
        .route("/api/application", get(account::application))
        .route("/api/organization", get(account::organization))
        .route("/api/resource_types", get(resource_types::list))
        .route("/api/resource_types/{name}", get(resource_types::retrieve))
        .route("/health", get(|| async { "ok" }))
        .fallback(|| async { ApiError::not_found("route") })
        .layer(axum::middleware::map_response(move |r| {
            body_limit_as_jsonapi(r, limit)
        }))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(
            request_limits::refuse_declared_oversize,
        ));
    // Operational endpoints answer plain JSON or text, outside the JSON:API error mapping
    // (a 503 from /readyz names what is down).
    let operational = Router::new()
        .route("/livez", get(health::livez))
        .route("/readyz", get(observe::readyz))
        .route("/metrics", get(observe::metrics));
    // Commerce Layer's auth endpoints answer its auth error shape, not JSON:API.
    let auth = Router::new()
        .route("/oauth/token", post(oauth::token))
        .route("/oauth/revoke", post(oauth::revoke))
        .route("/.well-known/jwks.json", get(oauth::jwks))
        .layer(axum::middleware::map_response(
            oauth::rejections_as_auth_errors,
        ))
        .layer(DefaultBodyLimit::max(oauth::MAX_AUTH_BODY_BYTES));
    api.merge(operational)
        .merge(auth)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_limits::request_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe_request,
        ))
        .with_state(state)
}

/// Axum's own rejections (an oversized body, a method not allowed, a query it cannot
/// decode) are plain text; every error this API returns is a JSON:API document.
async fn body_limit_as_jsonapi(
    response: axum::response::Response,
    limit: usize,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let status = response.status();
    let is_jsonapi = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .map(|v| v == errors::JSONAPI)
        .unwrap_or(false);
    if is_jsonapi || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(limit).into_response(),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::method_not_allowed().into_response(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media_type().into_response(),
        s if s.is_client_error() => {
            ApiError::bad_request("the request cannot be read").into_response()
        }
        _ => ApiError::internal(format!("unexpected {status} response")).into_response(),
    }
}
