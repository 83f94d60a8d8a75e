//! The API under load (issue 13, the figures of issue 17): `GET /api/imports/{id}` with a JWT
//! access token and with an `imp_` token, and a list page of 25, each at 64 connections,
//! side by side with `pgbench -S` (one primary-key read per transaction) on the same Postgres
//! in the same run, before the API loads and after them (the ratios are of the mean of the
//! two).
//!
//! A fresh `imports-api` process serves a fresh database the bench makes; the load
//! generator, the API and Postgres share the machine, which the output says.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::client::{create, wait_done};
use crate::cpu::{Sample, Usage};
use crate::load::{drive, drive_requests, Load, Outcome};
use crate::pgbench;
use crate::processes::{self, Processes};
use crate::targets::Targets;

/// Requests in flight at once, and pgbench's clients.
const CONNECTIONS: usize = 64;
/// Time before each measurement during which requests are not counted.
const WARM_UP: Duration = Duration::from_secs(2);
/// Imports made, the size of the list page read.
const IMPORTS: usize = 25;
/// The API's per-token rate limit (`API_RATE_LIMIT_PER_SECOND` and `_BURST`), raised so
/// the load measures the API, not its limiter.
const RATE_LIMIT: &str = "1000000";
/// `IMPORTS_MAX_ACTIVE`, raised so the creates under load, which no worker runs, are never
/// refused.
const MAX_ACTIVE: &str = "100000000";
/// The issue-17 targets: retrieve at least half of pgbench -S, a list page a quarter.
const RETRIEVE_TARGET: f64 = 0.5;
/// See [`RETRIEVE_TARGET`].
const LIST_TARGET: f64 = 0.25;
/// The issue-17 target for creates of small imports, per second.
const CREATES_TARGET: f64 = 1000.0;

/// Where and how long the API load runs.
pub struct Options<'a> {
    /// The release binaries' directory.
    pub bin_dir: &'a Path,
    /// The Postgres server, without a database name.
    pub postgres: &'a str,
    /// RabbitMQ.
    pub amqp: &'a str,
    /// Time each load and pgbench are measured, after the warm-up.
    pub seconds: u64,
}

/// One measured load: its outcome and where the CPU went meanwhile.
struct Measured {
    outcome: Outcome,
    cpu: Usage,
}

/// The figures of a run.
struct Report {
    retrieve_jwt: Measured,
    retrieve_token: Measured,
    list: Measured,
    creates: Measured,
    /// pgbench -S before the API loads and after them: transactions/s and CPU.
    pgbench: [(f64, Usage); 2],
}

/// Runs the API load measurement and pgbench, prints their figures side by side, and drops
/// the databases it made (also when it fails).
pub async fn run(options: &Options<'_>, targets: &mut Targets) -> anyhow::Result<()> {
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let api_db = format!("imports_bench_api_{suffix}");
    let pgbench_db = format!("imports_bench_pgbench_{suffix}");
    let queue = format!("imports_bench_api_{suffix}");
    let measured = measure(options, &api_db, &pgbench_db, &queue).await;
    let dropped = crate::databases::drop_databases(options.postgres, &[&api_db, &pgbench_db]).await;
    if let Ok(c) = imports_runtime::queue::connect(options.amqp, Some(Duration::from_secs(5))).await
    {
        if let Ok(ch) = c.create_channel().await {
            let _ = imports_runtime::queue::delete(&ch, &queue).await;
        }
    }
    let report = measured?;
    dropped?;
    report.print(options.seconds);
    report.add_targets(targets);
    Ok(())
}

