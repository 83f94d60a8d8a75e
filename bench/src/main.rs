//! `imports-bench`: our import path measured side by side with what Postgres itself can
//! ingest, against the same local Postgres, in one run.
//!
//! For N SKU records it measures, every baseline into a copy of the real `skus` table
//! (`LIKE skus INCLUDING ALL` plus its foreign key, [`baselines`]):
//! - (a1) what a user's script does: COPY into a staging table + one `INSERT ... ON CONFLICT`,
//!   on one connection, for new records and for updates;
//! - (a2) the same with the file split over two connections;
//! - (a3) the floor for new records: raw COPY straight into the table;
//! - (b) what a simple implementation does: one upsert per record, one transaction each
//!   (on at most `--row-records` records: it is slow);
//! - (c) our whole path, real processes: `POST /api/imports` -> RabbitMQ -> `imports-worker`
//!   -> completed, as JSON and CSV, for new records and for updates of all of them;
//!
//! and prints records/s for each, the ratios of c to each baseline, and the peak memory
//! (VmHWM) of the worker and the API processes. The binaries are built in release mode first.
//! Issue 17's targets are collected on the way ([`targets`]) and printed at the end, each
//! "met" or "NOT met".
//!
//! Then the API under load, beside `pgbench -S` (`api_load`): `--api-only` runs only that,
//! `--skip-api` skips it.
//!
//! Then webhook deliveries (`webhooks`): deliveries per second to a receiver in this process,
//! and the latency of `imports.complete` calls; `--webhooks-only` runs only that,
//! `--skip-webhooks` skips it.
//!
//! Each baseline and each (c) import run `--runs` times (3): the medians are printed, with
//! the range of each, since a single run of a baseline alone varies by a quarter on a 2-core
//! machine.
//!
//! `cargo run --release -p imports-bench -- --records 200000`

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Value};

use client::{create, create_body, post_create, time, wait_done};
use processes::{peak_rss_mib, Processes};

mod api_load;
mod baselines;
mod client;
mod cpu;
mod databases;
mod list_pending;
mod load;
mod pgbench;
mod processes;
mod targets;
mod webhooks;

