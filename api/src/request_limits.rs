//! Limits every request but a create meets before its handler: the request timeout, and the
//! refusal of a body whose declared length is over the document limit.
//!
//! The request timeout: every request but a create must be read and answered within
//! `API_REQUEST_TIMEOUT_SECONDS`, so a client that sends a small body slowly, or a request
//! stuck behind a busy database, holds its task and connection for a bounded time. A create
//! is bounded instead by its body's pace (see [`crate::upload`]), since a large upload may
//! rightly take longer. A response that streams its body (an attachment, a report) is bounded
//! only until its headers.

use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::errors::ApiError;
use crate::AppState;

/// Whether the request is a create, which reads its own body under its own limits.
fn is_create(request: &Request) -> bool {
    request.method() == Method::POST && request.uri().path() == "/api/imports"
}

/// Answers 413 at once to a body whose `Content-Length` is over
/// [`MAX_DOCUMENT_BYTES`](crate::document::MAX_DOCUMENT_BYTES), without reading it (a body
/// without a declared length is cut at the limit as it arrives).
pub async fn refuse_declared_oversize(request: Request, next: Next) -> Response {
    let limit = crate::document::MAX_DOCUMENT_BYTES;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if !is_create(&request) && declared.is_some_and(|n| n > limit as u64) {
        return ApiError::too_large(limit).into_response();
    }
    next.run(request).await
}

/// Answers 408 when the request is not answered in time.
pub async fn request_timeout(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if is_create(&request) {
        return next.run(request).await;
    }
    let limit = state.config.http.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::request_timeout(format!(
            "the request was not received and answered within {} s, the limit",
            limit.as_secs()
        ))
        .into_response(),
    }
}
