//! Health endpoints shared by the API and the worker: `GET /livez` (the process answers),
//! `GET /readyz` (its dependencies answer: 200, or 503 with a JSON body naming what is
//! down) and `GET /metrics` (Prometheus text).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use deadpool_postgres::Pool;
use lapin::{Connection, ConnectionStatus};
use serde_json::{json, Map, Value};

use crate::telemetry::metrics::{ImportsByStatus, Metrics};

/// How long a readiness check waits for Postgres.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether a RabbitMQ connection that another task owns is up: that task [`set`]s it once
/// connected and [`clear`]s it when it gives the connection up; readers see the live state
/// (a connection RabbitMQ dropped reads as down at once).
///
/// [`set`]: AmqpWatch::set
/// [`clear`]: AmqpWatch::clear
#[derive(Clone, Default)]
pub struct AmqpWatch(Arc<Mutex<Option<ConnectionStatus>>>);

impl AmqpWatch {
    /// Watches `connection`.
    pub fn set(&self, connection: &Connection) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(connection.status().clone());
    }

    /// No connection any more.
    pub fn clear(&self) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// Whether the watched connection is up.
    pub fn is_connected(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map(ConnectionStatus::connected)
            .unwrap_or(false)
    }
}

/// Whether Postgres answers `SELECT 1` through `pool` within [`CHECK_TIMEOUT`].
pub async fn check_postgres(pool: &Pool) -> Result<(), String> {
    let check = async {
        let client = pool.get().await.map_err(|e| e.to_string())?;
        imports_storage::db::ping(&client)
            .await
            .map_err(|e| e.to_string())
    };
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no answer to SELECT 1 within {} s",
            CHECK_TIMEOUT.as_secs()
        )),
    }
}

/// A RabbitMQ check from a watch.
pub fn check_rabbitmq(watch: &AmqpWatch) -> Result<(), String> {
    if watch.is_connected() {
        Ok(())
    } else {
        Err("not connected".into())
    }
}

/// `GET /livez`: the process is up and serving.
pub async fn livez() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}

/// The `/readyz` answer for named checks: 200 `{"status":"ready","checks":{...}}` when all
/// pass, else 503 `{"status":"unavailable","checks":{"postgres":{"status":"down","error":
/// "..."},...}}`.
pub fn readiness(checks: &[(&str, Result<(), String>)]) -> Response {
    let mut out = Map::new();
    for (name, result) in checks {
        let entry = match result {
            Ok(()) => json!({"status": "up"}),
            Err(e) => json!({"status": "down", "error": e}),
        };
        out.insert((*name).to_owned(), entry);
    }
    let ready = checks.iter().all(|(_, r)| r.is_ok());
    let (status, word) = if ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    let body = json!({"status": word, "checks": Value::Object(out)});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /metrics`: counts the imports by status, then renders every metric.
pub async fn metrics(metrics: &Metrics, by_status: &ImportsByStatus) -> Response {
    by_status.refresh().await;
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}