#[derive(Parser)]
struct Args {
    /// Records per import.
    #[arg(long, default_value_t = 200_000)]
    records: usize,
    /// Records for the row-at-a-time baseline (b).
    #[arg(long, default_value_t = 20_000)]
    row_records: usize,
    /// Runs of (a) and of each (c) import: the medians are reported, with their range (one
    /// run of (a) alone varies by ±25% on a 2-core machine).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// IMPORTS_BATCH_SIZE of the worker (its default).
    #[arg(long, default_value_t = 2000)]
    batch_size: usize,
    /// Postgres server, without a database name.
    #[arg(
        long,
        env = "BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    postgres: String,
    /// RabbitMQ.
    #[arg(long, env = "AMQP_URL", default_value = imports_runtime::config::DEFAULT_AMQP_URL)]
    amqp: String,
    /// Records of the constant-memory run: one wide CSV import (about 230 bytes a row)
    /// through fresh API and worker processes, whose peak memory is reported. 0 skips it.
    #[arg(long, default_value_t = 1_000_000)]
    memory_records: usize,
    /// Run only the API load measurement (retrieve, list, pgbench -S).
    #[arg(long, conflicts_with = "skip_api")]
    api_only: bool,
    /// Skip the API load measurement.
    #[arg(long)]
    skip_api: bool,
    /// Run only the list page of 25 pending imports of 10,000 inputs (its size, time and
    /// pages per second, `--api-seconds` long).
    #[arg(long, conflicts_with_all = ["api_only", "skip_api"])]
    list_pending_only: bool,
    /// Run only the webhook measurement (deliveries per second, `imports.complete` latency).
    #[arg(long, conflicts_with_all = ["api_only", "list_pending_only", "skip_webhooks"])]
    webhooks_only: bool,
    /// Skip the webhook measurement.
    #[arg(long)]
    skip_webhooks: bool,
    /// Seconds each API load and pgbench -S are measured, after a 2 s warm-up.
    #[arg(long, default_value_t = 10)]
    api_seconds: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let n = args.records;
    // bench/ sits in the workspace root, so the manifest directory always has a parent.
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .ok_or_else(|| anyhow::anyhow!("the bench crate is not inside the workspace"))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "imports-api",
            "-p",
            "imports-worker",
            "--bins",
        ])
        .current_dir(&workspace)
        .status()?;
    anyhow::ensure!(built.success(), "building the binaries failed");
    let bin_dir = workspace.join("target/release");
    let bin = |name: &str| bin_dir.join(name);
    let api_load = api_load::Options {
        bin_dir: &bin_dir,
        postgres: &args.postgres,
        amqp: &args.amqp,
        seconds: args.api_seconds,
    };
    if args.api_only {
        let mut targets = targets::Targets::default();
        api_load::run(&api_load, &mut targets).await?;
        println!();
        targets.print();
        return Ok(());
    }
    if args.list_pending_only {
        return list_pending::run(&api_load).await;
    }
    if args.webhooks_only {
        return webhooks::run(&api_load).await;
    }

    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let db = format!("imports_bench_{suffix}");
    let url = format!("{}/{db}", args.postgres);
    let queue = format!("imports_bench_{suffix}");
    let result: anyhow::Result<targets::Targets> = async {
    imports_runtime::startup::migrate_url(&url, Duration::from_secs(10)).await?;
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);

    println!(
        "records: {n}; worker batch size: {}; Postgres and RabbitMQ on this machine",
        args.batch_size
    );
    println!();

    // Every SKU ships in the tenant's one shipping category (a shippable SKU needs one): the
    // worker's inputs name it by code, the baselines write its id.
    client
        .batch_execute(
            "INSERT INTO shipping_categories (id, organization_id, mode, code, name)
             VALUES ('bench-std', 'bench', 'test', 'STD', 'Standard'),
                    ('bench-b-std', 'bench-b', 'test', 'STD', 'Standard')",
        )
        .await?;
    // (a1), (a2), (a3): what a script does, into a copy of the real table.
    baselines::prepare(&client).await?;
    let runs = args.runs.max(1);
    let mut base_runs = Vec::new();
    for _ in 0..runs {
        base_runs.push(baselines::run(&client, &url, n).await?);
    }
    let of = |f: fn(&baselines::Run) -> baselines::Rate| base_runs.iter().map(f).collect::<Vec<_>>();
    let per_s = |v: &[baselines::Rate]| v.iter().map(|r| r.per_s).collect::<Vec<f64>>();
    let pg_us = |v: &[baselines::Rate]| median(&v.iter().map(|r| r.postgres_us).collect::<Vec<f64>>());
    let a1_new_runs = of(|r| r.one_new);
    let a1_upd_runs = of(|r| r.one_updates);
    let a2_new_runs = of(|r| r.two_new);
    let a2_upd_runs = of(|r| r.two_updates);
    let a3_new_runs = of(|r| r.copy_new);
    let (a1_news, a1_upds) = (per_s(&a1_new_runs), per_s(&a1_upd_runs));
    let (a2_news, a2_upds, a3_news) = (per_s(&a2_new_runs), per_s(&a2_upd_runs), per_s(&a3_new_runs));
    let (a2_new, a2_upd, a3_new) = (median(&a2_news), median(&a2_upds), median(&a3_news));

    // (b) one upsert per record, one transaction each.
    baselines::empty(&client).await?;
    let rows = args.row_records.min(n);
    let started = Instant::now();
    let stmt = client
        .prepare(
            "INSERT INTO baseline_skus (id, organization_id, mode, code, name, pieces_per_pack, shipping_category_id)
             VALUES ($1, 'bench', 'test', $2, $3, $4, 'bench-std')
             ON CONFLICT (organization_id, mode, code) DO UPDATE SET name = EXCLUDED.name,
               pieces_per_pack = EXCLUDED.pieces_per_pack, updated_at = now()",
        )
        .await?;
    for i in 0..rows {
        let id = format!("b{i}");
        let code = format!("ROW{i:08}");
        let name = format!("row {i}");
        let pack = (i % 10 + 1) as i64;
        client.execute(&stmt, &[&id, &code, &name, &pack]).await?;
    }
    let b = rows as f64 / started.elapsed().as_secs_f64();

    // (c) the real path: API and worker processes.
    let token = api_load::bench_token(&bin_dir, &url)?;
    let port = 20000 + (std::process::id() % 20000) as u16;
    let env = |cmd: &mut Command| {
        cmd.env("DATABASE_URL", &url)
            .env("AMQP_URL", &args.amqp)
            .env("IMPORTS_QUEUE", &queue)
            .env("API_ADDR", format!("127.0.0.1:{port}"))
            .env("IMPORTS_MAX_INPUTS", "100000000")
            .env("API_MAX_BODY_BYTES", "4000000000")
            .env("IMPORTS_BATCH_SIZE", args.batch_size.to_string())
            .env("IMPORTS_CONCURRENCY", "1")
            .env("WORKER_HTTP_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null());
    };
    let mut api_cmd = Command::new(bin("imports-api"));
    env(&mut api_cmd);
    let spawn_worker = |concurrency: usize| -> std::io::Result<Child> {
        let mut cmd = Command::new(bin("imports-worker"));
        env(&mut cmd);
        cmd.env("IMPORTS_CONCURRENCY", concurrency.to_string())
            .spawn()
    };
    let mut procs = Processes {
        api: api_cmd.spawn()?,
        workers: vec![spawn_worker(1)?],
    };
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    processes::wait_for_api(&http, &base).await?;

    // Each run imports its own records: new, all updated, then the same file again.
    let labels = [
        "JSON, new",
        "JSON, updates of all",
        "CSV, new",
        "CSV, updates of all",
        "JSON, identical again",
    ];
    let mut measured: Vec<Vec<ImportRun>> = vec![Vec::new(); labels.len()];
    for run in 0..runs {
        let (js, cs) = (format!("JS{run}-"), format!("CS{run}-"));
        let bodies = [
            ("json", json_skus(n, &js, "new")),
            ("json", json_skus(n, &js, "updated")),
            ("csv", csv_skus(n, &cs, "new")),
            ("csv", csv_skus(n, &cs, "updated")),
            ("json", json_skus(n, &js, "updated")),
        ];
        for (k, (format, body)) in bodies.into_iter().enumerate() {
            let worker = procs.workers[0].id();
            measured[k].push(run_import(&http, &base, &token, format, body, n, worker).await?);
        }
    }
    let results: Vec<Measured> = labels
        .iter()
        .zip(&measured)
        .map(|(label, m)| {
            let worker: Vec<f64> = m.iter().map(|r| r.worker).collect();
            let e2e: Vec<f64> = m.iter().map(|r| r.e2e).collect();
            let mut pickups: Vec<Duration> = m.iter().map(|r| r.pickup).collect();
            pickups.sort();
            let us = |f: fn(&ImportRun) -> f64| median(&m.iter().map(f).collect::<Vec<f64>>());
            Measured {
                label,
                worker: median(&worker),
                e2e: median(&e2e),
                pickup: pickups[pickups.len() / 2],
                range: range(&worker),
                cpu_us: [us(|r| r.worker_us), us(|r| r.postgres_us), us(|r| r.other_us)],
            }
        })
        .collect();
    let worker_mib = peak_rss_mib(procs.workers[0].id());
    let api_mib = peak_rss_mib(procs.api.id());

    // Scale-out: 8 imports at once (n/8 records each) on 1, 2 and 4 worker processes.
    let mut scale = Vec::new();
    for (run, workers) in [1usize, 2, 4].into_iter().enumerate() {
        procs.stop_workers();
        for _ in 0..workers {
            procs.workers.push(spawn_worker(2)?);
        }
        let mut ids = Vec::new();
        for k in 0..8 {
            let body = json_skus(n / 8, &format!("S{run}K{k}-"), "scaled");
            ids.push(create(&http, &base, &token, "json", body).await?);
        }
        let mut first_start = None::<chrono::DateTime<chrono::FixedOffset>>;
        let mut last_done = None::<chrono::DateTime<chrono::FixedOffset>>;
        for id in &ids {
            let a = wait_done(&http, &base, &token, id).await?;
            let (started, done) = (time(&a, "started_at")?, time(&a, "completed_at")?);
            first_start = Some(first_start.map_or(started, |f| f.min(started)));
            last_done = Some(last_done.map_or(done, |l| l.max(done)));
        }
        let (Some(first), Some(last)) = (first_start, last_done) else {
            anyhow::bail!("no import of the scale-out run completed");
        };
        let span = (last - first).to_std()?;
        scale.push((workers, (n / 8 * 8) as f64 / span.as_secs_f64()));
    }

    // Fairness: one worker with a single slot and a 1 s time slice; organization A's big
    // import, then 5 small imports of organization B: how long do the small ones take from
    // creation to completion? (Each waits for A to yield the slot.)
    procs.stop_workers();
    procs.workers.push({
        let mut cmd = Command::new(bin("imports-worker"));
        env(&mut cmd);
        cmd.env("IMPORTS_CONCURRENCY", "1")
            .env("IMPORTS_TIME_SLICE_SECONDS", "1")
            .spawn()?
    });
    let token_b = {
        let out = Command::new(bin("imports-api"))
            .args([
                "tokens",
                "create",
                "--organization",
                "bench-b",
                "--mode",
                "test",
            ])
            .env("DATABASE_URL", &url)
            .output()?;
        String::from_utf8(out.stdout)?
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned()
    };
    let big = create(&http, &base, &token, "json", json_skus(n, "FAIRA", "big")).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut small = Vec::new();
    for k in 0..5 {
        small.push(
            create(
                &http,
                &base,
                &token_b,
                "json",
                json_skus(100, &format!("FAIRB{k}-"), "small"),
            )
            .await?,
        );
    }
    let mut small_waits = Vec::new();
    for id in &small {
        let a = wait_done(&http, &base, &token_b, id).await?;
        small_waits.push((time(&a, "completed_at")? - time(&a, "created_at")?).to_std()?);
    }
    let a = wait_done(&http, &base, &token, &big).await?;
    let big_took = (time(&a, "completed_at")? - time(&a, "created_at")?).to_std()?;
    drop(procs);

    // Constant memory: one large, wide CSV import through fresh processes.
    let memory = if args.memory_records > 0 {
        let mut procs = Processes {
            api: api_cmd.spawn()?,
            workers: vec![spawn_worker(1)?],
        };
        processes::wait_for_api(&http, &base).await?;
        let m = args.memory_records;
        let text = wide_csv_skus(m);
        let megabytes = text.len() as f64 / 1e6;
        let worker = procs.workers[0].id();
        let run = run_import(&http, &base, &token, "csv", Value::String(text), m, worker).await?;
        let (worker_rate, e2e_rate) = (run.worker, run.e2e);
        let worker = peak_rss_mib(procs.workers[0].id());
        let api = peak_rss_mib(procs.api.id());
        procs.stop_workers();
        Some((m, megabytes, worker_rate, e2e_rate, worker, api))
    } else {
        None
    };

    let shown = |v: &[f64]| {
        let (lo, hi) = range(v);
        format!("{:.0}/s  ({lo:.0}-{hi:.0})", median(v))
    };
    println!("medians of {runs} runs (range in brackets), into a copy of skus with its indexes and foreign key");
    println!("{:<44} {:>28}   Postgres CPU us/record", "", "");
    for (label, v) in [
        ("(a1) COPY + INSERT ON CONFLICT, new", &a1_new_runs),
        ("(a1) COPY + INSERT ON CONFLICT, updates", &a1_upd_runs),
        ("(a2) the same on two connections, new", &a2_new_runs),
        ("(a2) the same on two connections, updates", &a2_upd_runs),
        ("(a3) raw COPY into the table, new", &a3_new_runs),
    ] {
        println!("{label:<44} {:>28}   {:>8.1}", shown(&per_s(v)), pg_us(v));
    }
    println!(
        "{:<44} {:>28}",
        format!("(b) one upsert per transaction ({rows})"),
        format!("{b:.0}/s")
    );
    println!();
    println!(
        "{:<24} {:>14} {:>17} {:>6} {:>6} {:>6} {:>16} {:>18} | CPU us/record: worker Postgres rest",
        "(c) our path",
        "worker rec/s",
        "(range)",
        "c/a1",
        "c/a2",
        "c/a3",
        "POST->done rec/s",
        "created->started",
    );
    let mut targets = targets::Targets::default();
    for m in &results {
        let (label, worker_rate, e2e_rate, pickup, (lo, hi)) =
            (m.label, m.worker, m.e2e, m.pickup, m.range);
        let new = !(label.contains("updates") || label.contains("identical"));
        let (a1, a2) = match new {
            true => (median(&a1_news), a2_new),
            false => (median(&a1_upds), a2_upd),
        };
        let c_a3 = match new {
            true => format!("{:.2}", worker_rate / a3_new),
            false => "-".into(),
        };
        println!(
            "{:<24} {:>14.0} {:>17} {:>6.2} {:>6.2} {:>6} {:>16.0} {:>15} ms | {:>18.1} {:>8.1} {:>4.1}",
            label,
            worker_rate,
            format!("({lo:.0}-{hi:.0})"),
            worker_rate / a1,
            worker_rate / a2,
            c_a3,
            e2e_rate,
            pickup.as_millis(),
            m.cpu_us[0],
            m.cpu_us[1],
            m.cpu_us[2]
        );
        if label.contains("identical") {
            continue;
        }
        targets.ratio(format!("worker / (a2), {label}"), worker_rate / a2, 1.0);
        if new {
            targets.ratio(format!("worker / (a3) raw COPY, {label}"), worker_rate / a3_new, 0.9);
            targets.ratio(format!("POST->done / worker, {label}"), e2e_rate / worker_rate, 0.85);
        }
    }
    println!();
    println!("peak memory: worker {worker_mib:.0} MiB, API {api_mib:.0} MiB");
    println!();
    for (workers, rate) in &scale {
        println!("scale-out: 8 imports at once on {workers} worker(s) x 2 slots: {rate:.0} records/s in aggregate");
    }
    if let Some((m, megabytes, worker_rate, e2e_rate, worker, api)) = memory {
        println!(
            "constant memory: a {m}-record CSV import ({megabytes:.0} MB) ran at {worker_rate:.0} records/s ({e2e_rate:.0}/s POST->done); peak memory: worker {worker:.0} MiB, API {api:.0} MiB"
        );
        targets.at_most(format!("worker peak RSS, {m}-record CSV"), worker, 100.0, " MiB");
        targets.at_most(format!("API peak RSS, {m}-record CSV"), api, 150.0, " MiB");
    }
    let waits: Vec<String> = small_waits
        .iter()
        .map(|d| format!("{} ms", d.as_millis()))
        .collect();
    println!(
        "fairness (one slot, 1 s time slice): while organization A's {n}-record import ran ({:.1} s), organization B's five 100-record imports took {} from creation to completion",
        big_took.as_secs_f64(),
        waits.join(", ")
    );

    drop(client);
    Ok(targets)
    }
    .await;

    // Leave nothing behind, whether the run succeeded or not.
    databases::drop_databases(&args.postgres, &[&db]).await?;
    if let Ok(c) = imports_runtime::queue::connect(&args.amqp, Some(Duration::from_secs(5))).await {
        if let Ok(ch) = c.create_channel().await {
            let _ = imports_runtime::queue::delete(&ch, &queue).await;
        }
    }
    let mut targets = result?;
    if !args.skip_api {
        println!();
        api_load::run(&api_load, &mut targets).await?;
    }
    if !args.skip_webhooks {
        println!();
        webhooks::run(&api_load).await?;
    }
    println!();
    targets.print();
    Ok(())
}

