//! Webhook deliveries: how many a deliverer sends per second, and how long after an import
//! completes its `imports.complete` call arrives.
//!
//! A receiver in this process (axum on 127.0.0.1, answering 204 at once) records when each
//! call arrived, its `X-Imports-Delivery-Id` and topic, and the payload's `data.id` and
//! `completed_at`. Fresh databases and queues, release processes:
//!
//! - throughput: [`WEBHOOKS`] webhooks on `imports.create`, then [`IMPORTS`] one-SKU imports
//!   created by [`CLIENTS`] concurrent clients, first while `imports-worker deliver` runs
//!   (live), then again with it stopped and started once their deliveries are all written
//!   (a backlog); deliveries per second from the first to the last arrival, and every
//!   delivery checked to have arrived exactly once (by delivery id, and once per import and
//!   webhook);
//! - latency: one webhook on `imports.complete`, [`LATENCY_IMPORTS`] imports of
//!   [`LATENCY_SKUS`] SKUs through a plain `imports-worker`, one at a time and then all at
//!   once; arrival at the receiver minus the payload's `completed_at` (both this machine's
//!   wall clock; `completed_at` is Postgres's `now()` in the completing transaction).
//!
//! The worker's `WEBHOOKS_*` settings are its defaults unless set in the bench's own
//! environment (the processes inherit it). `BENCH_WORKER_LOG` sets the worker's `RUST_LOG`
//! (default `warn`) and sends its log to the bench's stderr: `info` logs each delivery.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::api_load::{bench_token, free_port, Options};
use crate::client::create;
use crate::cpu::Sample;
use crate::processes::{self, Processes};

/// Webhooks on `imports.create` in the throughput runs.
const WEBHOOKS: usize = 10;
/// Imports created in each throughput run (one SKU each).
const IMPORTS: usize = 500;
/// Concurrent API clients creating them.
const CLIENTS: usize = 4;
/// Imports of the latency runs.
const LATENCY_IMPORTS: usize = 50;
/// SKUs of each.
const LATENCY_SKUS: usize = 5;
/// `IMPORTS_MAX_ACTIVE`: the throughput runs leave every import pending.
const MAX_ACTIVE: &str = "100000";
/// The API's per-token rate limit, raised so creation is not throttled.
const RATE_LIMIT: &str = "1000000";
/// How long the receiver may see no new call before a run stops waiting for the rest.
const STALL: Duration = Duration::from_secs(30);
/// How long after the last expected call duplicates are still waited for.
const GRACE: Duration = Duration::from_secs(1);

/// One call the receiver got.
#[derive(Clone)]
struct Arrival {
    /// When its body had been read (this machine's wall clock).
    at: DateTime<Utc>,
    /// The path (which webhook).
    path: String,
    /// `X-Imports-Delivery-Id`.
    delivery_id: String,
    /// `X-CommerceLayer-Topic`.
    topic: String,
    /// The raw payload, parsed afterwards so that answering stays fast.
    body: Bytes,
}

