//! One trace per import, checked on the spans themselves: an in-memory exporter is this test
//! process's OpenTelemetry exporter (its own test binary, since it installs the global
//! subscriber), and the API and a worker run in process.
//!
//! Tree checked: caller's traceparent -> `POST /api/imports` -> `send <queue>` (outbox) ->
//! `process <queue>` (worker delivery) -> `import` -> `batch` x3 -> `lookup`/`write`/
//! `checkpoint`/`commit` SQL spans. And the import's webhook deliveries, each attempt a
//! `deliver <topic>` client span of that same trace, failed ones with an error status.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use imports_common::model::Mode;
use imports_tests::receiver::{Receiver, Reply};
use imports_tests::{sku, skus, TestEnv};
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The process's span exporter, installed once before any test runs its code.
fn exporter() -> InMemorySpanExporter {
    static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();
    EXPORTER
        .get_or_init(|| {
            let exporter = InMemorySpanExporter::default();
            let provider = SdkTracerProvider::builder()
                .with_simple_exporter(exporter.clone())
                .build();
            let installed = imports_runtime::telemetry::init_with_tracer_provider(provider);
            assert!(installed.is_some(), "no subscriber was installed before");
            exporter
        })
        .clone()
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

fn children<'a>(spans: &'a [SpanData], parent: &SpanData) -> Vec<&'a SpanData> {
    spans
        .iter()
        .filter(|s| s.parent_span_id == parent.span_context.span_id())
        .collect()
}

/// Waits until a finished span matches `find`.
async fn finished_span(
    exporter: &InMemorySpanExporter,
    what: &str,
    find: impl Fn(&SpanData) -> bool,
) -> SpanData {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let spans = exporter.get_finished_spans().unwrap();
        if let Some(s) = spans.iter().find(|s| find(s)) {
            return s.clone();
        }
        assert!(Instant::now() < deadline, "no finished {what} span");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_runs_from_the_create_request_to_the_sql_of_each_batch() {
    let exporter = exporter();
    let env = TestEnv::new().await;
    let api = env.spawn_api(env.api_config()).await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    let token = env.token("acme", Mode::Live).await;

    // Batches of 2: [ok, ok], [ok, no name], [a code too long for its index, ok]. The last
    // one's set-based write fails in Postgres and is redone record by record.
    // Random, so that Postgres cannot compress it under the btree limit.
    let long_code: String = (0..300)
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect();
    let inputs = json!([
        sku(0), sku(1), sku(2),
        {"code": "NONAME", "do_not_ship": true},
        {"code": long_code, "name": "too long", "do_not_ship": true},
        sku(3),
    ]);
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let resp = reqwest::Client::new()
        .post(format!("{}/api/imports", api.base_url))
        .bearer_auth(&token)
        .header("content-type", "application/vnd.api+json")
        .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
        .body(
            serde_json::to_vec(&json!({"data": {"type": "imports", "attributes": {
                "resource_type": "skus", "inputs": inputs, "skip_errors": true}}}))
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let doc: Value = resp.json().await.unwrap();
    let id = doc["data"]["id"].as_str().unwrap().to_owned();
    let import = env.wait_final(&id, Duration::from_secs(60)).await;
    assert_eq!((import.processed_count, import.errors_count), (4, 2));

    let has_id = |s: &SpanData| attr(s, "import_id").as_deref() == Some(id.as_str());
    let import_span = finished_span(&exporter, "import", |s| s.name == "import" && has_id(s)).await;
    let request = finished_span(&exporter, "request", |s| {
        s.name == "POST /api/imports" && has_id(s)
    })
    .await;
    let spans = exporter.get_finished_spans().unwrap();

    // The request continues the caller's trace; everything after it is in that trace.
    let trace_id = request.span_context.trace_id();
    assert_eq!(trace_id.to_string(), caller_trace);
    assert_eq!(request.parent_span_id.to_string(), caller_span);
    assert!(request.parent_span_is_remote);
    assert_eq!(request.span_kind, SpanKind::Server);
    assert_eq!(
        attr(&request, "http.response.status_code").as_deref(),
        Some("201")
    );
    assert_eq!(
        attr(&request, "http.route").as_deref(),
        Some("/api/imports")
    );
    assert_eq!(attr(&request, "resource_type").as_deref(), Some("skus"));

    let publish = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Producer && has_id(s))
        .expect("the outbox's publish span");
    assert_eq!(publish.name, format!("send {}", env.queue));
    assert_eq!(publish.parent_span_id, request.span_context.span_id());
    let delivery = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Consumer && has_id(s))
        .expect("the worker's delivery span");
    assert_eq!(delivery.name, format!("process {}", env.queue));
    assert_eq!(delivery.parent_span_id, publish.span_context.span_id());
    assert!(
        delivery.parent_span_is_remote,
        "its parent came in the message"
    );
    assert_eq!(delivery.span_context.trace_id(), trace_id);

    assert_eq!(import_span.span_context.trace_id(), trace_id);
    assert_eq!(import_span.parent_span_id, delivery.span_context.span_id());
    let expected: HashMap<&str, &str> = HashMap::from([
        ("import_id", id.as_str()),
        ("resource_type", "skus"),
        ("organization_id", "acme"),
        ("mode", "live"),
        ("outcome", "completed"),
        ("processed_count", "4"),
        ("errors_count", "2"),
        ("warnings_count", "0"),
        ("inputs_size", "6"),
    ]);
    for (key, value) in &expected {
        assert_eq!(
            attr(&import_span, key).as_deref(),
            Some(*value),
            "import span attribute {key}: {:?}",
            import_span.attributes
        );
    }
    assert_eq!(import_span.status, Status::Unset);

    let mut batches = children(&spans, &import_span);
    batches.retain(|s| s.name == "batch");
    batches.sort_by_key(|s| attr(s, "index"));
    assert_eq!(batches.len(), 3, "{batches:#?}");
    let facts: Vec<(String, String, String, String)> = batches
        .iter()
        .map(|b| {
            assert_eq!(b.span_context.trace_id(), trace_id);
            assert_eq!(attr(b, "import_id").as_deref(), Some(id.as_str()));
            assert_eq!(attr(b, "resource_type").as_deref(), Some("skus"));
            assert_eq!(attr(b, "organization_id").as_deref(), Some("acme"));
            assert_eq!(attr(b, "mode").as_deref(), Some("live"));
            (
                attr(b, "index").unwrap(),
                attr(b, "size").unwrap(),
                attr(b, "processed").unwrap(),
                attr(b, "errors").unwrap(),
            )
        })
        .collect();
    let row = |a: &str, b: &str, c: &str, d: &str| (a.into(), b.into(), c.into(), d.into());
    assert_eq!(
        facts,
        vec![
            row("0", "2", "2", "0"),
            row("1", "2", "1", "1"),
            row("2", "2", "1", "1")
        ]
    );

    // Each batch's statements, as client spans of the batch.
    for (i, batch) in batches.iter().enumerate() {
        let sql = children(&spans, batch);
        let mut names: Vec<&str> = sql.iter().map(|s| s.name.as_ref()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "checkpoint imports",
                "commit skus",
                "lookup skus",
                "match skus",
                "write skus"
            ],
            "batch {i}"
        );
        for s in &sql {
            assert_eq!(s.span_kind, SpanKind::Client);
            assert_eq!(attr(s, "db.system.name").as_deref(), Some("postgresql"));
            assert_eq!(s.span_context.trace_id(), trace_id);
        }
        // Only the last batch's set-based write failed: an error status with the message,
        // and an exception event.
        let write = sql.iter().find(|s| s.name == "write skus").unwrap();
        if i == 2 {
            let Status::Error { description } = &write.status else {
                panic!("the failed write is not an error: {:?}", write.status);
            };
            assert!(description.contains("index row"), "{description}");
            let exception = write
                .events
                .iter()
                .find(|e| e.name == "exception")
                .expect("an exception event");
            assert!(exception
                .attributes
                .iter()
                .any(|kv| kv.key.as_str() == "exception.message"));
        } else {
            assert_eq!(write.status, Status::Unset, "batch {i}");
        }
    }
    assert_ne!(
        request.span_context.span_id(),
        SpanId::INVALID,
        "a real span id"
    );

    worker.stop().await;
    api.stop().await;
}