/// The medians of one kind of (c) import over the runs.
struct Measured {
    label: &'static str,
    /// Worker records/s (started_at -> completed_at).
    worker: f64,
    /// Records/s from the POST to completion.
    e2e: f64,
    /// created_at -> started_at.
    pickup: Duration,
    /// The lowest and highest worker records/s.
    range: (f64, f64),
    /// CPU microseconds per record from the POST to completion: the worker, Postgres, the
    /// rest (the API, RabbitMQ, this process).
    cpu_us: [f64; 3],
}

/// One import measured through the API.
#[derive(Clone)]
struct ImportRun {
    /// Records/s, started_at -> completed_at.
    worker: f64,
    /// Records/s, POST -> completed.
    e2e: f64,
    /// created_at -> started_at.
    pickup: Duration,
    /// CPU microseconds per record, POST -> completed: the worker process, Postgres, the rest.
    worker_us: f64,
    postgres_us: f64,
    other_us: f64,
}

/// The median of some measurements.
fn median(v: &[f64]) -> f64 {
    let mut sorted = v.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The smallest and largest of some measurements.
fn range(v: &[f64]) -> (f64, f64) {
    v.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
        (lo.min(*x), hi.max(*x))
    })
}

/// (c): one import through the API; returns (worker records/s, POST->completed records/s,
/// created_at -> started_at).
async fn run_import(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    format: &str,
    inputs: Value,
    n: usize,
    worker_pid: u32,
) -> anyhow::Result<ImportRun> {
    // The body is ready before the clock starts, as a user's file is; the import ends at its
    // completed_at (this machine's clock), not at the poll that sees it.
    let body = create_body(format, &inputs)?;
    drop(inputs);
    let started = chrono::Utc::now();
    let before = cpu::Sample::take(Some(worker_pid));
    let id = post_create(http, base, token, body).await?;
    let a = wait_done(http, base, token, &id).await?;
    let cpu = before.until(&cpu::Sample::take(Some(worker_pid)));
    let e2e = (time(&a, "completed_at")?.with_timezone(&chrono::Utc) - started).to_std()?;
    anyhow::ensure!(
        a["processed_count"].as_u64() == Some(n as u64),
        "not every record was processed: {a}"
    );
    let work = (time(&a, "completed_at")? - time(&a, "started_at")?).to_std()?;
    let pickup = (time(&a, "started_at")? - time(&a, "created_at")?).to_std()?;
    Ok(ImportRun {
        worker: n as f64 / work.as_secs_f64(),
        e2e: n as f64 / e2e.as_secs_f64(),
        pickup,
        worker_us: cpu.us_per(cpu.api, n),
        postgres_us: cpu.us_per(cpu.postgres, n),
        other_us: cpu.us_per(cpu.bench + cpu.other, n),
    })
}

