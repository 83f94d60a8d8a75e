//! Metrics: one OpenTelemetry meter provider per service instance, read by a Prometheus
//! registry for `GET /metrics` and, when an OTLP endpoint is configured, exported over OTLP
//! every `OTEL_METRIC_EXPORT_INTERVAL` milliseconds (60 s by default).
//!
//! One provider per instance rather than a process-wide one: two workers run by the same
//! test process each count their own imports.
//!
//! OpenTelemetry names become Prometheus names with dots as underscores, `_total` on
//! counters and the unit as a suffix (`imports.batch.duration` in seconds is
//! `imports_batch_duration_seconds`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;
use opentelemetry::metrics::{Meter, MeterProvider as _, ObservableGauge};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use prometheus::{Encoder, TextEncoder};

use super::{env_set, exporter_disabled, sdk_disabled};
use imports_common::model::Status;

/// Histogram boundaries, in seconds, for durations from milliseconds to minutes.
pub const SECONDS_BUCKETS: [f64; 16] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0,
];

/// Whether metrics are to be exported over OTLP.
pub fn otlp_enabled() -> bool {
    (env_set("OTEL_EXPORTER_OTLP_ENDPOINT") || env_set("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"))
        && !sdk_disabled()
        && !exporter_disabled("METRICS")
}

/// The metrics of one service instance.
pub struct Metrics {
    provider: SdkMeterProvider,
    registry: prometheus::Registry,
    meter: Meter,
}

impl Metrics {
    /// A meter provider for `service` with a Prometheus registry, and an OTLP exporter when
    /// the environment configures one. Call it inside the tokio runtime (gRPC binds to it).
    pub fn new(service: &str) -> Metrics {
        let registry = prometheus::Registry::new();
        let mut builder = SdkMeterProvider::builder().with_resource(super::resource(service));
        match opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .scope_info_enabled(false)
            .build()
        {
            Ok(reader) => builder = builder.with_reader(reader),
            Err(e) => eprintln!("telemetry: the Prometheus exporter is off: {e}"),
        }
        if otlp_enabled() {
            match opentelemetry_otlp::MetricExporter::builder().build() {
                Ok(exporter) => builder = builder.with_periodic_exporter(exporter),
                Err(e) => eprintln!("telemetry: OTLP metrics export is off: {e}"),
            }
        }
        let provider = builder.build();
        let meter = provider.meter("imports");
        Metrics {
            provider,
            registry,
            meter,
        }
    }

    /// The meter to create instruments with.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// Every metric in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!("cannot encode the metrics: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// Exports what is pending (OTLP) and stops. Blocking work runs on a blocking thread.
    pub async fn shutdown(&self) {
        let provider = self.provider.clone();
        let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    }
}

/// The `imports_by_status{status}` gauge: how many imports each status holds, all tenants
/// together. Counted by a query when `/metrics` is scraped (and every 15 s while OTLP export
/// is on); every replica reports the same database-wide figures.
pub struct ImportsByStatus {
    counts: Arc<Mutex<Vec<(Status, i64)>>>,
    pool: Pool,
    _gauge: ObservableGauge<i64>,
}

impl ImportsByStatus {
    /// Registers the gauge on `meter`; `pool` is where the imports are counted.
    pub fn new(meter: &Meter, pool: Pool) -> ImportsByStatus {
        let counts: Arc<Mutex<Vec<(Status, i64)>>> = Arc::new(Mutex::new(Vec::new()));
        let read = counts.clone();
        let gauge = meter
            .i64_observable_gauge("imports.by_status")
            .with_description("Imports by status, all organizations together")
            .with_callback(move |observer| {
                for (status, n) in read
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .iter()
                {
                    observer.observe(*n, &[KeyValue::new("status", status.as_str())]);
                }
            })
            .build();
        ImportsByStatus {
            counts,
            pool,
            _gauge: gauge,
        }
    }

    /// Counts the imports again (within a second; on failure the last figures stay).
    pub async fn refresh(&self) {
        let query = async {
            let client = self.pool.get().await.ok()?;
            imports_storage::imports::count_by_status(&*client)
                .await
                .ok()
        };
        let Ok(Some(found)) = tokio::time::timeout(Duration::from_secs(1), query).await else {
            return;
        };
        let mut counts: Vec<(Status, i64)> = Status::ALL.iter().map(|s| (*s, 0)).collect();
        for (status, n) in found {
            if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == status) {
                slot.1 = n;
            }
        }
        *self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = counts;
    }

    /// Refreshes every 15 s until `shutdown`, for OTLP export (a scrape refreshes anyway).
    pub async fn refresh_periodically(
        self: Arc<Self>,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        loop {
            self.refresh().await;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(15)) => {}
            }
        }
    }
}
