//! Commerce Layer's auth endpoints: `POST /oauth/token` (client credentials -> a JWT access
//! token), `POST /oauth/revoke`, and `GET /.well-known/jwks.json` (the keys that verify the
//! tokens). Their bodies are JSON or form-encoded, and their errors take Commerce Layer's auth
//! shape, `{"errors": [{"code", "title", "detail", "status"}]}` with a numeric status, which
//! `@commercelayer/js-auth` reads.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use imports_storage::revocations::{self, Revocation};
use serde_json::{json, Map, Value};

use crate::document::shape_problem;
use crate::oauth::jwt::Invalid;
use crate::oauth::Refused;
use crate::rate_limit::ClientAddress;
use crate::AppState;

/// The largest body the auth endpoints read.
pub const MAX_AUTH_BODY_BYTES: usize = 16 * 1024;

/// How long a request waits for the key set just after the API started.
const KEYS_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// The detail Commerce Layer gives for client credentials it does not accept.
const INVALID_CLIENT: &str = "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.";

/// A refused auth request, in Commerce Layer's auth error shape.
#[derive(Debug)]
pub struct AuthError {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
    retry_after: Option<u64>,
}

impl AuthError {
    fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        let code = match status {
            StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
            StatusCode::FORBIDDEN => "FORBIDDEN",
            StatusCode::NOT_FOUND => "NOT_FOUND",
            StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
            StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
            StatusCode::TOO_MANY_REQUESTS => "TOO_MANY_REQUESTS",
            StatusCode::SERVICE_UNAVAILABLE => "SERVICE_UNAVAILABLE",
            StatusCode::INTERNAL_SERVER_ERROR => "INTERNAL_SERVER_ERROR",
            _ => "BAD_REQUEST",
        };
        AuthError {
            status,
            code,
            title,
            detail: detail.into(),
            retry_after: None,
        }
    }

    fn invalid_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", detail)
    }

    fn invalid_client() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", INVALID_CLIENT)
    }

    fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::warn!("auth endpoint unavailable: {cause}");
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the auth server cannot reach its database; try again shortly",
        );
        e.retry_after = Some(5);
        e
    }
}

impl From<Refused> for AuthError {
    fn from(e: Refused) -> Self {
        match e {
            Refused::Unwritable(_) => {
                tracing::error!("token endpoint: {e}");
                AuthError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "the token could not be issued",
                )
            }
            _ => AuthError::unavailable(e),
        }
    }
}

impl From<deadpool_postgres::PoolError> for AuthError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        AuthError::unavailable(e)
    }
}

impl From<tokio_postgres::Error> for AuthError {
    fn from(e: tokio_postgres::Error) -> Self {
        AuthError::unavailable(e)
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let body = json!({"errors": [{
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            "status": self.status.as_u16(),
        }]});
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The body's fields: a JSON object, or a form (`application/x-www-form-urlencoded`); every
/// value a string.
fn fields(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, AuthError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let form = content_type.starts_with("application/x-www-form-urlencoded")
        || (content_type.is_empty() && !body.trim_ascii_start().starts_with(b"{"));
    let map: Map<String, Value> = if form {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|e| AuthError::invalid_request(format!("the form cannot be read: {e}")))?;
        pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect()
    } else {
        match serde_json::from_slice(body) {
            Ok(Value::Object(map)) => {
                if let Some((at, why)) = shape_problem(&Value::Object(map.clone())) {
                    return Err(AuthError::invalid_request(format!("{at}: {why}")));
                }
                map
            }
            Ok(_) => return Err(AuthError::invalid_request("the body must be a JSON object")),
            Err(e) => {
                return Err(AuthError::invalid_request(format!(
                    "the body is not valid JSON: {e}"
                )))
            }
        }
    };
    Ok(map)
}

/// A string field: `Ok(None)` when absent, a 400 naming it when it is not a string.
fn string<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, AuthError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(AuthError::invalid_request(format!(
            "{name} must be a string"
        ))),
    }
}

fn required<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a str, AuthError> {
    string(fields, name)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AuthError::invalid_request(format!("{name} is required")))
}

