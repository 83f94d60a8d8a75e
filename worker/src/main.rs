//! `imports-worker`: runs the worker (default), or applies the migrations.

use clap::{Parser, Subcommand};
use imports_common::config::{ServiceConfig, WorkerConfig};
use tokio_util::sync::CancellationToken;

/// Processes imports from RabbitMQ into Postgres. Configured by the environment: DATABASE_URL,
/// AMQP_URL, IMPORTS_QUEUE, IMPORTS_CONCURRENCY, IMPORTS_BATCH_SIZE, IMPORTS_LEASE_SECONDS.
#[derive(Parser)]
#[command(name = "imports-worker", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Process imports until SIGTERM or SIGINT (the default).
    Run,
    /// Apply the database migrations, then exit.
    Migrate,
}

#[tokio::main]
async fn main() {
    imports_common::telemetry::init("imports-worker");
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Run) {
        Command::Run => run().await,
        Command::Migrate => migrate().await,
    };
    if let Err(e) = result {
        eprintln!("imports-worker: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let config = WorkerConfig::from_env()?;
    let shutdown = CancellationToken::new();
    tokio::spawn(signal_shutdown(shutdown.clone()));
    imports_worker::run(config, shutdown).await
}

async fn migrate() -> anyhow::Result<()> {
    use imports_common::config::{env_at_least, redact_url};
    use std::time::{Duration, Instant};
    let config = ServiceConfig::from_env()?;
    // Wait for Postgres (it may be starting alongside us), then create the database if needed.
    let wait = Duration::from_secs(env_at_least("MIGRATE_WAIT_SECONDS", 60, 0)?);
    let url = &config.database_url;
    let started = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        match imports_common::migrate::ensure_database(url).await {
            Ok(()) => break,
            Err(e) if started.elapsed() < wait => {
                tracing::warn!(
                    "cannot reach Postgres at {}: {e}; retrying in {delay:?}",
                    redact_url(url)
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => anyhow::bail!("cannot reach Postgres at {}: {e}", redact_url(url)),
        }
    }
    let pool = imports_common::db::pool(url, 1)?;
    let mut client = pool.get().await?;
    let applied = imports_common::migrate::run(&mut client).await?;
    println!("migrations applied: {applied:?}");
    Ok(())
}

async fn signal_shutdown(token: CancellationToken) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutdown signal received");
    token.cancel();
}
