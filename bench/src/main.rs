//! `imports-bench`: measures the worker on this machine's Postgres and RabbitMQ.
//!
//! In a fresh database it imports N new SKUs as JSON, the same N again as updates, and N new
//! SKUs as CSV, each through the real path (stored inputs -> RabbitMQ -> worker), and prints
//! records per second for the worker (started_at -> completed_at) and end to end (create ->
//! completed). Run with `cargo run --release -p imports-bench -- --records 100000`.

use std::time::{Duration, Instant};

use clap::Parser;
use imports_common::config::{ServiceConfig, WorkerConfig, DEFAULT_AMQP_URL};
use imports_common::inputs::count_inputs;
use imports_common::model::{Format, Mode, Status, Tenant};
use imports_common::queue::{self, ImportMessage, Publisher};
use imports_common::store::{self, NewImport};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Args {
    /// Records per import.
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    /// Inputs per batch.
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Postgres server, without a database name.
    #[arg(
        long,
        env = "BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    postgres: String,
    /// RabbitMQ.
    #[arg(long, env = "AMQP_URL", default_value = DEFAULT_AMQP_URL)]
    amqp: String,
    /// Keep the database afterwards.
    #[arg(long)]
    keep: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let db = format!("imports_bench_{suffix}");
    let url = format!("{}/{db}", args.postgres);
    imports_common::migrate::ensure_database(&url).await?;
    let pool = imports_common::db::pool(&url, 4)?;
    imports_common::migrate::run(&mut *pool.get().await?).await?;
    let queue_name = format!("imports_bench_{suffix}");
    let config = WorkerConfig {
        services: ServiceConfig {
            database_url: url.clone(),
            amqp_url: args.amqp.clone(),
            queue: queue_name.clone(),
        },
        concurrency: 1,
        batch_size: args.batch_size,
        lease: Duration::from_secs(30),
    };
    let token = CancellationToken::new();
    let worker = tokio::spawn(imports_worker::run(config, token.clone()));
    let conn = queue::connect(&args.amqp, Some(Duration::from_secs(10))).await?;
    let publisher = Publisher::new(&conn, &queue_name).await?;
    let tenant = Tenant {
        organization_id: "bench".into(),
        mode: Mode::Test,
    };

    let n = args.records;
    println!("records per import: {n}, batch size: {}", args.batch_size);
    println!(
        "{:<28} {:>14} {:>14} {:>12}",
        "import", "worker rec/s", "e2e rec/s", "store ms"
    );
    let json_new = skus_json(n, "new");
    let json_upd = skus_json(n, "updated");
    let csv_new = skus_csv(n);
    for (label, format, bytes) in [
        ("JSON, new SKUs", Format::Json, json_new),
        ("JSON, updates of all", Format::Json, json_upd),
        ("CSV, new SKUs", Format::Csv, csv_new),
    ] {
        let started = Instant::now();
        let size = count_inputs(format, &bytes[..])? as i64;
        let mut client = pool.get().await?;
        let tx = client.transaction().await?;
        let new = NewImport {
            tenant: tenant.clone(),
            resource_type: "skus".into(),
            format,
            parent_resource_id: None,
            inputs_size: size,
            skip_errors: false,
            reference: None,
            reference_origin: None,
            metadata: serde_json::json!({}),
        };
        let import = store::create_import(&*tx, &new, &bytes).await?;
        tx.commit().await?;
        let stored = started.elapsed();
        publisher.publish(&ImportMessage::new(&import.id)).await?;
        let done = loop {
            let i = store::get_import(&**client, &import.id)
                .await?
                .expect("import");
            if i.status.is_final() {
                break i;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let e2e = started.elapsed();
        anyhow::ensure!(
            done.status == Status::Completed && done.processed_count == size,
            "import failed: {done:?}"
        );
        let work = (done.completed_at.unwrap() - done.started_at.unwrap()).to_std()?;
        println!(
            "{:<28} {:>14.0} {:>14.0} {:>12}",
            label,
            size as f64 / work.as_secs_f64(),
            size as f64 / e2e.as_secs_f64(),
            stored.as_millis()
        );
    }
    token.cancel();
    worker.await??;
    let _ = queue::delete(&conn.create_channel().await?, &queue_name).await;
    pool.close();
    if !args.keep {
        let admin = imports_common::db::pool(&format!("{}/postgres", args.postgres), 1)?;
        admin
            .get()
            .await?
            .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
            .await?;
    }
    Ok(())
}

fn skus_json(n: usize, name: &str) -> Vec<u8> {
    let items: Vec<serde_json::Value> = (0..n)
        .map(|i| serde_json::json!({"code": format!("BENCH{i:08}"), "name": format!("{name} {i}"), "pieces_per_pack": i % 10 + 1, "weight": 1.5, "unit_of_weight": "gr"}))
        .collect();
    serde_json::to_vec(&items).unwrap()
}

fn skus_csv(n: usize) -> Vec<u8> {
    let mut out = String::from("code,name,pieces_per_pack,weight,unit_of_weight\n");
    for i in 0..n {
        out.push_str(&format!("CSV{i:08},csv {i},{},1.5,gr\n", i % 10 + 1));
    }
    out.into_bytes()
}
