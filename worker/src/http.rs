//! The worker's small HTTP server on `WORKER_HTTP_ADDR`: `GET /livez` (the process is up),
//! `GET /readyz` (Postgres answers and the RabbitMQ consumer is connected; 503 with the
//! failing checks otherwise) and `GET /metrics` (Prometheus text).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use deadpool_postgres::Pool;
use imports_runtime::health::{self, AmqpWatch};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::observe::WorkerMetrics;

/// What the endpoints look at.
#[derive(Clone)]
pub struct HttpState {
    /// A pool of one connection, for readiness checks only (so that busy imports cannot
    /// starve it).
    pub health_pool: Pool,
    /// The consumer's RabbitMQ connection.
    pub amqp: AmqpWatch,
    /// The worker's metrics.
    pub metrics: Arc<WorkerMetrics>,
}

/// The routes.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/livez", get(health::livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn readyz(State(state): State<HttpState>) -> Response {
    let postgres = health::check_postgres(&state.health_pool).await;
    let rabbitmq = health::check_rabbitmq(&state.amqp);
    health::readiness(&[("postgres", postgres), ("rabbitmq", rabbitmq)])
}

async fn metrics(State(state): State<HttpState>) -> Response {
    health::metrics(&state.metrics.metrics, &state.metrics.by_status).await
}

/// Serves until `shutdown`.
pub async fn serve(listener: TcpListener, state: HttpState, shutdown: CancellationToken) {
    let result = axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(e) = result {
        tracing::warn!("the worker's HTTP server stopped: {e}");
    }
}