/// Waits until `n` finished spans of trace `trace` match `find`; all those that do.
async fn finished_spans_of(
    exporter: &InMemorySpanExporter,
    trace: TraceId,
    n: usize,
    what: &str,
    find: impl Fn(&SpanData) -> bool,
) -> Vec<SpanData> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found: Vec<SpanData> = exporter
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .filter(|s| s.span_context.trace_id() == trace && find(s))
            .collect();
        if found.len() >= n {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{} finished {what} spans of {n} in trace {trace}",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates a webhook of the tenant of `token` on `topic`; its id.
async fn create_webhook(base_url: &str, token: &str, topic: &str, callback_url: &str) -> String {
    let resp = reqwest::Client::new()
        .post(format!("{base_url}/api/webhooks"))
        .bearer_auth(token)
        .header("content-type", "application/vnd.api+json")
        .body(
            serde_json::to_vec(&json!({"data": {"type": "webhooks", "attributes": {
                "topic": topic, "callback_url": callback_url}}}))
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    doc["data"]["id"].as_str().unwrap().to_owned()
}

/// The webhook deliveries of an import continue the trace of its create request: each
/// attempt is a `deliver <topic>` client span, a child of the request span (through the
/// trace context stored on the import), with what identifies it and the receiver's status;
/// a failed attempt has an error status, and its retry is a span of the same trace again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_are_client_spans_of_the_import_trace() {
    let exporter = exporter();
    let env = TestEnv::new().await;
    let api = env.spawn_api(env.api_config()).await;
    let worker = env.spawn_worker(env.worker_config(1, 10, 10));
    let token = env.token("acme", Mode::Test).await;

    let answering = Receiver::start().await;
    let failing = Receiver::start().await;
    // The second webhook's first call is answered 500; the retry, 200.
    failing.script(&[Reply::Status(500)]);
    let topic = "imports.complete";
    let ok_webhook = create_webhook(&api.base_url, &token, topic, &answering.url("/hook")).await;
    let failing_webhook = create_webhook(&api.base_url, &token, topic, &failing.url("/hook")).await;

    // Not the other test's trace: the exporter is shared, spans are told apart by trace.
    let caller_trace = "0af7651916cd43dd8448eb211c80319c";
    let caller_span = "b7ad6b7169203331";
    let resp = reqwest::Client::new()
        .post(format!("{}/api/imports", api.base_url))
        .bearer_auth(&token)
        .header("content-type", "application/vnd.api+json")
        .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
        .body(
            serde_json::to_vec(&json!({"data": {"type": "imports", "attributes": {
                "resource_type": "skus", "inputs": skus(3)}}}))
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let doc: Value = resp.json().await.unwrap();
    let id = doc["data"]["id"].as_str().unwrap().to_owned();
    let import = env.wait_final(&id, Duration::from_secs(60)).await;
    assert_eq!((import.processed_count, import.errors_count), (3, 0));

    let answered = answering.wait_for(1, Duration::from_secs(30)).await;
    let failed = failing.wait_for(2, Duration::from_secs(30)).await;
    let trace_id = TraceId::from_hex(caller_trace).unwrap();
    let has_id = |s: &SpanData| attr(s, "import_id").as_deref() == Some(id.as_str());
    let request = finished_spans_of(&exporter, trace_id, 1, "request", |s| {
        s.name == "POST /api/imports" && has_id(s)
    })
    .await
    .remove(0);
    assert_eq!(request.parent_span_id.to_string(), caller_span);

    let deliver = format!("deliver {topic}");
    let is_delivery = |webhook: &str| {
        let deliver = deliver.clone();
        let webhook = webhook.to_owned();
        move |s: &SpanData| {
            s.name == deliver.as_str() && attr(s, "webhook_id").as_deref() == Some(&webhook)
        }
    };
    let mut ok_spans =
        finished_spans_of(&exporter, trace_id, 1, "delivery", is_delivery(&ok_webhook)).await;
    let mut failing_spans = finished_spans_of(
        &exporter,
        trace_id,
        2,
        "delivery",
        is_delivery(&failing_webhook),
    )
    .await;
    failing_spans.sort_by_key(|s| attr(s, "attempt"));
    // Once each: no span for an attempt that was not made.
    assert_eq!(ok_spans.len(), 1, "{ok_spans:#?}");
    assert_eq!(failing_spans.len(), 2, "{failing_spans:#?}");
    assert_eq!(answered.len(), 1);
    assert_eq!(failed.len(), 2);

    let check = |span: &SpanData, webhook: &str, attempt: &str, code: &str, received: &str| {
        assert_eq!(span.span_kind, SpanKind::Client, "{span:#?}");
        assert_eq!(span.span_context.trace_id(), trace_id);
        assert_eq!(span.parent_span_id, request.span_context.span_id());
        assert!(
            span.parent_span_is_remote,
            "its parent came from the import"
        );
        let expected: HashMap<&str, &str> = HashMap::from([
            ("import_id", id.as_str()),
            ("webhook_id", webhook),
            ("topic", topic),
            ("attempt", attempt),
            ("http.response.status_code", code),
            ("delivery_id", received),
        ]);
        for (key, value) in &expected {
            assert_eq!(
                attr(span, key).as_deref(),
                Some(*value),
                "delivery span attribute {key}: {:?}",
                span.attributes
            );
        }
    };
    let delivery_id = |r: &imports_tests::receiver::Received| r.header("x-imports-delivery-id");

    let ok_span = ok_spans.remove(0);
    check(
        &ok_span,
        &ok_webhook,
        "1",
        "200",
        &delivery_id(&answered[0]),
    );
    assert!(
        !matches!(ok_span.status, Status::Error { .. }),
        "{:?}",
        ok_span.status
    );
    // The receiver may continue the trace: the call carries the delivery span's context.
    assert_eq!(
        answered[0].header("traceparent"),
        format!(
            "00-{}-{}-01",
            ok_span.span_context.trace_id(),
            ok_span.span_context.span_id()
        )
    );

    // The failed attempt: an error with the receiver's answer, and an exception event.
    let failing_id = delivery_id(&failed[0]);
    assert_eq!(
        delivery_id(&failed[1]),
        failing_id,
        "the same delivery, again"
    );
    check(&failing_spans[0], &failing_webhook, "1", "500", &failing_id);
    let Status::Error { description } = &failing_spans[0].status else {
        panic!(
            "the failed attempt is not an error: {:?}",
            failing_spans[0].status
        );
    };
    assert!(!description.is_empty());
    assert!(failing_spans[0]
        .events
        .iter()
        .any(|e| e.name == "exception"));
    // Its retry, answered 200, is not.
    check(&failing_spans[1], &failing_webhook, "2", "200", &failing_id);
    assert!(
        !matches!(failing_spans[1].status, Status::Error { .. }),
        "{:?}",
        failing_spans[1].status
    );

    worker.stop().await;
    api.stop().await;
}
