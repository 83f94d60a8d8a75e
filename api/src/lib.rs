//! The `/api/imports` HTTP API (JSON:API), following the reference API's conventions so that
//! a client written for it works with only its base URL and token changed.
//!
//! - [`imports`]: the resource's handlers; [`upload`]: a create's body, streamed; [`listing`]: pagination, sort, filters, fields.
//! - [`auth`]: bearer tokens -> tenant; [`tokens`]: creating, listing, revoking tokens.
//! - [`outbox`]: announces created imports on RabbitMQ, at least once.
//! - [`attachments`]: signed, expiring download URLs of the raw inputs.
//! - [`errors`]: JSON:API error documents.
//! - [`observe`]: request spans, metrics, `/livez`, `/readyz` and `/metrics`.

pub mod attachments;
pub mod auth;
pub mod errors;
pub mod imports;
pub mod listing;
pub mod observe;
pub mod outbox;
pub mod rate_limit;
pub mod resource_types;
pub mod tokens;
pub mod upload;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use deadpool_postgres::Pool;
use imports_runtime::config::ApiConfig;
use imports_runtime::health::{self, AmqpWatch};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::errors::ApiError;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Postgres connections.
    pub pool: Pool,
    /// Settings.
    pub config: Arc<ApiConfig>,
    /// Wakes the outbox publisher after a create.
    pub outbox_wake: Arc<Notify>,
    /// Per-token request rate limits.
    pub limiter: Arc<rate_limit::RateLimiter>,
    /// Metrics.
    pub metrics: Arc<observe::ApiMetrics>,
    /// The outbox's RabbitMQ connection, for readiness.
    pub amqp: AmqpWatch,
    /// A pool of one connection for readiness checks (busy handlers cannot starve it).
    pub health_pool: Pool,
}

/// The routes of the API.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    let api = Router::new()
        .route("/api/imports", get(imports::list).post(imports::create))
        .route(
            "/api/imports/{id}",
            get(imports::retrieve)
                .patch(imports::update)
                .delete(imports::delete),
        )
        .route("/api/imports/{id}/events", get(imports::events))
        .route(
            "/api/imports/{id}/failed_inputs",
            get(imports::failed_inputs),
        )
        .route("/api/imports/{id}/attachment", get(attachments::download))
        .route("/api/resource_types", get(resource_types::list))
        .route("/api/resource_types/{name}", get(resource_types::retrieve))
        .route("/health", get(|| async { "ok" }))
        .fallback(|| async { ApiError::not_found("route") })
        .layer(axum::middleware::map_response(move |r| {
            body_limit_as_jsonapi(r, limit)
        }))
        .layer(DefaultBodyLimit::max(limit));
    // Operational endpoints answer plain JSON or text, outside the JSON:API error mapping
    // (a 503 from /readyz names what is down).
    let operational = Router::new()
        .route("/livez", get(health::livez))
        .route("/readyz", get(observe::readyz))
        .route("/metrics", get(observe::metrics));
    api.merge(operational)
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

/// Serves the API on `listener` until `shutdown`, with the outbox publisher beside it. It
/// serves at once (`/livez` answers, `/readyz` says what is missing) and the outbox starts
/// once Postgres answers.
pub async fn serve(
    config: ApiConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let pool = imports_storage::db::pool(&config.services.database_url, 16)?;
    let state = AppState {
        pool: pool.clone(),
        config: Arc::new(config.clone()),
        outbox_wake: Arc::new(Notify::new()),
        limiter: Arc::new(rate_limit::RateLimiter::new(
            config.rate_per_second,
            config.rate_burst,
        )),
        metrics: Arc::new(observe::ApiMetrics::new(pool.clone())),
        amqp: AmqpWatch::default(),
        health_pool: imports_storage::db::pool(&config.services.database_url, 1)?,
    };
    let outbox = {
        let (pool, wake, amqp, shutdown) = (
            pool,
            state.outbox_wake.clone(),
            state.amqp.clone(),
            shutdown.clone(),
        );
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = imports_runtime::startup::wait_for_postgres(&pool, &config.services.database_url, None) => {
                    outbox::run(pool, config, wake, amqp, shutdown).await
                }
            }
        })
    };
    let refresher = imports_runtime::telemetry::metrics::otlp_enabled().then(|| {
        tokio::spawn(
            state
                .metrics
                .by_status
                .clone()
                .refresh_periodically(shutdown.clone()),
        )
    });
    let metrics = state.metrics.clone();
    tracing::info!(addr = %listener.local_addr()?, "serving the imports API");
    let token = shutdown.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { token.cancelled().await })
        .await?;
    shutdown.cancel();
    let _ = outbox.await;
    if let Some(r) = refresher {
        let _ = r.await;
    }
    metrics.metrics.shutdown().await;
    Ok(())
}
