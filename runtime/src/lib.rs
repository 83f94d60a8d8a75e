//! What the imports binaries run on, above storage: configuration, telemetry, the RabbitMQ
//! queue, health endpoints and signals.
//!
//! - [`config`]: settings from the environment, checked at start.
//! - [`telemetry`]: traces, metrics and logs (OpenTelemetry, Prometheus, JSON lines).
//! - [`queue`]: the RabbitMQ topology and import messages.
//! - [`health`]: `/livez`, `/readyz` and `/metrics` answers.
//! - [`signals`]: SIGTERM and SIGINT as a cancellation.

pub mod config;
pub mod health;
pub mod queue;
pub mod signals;
pub mod telemetry;

/// The `migrate` subcommand of every binary: `DATABASE_URL`, waiting up to
/// `MIGRATE_WAIT_SECONDS` (default 60) for Postgres; prints what it applied.
pub async fn migrate_from_env() -> anyhow::Result<()> {
    let config = config::ServiceConfig::from_env()?;
    let wait = config::env_at_least("MIGRATE_WAIT_SECONDS", 60, 0)?;
    let applied = imports_storage::migrate::migrate_url(
        &config.database_url,
        std::time::Duration::from_secs(wait),
    )
    .await?;
    println!("migrations applied: {applied:?}");
    Ok(())
}