impl Arrival {
    /// The payload's `data.id` and `data.attributes.completed_at`.
    fn import(&self) -> (String, Option<DateTime<Utc>>) {
        let doc: Value = serde_json::from_slice(&self.body).unwrap_or(Value::Null);
        let id = doc["data"]["id"].as_str().unwrap_or_default().to_owned();
        let completed = doc["data"]["attributes"]["completed_at"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        (id, completed)
    }
}

#[derive(Default)]
struct Shared {
    arrivals: Mutex<Vec<Arrival>>,
    arrived: Notify,
}

/// The bench's receiver: every call answered 204 at once and recorded.
struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> anyhow::Result<Receiver> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .fallback(record)
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Receiver {
            addr,
            shared,
            server,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arrival>> {
        self.shared
            .arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Everything received so far, forgotten.
    fn take(&self) -> Vec<Arrival> {
        std::mem::take(&mut *self.lock())
    }

    /// Waits until `n` calls arrived in all, or none arrived for [`STALL`]; then
    /// [`GRACE`] more for duplicates. Returns what arrived (and forgets it).
    async fn collect(&self, n: usize) -> Vec<Arrival> {
        let (mut seen, mut last_progress) = (self.count(), Instant::now());
        while seen < n && last_progress.elapsed() < STALL {
            let arrived = self.shared.arrived.notified();
            let now = self.count();
            if now > seen {
                (seen, last_progress) = (now, Instant::now());
                continue;
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), arrived).await;
        }
        tokio::time::sleep(GRACE).await;
        self.take()
    }

    /// Waits up to [`STALL`] for the call about import `id`; returns it.
    async fn wait_for_import(&self, id: &str) -> anyhow::Result<Arrival> {
        let deadline = Instant::now() + STALL;
        loop {
            let arrived = self.shared.arrived.notified();
            if let Some(a) = self.lock().iter().find(|a| a.import().0 == id) {
                return Ok(a.clone());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "no webhook call for import {id} within {STALL:?}"
            );
            let _ = tokio::time::timeout(Duration::from_millis(200), arrived).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = Utc::now();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let arrival = Arrival {
        at,
        path: uri.path().to_owned(),
        delivery_id: header("X-Imports-Delivery-Id"),
        topic: header("X-CommerceLayer-Topic"),
        body,
    };
    shared
        .arrivals
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(arrival);
    shared.arrived.notify_waiters();
    StatusCode::NO_CONTENT
}

/// A `WEBHOOKS_*` setting as the worker sees it: the bench's environment, else its default.
fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| format!("{default} (default)"))
}

/// Runs both measurements and prints their figures, dropping the databases and queues it
/// made whatever happened.
pub async fn run(options: &Options<'_>) -> anyhow::Result<()> {
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let names = [
        format!("imports_bench_hooks_{suffix}"),
        format!("imports_bench_hooks_latency_{suffix}"),
    ];
    let receiver = Receiver::start().await?;
    let measured = async {
        let throughput = throughput(options, &names[0], &receiver).await?;
        let latency = latency(options, &names[1], &receiver).await?;
        Ok::<_, anyhow::Error>((throughput, latency))
    }
    .await;
    let dropped = crate::databases::drop_databases(options.postgres, &[&names[0], &names[1]]).await;
    if let Ok(c) = imports_runtime::queue::connect(options.amqp, Some(Duration::from_secs(5))).await
    {
        if let Ok(ch) = c.create_channel().await {
            for queue in &names {
                let _ = imports_runtime::queue::delete(&ch, queue).await;
                let webhooks = imports_runtime::queue::webhook_queue(queue);
                let _ = imports_runtime::queue::delete(&ch, &webhooks).await;
            }
        }
    }
    let (throughput, latency) = measured?;
    dropped?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "webhooks: receiver in the bench process (answers 204 at once); the API, the worker, the receiver, Postgres and RabbitMQ share this {cores}-core machine; WEBHOOKS_CONCURRENCY={}, WEBHOOKS_PER_WEBHOOK_CONCURRENCY={}",
        setting("WEBHOOKS_CONCURRENCY", "16"),
        setting("WEBHOOKS_PER_WEBHOOK_CONCURRENCY", "4"),
    );
    for line in throughput.iter().chain(&latency) {
        println!("{line}");
    }
    Ok(())
}

/// The API and worker processes of one database and queue.
struct Setup<'a> {
    options: &'a Options<'a>,
    url: String,
    queue: &'a str,
    port: u16,
}

