//! JSON:API error documents: every failure of a request becomes one, with the right status,
//! and internal errors are logged, never shown.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The media type of JSON:API documents.
pub const JSONAPI: &str = "application/vnd.api+json";

/// A failed request, rendered as `{"errors": [{"title", "detail", "code", "status", "source"}]}`.
#[derive(Debug)]
pub struct ApiError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
    pointer: Option<String>,
    parameter: Option<String>,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError(Box::new(Inner {
            status,
            code,
            title,
            detail: detail.into(),
            pointer: None,
            parameter: None,
            retry_after: None,
        }))
    }

    /// 400: the request cannot be read.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "Bad request",
            detail,
        )
    }

    /// 400 about a query parameter.
    pub fn bad_parameter(parameter: &str, detail: impl Into<String>) -> Self {
        let mut e = Self::bad_request(detail);
        e.0.parameter = Some(parameter.to_owned());
        e
    }

    /// 401: no token, or not a valid one.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_TOKEN",
            "Invalid token",
            "a valid API token is required: Authorization: Bearer <token>",
        )
    }

    /// 405: the route exists, not with this method.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "Method not allowed",
            "this route does not accept this method",
        )
    }

    /// 403: a signed URL that is tampered with or expired.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", "Forbidden", detail)
    }

    /// 404: not found, or another tenant's.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "RECORD_NOT_FOUND",
            "Record not found",
            format!("{what} not found"),
        )
    }

    /// 422: an attribute is invalid; `pointer` names it (`/data/attributes/format`).
    pub fn invalid(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            "Validation error",
            detail,
        );
        e.0.pointer = Some(pointer.into());
        e
    }

    /// 409: the request conflicts with the resource (wrong type, wrong id).
    pub fn conflict(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::CONFLICT, "CONFLICT", "Conflict", detail);
        e.0.pointer = Some(pointer.into());
        e
    }

    /// 413: the body is larger than the limit.
    pub fn too_large(limit: usize) -> Self {
        Self::too_large_for("the request body", limit)
    }

    /// 413: `what` is larger than its limit of `limit` bytes.
    pub fn too_large_for(what: &str, limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "Payload too large",
            format!("{what} is larger than the limit of {limit} bytes"),
        )
    }

    /// 408: the client took longer than the limit to send its request.
    pub fn request_timeout(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            "Request timeout",
            detail,
        )
    }

    /// 415: not a JSON:API body.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "Unsupported media type",
            format!("send the body as Content-Type: {JSONAPI}"),
        )
    }

    /// 429: over a limit; retry after that many seconds.
    pub fn too_many(detail: impl Into<String>, retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_REQUESTS",
            "Too many requests",
            detail,
        );
        e.0.retry_after = Some(retry_after);
        e
    }

    /// 500: something failed on our side; the cause is logged, not shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {cause}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            "Internal server error",
            "something went wrong on our side; try again",
        )
    }

    /// 503: a service the request needs is unreachable.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::warn!("service unavailable: {cause}");
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "Service unavailable",
            "the database is unreachable; try again shortly",
        );
        e.0.retry_after = Some(5);
        e
    }

    /// 503: this process is at a limit of its own (not the client's); retry shortly.
    pub fn busy(detail: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "Service unavailable",
            detail,
        );
        e.0.retry_after = Some(2);
        e
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            None if e.is_closed() => ApiError::unavailable(e),
            None => ApiError::internal(e),
            // Data exceptions come from values in the request that Postgres cannot take
            // (a NUL character in an id or a filter...): the client's to fix.
            Some(db) if db.code().code().starts_with("22") => {
                ApiError::bad_request("the request holds a value that cannot be stored or searched (such as a NUL character)")
            }
            Some(_) => ApiError::internal(e),
        }
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        ApiError::unavailable(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = *self.0;
        let mut error = json!({
            "title": e.title,
            "detail": e.detail,
            "code": e.code,
            "status": e.status.as_u16().to_string(),
        });
        if let Some(p) = &e.pointer {
            error["source"] = json!({"pointer": p});
        } else if let Some(p) = &e.parameter {
            error["source"] = json!({"parameter": p});
        }
        // A JSON value of strings cannot fail to serialize.
        let body = jsonapi_body(&json!({"errors": [error]})).unwrap_or_default();
        let mut response = (e.status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSONAPI));
        if let Some(s) = e.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        response
    }
}

/// Serializes a document as a body.
pub fn jsonapi_body<T: serde::Serialize + ?Sized>(doc: &T) -> serde_json::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(4096);
    serde_json::to_writer(&mut body, doc)?;
    Ok(body)
}

/// A JSON:API response with a status; a 500 should the document not serialize (the
/// documents are string-keyed JSON, so it does not happen, and a handler must not panic).
pub fn jsonapi<T: serde::Serialize + ?Sized>(status: StatusCode, doc: &T) -> Response {
    let body = match jsonapi_body(doc) {
        Ok(body) => body,
        Err(e) => {
            return ApiError::internal(format!("a document did not serialize: {e}")).into_response()
        }
    };
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSONAPI));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_that_does_not_serialize_is_a_500_not_a_panic() {
        // serde_json refuses map keys that are not strings.
        let doc = std::collections::BTreeMap::from([(vec![1u8], 1)]);
        assert_eq!(
            jsonapi(StatusCode::OK, &doc).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            jsonapi(StatusCode::CREATED, &json!({"data": null})).status(),
            StatusCode::CREATED
        );
    }
}
