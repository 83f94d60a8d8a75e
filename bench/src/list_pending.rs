//! A list page of pending imports (issue 15, item 7): 25 imports of 10,000 inputs each, left
//! pending (no worker runs), and `GET /api/imports?page[size]=25` read once after another
//! (its size and time) and then under load (pages per second).
//!
//! The same run before and after a change gives the figures of both: it talks to the API
//! over HTTP only, against a fresh database it drops at the end.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::api_load::{bench_token, free_port, Options};
use crate::client::create;
use crate::load::{drive, Load};
use crate::processes::{self, Processes};

/// Pending imports made, the size of the page read.
const IMPORTS: usize = 25;
/// Inputs of each import.
const INPUTS: usize = 10_000;
/// Pages read one after another for the size and time of one page (the median is given).
const SEQUENTIAL: usize = 5;
/// Requests in flight at once for pages per second.
const CONNECTIONS: usize = 4;

/// Runs the measurement and prints its figures, dropping its database whatever happened.
pub async fn run(options: &Options<'_>) -> anyhow::Result<()> {
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let db = format!("imports_bench_list_{suffix}");
    let measured = measure(options, &db, &format!("imports_bench_list_{suffix}")).await;
    crate::databases::drop_databases(options.postgres, &[&db]).await?;
    measured
}

async fn measure(options: &Options<'_>, db: &str, queue: &str) -> anyhow::Result<()> {
    let url = format!("{}/{db}", options.postgres);
    imports_runtime::startup::migrate_url(&url, Duration::from_secs(10)).await?;
    let bin = options.bin_dir;
    let token = bench_token(bin, &url)?;
    let port = free_port()?;
    let api = Command::new(bin.join("imports-api"))
        .env("DATABASE_URL", &url)
        .env("AMQP_URL", options.amqp)
        .env("IMPORTS_QUEUE", queue)
        .env("API_ADDR", format!("127.0.0.1:{port}"))
        .env("API_RATE_LIMIT_PER_SECOND", "1000000")
        .env("API_RATE_LIMIT_BURST", "1000000")
        .env("IMPORTS_MAX_ACTIVE", "1000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?;
    let procs = Processes {
        api,
        workers: Vec::new(),
    };
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    processes::wait_for_api(&http, &base).await?;
    for k in 0..IMPORTS {
        let skus: Vec<Value> = (0..INPUTS)
            .map(|i| json!({"code": format!("PEND{k:02}-{i:05}"), "name": format!("pending {k} {i}"), "do_not_ship": true}))
            .collect();
        create(&http, &base, &token, "json", Value::Array(skus)).await?;
    }
    let page = format!("{base}/api/imports?page[size]={IMPORTS}");
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..SEQUENTIAL {
        let started = Instant::now();
        let resp = http.get(&page).bearer_auth(&token).send().await?;
        anyhow::ensure!(resp.status().is_success(), "list: {}", resp.status());
        size = resp.bytes().await?.len();
        times.push(started.elapsed());
    }
    times.sort();
    let load = Load {
        connections: CONNECTIONS,
        warm_up: Duration::from_secs(2),
        measured: Duration::from_secs(options.seconds.max(1)),
    };
    let outcome = drive(&page, &token, load).await?;
    let rss = processes::peak_rss_mib(procs.api.id());
    println!(
        "list page of {IMPORTS} pending imports of {INPUTS} inputs: {:.2} MB, {:.0} ms (median of {SEQUENTIAL}); \
         {:.1} pages/s at {CONNECTIONS} connections (p50 {:.1} ms, p99 {:.1} ms, {} s); API peak RSS {rss:.0} MiB",
        size as f64 / 1e6,
        times[SEQUENTIAL / 2].as_secs_f64() * 1e3,
        outcome.per_second,
        outcome.p50.as_secs_f64() * 1e3,
        outcome.p99.as_secs_f64() * 1e3,
        options.seconds.max(1),
    );
    drop(procs);
    Ok(())
}
