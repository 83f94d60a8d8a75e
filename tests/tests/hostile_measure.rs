//! The figures of issue 15, measured against a real `imports-api` process by one script, so
//! that a build before and after a change can be compared. Not part of the suite (ignored):
//!
//! ```text
//! IMPORTS_API_BINARY=/path/to/imports-api \
//!   cargo test -p imports-tests --test hostile_measure -- --ignored --nocapture
//! ```
//!
//! Without `IMPORTS_API_BINARY`, the workspace's own binary. Each figure is printed on a line
//! of its own, beginning `measure:`.

use std::time::{Duration, Instant};

use imports_common::model::Mode;
use imports_tests::api_process::ApiProcess;
use imports_tests::{binary, skus, TestEnv};
use reqwest::Client;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const JSONAPI: &str = "application/vnd.api+json";

async fn spawn(env: &TestEnv, vars: &[(&str, &str)]) -> ApiProcess {
    let program = std::env::var("IMPORTS_API_BINARY")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| binary("imports-api"));
    ApiProcess::spawn_binary(&program, env, vars).await
}

/// The slowest of a list and a small create by `token`, or `None` when one took over 15 s.
async fn served_in(http: &Client, base: &str, token: &str) -> Option<Duration> {
    let started = Instant::now();
    let list = http
        .get(format!("{base}/api/imports"))
        .bearer_auth(token)
        .timeout(Duration::from_secs(15))
        .send();
    list.await.ok()?;
    let doc = json!({"data": {"type": "imports", "attributes": {"resource_type": "skus", "inputs": skus(1)}}});
    let create = http
        .post(format!("{base}/api/imports"))
        .bearer_auth(token)
        .header("content-type", JSONAPI)
        .body(serde_json::to_vec(&doc).unwrap())
        .timeout(Duration::from_secs(15))
        .send();
    create.await.ok()?;
    Some(started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run it with --ignored --nocapture"]
async fn measure_what_hostile_clients_cost() {
    let env = TestEnv::new().await;
    let api = spawn(&env, &[("IMPORTS_MAX_ACTIVE", "100")]).await;
    let http = Client::new();
    let other = env.token("other", Mode::Test).await;
    let slow = env.token("slow", Mode::Test).await;

    // 40 creates sending their body at one byte a second.
    let mut held = Vec::new();
    for _ in 0..40 {
        let mut stream = TcpStream::connect(&api.addr).await.unwrap();
        let head = format!(
            "POST /api/imports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {slow}\r\nContent-Type: {JSONAPI}\r\nContent-Length: 100000\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        held.push(stream);
    }
    let trickle = tokio::spawn(async move {
        for _ in 0..30 {
            for stream in held.iter_mut() {
                let _ = stream.write_all(b" ").await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut worst = Some(Duration::ZERO);
    for _ in 0..3 {
        let took = served_in(&http, &api.base_url, &other).await;
        worst = worst.zip(took).map(|(a, b)| a.max(b));
    }
    println!("measure: another tenant's list + create while 40 slow uploads are open: {worst:?} (None: over 15 s)");
    trickle.abort();

    // 300 connections holding half a header.
    let mut half = Vec::new();
    for _ in 0..300 {
        if let Ok(mut stream) = TcpStream::connect(&api.addr).await {
            let _ = stream
                .write_all(b"GET /api/imports HTTP/1.1\r\nHost: x\r\nAuth")
                .await;
            half.push(stream);
        }
    }
    let took = served_in(&http, &api.base_url, &other).await;
    println!("measure: another tenant's list + create while 300 half headers are held: {took:?}");
    tokio::time::sleep(Duration::from_secs(12)).await;
    let mut open = 0;
    for stream in half.iter_mut() {
        let mut buf = [0u8; 512];
        let read = tokio::time::timeout(Duration::from_millis(20), stream.read(&mut buf)).await;
        if read.is_err() {
            open += 1; // Nothing came, not even the end of the stream.
        }
    }
    println!("measure: of 300 half headers, still open 12 s later: {open}");
    drop(half);

    // 300 requests with made-up methods, and what they add to /metrics.
    let metrics_lines = |text: String| text.lines().count();
    let url = format!("{}/metrics", api.base_url);
    let before = metrics_lines(http.get(&url).send().await.unwrap().text().await.unwrap());
    for i in 0..300 {
        let method = reqwest::Method::from_bytes(format!("M{i}X").as_bytes()).unwrap();
        let _ = http
            .request(method, format!("{}/api/imports", api.base_url))
            .send()
            .await;
    }
    let after = metrics_lines(http.get(&url).send().await.unwrap().text().await.unwrap());
    println!(
        "measure: /metrics lines added by 300 requests with made-up methods: {}",
        after.saturating_sub(before)
    );

    // 40 MB of metadata in a PATCH.
    let created = http
        .get(format!("{}/api/imports", api.base_url))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let id = created["data"][0]["id"]
        .as_str()
        .unwrap_or("none")
        .to_owned();
    let (rss_before, _) = api.memory();
    let doc = json!({"data": {"type": "imports", "id": id, "attributes": {"metadata": {"blob": "x".repeat(40 * 1024 * 1024)}}}});
    let status = http
        .patch(format!("{}/api/imports/{id}", api.base_url))
        .bearer_auth(&other)
        .header("content-type", JSONAPI)
        .body(serde_json::to_vec(&doc).unwrap())
        .send()
        .await
        .map(|r| r.status().as_u16());
    let (_, peak) = api.memory();
    println!(
        "measure: a 40 MB PATCH: {status:?}; API RSS {} MiB before, peak {} MiB",
        rss_before >> 20,
        peak >> 20
    );
    drop(api);

    // Test mode at its active-imports limit, then a live create.
    let api = spawn(&env, &[("IMPORTS_MAX_ACTIVE", "1")]).await;
    let fresh = env.token("modes", Mode::Test).await;
    let live = env.token("modes", Mode::Live).await;
    let create = |token: String| {
        let doc = json!({"data": {"type": "imports", "attributes": {"resource_type": "skus", "inputs": skus(1)}}});
        http.post(format!("{}/api/imports", api.base_url))
            .bearer_auth(token)
            .header("content-type", JSONAPI)
            .body(serde_json::to_vec(&doc).unwrap())
            .send()
    };
    let test_status = create(fresh).await.unwrap().status().as_u16();
    let live_status = create(live).await.unwrap().status().as_u16();
    println!("measure: test mode at its limit ({test_status}), then a live create: {live_status}");
}