impl Setup<'_> {
    fn command(&self, bin: &str) -> Command {
        let mut cmd = Command::new(self.options.bin_dir.join(bin));
        cmd.env("DATABASE_URL", &self.url)
            .env("AMQP_URL", self.options.amqp)
            .env("IMPORTS_QUEUE", self.queue)
            .env("API_ADDR", format!("127.0.0.1:{}", self.port))
            .env("API_RATE_LIMIT_PER_SECOND", RATE_LIMIT)
            .env("API_RATE_LIMIT_BURST", RATE_LIMIT)
            .env("IMPORTS_MAX_ACTIVE", MAX_ACTIVE)
            .env("WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "true")
            .env("WORKER_HTTP_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null());
        cmd
    }

    fn api(&self) -> std::io::Result<Child> {
        self.command("imports-api").spawn()
    }

    /// `imports-worker` with `args` (`deliver`, or none for a plain worker).
    /// With `BENCH_WORKER_LOG` set, its log (on its stdout) goes to the bench's stderr.
    fn worker(&self, args: &[&str]) -> std::io::Result<Child> {
        let mut cmd = self.command("imports-worker");
        cmd.args(args);
        if let Ok(log) = std::env::var("BENCH_WORKER_LOG") {
            cmd.env("RUST_LOG", log).stdout(std::io::stderr());
        }
        cmd.spawn()
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A fresh migrated database and the bench tenant's token.
async fn prepare<'a>(options: &'a Options<'a>, db: &'a str) -> anyhow::Result<(Setup<'a>, String)> {
    let url = format!("{}/{db}", options.postgres);
    imports_runtime::startup::migrate_url(&url, Duration::from_secs(10)).await?;
    let token = bench_token(options.bin_dir, &url)?;
    let setup = Setup {
        options,
        url,
        queue: db,
        port: free_port()?,
    };
    Ok((setup, token))
}

/// Registers a webhook; its id.
async fn register(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    topic: &str,
    callback_url: &str,
) -> anyhow::Result<String> {
    let body = json!({"data": {"type": "webhooks", "attributes": {
        "topic": topic, "callback_url": callback_url}}});
    let resp = http
        .post(format!("{base}/api/webhooks"))
        .bearer_auth(token)
        .header("content-type", "application/vnd.api+json")
        .body(serde_json::to_vec(&body)?)
        .send()
        .await?;
    let status = resp.status();
    let doc: Value = resp.json().await?;
    anyhow::ensure!(status.as_u16() == 201, "POST /api/webhooks: {status} {doc}");
    Ok(doc["data"]["id"].as_str().unwrap_or_default().to_owned())
}

/// `count` imports of `skus` SKUs each, created by [`CLIENTS`] clients at once; their ids.
async fn create_many(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    prefix: &str,
    count: usize,
    skus: usize,
) -> anyhow::Result<Vec<String>> {
    futures::stream::iter(0..count)
        .map(|k| create(http, base, token, "json", inputs(prefix, k, skus)))
        .buffer_unordered(CLIENTS)
        .try_collect()
        .await
}

fn inputs(prefix: &str, k: usize, skus: usize) -> Value {
    Value::Array(
        (0..skus)
            .map(|i| json!({"code": format!("{prefix}{k:04}-{i}"), "name": format!("hook {k} {i}"), "do_not_ship": true}))
            .collect(),
    )
}

/// The throughput runs; their lines.
async fn throughput(
    options: &Options<'_>,
    db: &str,
    receiver: &Receiver,
) -> anyhow::Result<Vec<String>> {
    let (setup, token) = prepare(options, db).await?;
    let mut procs = Processes {
        api: setup.api()?,
        workers: Vec::new(),
    };
    let (base, http) = (setup.base(), reqwest::Client::new());
    processes::wait_for_api(&http, &base).await?;
    for k in 0..WEBHOOKS {
        let url = receiver.url(&format!("/create/{k}"));
        register(&http, &base, &token, "imports.create", &url).await?;
    }
    let expected = IMPORTS * WEBHOOKS;
    let mut lines = Vec::new();

    // Live: the deliverer runs while the imports are created.
    procs.workers.push(setup.worker(&["deliver"])?);
    // Its consumer and LISTEN are up well within this.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let created = Instant::now();
    let ids = create_many(&http, &base, &token, "LIVE", IMPORTS, 1).await?;
    let creating = created.elapsed();
    let arrivals = receiver.collect(expected).await;
    let (rate, span) = spread(&arrivals);
    lines.push(format!(
        "webhooks throughput, live: {WEBHOOKS} webhooks on imports.create, {IMPORTS} one-SKU imports created by {CLIENTS} clients in {:.2} s ({:.0}/s) while `imports-worker deliver` ran: {} deliveries in {:.2} s from the first to the last arrival, {rate:.0}/s; {}",
        creating.as_secs_f64(),
        IMPORTS as f64 / creating.as_secs_f64(),
        arrivals.len(),
        span.as_secs_f64(),
        exactly_once(&arrivals, &ids, "imports.create"),
    ));

    // Backlog: every delivery is written before the deliverer starts.
    procs.stop_workers();
    let ids = create_many(&http, &base, &token, "BACKLOG", IMPORTS, 1).await?;
    let started = Utc::now();
    let deliverer = setup.worker(&["deliver"])?;
    let deliverer_pid = deliverer.id();
    procs.workers.push(deliverer);
    // Taken just after the spawn: the new process has used next to no CPU yet.
    let before = Sample::take(Some(deliverer_pid));
    let arrivals = receiver.collect(expected).await;
    let cpu = before.until(&Sample::take(Some(deliverer_pid)));
    let (rate, span) = spread(&arrivals);
    let first = arrivals.iter().map(|a| a.at).min().unwrap_or(started);
    let last = arrivals.iter().map(|a| a.at).max().unwrap_or(started);
    lines.push(format!(
        "webhooks throughput, backlog: {} deliveries written ({IMPORTS} imports x {WEBHOOKS} webhooks) before `imports-worker deliver` started; first arrival {} ms after its spawn, last {:.2} s; {rate:.0}/s from the first to the last arrival ({:.2} s); {}",
        expected,
        (first - started).num_milliseconds(),
        (last - started).num_milliseconds() as f64 / 1e3,
        span.as_secs_f64(),
        exactly_once(&arrivals, &ids, "imports.create"),
    ));
    lines.push(format!(
        "  CPU over the backlog run (cores; the sample includes the GRACE of {} s after the last arrival): deliverer {:.2}, receiver (bench) {:.2}, Postgres {:.2}, other (RabbitMQ, kernel) {:.2}",
        GRACE.as_secs(),
        cpu.api,
        cpu.bench,
        cpu.postgres,
        cpu.other,
    ));
    drop(procs);
    Ok(lines)
}

/// Deliveries per second from the first to the last arrival, and that span.
fn spread(arrivals: &[Arrival]) -> (f64, Duration) {
    let first = arrivals.iter().map(|a| a.at).min();
    let last = arrivals.iter().map(|a| a.at).max();
    match (first, last) {
        (Some(f), Some(l)) => {
            let span = (l - f).to_std().unwrap_or_default();
            (arrivals.len() as f64 / span.as_secs_f64().max(1e-6), span)
        }
        _ => (0.0, Duration::ZERO),
    }
}

/// Whether every delivery arrived once: by delivery id, and once per import and webhook;
/// the duplicates and what is missing otherwise.
fn exactly_once(arrivals: &[Arrival], imports: &[String], topic: &str) -> String {
    let mut by_delivery: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_pair: HashMap<(String, String), usize> = HashMap::new();
    let mut wrong_topic = 0;
    for a in arrivals {
        *by_delivery.entry(a.delivery_id.as_str()).or_default() += 1;
        *by_pair.entry((a.import().0, a.path.clone())).or_default() += 1;
        wrong_topic += usize::from(a.topic != topic);
    }
    let duplicates: Vec<String> = by_delivery
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, n)| format!("{id} x{n}"))
        .collect();
    let paths: Vec<String> = (0..WEBHOOKS).map(|k| format!("/create/{k}")).collect();
    let missing = imports
        .iter()
        .flat_map(|i| paths.iter().map(move |p| (i.clone(), p.clone())))
        .filter(|pair| !by_pair.contains_key(pair))
        .count();
    let unexpected = by_pair
        .keys()
        .filter(|(i, p)| !imports.contains(i) || !paths.contains(p))
        .count();
    if duplicates.is_empty() && missing == 0 && unexpected == 0 && wrong_topic == 0 {
        return format!(
            "each of the {} delivery ids arrived exactly once, one per import and webhook",
            by_delivery.len()
        );
    }
    format!(
        "NOT exactly once: {} distinct delivery ids, {} duplicated ({}), {missing} (import, webhook) pairs missing, {unexpected} unexpected, {wrong_topic} with another topic",
        by_delivery.len(),
        duplicates.len(),
        duplicates.join(", "),
    )
}