/// The application of the client credentials in `fields`, within its token request rate.
async fn client(
    state: &AppState,
    fields: &Map<String, Value>,
    address: &str,
) -> Result<imports_common::accounts::Application, AuthError> {
    // Every token request reaches the database unauthenticated: the address's budget first.
    state
        .address_limiter
        .check(address)
        .map_err(|retry_after| {
            let mut e = AuthError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many unauthenticated requests from this address; slow down",
            );
            e.retry_after = Some(retry_after);
            e
        })?;
    let (id, secret) = match (
        string(fields, "client_id")?,
        string(fields, "client_secret")?,
    ) {
        // No client id is longer: a longer one is not looked up, nor given a rate bucket.
        (Some(id), Some(secret)) if !id.is_empty() && id.len() <= 100 => (id, secret),
        _ => return Err(AuthError::invalid_client()),
    };
    state.auth_limiter.check(id).map_err(|retry_after| {
        let mut e = AuthError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            format!(
                "over {} token requests a minute for this client; reuse tokens until they expire",
                state.config.oauth.token_requests_per_minute
            ),
        );
        e.retry_after = Some(retry_after);
        e
    })?;
    let db = state.pool.get().await?;
    crate::applications::authenticate(&**db, id, secret)
        .await?
        .ok_or_else(AuthError::invalid_client)
}

/// A requested scope: space-separated words of letters, digits and `:_.-`, as Commerce
/// Layer's (`market:all`, `market:code:europe`). Scopes do not narrow what an import reaches.
fn check_scope(scope: &str) -> Result<(), AuthError> {
    let words: Vec<&str> = scope.split(' ').collect();
    let ok = scope.len() <= 1000
        && words.len() <= 20
        && words.iter().all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b":_.-".contains(&b))
        });
    if ok {
        Ok(())
    } else {
        Err(AuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "scope must be space-separated words of letters, digits and :_.- (market:all)",
        ))
    }
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /oauth/token`: the client credentials grant.
pub async fn token(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AuthError> {
    let fields = fields(&headers, &body)?;
    match required(&fields, "grant_type")? {
        "client_credentials" => {}
        other => {
            return Err(AuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported here: only client_credentials"),
            ))
        }
    }
    let app = client(&state, &fields, &address).await?;
    let scope = match string(&fields, "scope")?.filter(|s| !s.is_empty()) {
        Some(scope) => {
            check_scope(scope)?;
            scope.to_owned()
        }
        None => app.scopes.clone(),
    };
    state.oauth.wait_loaded(KEYS_PATIENCE).await;
    let issued = state.oauth.issue(&app, &scope)?;
    let body = json!({
        "access_token": issued.token,
        "token_type": "bearer",
        "expires_in": issued.claims.exp - issued.claims.iat,
        "scope": issued.claims.scope,
        "created_at": issued.claims.iat,
    });
    Ok(no_store(axum::Json(body).into_response()))
}

/// `POST /oauth/revoke`: the client revokes one of its tokens, at once on this replica and
/// within a second on every other. An invalid or expired token is already unusable: 200.
pub async fn revoke(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AuthError> {
    let fields = fields(&headers, &body)?;
    let token = required(&fields, "token")?.to_owned();
    let app = client(&state, &fields, &address).await?;
    let claims = match state.oauth.verify(&token) {
        Ok(claims) => claims,
        Err(Refused::Invalid(Invalid::Revoked)) => {
            return Ok(no_store(axum::Json(json!({})).into_response()))
        }
        Err(Refused::Invalid(_)) => return Ok(no_store(axum::Json(json!({})).into_response())),
        Err(e) => return Err(e.into()),
    };
    if claims.application.id != app.id {
        return Err(AuthError::new(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "the token was issued to another client",
        ));
    }
    let revocation = Revocation {
        application_id: app.id,
        token_rand: Some(claims.rand_key()),
    };
    let expires_at =
        chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or_else(chrono::Utc::now);
    let db = state.pool.get().await?;
    revocations::revoke_token(&**db, &revocation, expires_at).await?;
    state.oauth.revocations().note(revocation);
    Ok(no_store(axum::Json(json!({})).into_response()))
}

/// `GET /.well-known/jwks.json`: the public keys of every token still in use.
pub async fn jwks(State(state): State<AppState>) -> Result<Response, AuthError> {
    let mut response = axum::Json(state.oauth.jwks()?).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    Ok(response)
}

/// Axum's own rejections on these routes (an oversized body, a wrong method), in the auth
/// error shape.
pub async fn rejections_as_auth_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let title = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "request_too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_FOUND => "not_found",
        _ => "invalid_request",
    };
    let detail = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("the body is over {MAX_AUTH_BODY_BYTES} bytes")
        }
        _ => status.canonical_reason().unwrap_or("refused").to_owned(),
    };
    AuthError::new(status, title, detail).into_response()
}
