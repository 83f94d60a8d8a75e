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
    let config = ServiceConfig::from_env()?;
    let wait = imports_common::config::env_at_least("MIGRATE_WAIT_SECONDS", 60, 0)?;
    let applied = imports_common::migrate::migrate_url(
        &config.database_url,
        std::time::Duration::from_secs(wait),
    )
    .await?;
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
