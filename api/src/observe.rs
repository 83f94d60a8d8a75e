//! The API's request spans and metrics, and its health endpoints.
//!
//! Every request but the operational ones (`/livez`, `/readyz`, `/metrics`, `/health`) runs
//! in a server span named `"<METHOD> <route>"`, a child of the caller's W3C `traceparent`
//! when there is one, and is timed in `http_server_request_duration_seconds`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use deadpool_postgres::Pool;
use imports_runtime::health;
use imports_runtime::telemetry::metrics::{ImportsByStatus, Metrics, SECONDS_BUCKETS};
use imports_runtime::telemetry::traces;
use opentelemetry::metrics::Histogram;
use opentelemetry::KeyValue;
use tracing::Instrument;

use crate::AppState;

/// Paths that are neither traced nor timed: probes and scrapes would drown the traces.
const OPERATIONAL: [&str; 4] = ["/livez", "/readyz", "/metrics", "/health"];

/// The API's instruments.
pub struct ApiMetrics {
    /// The meter provider and its Prometheus registry.
    pub metrics: Metrics,
    /// `imports_by_status`.
    pub by_status: Arc<ImportsByStatus>,
    requests: Histogram<f64>,
}

impl ApiMetrics {
    /// Creates the instruments; `pool` is where `imports_by_status` counts.
    pub fn new(pool: Pool) -> ApiMetrics {
        let metrics = Metrics::new("imports-api");
        let meter = metrics.meter();
        let requests = meter
            .f64_histogram("http.server.request.duration")
            .with_unit("s")
            .with_description("HTTP requests served, by method, route and status")
            .with_boundaries(SECONDS_BUCKETS.to_vec())
            .build();
        let by_status = Arc::new(ImportsByStatus::new(meter, pool));
        ApiMetrics {
            metrics,
            by_status,
            requests,
        }
    }
}

/// Middleware: the request's span and its duration.
pub async fn observe_request(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if OPERATIONAL.contains(&path.as_str()) {
        return next.run(request).await;
    }
    let method = method_label(request.method()).to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
    );
    traces::set_attribute(&span, "http.request.method", method.clone());
    traces::set_attribute(&span, "http.route", route.clone());
    traces::set_attribute(&span, "url.path", path);
    let mut carrier = BTreeMap::new();
    for name in ["traceparent", "tracestate"] {
        if let Some(v) = request.headers().get(name).and_then(|v| v.to_str().ok()) {
            carrier.insert(name.to_owned(), v.to_owned());
        }
    }
    traces::set_remote_parent(&span, &carrier);
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    traces::set_attribute(&span, "http.response.status_code", status.as_u16() as i64);
    if status.is_server_error() {
        traces::record_error(&span, &status);
    }
    state.metrics.requests.record(
        started.elapsed().as_secs_f64(),
        &[
            KeyValue::new("http.request.method", method),
            KeyValue::new("http.route", route),
            KeyValue::new("http.response.status_code", status.as_u16() as i64),
        ],
    );
    response
}

/// A request's method as spans and metrics name it: one of HTTP's own, else `_OTHER` (as
/// OpenTelemetry's conventions say), so that made-up methods cannot grow the metric labels.
fn method_label(method: &axum::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "_OTHER",
    }
}

/// `GET /readyz`: Postgres answers `SELECT 1` within a second and the outbox's RabbitMQ
/// connection is up.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let postgres = health::check_postgres(&state.health_pool).await;
    let rabbitmq = health::check_rabbitmq(&state.amqp);
    let token_keys = if state.oauth.is_loaded() {
        Ok(())
    } else {
        Err("the token signing keys are not loaded yet".to_owned())
    };
    health::readiness(&[
        ("postgres", postgres),
        ("rabbitmq", rabbitmq),
        ("token_keys", token_keys),
    ])
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
    health::metrics(&state.metrics.metrics, &state.metrics.by_status).await
}
