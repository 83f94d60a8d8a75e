//! Traces: the tracer provider, W3C trace context across the queue, errors on spans, and the
//! SQL spans of a batch.
//!
//! One import is one trace: the API's `POST /api/imports` request span, the outbox's
//! `publish` span (its context travels in the message's AMQP headers), the worker's
//! `process` span (its parent read from those headers), the `import` span, one `batch` span
//! per batch, and the `lookup`/`write`/`checkpoint`/`commit` SQL spans of each batch.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::KeyValue;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{env_set, exporter_disabled, sdk_disabled};

/// Whether spans are to be exported over OTLP: an endpoint is configured and neither
/// `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none` says otherwise.
pub fn otlp_enabled() -> bool {
    (env_set("OTEL_EXPORTER_OTLP_ENDPOINT") || env_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
        && !sdk_disabled()
        && !exporter_disabled("TRACES")
}

/// The OTLP span exporter the environment asks for (protocol from
/// `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`: `http/protobuf` by default, or `grpc`), or `None`
/// when no endpoint is set. A configuration the exporter refuses is reported once on stderr
/// and export is left off: telemetry never stops the service.
///
/// Call it inside the tokio runtime: the gRPC transport binds to it.
pub fn otlp_exporter() -> Option<opentelemetry_otlp::SpanExporter> {
    if !otlp_enabled() {
        return None;
    }
    match opentelemetry_otlp::SpanExporter::builder().build() {
        Ok(e) => Some(e),
        Err(e) => {
            eprintln!("telemetry: OTLP trace export is off: {e}");
            None
        }
    }
}

/// A tracer provider for `service`, exporting in batches with `exporter` when there is one.
/// Without one, spans still get ids (for logs and propagation) and are dropped when they end.
pub fn provider<E: SpanExporter + 'static>(
    service: &str,
    exporter: Option<E>,
) -> SdkTracerProvider {
    let builder = SdkTracerProvider::builder().with_resource(super::resource(service));
    match exporter {
        Some(e) => builder.with_batch_exporter(e).build(),
        None => builder.build(),
    }
}

/// A string map as a carrier of trace context (the outbox row, the message headers).
struct Carrier<'a>(&'a mut BTreeMap<String, String>);

impl Injector for Carrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct ReadCarrier<'a>(&'a BTreeMap<String, String>);

impl Extractor for ReadCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The W3C trace context (`traceparent`, `tracestate`) of `span`; empty when the span has no
/// valid OpenTelemetry context (no OpenTelemetry layer installed, or the span is disabled).
pub fn trace_context_of(span: &Span) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let cx = span.context();
    if cx.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&cx, &mut Carrier(&mut map));
    }
    map
}

/// The trace context of the current span, or `fallback` when it has none (so that a context
/// received from a caller is still passed on when tracing is not installed).
pub fn current_trace_context_or(
    fallback: impl FnOnce() -> BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let map = trace_context_of(&Span::current());
    if map.contains_key("traceparent") {
        map
    } else {
        fallback()
    }
}

/// The OpenTelemetry context a W3C trace context map describes (empty if it describes none).
pub fn extract(carrier: &BTreeMap<String, String>) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&ReadCarrier(carrier))
}

/// Makes `span` a child of the remote span described by `carrier` (the API's request, for a
/// message). Call it before the span is first entered. Does nothing for an empty or invalid
/// context, which leaves the span the root of a new trace.
pub fn set_remote_parent(span: &Span, carrier: &BTreeMap<String, String>) {
    let cx = extract(carrier);
    if cx.span().span_context().is_valid() {
        // Fails only when no OpenTelemetry layer is installed or the span already started.
        let _ = span.set_parent(cx);
    }
}

/// Marks `span` as failed: status `ERROR` with the message, and an `exception` event.
pub fn record_error(span: &Span, error: &dyn Display) {
    let message = error.to_string();
    span.add_event(
        "exception",
        vec![KeyValue::new("exception.message", message.clone())],
    );
    span.set_status(Status::error(message));
}

/// An error and its sources, `outer: inner: innermost` (a Postgres error's own `Display` is
/// only "db error": the server's message is its source).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = e.source();
    }
    message
}

/// [`record_error`] with the error's sources in the message.
pub fn record_error_chain(span: &Span, error: &(dyn std::error::Error + 'static)) {
    record_error(span, &error_chain(error));
}

/// Sets an attribute on `span` without declaring it as a field up front. Such attributes
/// go to the trace only, not into every log line written inside the span (keep log lines
/// readable: only `otel.name`, `otel.kind` and the domain fields are span fields).
pub fn set_attribute(span: &Span, key: &'static str, value: impl Into<opentelemetry::Value>) {
    span.set_attribute(key, value);
}

/// The messaging attributes of a RabbitMQ `operation` (`send`, `process`) on `queue`.
pub fn set_messaging_attributes(span: &Span, operation: &'static str, queue: &str) {
    span.set_attribute("messaging.system", "rabbitmq");
    span.set_attribute("messaging.operation.type", operation);
    span.set_attribute("messaging.destination.name", queue.to_owned());
}

/// Records what identifies an import on `span`: `import_id`, `resource_type`,
/// `organization_id`, `mode`.
pub fn record_import(
    span: &Span,
    import_id: &str,
    resource_type: &str,
    tenant: &imports_common::model::Tenant,
) {
    span.set_attribute("import_id", import_id.to_owned());
    span.set_attribute("resource_type", resource_type.to_owned());
    span.set_attribute("organization_id", tenant.organization_id.clone());
    span.set_attribute("mode", tenant.mode.as_str());
}

/// Runs `future` inside `span`, recording its error (with its sources) on the span if it fails.
pub async fn in_span<T, E: std::error::Error + 'static>(
    span: Span,
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let result = future.instrument(span.clone()).await;
    if let Err(e) = &result {
        record_error_chain(&span, e);
    }
    result
}

/// `future.in_span(span)`: [`in_span`] as a method, for a one-line change at a call site.
pub trait InSpan<T, E: std::error::Error + 'static>: Future<Output = Result<T, E>> + Sized {
    /// Runs the future inside `span`, recording its error on the span if it fails.
    fn in_span(self, span: Span) -> impl Future<Output = Result<T, E>> {
        in_span(span, self)
    }
}

impl<T, E: std::error::Error + 'static, F: Future<Output = Result<T, E>>> InSpan<T, E> for F {}

/// A client span around SQL statements: `operation` (`lookup`, `match`, `write`,
/// `checkpoint`, `commit`) on `table`, named `"<operation> <table>"` as the database conventions have it.
pub fn sql_span(operation: &'static str, table: &str) -> Span {
    let span = tracing::info_span!(
        "sql",
        otel.name = %format_args!("{operation} {table}"),
        otel.kind = "client",
    );
    span.set_attribute("db.system.name", "postgresql");
    span.set_attribute("db.operation.name", operation);
    span.set_attribute("db.collection.name", table.to_owned());
    span
}