/// The latency runs; their lines.
async fn latency(
    options: &Options<'_>,
    db: &str,
    receiver: &Receiver,
) -> anyhow::Result<Vec<String>> {
    let (setup, token) = prepare(options, db).await?;
    let procs = Processes {
        api: setup.api()?,
        workers: vec![setup.worker(&[])?],
    };
    let (base, http) = (setup.base(), reqwest::Client::new());
    processes::wait_for_api(&http, &base).await?;
    register(
        &http,
        &base,
        &token,
        "imports.complete",
        &receiver.url("/complete"),
    )
    .await?;
    receiver.take();
    let mut lines = Vec::new();

    // One at a time: the next import is created once the last one's call arrived.
    let mut one = Vec::new();
    for k in 0..LATENCY_IMPORTS {
        let id = create(&http, &base, &token, "json", inputs("ONE", k, LATENCY_SKUS)).await?;
        one.push(receiver.wait_for_import(&id).await?);
    }
    let one_ids: Vec<String> = one.iter().map(|a| a.import().0).collect();
    lines.push(format!(
        "webhooks latency, one at a time: 1 webhook on imports.complete, {LATENCY_IMPORTS} imports of {LATENCY_SKUS} SKUs through `imports-worker` (IMPORTS_CONCURRENCY default), each created once the last one's call arrived: arrival - completed_at {}",
        percentiles(&one, &one_ids)?,
    ));
    receiver.take();

    // All at once.
    let ids = create_many(&http, &base, &token, "BURST", LATENCY_IMPORTS, LATENCY_SKUS).await?;
    let burst = receiver.collect(LATENCY_IMPORTS).await;
    lines.push(format!(
        "webhooks latency, all at once: {LATENCY_IMPORTS} imports of {LATENCY_SKUS} SKUs created by {CLIENTS} clients without waiting: arrival - completed_at {}",
        percentiles(&burst, &ids)?,
    ));
    drop(procs);
    Ok(lines)
}

/// The median, 99th percentile (nearest rank) and largest of arrival - completed_at over
/// the calls of `imports`, each of which must have arrived once.
fn percentiles(arrivals: &[Arrival], imports: &[String]) -> anyhow::Result<String> {
    let mut ms = Vec::new();
    for a in arrivals {
        let (id, completed) = a.import();
        anyhow::ensure!(imports.contains(&id), "a call about another import: {id}");
        let completed =
            completed.ok_or_else(|| anyhow::anyhow!("the call about {id} has no completed_at"))?;
        ms.push((a.at - completed).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e3);
    }
    anyhow::ensure!(
        ms.len() == imports.len(),
        "{} calls for {} imports",
        ms.len(),
        imports.len()
    );
    ms.sort_by(f64::total_cmp);
    let rank = |p: f64| ms[((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    Ok(format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (min {:.1} ms; {} calls, each once)",
        rank(0.5),
        rank(0.99),
        ms[ms.len() - 1],
        ms[0],
        ms.len()
    ))
}