/// The last line a management subcommand of `imports-api` printed.
pub(crate) fn subcommand(bin_dir: &Path, url: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(bin_dir.join("imports-api"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "imports-api {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout)?;
    Ok(stdout.lines().last().unwrap_or_default().to_owned())
}

/// An `imp_` token of the `bench` organization in test mode, the tenant every measurement
/// runs as.
pub(crate) fn bench_token(bin_dir: &Path, url: &str) -> anyhow::Result<String> {
    let args = [
        "tokens",
        "create",
        "--organization",
        "bench",
        "--mode",
        "test",
    ];
    subcommand(bin_dir, url, &args)
}

/// A free local port (the API binds it a moment later).
pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn measure(
    options: &Options<'_>,
    api_db: &str,
    pgbench_db: &str,
    queue: &str,
) -> anyhow::Result<Report> {
    let url = format!("{}/{api_db}", options.postgres);
    imports_runtime::startup::migrate_url(&url, Duration::from_secs(10)).await?;
    let bin = options.bin_dir;
    let app: Value = serde_json::from_str(&subcommand(
        bin,
        &url,
        &[
            "applications",
            "create",
            "--organization",
            "bench",
            "--mode",
            "test",
            "--name",
            "bench",
            "--json",
        ],
    )?)?;
    let imp_token = bench_token(bin, &url)?;
    anyhow::ensure!(imp_token.starts_with("imp_"), "no imp_ token: {imp_token}");

    let port = free_port()?;
    let env = |cmd: &mut Command| {
        cmd.env("DATABASE_URL", &url)
            .env("AMQP_URL", options.amqp)
            .env("IMPORTS_QUEUE", queue)
            .env("API_ADDR", format!("127.0.0.1:{port}"))
            .env("API_RATE_LIMIT_PER_SECOND", RATE_LIMIT)
            .env("API_RATE_LIMIT_BURST", RATE_LIMIT)
            .env("IMPORTS_MAX_ACTIVE", MAX_ACTIVE)
            .env("WORKER_HTTP_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null());
    };
    let mut api = Command::new(bin.join("imports-api"));
    env(&mut api);
    let mut worker = Command::new(bin.join("imports-worker"));
    env(&mut worker);
    let mut procs = Processes {
        api: api.spawn()?,
        workers: vec![worker.spawn()?],
    };
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    processes::wait_for_api(&http, &base).await?;

    let jwt = access_token(&http, &base, &app).await?;
    let mut ids = Vec::new();
    for k in 0..IMPORTS {
        let skus: Vec<Value> = (0..3)
            .map(|i| json!({"code": format!("LOAD{k:02}-{i}"), "name": format!("load {k} {i}"), "do_not_ship": true}))
            .collect();
        ids.push(create(&http, &base, &jwt, "json", Value::Array(skus)).await?);
    }
    for id in &ids {
        wait_done(&http, &base, &jwt, id).await?;
    }
    // The worker would only idle now; the load is on the API and Postgres alone.
    procs.stop_workers();

    let load = Load {
        connections: CONNECTIONS,
        warm_up: WARM_UP,
        measured: Duration::from_secs(options.seconds.max(1)),
    };
    let api_pid = procs.api.id();
    let one = format!("{base}/api/imports/{}", ids[0]);
    let page = format!("{base}/api/imports?page[size]={IMPORTS}");
    // pgbench runs before the API loads and after them: on a shared machine its rate moved
    // by a third between runs, and the mean of the two is the machine the loads ran on.
    let admin = crate::databases::admin(options.postgres).await?;
    admin
        .batch_execute(&format!("CREATE DATABASE {pgbench_db}"))
        .await?;
    let pgbench_url = format!("{}/{pgbench_db}", options.postgres);
    pgbench::init(&pgbench_url)?;
    // What the init wrote is flushed, and a first run warms its tables, before pgbench is
    // measured: without both, the run after the loads was 40% faster than the one before.
    admin.batch_execute("CHECKPOINT").await?;
    run_pgbench(&pgbench_url, WARM_UP).await?;
    let before = run_pgbench(&pgbench_url, load.measured).await?;
    let retrieve_jwt = measured_load(&one, &jwt, load, api_pid).await?;
    let retrieve_token = measured_load(&one, &imp_token, load, api_pid).await?;
    let list = measured_load(&page, &jwt, load, api_pid).await?;
    let creates = measured_creates(&base, &jwt, load, api_pid).await?;
    drop(procs);
    let after = run_pgbench(&pgbench_url, load.measured).await?;

    Ok(Report {
        retrieve_jwt,
        retrieve_token,
        list,
        creates,
        pgbench: [before, after],
    })
}

/// One `pgbench -S` run of `seconds`: its transactions/s and the CPU used meanwhile.
async fn run_pgbench(url: &str, seconds: Duration) -> anyhow::Result<(f64, Usage)> {
    let url = url.to_owned();
    let run = tokio::task::spawn_blocking(move || pgbench::select_only(&url, CONNECTIONS, seconds));
    // CPU is sampled while pgbench runs: its backends end with it.
    let margin = Duration::from_millis(500).min(seconds / 4);
    tokio::time::sleep(margin).await;
    let before = Sample::take(None);
    tokio::time::sleep(seconds - 2 * margin).await;
    let cpu = before.until(&Sample::take(None));
    Ok((run.await??, cpu))
}

/// A JWT access token for the application's client credentials, from `POST /oauth/token`.
async fn access_token(http: &reqwest::Client, base: &str, app: &Value) -> anyhow::Result<String> {
    let resp = http
        .post(format!("{base}/oauth/token"))
        .json(&json!({
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
        }))
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    match body["access_token"].as_str() {
        Some(token) if status.is_success() => Ok(token.to_owned()),
        _ => anyhow::bail!("POST /oauth/token answered {status}: {body}"),
    }
}

/// `drive`, with the CPU each party used over the measured time.
async fn measured_load(
    url: &str,
    token: &str,
    load: Load,
    api_pid: u32,
) -> anyhow::Result<Measured> {
    with_cpu(load, api_pid, drive(url, token, load)).await
}

/// Creates of a small import (three SKUs, JSON) under load, each answered 201; no worker
/// runs them, so they stay pending.
async fn measured_creates(
    base: &str,
    token: &str,
    load: Load,
    api_pid: u32,
) -> anyhow::Result<Measured> {
    let skus: Vec<Value> = (0..3)
        .map(|i| json!({"code": format!("CREATE-{i}"), "name": format!("create {i}"), "do_not_ship": true}))
        .collect();
    let body = json!({"data": {"type": "imports", "attributes": {
        "resource_type": "skus", "format": "json", "inputs": skus}}})
    .to_string();
    let (url, auth) = (format!("{base}/api/imports"), format!("Bearer {token}"));
    let request = move |http: &reqwest::Client| {
        http.post(&url)
            .header(reqwest::header::AUTHORIZATION, &auth)
            .header(reqwest::header::CONTENT_TYPE, "application/vnd.api+json")
            .body(body.clone())
    };
    with_cpu(
        load,
        api_pid,
        drive_requests(load, reqwest::StatusCode::CREATED, request),
    )
    .await
}

/// The outcome of `driven`, a load, with the CPU each party used over its measured time.
async fn with_cpu(
    load: Load,
    api_pid: u32,
    driven: impl std::future::Future<Output = anyhow::Result<Outcome>>,
) -> anyhow::Result<Measured> {
    let warm_up = load.warm_up;
    let first = tokio::spawn(async move {
        tokio::time::sleep(warm_up).await;
        Sample::take(Some(api_pid))
    });
    let outcome = driven.await?;
    let cpu = first.await?.until(&Sample::take(Some(api_pid)));
    anyhow::ensure!(outcome.requests > 0, "no request was answered under load");
    Ok(Measured { outcome, cpu })
}

impl Report {
    fn print(&self, seconds: u64) {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!(
            "API load: {CONNECTIONS} connections, {seconds} s measured after a {} s warm-up; the load generator (this process), the API and Postgres share this {cores}-core machine; API rate limit raised to {RATE_LIMIT}/s (burst {RATE_LIMIT}), IMPORTS_MAX_ACTIVE={MAX_ACTIVE}",
            WARM_UP.as_secs()
        );
        println!(
            "{:<24} {:>7} {:>9} {:>9} {:>12} {:>7} | {:>9} {:>8} {:>8} {:>5} | {:>11} {:>8}",
            "",
            "req/s",
            "p50",
            "p99",
            "x pgbench -S",
            "target",
            "CPU: API",
            "load gen",
            "Postgres",
            "other",
            "us/req: API",
            "Postgres"
        );
        let pg = self.pgbench_tps();
        let micros = |cores: f64, rate: f64| format!("{:.0}", cores / rate * 1e6);
        let row = |label: &str, m: &Measured, target: &str| {
            let (o, c) = (&m.outcome, &m.cpu);
            println!(
                "{label:<24} {:>7.0} {:>6.1} ms {:>6.1} ms {:>12.3} {:>7} | {:>9.2} {:>8.2} {:>8.2} {:>5.2} | {:>11} {:>8}",
                o.per_second,
                o.p50.as_secs_f64() * 1e3,
                o.p99.as_secs_f64() * 1e3,
                o.per_second / pg,
                target,
                c.api,
                c.bench,
                c.postgres,
                c.other,
                micros(c.api, o.per_second),
                micros(c.postgres, o.per_second),
            );
        };
        let (retrieve, list) = (format!(">= {RETRIEVE_TARGET}"), format!(">= {LIST_TARGET}"));
        row("retrieve (JWT) req/s", &self.retrieve_jwt, &retrieve);
        row("retrieve (imp_ token)", &self.retrieve_token, &retrieve);
        row(&format!("list page of {IMPORTS} (JWT)"), &self.list, &list);
        row("create, 3 SKUs (JWT)", &self.creates, "-");
        for ((tps, c), when) in self.pgbench.iter().zip(["before", "after"]) {
            println!(
                "{:<24} {tps:>7.0} {:>9} {:>9} {:>12.3} {:>7} | {:>9} {:>8.2} {:>8.2} {:>5.2} | {:>11} {:>8}",
                format!("pgbench -S tps, {when}"),
                "",
                "",
                tps / pg,
                "",
                "-",
                c.pgbench,
                c.postgres,
                c.other + c.bench,
                "-",
                micros(c.postgres, *tps),
            );
        }
        println!(
            "x pgbench -S: of the mean of its two runs, {pg:.0} tps; retrieve/pgbench -S: {:.3} (JWT), {:.3} (imp_ token); list/pgbench -S: {:.3}; issue-17 targets: retrieve >= {RETRIEVE_TARGET}x, list >= {LIST_TARGET}x",
            self.retrieve_jwt.outcome.per_second / pg,
            self.retrieve_token.outcome.per_second / pg,
            self.list.outcome.per_second / pg,
        );
        println!("(CPU in cores used on average over the measured time; pgbench's load generator is pgbench itself; us/req: CPU microseconds per request; creates: target >= {CREATES_TARGET}/s)");
    }

    /// pgbench -S's transactions/s the API's figures are compared with: the mean of its
    /// runs before and after them.
    fn pgbench_tps(&self) -> f64 {
        (self.pgbench[0].0 + self.pgbench[1].0) / 2.0
    }

    /// The issue-17 targets of the API.
    fn add_targets(&self, targets: &mut Targets) {
        let pg = self.pgbench_tps();
        for (label, m) in [
            ("JWT", &self.retrieve_jwt),
            ("imp_ token", &self.retrieve_token),
        ] {
            let name = format!("retrieve ({label}) / pgbench -S, {CONNECTIONS} connections");
            targets.ratio(name, m.outcome.per_second / pg, RETRIEVE_TARGET);
        }
        let name = format!("list page of {IMPORTS} / pgbench -S, {CONNECTIONS} connections");
        targets.ratio(name, self.list.outcome.per_second / pg, LIST_TARGET);
        let name = format!("creates of 3-SKU imports, {CONNECTIONS} connections");
        targets.at_least(name, self.creates.outcome.per_second, CREATES_TARGET, "/s");
    }
}
