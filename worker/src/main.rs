//! `imports-worker`: runs the worker (default), or applies the migrations.

use clap::{Parser, Subcommand};
use imports_runtime::config::WorkerConfig;
use tokio_util::sync::CancellationToken;

/// Processes imports from RabbitMQ into Postgres. Configured by the environment: DATABASE_URL,
/// AMQP_URL, IMPORTS_QUEUE, IMPORTS_CONCURRENCY, IMPORTS_BATCH_SIZE, IMPORTS_LEASE_SECONDS,
/// WORKER_HTTP_ADDR; webhooks: WEBHOOKS_CONCURRENCY and the other WEBHOOKS_* variables
/// (docs/webhooks.md); telemetry: RUST_LOG, LOG_FORMAT, OTEL_EXPORTER_OTLP_ENDPOINT and the
/// other standard OTEL_* variables.
#[derive(Parser)]
#[command(name = "imports-worker", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Process imports and deliver webhooks until SIGTERM or SIGINT (the default).
    Run,
    /// Only deliver webhooks, until SIGTERM or SIGINT (to scale deliveries apart).
    Deliver,
    /// Apply the database migrations, then exit.
    Migrate,
}

#[tokio::main]
async fn main() {
    let telemetry = imports_runtime::telemetry::init("imports-worker");
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Run) {
        Command::Run => run(imports_worker::Role::Everything).await,
        Command::Deliver => run(imports_worker::Role::DeliveriesOnly).await,
        Command::Migrate => imports_runtime::startup::migrate_from_env().await,
    };
    // Spans still buffered are exported before the process ends, whatever the outcome.
    telemetry.shutdown().await;
    if let Err(e) = result {
        eprintln!("imports-worker: {e:#}");
        std::process::exit(1);
    }
}

async fn run(role: imports_worker::Role) -> anyhow::Result<()> {
    let config = WorkerConfig::from_env()?;
    let shutdown = CancellationToken::new();
    imports_runtime::signals::cancel_on_signal(shutdown.clone());
    imports_worker::run(role, config, shutdown).await
}
