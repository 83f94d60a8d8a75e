//! What a careless or hostile client costs the real `imports-api` process, and that every
//! other tenant is still served meanwhile: slow uploads, half-sent headers, a connection
//! flood, huge and deep documents, oversized inputs, unauthenticated floods, and test mode
//! filling its limit while live mode goes on (issue 15).

use std::time::{Duration, Instant};

use imports_common::model::Mode;
use imports_tests::api_process::ApiProcess;
use imports_tests::{skus, TestEnv};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const JSONAPI: &str = "application/vnd.api+json";

/// A tenant's client of the API.
struct Tenant {
    http: Client,
    base: String,
    token: String,
}

impl Tenant {
    async fn new(env: &TestEnv, api: &ApiProcess, organization: &str, mode: Mode) -> Tenant {
        Tenant {
            http: Client::new(),
            base: api.base_url.clone(),
            token: env.token(organization, mode).await,
        }
    }

    async fn create(&self, inputs: Value) -> (StatusCode, Value) {
        let doc = json!({"data": {"type": "imports", "attributes": {"resource_type": "skus", "inputs": inputs}}});
        self.send(reqwest::Method::POST, "/api/imports", Some(doc))
            .await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        doc: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(15));
        if let Some(doc) = doc {
            request = request
                .header("content-type", JSONAPI)
                .body(serde_json::to_vec(&doc).unwrap());
        }
        let response = request.send().await.expect("an answer");
        let status = response.status();
        let body = response.bytes().await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// A list and a small create, each answered within a second.
    async fn is_served_promptly(&self) {
        let started = Instant::now();
        let (status, doc) = self.send(reqwest::Method::GET, "/api/imports", None).await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        let (status, doc) = self.create(skus(1)).await;
        assert_eq!(status, StatusCode::CREATED, "{doc}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a list and a create took {:?}",
            started.elapsed()
        );
    }
}

/// The status of the HTTP/1.1 answer read from `stream`, `None` when it closes without one.
async fn status_of(stream: &mut TcpStream) -> Option<u16> {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
        if answer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1)?.parse().ok()
}

