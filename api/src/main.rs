//! `imports-api`: serves the API (default), applies migrations, manages API tokens.

use clap::{Parser, Subcommand};
use imports_common::model::{Mode, Tenant};
use imports_runtime::config::{ApiConfig, ServiceConfig};
use tokio_util::sync::CancellationToken;

/// The /api/imports HTTP API. Configured by the environment: API_ADDR, API_PUBLIC_URL,
/// API_TLS_CERT and API_TLS_KEY (both: HTTPS; neither: plain HTTP), DATABASE_URL, AMQP_URL,
/// IMPORTS_QUEUE, IMPORTS_MAX_INPUTS, IMPORTS_MAX_ACTIVE, API_MAX_BODY_BYTES,
/// API_SIGNING_SECRET, OUTBOX_INTERVAL_SECONDS; telemetry: RUST_LOG, LOG_FORMAT,
/// OTEL_EXPORTER_OTLP_ENDPOINT and the other standard OTEL_* variables.
#[derive(Parser)]
#[command(name = "imports-api", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API until SIGTERM or SIGINT (the default).
    Serve,
    /// Apply the database migrations, then exit.
    Migrate,
    /// Manage API tokens.
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
}

#[derive(Subcommand)]
enum TokensCommand {
    /// Create a token; the token is the last line of the output.
    Create {
        /// The organization the token acts for.
        #[arg(long)]
        organization: String,
        /// test or live.
        #[arg(long, value_parser = ["test", "live"])]
        mode: String,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token at once.
    Revoke {
        /// The token's id (from `tokens list`).
        id: String,
    },
}

#[tokio::main]
async fn main() {
    let telemetry = imports_runtime::telemetry::init("imports-api");
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
        Command::Migrate => imports_runtime::startup::migrate_from_env().await,
        Command::Tokens { command } => tokens(command).await,
    };
    // Spans still buffered are exported before the process ends, whatever the outcome.
    telemetry.shutdown().await;
    if let Err(e) = result {
        eprintln!("imports-api: {e:#}");
        std::process::exit(1);
    }
}

async fn serve() -> anyhow::Result<()> {
    let config = ApiConfig::from_env()?;
    let listener = tokio::net::TcpListener::bind(&config.addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on API_ADDR={}: {e}", config.addr))?;
    let shutdown = CancellationToken::new();
    imports_runtime::signals::cancel_on_signal(shutdown.clone());
    imports_api::serve(config, listener, shutdown).await
}

async fn tokens(command: TokensCommand) -> anyhow::Result<()> {
    let config = ServiceConfig::from_env()?;
    let pool = imports_storage::db::pool(&config.database_url, 1)?;
    let client = pool.get().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot reach Postgres at {}: {e}",
            imports_storage::db::redact_url(&config.database_url)
        )
    })?;
    match command {
        TokensCommand::Create { organization, mode } => {
            let mode: Mode = mode.parse()?;
            anyhow::ensure!(
                !organization.trim().is_empty(),
                "--organization can't be empty"
            );
            let tenant = Tenant {
                organization_id: organization,
                mode,
            };
            let (id, token) = imports_api::tokens::create(&**client, &tenant).await?;
            println!(
                "token id: {id} (organization {}, mode {})",
                tenant.organization_id,
                tenant.mode.as_str()
            );
            println!("{token}");
        }
        TokensCommand::List => {
            for t in imports_api::tokens::list(&**client).await? {
                let state = match t.revoked_at {
                    Some(at) => format!("revoked {}", at.to_rfc3339()),
                    None => "active".into(),
                };
                println!(
                    "{}\t{}\t{}\t{}\t{state}",
                    t.id,
                    t.tenant.organization_id,
                    t.tenant.mode.as_str(),
                    t.created_at.to_rfc3339()
                );
            }
        }
        TokensCommand::Revoke { id } => {
            anyhow::ensure!(
                imports_api::tokens::revoke(&**client, &id).await?,
                "no active token has id {id}"
            );
            println!("revoked {id}");
        }
    }
    Ok(())
}