fn json_skus(n: usize, prefix: &str, name: &str) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"code": format!("{prefix}{i:08}"), "name": format!("{name} {i}"), "pieces_per_pack": i % 10 + 1, "shipping_category_code": "STD"}))
            .collect(),
    )
}

fn csv_skus(n: usize, prefix: &str, name: &str) -> Value {
    let mut out = String::from("code,name,pieces_per_pack,shipping_category_code\n");
    for i in 0..n {
        out.push_str(&format!("{prefix}{i:08},{name} {i},{},STD\n", i % 10 + 1));
    }
    Value::String(out)
}

/// CSV rows of about 230 bytes, as a catalogue export with descriptions would have.
fn wide_csv_skus(n: usize) -> String {
    let mut out = String::from(
        "code,name,description,image_url,pieces_per_pack,weight,unit_of_weight,hs_tariff_number,shipping_category_code\n",
    );
    for i in 0..n {
        out.push_str(&format!(
            "WIDE{i:08},\"Wide sku {i}, with a comma\",A longer description of sku number {i} for the constant-memory run from the spring catalogue export,https://img.example.com/skus/WIDE{i:08}/large.png,{},{}.5,gr,{:010},STD\n",
            i % 10 + 1,
            i % 100,
            i * 7
        ));
    }
    out
}
