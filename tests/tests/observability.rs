//! Metrics, health endpoints, JSON logs and OTLP export, end to end.
//!
//! Readiness is tested by cutting a TCP proxy between one process under test and the
//! machine's Postgres or RabbitMQ: the real services stay up for the tests running beside.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Uri};
use imports_common::model::Mode;
use imports_runtime::queue::{self, ImportMessage, Publisher};
use imports_tests::proxy::TcpProxy;
use imports_tests::{amqp_url, signal, skus, ImportSpec, TestEnv};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The samples of a Prometheus text page: `name{labels}` -> value, labels sorted.
fn samples(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let key = match series.split_once('{') {
            Some((name, labels)) => {
                let mut labels: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
                labels.sort();
                format!("{name}{{{}}}", labels.join(","))
            }
            None => series.to_owned(),
        };
        out.insert(key, value.parse().expect("a number"));
    }
    out
}

async fn get(url: &str) -> (StatusCode, String) {
    let resp = reqwest::get(url).await.expect("GET");
    let status = resp.status();
    (status, resp.text().await.unwrap())
}

async fn create(base: &str, token: &str, attributes: Value) -> Value {
    let resp = reqwest::Client::new()
        .post(format!("{base}/api/imports"))
        .bearer_auth(token)
        .header("content-type", "application/vnd.api+json")
        .body(
            serde_json::to_vec(&json!({"data": {"type": "imports", "attributes": attributes}}))
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pages_count_what_an_import_did() {
    let env = TestEnv::new().await;
    let api = env.spawn_api(env.api_config()).await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    let token = env.token("acme", Mode::Test).await;
    let mut inputs = skus(4);
    inputs
        .as_array_mut()
        .unwrap()
        .push(json!({"code": "NONAME", "do_not_ship": true}));
    let doc = create(
        &api.base_url,
        &token,
        json!({"resource_type": "skus", "inputs": inputs, "skip_errors": true}),
    )
    .await;
    let id = doc["data"]["id"].as_str().unwrap();
    env.wait_final(id, Duration::from_secs(60)).await;

    // The import span ends (and imports_active drops) just after the status is committed.
    let deadline = Instant::now() + Duration::from_secs(10);
    let worker_metrics = loop {
        let (status, text) = get(&format!("{}/metrics", worker.http_url)).await;
        assert_eq!(status, StatusCode::OK);
        let m = samples(&text);
        if m.get("imports_active") == Some(&0.0) || Instant::now() > deadline {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let expect = |name: &str, value: f64| {
        assert_eq!(
            worker_metrics.get(name),
            Some(&value),
            "{name} in {worker_metrics:#?}"
        );
    };
    expect(
        "imports_records_processed_total{resource_type=\"skus\"}",
        4.0,
    );
    expect("imports_records_failed_total{resource_type=\"skus\"}", 1.0);
    expect(
        "imports_batch_duration_seconds_count{resource_type=\"skus\"}",
        3.0,
    );
    expect(
        "imports_queue_latency_seconds_count{resource_type=\"skus\"}",
        1.0,
    );
    expect("imports_active", 0.0);
    expect("imports_by_status{status=\"completed\"}", 1.0);
    expect("imports_by_status{status=\"pending\"}", 0.0);
    assert!(
        worker_metrics["imports_batch_duration_seconds_sum{resource_type=\"skus\"}"] > 0.0,
        "batches take some time"
    );

    // Made-up methods and paths add no labels: they are `_OTHER` and `unmatched`.
    let http = reqwest::Client::new();
    for k in 0..50 {
        let method = reqwest::Method::from_bytes(format!("BREW{k}").as_bytes()).unwrap();
        http.request(method, format!("{}/nowhere/{k}", api.base_url))
            .send()
            .await
            .unwrap();
    }
    let (status, text) = get(&format!("{}/metrics", api.base_url)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !text.contains("BREW") && !text.contains("/nowhere"),
        "{text}"
    );
    let other = text
        .lines()
        .filter(|l| {
            l.starts_with(
                "http_server_request_duration_seconds_count{http_request_method=\"_OTHER\"",
            )
        })
        .count();
    assert_eq!(other, 1, "one series for every made-up method: {text}");
    let api_metrics = samples(&text);
    let created = "http_server_request_duration_seconds_count{http_request_method=\"POST\",http_response_status_code=\"201\",http_route=\"/api/imports\"}";
    assert_eq!(api_metrics.get(created), Some(&1.0), "{api_metrics:#?}");
    assert_eq!(
        api_metrics.get("imports_by_status{status=\"completed\"}"),
        Some(&1.0)
    );
    assert!(
        text.contains("service_name=\"imports-api\""),
        "target_info names the service: {text}"
    );

    worker.stop().await;
    api.stop().await;
}

/// Polls `url` until it answers `want`; returns the body.
async fn wait_status(url: &str, want: StatusCode) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, text) = get(url).await;
        if status == want {
            return serde_json::from_str(&text).unwrap_or(Value::Null);
        }
        assert!(
            Instant::now() < deadline,
            "{url} still answers {status}: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Cuts each proxy in turn and checks that readiness names it, and that it comes back.
async fn readiness_flips(base: &str, postgres: &TcpProxy, rabbitmq: &TcpProxy) {
    let readyz = format!("{base}/readyz");
    let ready = wait_status(&readyz, StatusCode::OK).await;
    assert_eq!(ready["status"], "ready", "{ready}");

    for (name, proxy) in [("postgres", postgres), ("rabbitmq", rabbitmq)] {
        proxy.cut();
        let body = wait_status(&readyz, StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(body["status"], "unavailable", "{body}");
        assert_eq!(body["checks"][name]["status"], "down", "{body}");
        assert!(body["checks"][name]["error"].is_string(), "{body}");
        let other = if name == "postgres" {
            "rabbitmq"
        } else {
            "postgres"
        };
        assert_eq!(body["checks"][other]["status"], "up", "{body}");
        let (live, _) = get(&format!("{base}/livez")).await;
        assert_eq!(live, StatusCode::OK, "alive while {name} is down");
        proxy.restore();
        let body = wait_status(&readyz, StatusCode::OK).await;
        assert_eq!(body["checks"][name]["status"], "up", "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_readiness_follows_postgres_and_rabbitmq() {
    let env = TestEnv::new().await;
    let (postgres, database_url) = TcpProxy::for_url(&env.database_url, 5432).await;
    let (rabbitmq, amqp) = TcpProxy::for_url(&amqp_url(), 5672).await;
    let mut config = env.worker_config(1, 10, 10);
    config.services.database_url = database_url;
    config.services.amqp_url = amqp;
    let worker = env.spawn_worker(config);
    readiness_flips(&worker.http_url, &postgres, &rabbitmq).await;
    // Still working after both came back.
    let import = env.submit(ImportSpec::json("skus", &skus(3))).await;
    let done = env.wait_final(&import.id, Duration::from_secs(60)).await;
    assert_eq!(done.processed_count, 3);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_readiness_follows_postgres_and_rabbitmq() {
    let env = TestEnv::new().await;
    let (postgres, database_url) = TcpProxy::for_url(&env.database_url, 5432).await;
    let (rabbitmq, amqp) = TcpProxy::for_url(&amqp_url(), 5672).await;
    let mut config = env.api_config();
    config.services.database_url = database_url;
    config.services.amqp_url = amqp;
    // Started while Postgres is unreachable: the token keys cannot be read, so not ready;
    // they are once it answers.
    postgres.cut();
    let api = env.spawn_api(config).await;
    let readyz = format!("{}/readyz", api.base_url);
    let body = wait_status(&readyz, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["checks"]["token_keys"]["status"], "down", "{body}");
    postgres.restore();
    let body = wait_status(&readyz, StatusCode::OK).await;
    assert_eq!(body["checks"]["token_keys"]["status"], "up", "{body}");
    let (status, body) = get(&format!("{}/health", api.base_url)).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    readiness_flips(&api.base_url, &postgres, &rabbitmq).await;
    api.stop().await;
}

/// Reads a child's stdout lines on a thread.
fn lines_of(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

fn worker_command(env: &TestEnv) -> Command {
    let mut cmd = Command::new(imports_tests::worker_binary());
    cmd.env("DATABASE_URL", &env.database_url)
        .env("AMQP_URL", amqp_url())
        .env("IMPORTS_QUEUE", &env.queue)
        .env("IMPORTS_CONCURRENCY", "1")
        .env("IMPORTS_BATCH_SIZE", "2")
        .env("IMPORTS_LEASE_SECONDS", "10")
        .env("WORKER_HTTP_ADDR", "127.0.0.1:0")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
        .env_remove("OTEL_SERVICE_NAME")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Announces an import as if the API had, with a trace context.
async fn publish_traced(env: &TestEnv, import_id: &str, traceparent: &str) {
    let conn = queue::connect(&amqp_url(), Some(Duration::from_secs(10)))
        .await
        .unwrap();
    let publisher = Publisher::new(&conn, &env.queue).await.unwrap();
    let mut message = ImportMessage::new(import_id);
    message
        .trace_context
        .insert("traceparent".into(), traceparent.into());
    publisher.publish(&message).await.unwrap();
    let _ = conn.close(200, "done".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_trace_id_of_their_span() {
    let env = TestEnv::new().await;
    let mut child = worker_command(&env)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .spawn()
        .unwrap();
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());
    let import = env.create_import(ImportSpec::json("skus", &skus(3))).await;
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    publish_traced(
        &env,
        &import.id,
        &format!("00-{trace_id}-b7ad6b7169203331-01"),
    )
    .await;
    env.wait_final(&import.id, Duration::from_secs(60)).await;

    let deadline = Instant::now() + Duration::from_secs(10);
    let ended = loop {
        let found = stdout
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains("import run ended"))
            .cloned();
        if let Some(line) = found {
            break line;
        }
        assert!(Instant::now() < deadline, "no 'import run ended' line");
        std::thread::sleep(Duration::from_millis(50));
    };
    signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");

    let line: Value = serde_json::from_str(&ended).expect("one JSON object per line");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["fields"]["message"], "import run ended");
    assert_eq!(line["span"]["name"], "import");
    assert_eq!(line["span"]["import_id"], import.id.as_str());
    assert_eq!(line["trace_id"], trace_id, "{line}");
    let span_id = line["span_id"].as_str().expect("a span id");
    assert!(
        span_id.len() == 16 && span_id.chars().all(|c| c.is_ascii_hexdigit()),
        "{line}"
    );
    let names: Vec<&str> = line["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["delivery", "import"]);
    // Every line is one JSON object; those outside any span have no trace id.
    for text in stdout.lock().unwrap().iter() {
        let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
        if v.get("spans").is_none() {
            assert!(v.get("trace_id").is_none(), "{text}");
        }
    }
    // No OTLP endpoint: nothing is exported, and nothing complains.
    let stderr = stderr.lock().unwrap();
    assert!(stderr.is_empty(), "{stderr:?}");
}

/// What an OTLP/HTTP receiver got: path and body of each request.
type Received = Arc<Mutex<Vec<(String, Bytes, String)>>>;

async fn otlp_receiver() -> (String, Received, tokio::task::JoinHandle<()>) {
    let received: Received = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let sink = sink.clone();
        async move {
            let content_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            sink.lock()
                .unwrap()
                .push((uri.path().to_owned(), body, content_type));
            // An empty ExportTraceServiceResponse / ExportMetricsServiceResponse.
            ([("content-type", "application/x-protobuf")], Bytes::new())
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, received, handle)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_export_sends_the_spans_on_shutdown_under_the_configured_service_name() {
    let env = TestEnv::new().await;
    let (endpoint, received, receiver) = otlp_receiver().await;
    let mut child = worker_command(&env)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_SERVICE_NAME", "worker-under-test")
        // Spans wait in the batch far longer than the test: only the flush on shutdown
        // can send them.
        .env("OTEL_BSP_SCHEDULE_DELAY", "600000")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "600000")
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let stderr = lines_of(child.stderr.take().unwrap());
    let _stdout = lines_of(child.stdout.take().unwrap());
    let import = env.create_import(ImportSpec::json("skus", &skus(3))).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    publish_traced(
        &env,
        &import.id,
        &format!("00-{trace_id}-00f067aa0ba902b7-01"),
    )
    .await;
    env.wait_final(&import.id, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !received
            .lock()
            .unwrap()
            .iter()
            .any(|(p, _, _)| p == "/v1/traces"),
        "nothing is sent before the batch is due"
    );
    signal(&child, libc::SIGTERM);
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status}: {:?}", stderr.lock().unwrap());

    let received = received.lock().unwrap();
    let traces: Vec<&(String, Bytes, String)> = received
        .iter()
        .filter(|(p, _, _)| p == "/v1/traces")
        .collect();
    assert!(!traces.is_empty(), "no spans exported on shutdown");
    let body: Vec<u8> = traces.iter().flat_map(|(_, b, _)| b.to_vec()).collect();
    assert_eq!(traces[0].2, "application/x-protobuf");
    // Protobuf keeps strings and ids as they are: the service name, the span names and the
    // trace id (16 raw bytes) are all there.
    assert!(contains(&body, "worker-under-test"), "OTEL_SERVICE_NAME");
    assert!(contains(&body, "import") && contains(&body, "lookup skus"));
    assert!(contains(&body, &import.id));
    let raw_trace_id: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&trace_id[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    assert!(
        body.windows(16).any(|w| w == raw_trace_id.as_slice()),
        "the message's trace id"
    );
    let metrics: Vec<u8> = received
        .iter()
        .filter(|(p, _, _)| p == "/v1/metrics")
        .flat_map(|(_, b, _)| b.to_vec())
        .collect();
    assert!(
        contains(&metrics, "imports.records.processed"),
        "metrics are flushed on shutdown too"
    );
    receiver.abort();
}

/// An OTLP/gRPC trace receiver.
#[derive(Clone, Default)]
struct GrpcCollector(Arc<Mutex<Vec<ExportTraceServiceRequest>>>);

#[tonic::async_trait]
impl TraceService for GrpcCollector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn string_value(v: &Option<AnyValue>) -> Option<&str> {
    match v.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_grpc_export_names_the_service_and_continues_the_message_trace() {
    let env = TestEnv::new().await;
    let collector = GrpcCollector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let mut child = worker_command(&env)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("OTEL_METRICS_EXPORTER", "none")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let stderr = lines_of(child.stderr.take().unwrap());
    let _stdout = lines_of(child.stdout.take().unwrap());
    let import = env.create_import(ImportSpec::json("skus", &skus(3))).await;
    let trace_id = "5bf92f3577b34da6a3ce929d0e0e4737";
    publish_traced(
        &env,
        &import.id,
        &format!("00-{trace_id}-00f067aa0ba902b7-01"),
    )
    .await;
    env.wait_final(&import.id, Duration::from_secs(60)).await;

    // Exported while running, every 100 ms: no need to stop the worker first.
    let raw_trace_id: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&trace_id[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (service, import_span) = loop {
        let found = collector.0.lock().unwrap().iter().find_map(|request| {
            request.resource_spans.iter().find_map(|rs| {
                let service = rs
                    .resource
                    .as_ref()?
                    .attributes
                    .iter()
                    .find(|kv| kv.key == "service.name")
                    .and_then(|kv| string_value(&kv.value))?
                    .to_owned();
                rs.scope_spans
                    .iter()
                    .flat_map(|ss| ss.spans.iter())
                    .find(|s| {
                        s.name == "import"
                            && s.attributes.iter().any(|kv| {
                                kv.key == "import_id"
                                    && string_value(&kv.value) == Some(import.id.as_str())
                            })
                    })
                    .map(|s| (service, s.clone()))
            })
        });
        if let Some(f) = found {
            break f;
        }
        assert!(
            Instant::now() < deadline,
            "no import span received over gRPC; stderr: {:?}",
            stderr.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(service, "imports-worker");
    assert_eq!(import_span.trace_id, raw_trace_id);
    signal(&child, libc::SIGTERM);
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status}");
    server.abort();
}
