//! The worker's metrics, and what its spans learn from the database.
//!
//! | metric (Prometheus name) | kind | labels |
//! |---|---|---|
//! | `imports_records_processed_total` | counter: inputs created or updated | `resource_type` |
//! | `imports_records_failed_total` | counter: inputs rejected | `resource_type` |
//! | `imports_batch_duration_seconds` | histogram: one committed batch, lookup to commit | `resource_type` |
//! | `imports_queue_latency_seconds` | histogram: created_at -> started_at of an import | `resource_type` |
//! | `imports_active` | gauge: imports this worker is processing now | |
//! | `imports_by_status` | gauge: imports in the database by status (all tenants) | `status` |
//! | `imports_webhook_deliveries_total` | counter: delivery attempts | `outcome` (`delivered`, `failed`, `abandoned`) |
//! | `imports_webhook_delivery_duration_seconds` | histogram: one call to a receiver | `outcome` |
//! | `imports_webhook_open_circuits` | gauge: webhooks whose circuit is open (all tenants) | |

use imports_storage::imports;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use imports_runtime::telemetry::metrics::{ImportsByStatus, Metrics, SECONDS_BUCKETS};
use imports_runtime::telemetry::traces;
use imports_storage::leases::BatchTotals;
use imports_storage::leases::ClaimedImport;
use opentelemetry::metrics::{Counter, Gauge, Histogram, UpDownCounter};
use opentelemetry::KeyValue;

use crate::outcome::Finish;
use crate::Context;

/// The worker's instruments.
pub struct WorkerMetrics {
    /// The meter provider and its Prometheus registry.
    pub metrics: Metrics,
    /// `imports_by_status`.
    pub by_status: Arc<ImportsByStatus>,
    processed: Counter<u64>,
    failed: Counter<u64>,
    batch_duration: Histogram<f64>,
    queue_latency: Histogram<f64>,
    active: UpDownCounter<i64>,
    /// Webhook deliveries.
    pub webhooks: WebhookMetrics,
}

/// The instruments of webhook deliveries.
pub struct WebhookMetrics {
    attempts: Counter<u64>,
    duration: Histogram<f64>,
    open_circuits: Gauge<i64>,
}

impl WebhookMetrics {
    fn new(meter: &opentelemetry::metrics::Meter) -> Self {
        WebhookMetrics {
            attempts: meter
                .u64_counter("imports.webhook.deliveries")
                .with_description("Webhook delivery attempts, by outcome")
                .build(),
            duration: meter
                .f64_histogram("imports.webhook.delivery.duration")
                .with_unit("s")
                .with_description("One call to a webhook's receiver, by outcome")
                .with_boundaries(SECONDS_BUCKETS.to_vec())
                .build(),
            open_circuits: meter
                .i64_gauge("imports.webhook.open_circuits")
                .with_description("Webhooks whose circuit is open")
                .build(),
        }
    }

    /// Counts a call to a receiver.
    pub fn attempted(&self, delivered: bool, took: Duration) {
        let outcome = if delivered { "delivered" } else { "failed" };
        let labels = [KeyValue::new("outcome", outcome)];
        self.attempts.add(1, &labels);
        self.duration.record(took.as_secs_f64(), &labels);
    }

    /// Counts a delivery settled unsent (its webhook disabled or its circuit open).
    pub fn abandoned(&self) {
        self.attempts
            .add(1, &[KeyValue::new("outcome", "abandoned")]);
    }

    /// Sets the open-circuits gauge.
    pub fn set_open_circuits(&self, open: i64) {
        self.open_circuits.record(open, &[]);
    }
}

impl WorkerMetrics {
    /// Creates the instruments; `pool` is where `imports_by_status` counts.
    pub fn new(pool: Pool) -> WorkerMetrics {
        let metrics = Metrics::new("imports-worker");
        let meter = metrics.meter();
        let processed = meter
            .u64_counter("imports.records.processed")
            .with_description("Inputs created or updated, by resource type")
            .build();
        let failed = meter
            .u64_counter("imports.records.failed")
            .with_description("Inputs rejected with errors, by resource type")
            .build();
        let batch_duration = meter
            .f64_histogram("imports.batch.duration")
            .with_unit("s")
            .with_description("Time to write and commit one batch, by resource type")
            .with_boundaries(SECONDS_BUCKETS.to_vec())
            .build();
        let queue_latency = meter
            .f64_histogram("imports.queue.latency")
            .with_unit("s")
            .with_description("From an import's created_at to its started_at, by resource type")
            .with_boundaries(SECONDS_BUCKETS.to_vec())
            .build();
        let active = meter
            .i64_up_down_counter("imports.active")
            .with_description("Imports this worker is processing now")
            .build();
        let by_status = Arc::new(ImportsByStatus::new(meter, pool));
        let webhooks = WebhookMetrics::new(meter);
        WorkerMetrics {
            webhooks,
            metrics,
            by_status,
            processed,
            failed,
            batch_duration,
            queue_latency,
            active,
        }
    }

    /// Counts a committed batch.
    pub fn batch_committed(&self, resource_type: &str, totals: &BatchTotals, took: Duration) {
        let labels = [KeyValue::new("resource_type", resource_type.to_owned())];
        self.processed.add(totals.processed.max(0) as u64, &labels);
        self.failed.add(totals.errors.max(0) as u64, &labels);
        self.batch_duration.record(took.as_secs_f64(), &labels);
    }

    /// Counts an import as active until the guard is dropped.
    pub fn import_started(&self) -> ActiveImport {
        self.active.add(1, &[]);
        ActiveImport(self.active.clone())
    }
}

/// Counts one import in `imports_active` while it lives.
pub struct ActiveImport(UpDownCounter<i64>);

impl Drop for ActiveImport {
    fn drop(&mut self) {
        self.0.add(-1, &[]);
    }
}

/// Records the queue latency of an import this worker just started for the first time
/// (created_at -> started_at, from the database's own clock).
pub async fn import_claimed(ctx: &Context, import: &ClaimedImport) {
    if !import.first_start {
        return;
    }
    let query = async {
        let client = ctx.pool.get().await.ok()?;
        imports::queue_latency_seconds(&*client, &import.id)
            .await
            .ok()
            .flatten()
    };
    if let Some(seconds) = query.await {
        ctx.metrics.queue_latency.record(
            seconds.max(0.0),
            &[KeyValue::new("resource_type", import.resource_type.clone())],
        );
    }
}

/// Puts the outcome of a run and the import's counters on the current (import) span, and
/// marks the span failed when the run failed.
pub async fn import_ended(ctx: &Context, import_id: &str, finish: &anyhow::Result<Finish>) {
    let span = tracing::Span::current();
    let outcome = match finish {
        Ok(Finish::Completed) => "completed",
        Ok(Finish::Interrupted(_)) => "interrupted",
        Ok(Finish::Released(_)) => "released",
        Err(_) => "failed",
    };
    traces::set_attribute(&span, "outcome", outcome);
    if let Err(e) = finish {
        traces::record_error(&span, &format!("{e:#}"));
    }
    let counts = async {
        let client = ctx.pool.get().await.ok()?;
        imports::counts(&*client, import_id).await.ok().flatten()
    };
    if let Ok(Some(counts)) = tokio::time::timeout(Duration::from_secs(2), counts).await {
        traces::set_attribute(&span, "processed_count", counts.processed);
        traces::set_attribute(&span, "errors_count", counts.errors);
        traces::set_attribute(&span, "warnings_count", counts.warnings);
    }
}
