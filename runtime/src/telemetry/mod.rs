//! Traces, metrics and logs shared by the binaries.
//!
//! - [`traces`]: the OpenTelemetry tracer behind `tracing`'s spans, OTLP export when an
//!   endpoint is configured, W3C trace context in and out, errors on spans, SQL spans.
//! - [`metrics`]: an OpenTelemetry meter per service, read by a Prometheus registry (for
//!   `/metrics`) and, when an endpoint is configured, exported over OTLP.
//! - [`logs`]: log lines as text, or with `LOG_FORMAT=json` one JSON object per line carrying
//!   the trace and span ids of the span it was written in.
//!
//! Environment: `RUST_LOG` sets the log level (default `info`); `LOG_FORMAT=json`;
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` /
//! `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`) turns OTLP export on, with the standard
//! `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf` by default, or `grpc`), `_HEADERS`,
//! `_TIMEOUT`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`,
//! `OTEL_METRIC_EXPORT_INTERVAL`... Unset, nothing is exported and nothing complains; spans
//! still get trace ids, so logs and the trace context handed to the queue stay correlated.

pub mod logs;
pub mod metrics;
pub mod traces;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// The crates whose spans become OpenTelemetry spans (at `INFO` and above). Other crates'
/// spans (HTTP clients, the OTLP exporter itself) would only be noise, or feed back into the
/// exporter.
const TRACED_CRATES: [&str; 6] = [
    "imports_common",
    "imports_storage",
    "imports_runtime",
    "imports_worker",
    "imports_api",
    "imports_tests",
];

/// The installed telemetry of a process. [`Telemetry::shutdown`] flushes the spans not
/// exported yet; dropping it does not (tests drop it freely).
#[must_use = "call shutdown() before the process exits, or buffered spans are lost"]
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports what is buffered and stops the exporter. Runs the blocking flush on a
    /// blocking thread, so it works under any runtime flavour.
    pub async fn shutdown(self) {
        if let Some(provider) = self.tracer_provider {
            let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            if let Ok(Err(e)) = flushed {
                eprintln!("telemetry: flushing spans failed: {e}");
            }
        }
    }
}

/// Whether an environment variable is set to something other than blanks.
pub(crate) fn env_set(name: &str) -> bool {
    std::env::var(name)
        .map(|v| !v.trim().is_empty())
        .unwrap_or(false)
}

/// Whether `OTEL_SDK_DISABLED=true` turns all export off.
pub(crate) fn sdk_disabled() -> bool {
    std::env::var("OTEL_SDK_DISABLED")
        .map(|v| v.trim().eq_ignore_ascii_case("true"))
        .unwrap_or(false)
}

/// Whether `OTEL_<SIGNAL>_EXPORTER=none` turns one signal's export off.
pub(crate) fn exporter_disabled(signal: &str) -> bool {
    std::env::var(format!("OTEL_{signal}_EXPORTER"))
        .map(|v| v.trim().eq_ignore_ascii_case("none"))
        .unwrap_or(false)
}

/// The resource every signal of this process is described by: `service.name` is
/// `OTEL_SERVICE_NAME` when set (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`), else
/// `service` (`imports-api`, `imports-worker`).
pub fn resource(service: &str) -> Resource {
    let detected = Resource::builder().build();
    let named = detected
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .map(|v| !v.as_str().starts_with("unknown_service"))
        .unwrap_or(false);
    if named {
        detected
    } else {
        Resource::builder()
            .with_service_name(service.to_owned())
            .build()
    }
}

/// Installs the global subscriber of a binary: logs (text or JSON, filtered by `RUST_LOG`)
/// and OpenTelemetry spans (exported over OTLP when an endpoint is configured). Safe to call
/// more than once: later calls change nothing.
pub fn init(service: &str) -> Telemetry {
    if tracing::dispatcher::has_been_set() {
        return Telemetry {
            tracer_provider: None,
        };
    }
    let provider = traces::provider(service, traces::otlp_exporter());
    install(provider)
}

/// Like [`init`], with a tracer provider of the caller's (a test's in-memory exporter).
/// Returns `None` when a subscriber was already installed.
pub fn init_with_tracer_provider(provider: SdkTracerProvider) -> Option<Telemetry> {
    let t = install(provider);
    t.tracer_provider.as_ref()?;
    Some(t)
}

fn install(provider: SdkTracerProvider) -> Telemetry {
    let directives = std::env::var("RUST_LOG").unwrap_or_default();
    let mut log_filter = EnvFilter::try_new(&directives)
        .ok()
        .filter(|_| !directives.trim().is_empty())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // The OpenTelemetry SDK's own diagnostics are for its developers below WARN (and would
    // land in the CLI subcommands' output), unless RUST_LOG names them.
    if !directives.contains("opentelemetry") {
        for quiet in ["opentelemetry", "opentelemetry_sdk", "opentelemetry_otlp"] {
            if let Ok(d) = format!("{quiet}=warn").parse() {
                log_filter = log_filter.add_directive(d);
            }
        }
    }
    let json = std::env::var("LOG_FORMAT")
        .map(|v| v.trim().eq_ignore_ascii_case("json"))
        .unwrap_or(false);
    // Each layer has its own filter: a global one would also starve the OpenTelemetry layer
    // of the spans it needs (with RUST_LOG=warn no trace context would be propagated).
    let span_filter = TRACED_CRATES
        .iter()
        .fold(Targets::new(), |t, c| t.with_target(*c, LevelFilter::INFO));
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("imports"))
        .with_location(false)
        .with_threads(false)
        .with_filter(span_filter);
    let registry = tracing_subscriber::registry().with(otel);
    let result = if json {
        registry
            .with(
                fmt::layer()
                    .fmt_fields(fmt::format::JsonFields::new())
                    .event_format(logs::JsonWithTraceIds)
                    .with_filter(log_filter),
            )
            .try_init()
    } else {
        registry
            .with(fmt::layer().with_target(false).with_filter(log_filter))
            .try_init()
    };
    if result.is_err() {
        // Another subscriber was there first (tests): leave it, and this provider unused.
        return Telemetry {
            tracer_provider: None,
        };
    }
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    Telemetry {
        tracer_provider: Some(provider),
    }
}
