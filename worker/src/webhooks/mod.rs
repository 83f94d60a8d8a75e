//! Webhook deliveries, sent from RabbitMQ. Every event writes its deliveries in its own
//! transaction (`imports_storage::deliveries`); here they are sent:
//!
//! - [`schedule`]: finds deliveries that are due (woken at once by `LISTEN`, else every
//!   second) and announces their ids on `<IMPORTS_QUEUE>.webhooks`, with confirms.
//! - [`send`]: consumes that queue, claims each delivery in Postgres, POSTs it with its
//!   signature and settles the attempt: delivered, due again after a backoff, or failed.
//! - [`payload`]: the body of a delivery, the import as the API shows it.
//! - [`client`]: the HTTP client: no redirects, private addresses refused at connect, a
//!   deadline, answers read up to a small limit.
//! - [`backoff`]: when a failed delivery is tried again.
//!
//! At least once: a delivery stays `pending` in Postgres until an attempt is settled, and is
//! due again whenever its announcement or its sender is lost. A slow receiver holds only its
//! webhook's share of the senders (`WEBHOOKS_PER_WEBHOOK_CONCURRENCY`).

pub mod backoff;
pub mod client;
pub mod payload;
pub mod schedule;
pub mod send;

use std::sync::Arc;

use deadpool_postgres::Pool;
use imports_runtime::config::{ServiceConfig, WebhookSettings};
use imports_runtime::health::AmqpWatch;
use tokio_util::sync::CancellationToken;

use crate::observe::WorkerMetrics;

/// What the delivery tasks of a process share.
pub struct Deliverer {
    /// Postgres connections.
    pub pool: Pool,
    /// Connections to RabbitMQ and Postgres, and the work queue's name.
    pub services: ServiceConfig,
    /// How deliveries are sent.
    pub settings: WebhookSettings,
    /// The HTTP client of every delivery.
    pub client: reqwest::Client,
    /// Metrics.
    pub metrics: Arc<WorkerMetrics>,
    /// The delivery consumer's RabbitMQ connection, for readiness.
    pub amqp: AmqpWatch,
    /// Cancelled on shutdown.
    pub shutdown: CancellationToken,
    /// Wakes the announcer: a delivery was committed (`LISTEN`), or a call ended, so a
    /// webhook at its share may take another.
    pub wake: Arc<tokio::sync::Notify>,
}

/// Runs the scheduler and the senders until `shutdown`, then lets the deliveries being
/// sent finish (each is bounded by `WEBHOOKS_TIMEOUT_SECONDS`).
pub async fn run(deliverer: Arc<Deliverer>) {
    tracing::info!(
        queue = %imports_runtime::queue::webhook_queue(&deliverer.services.queue),
        concurrency = deliverer.settings.concurrency,
        "delivering webhooks"
    );
    let scheduler = tokio::spawn(schedule::run(deliverer.clone()));
    send::run(deliverer.clone()).await;
    let _ = scheduler.await;
}