/// Connections of the API's database that sit in an open transaction.
async fn transactions_open(env: &TestEnv) -> i64 {
    env.query(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND state LIKE 'idle in transaction%'",
        env.db_name
    ))
    .await[0]
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_slow_uploads_of_one_tenant_leave_every_other_tenant_served() {
    let env = TestEnv::new().await;
    let api = ApiProcess::spawn(
        &env,
        &[
            ("API_BODY_TIMEOUT_SECONDS", "4"),
            ("IMPORTS_MAX_ACTIVE", "50"),
        ],
    )
    .await;
    let slow_token = env.token("slow", Mode::Test).await;
    let other = Tenant::new(&env, &api, "other", Mode::Test).await;
    let body = serde_json::to_vec(&json!({"data": {"type": "imports", "attributes": {"resource_type": "skus", "inputs": skus(500)}}})).unwrap();
    let started = Instant::now();
    let mut uploads = Vec::new();
    for _ in 0..40 {
        let (addr, token, body) = (api.addr.clone(), slow_token.clone(), body.clone());
        uploads.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&addr).await.unwrap();
            let head = format!(
                "POST /api/imports HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: {JSONAPI}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            // One byte a second, until the server answers.
            let (mut read, mut write) = stream.into_split();
            let sending = tokio::spawn(async move {
                for byte in body {
                    if write.write_all(&[byte]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
            let mut buf = [0u8; 4096];
            let mut answer = Vec::new();
            while let Ok(n) = read.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            sending.abort();
            let text = String::from_utf8_lossy(&answer).to_string();
            let status: Option<u16> = text.split_whitespace().nth(1).and_then(|s| s.parse().ok());
            (status, started.elapsed())
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // While they trickle in, the other tenant is served at once, and no database connection
    // waits in a transaction for them.
    for _ in 0..5 {
        other.is_served_promptly().await;
        assert_eq!(
            transactions_open(&env).await,
            0,
            "a slow upload holds a transaction"
        );
    }
    let mut statuses = Vec::new();
    for upload in uploads {
        let (status, when) = upload.await.unwrap();
        statuses.push((status, when));
    }
    let refused = statuses.iter().filter(|(s, _)| *s == Some(429)).count();
    let timed_out: Vec<_> = statuses.iter().filter(|(s, _)| *s == Some(408)).collect();
    assert_eq!(
        refused, 36,
        "past the tenant's 4 uploads, 429: {statuses:?}"
    );
    assert_eq!(
        timed_out.len(),
        4,
        "the 4 admitted are cut for their pace: {statuses:?}"
    );
    assert!(
        timed_out
            .iter()
            .all(|(_, when)| *when < Duration::from_secs(10)),
        "{statuses:?}"
    );
    assert_eq!(
        env.count("imports").await,
        5,
        "only the other tenant's creates"
    );
    other.is_served_promptly().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_half_sent_headers_are_cut_and_never_block_anyone() {
    let env = TestEnv::new().await;
    let api = ApiProcess::spawn(&env, &[("API_HEADER_TIMEOUT_SECONDS", "2")]).await;
    let other = Tenant::new(&env, &api, "other", Mode::Test).await;
    let mut held = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(&api.addr).await.unwrap();
        stream
            .write_all(b"GET /api/imports HTTP/1.1\r\nHost: x\r\nAuthor")
            .await
            .unwrap();
        held.push(stream);
    }
    other.is_served_promptly().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Each was closed by the server (its answer, if any, is the end of the stream).
    for stream in &mut held {
        let read = tokio::time::timeout(Duration::from_secs(5), status_of(stream)).await;
        assert!(matches!(read, Ok(None) | Ok(Some(408))), "{read:?}");
    }
    other.is_served_promptly().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_bound_new_connections_wait_for_a_free_one() {
    let env = TestEnv::new().await;
    let api = ApiProcess::spawn(&env, &[("API_MAX_CONNECTIONS", "8")]).await;
    let idle: Vec<TcpStream> =
        futures::future::join_all((0..8).map(|_| TcpStream::connect(api.addr.clone())))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ninth = TcpStream::connect(&api.addr).await.unwrap();
    ninth
        .write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let early = tokio::time::timeout(Duration::from_secs(1), status_of(&mut ninth)).await;
    assert!(early.is_err(), "answered past the bound: {early:?}");
    drop(idle);
    let late = tokio::time::timeout(Duration::from_secs(5), status_of(&mut ninth)).await;
    assert_eq!(late.ok().flatten(), Some(200), "answered once one closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_deep_and_wide_documents_are_refused_and_the_api_stays_small() {
    let env = TestEnv::new().await;
    let api = ApiProcess::spawn(&env, &[]).await;
    let tenant = Tenant::new(&env, &api, "acme", Mode::Test).await;
    let (status, doc) = tenant.create(skus(1)).await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    let id = doc["data"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/imports/{id}");
    let patch = |metadata: Value| json!({"data": {"type": "imports", "id": id, "attributes": {"metadata": metadata}}});

    // 40 MB of metadata: refused on its Content-Length, before the body is read (the client
    // gets its answer after the first bytes, and the connection is closed on the rest).
    let mut stream = TcpStream::connect(&api.addr).await.unwrap();
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: {JSONAPI}\r\nContent-Length: {}\r\n\r\n",
        tenant.token,
        40 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(&[b'x'; 64 * 1024]).await;
    assert_eq!(status_of(&mut stream).await, Some(413));
    // Sent whole, chunked (no length to refuse it on): refused at the limit as it arrives.
    let huge = patch(json!({"blob": "x".repeat(40 * 1024 * 1024)}));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = serde_json::to_vec(&huge)
        .unwrap()
        .chunks(1024 * 1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let sent = tenant
        .http
        .patch(format!("{}{path}", tenant.base))
        .bearer_auth(&tenant.token)
        .header("content-type", JSONAPI)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await;
    match sent {
        Ok(response) => {
            assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
            let doc: Value = response.json().await.unwrap();
            let detail = doc["errors"][0]["detail"].as_str().unwrap();
            assert!(detail.contains("limit of 1048576 bytes"), "{detail}");
        }
        // The server stopped reading at the limit and closed the connection.
        Err(e) => assert!(e.is_request(), "{e}"),
    }
    let (_, peak) = api.memory();
    assert!(peak < 300 * 1024 * 1024, "peak RSS {} MiB", peak >> 20);

    let mut deep = json!(1);
    for _ in 0..40 {
        deep = json!({ "a": deep });
    }
    let (status, doc) = tenant
        .send(reqwest::Method::PATCH, &path, Some(patch(deep)))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{doc}");
    let error = &doc["errors"][0];
    assert!(
        error["detail"]
            .as_str()
            .unwrap()
            .contains("deeper than 32 levels"),
        "{doc}"
    );
    assert!(error["source"]["pointer"]
        .as_str()
        .unwrap()
        .starts_with("/data/attributes/metadata/a/a"));

    let wide: serde_json::Map<String, Value> =
        (0..20_000).map(|i| (format!("k{i}"), json!(i))).collect();
    let (status, doc) = tenant
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(patch(Value::Object(wide))),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{doc}");
    assert!(doc["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("more than 10000 members"));

    // A create's document beside its inputs has the same limits.
    let big_metadata = json!({"data": {"type": "imports", "attributes": {"resource_type": "skus", "inputs": skus(1), "metadata": {"blob": "x".repeat(2 * 1024 * 1024)}}}});
    let (status, doc) = tenant
        .send(reqwest::Method::POST, "/api/imports", Some(big_metadata))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{doc}");
    assert!(doc["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("the document without its inputs"));
    let (status, _) = tenant.send(reqwest::Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "the import is as it was");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_over_one_mebibyte_is_refused_naming_it_and_the_limit() {
    let env = TestEnv::new().await;
    let api = ApiProcess::spawn(&env, &[]).await;
    let tenant = Tenant::new(&env, &api, "acme", Mode::Test).await;
    let over = "x".repeat(1024 * 1024 + 1);
    let (status, doc) = tenant
        .create(json!([{"code": "A", "do_not_ship": true}, {"code": "B", "name": over, "do_not_ship": true}]))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{doc}");
    let error = &doc["errors"][0];
    assert_eq!(error["source"]["pointer"], "/data/attributes/inputs/1");
    assert!(error["detail"]
        .as_str()
        .unwrap()
        .contains("input 1 is larger than 1048576 bytes"));

    let csv = format!("code,name,do_not_ship\nA,{over},true\n");
    let doc = json!({"data": {"type": "imports", "attributes": {"resource_type": "skus", "format": "csv", "inputs": csv}}});
    let (status, doc) = tenant
        .send(reqwest::Method::POST, "/api/imports", Some(doc))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{doc}");
    assert_eq!(
        doc["errors"][0]["source"]["pointer"],
        "/data/attributes/inputs/0"
    );
    assert_eq!(env.count("imports").await, 0);
    assert_eq!(env.count("import_inputs").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_mode_at_its_limit_leaves_live_mode_free() {
    let env = TestEnv::new().await;
    let api = ApiProcess::spawn(&env, &[("IMPORTS_MAX_ACTIVE", "2")]).await;
    let test = Tenant::new(&env, &api, "acme", Mode::Test).await;
    let live = Tenant::new(&env, &api, "acme", Mode::Live).await;
    for _ in 0..2 {
        assert_eq!(test.create(skus(1)).await.0, StatusCode::CREATED);
    }
    let (status, doc) = test.create(skus(1)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{doc}");
    let (status, doc) = live.create(skus(1)).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "live mode is another environment: {doc}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_requests_are_limited_per_address_before_any_lookup() {
    let env = TestEnv::new().await;
    let api = ApiProcess::spawn(&env, &[("API_UNAUTHENTICATED_PER_MINUTE", "10")]).await;
    let good = Tenant::new(&env, &api, "acme", Mode::Test).await;
    let bad = Tenant {
        http: Client::new(),
        base: api.base_url.clone(),
        token: "imp_not-a-token".into(),
    };
    for _ in 0..10 {
        assert_eq!(
            bad.send(reqwest::Method::GET, "/api/imports", None).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (status, doc) = bad.send(reqwest::Method::GET, "/api/imports", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{doc}");
    // Spent: even a good API token from this address is not looked up now.
    let (status, _) = good.send(reqwest::Method::GET, "/api/imports", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Token requests reach the database unauthenticated too.
    let response = Client::new()
        .post(format!("{}/oauth/token", api.base_url))
        .json(&json!({"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_body_sent_slowly_is_cut_at_the_request_timeout() {
    let env = TestEnv::new().await;
    let api = ApiProcess::spawn(&env, &[("API_REQUEST_TIMEOUT_SECONDS", "2")]).await;
    let token = env.token("acme", Mode::Test).await;
    let mut stream = TcpStream::connect(&api.addr).await.unwrap();
    let head = format!(
        "PATCH /api/imports/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: {JSONAPI}\r\nContent-Length: 1000\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(10), status_of(&mut stream)).await;
    assert_eq!(status.ok().flatten(), Some(408));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_cannot_be_staged_is_a_503_and_a_small_one_still_works() {
    let env = TestEnv::new().await;
    let api = ApiProcess::spawn(&env, &[("API_UPLOAD_DIR", "/nonexistent/imports-uploads")]).await;
    let tenant = Tenant::new(&env, &api, "acme", Mode::Test).await;
    // Over the first MiB, the inputs go to a file: none can be made there.
    let long: Vec<Value> = (0..5000)
        .map(|i| json!({"code": format!("L{i}"), "do_not_ship": true, "description": "d".repeat(300)}))
        .collect();
    let (status, doc) = tenant.create(Value::Array(long)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{doc}");
    assert!(doc["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("could not be staged"));
    assert_eq!(env.count("imports").await, 0);
    let (status, doc) = tenant.create(skus(10)).await;
    assert_eq!(status, StatusCode::CREATED, "held in memory: {doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_creates_sent_at_once_need_no_upload_share() {
    let env = TestEnv::new().await;
    let api = ApiProcess::spawn(&env, &[("IMPORTS_MAX_ACTIVE", "100")]).await;
    let tenant = Tenant::new(&env, &api, "busy", Mode::Test).await;
    let answers = futures::future::join_all((0..32).map(|_| tenant.create(skus(3)))).await;
    let statuses: Vec<StatusCode> = answers.iter().map(|(s, _)| *s).collect();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "32 at once, over the tenant's 4 slow uploads: {statuses:?}"
    );
}
