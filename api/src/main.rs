//! `imports-api`: serves the API (default), applies migrations, manages API tokens,
//! OAuth2 applications and the token signing keys.

use clap::{Parser, Subcommand};
use imports_common::accounts::Application;
use imports_common::model::{Mode, Tenant};
use imports_runtime::config::{ApiConfig, ServiceConfig};
use tokio_util::sync::CancellationToken;

/// The /api/imports HTTP API. Configured by the environment: API_ADDR, API_PUBLIC_URL,
/// API_TLS_CERT and API_TLS_KEY (both: HTTPS; neither: plain HTTP), DATABASE_URL, AMQP_URL,
/// IMPORTS_QUEUE, IMPORTS_MAX_INPUTS, IMPORTS_MAX_ACTIVE, API_MAX_BODY_BYTES,
/// API_SIGNING_SECRET, OUTBOX_INTERVAL_SECONDS, API_AUTH_URL, API_JWT_PRIVATE_KEY,
/// API_TOKEN_LIFETIME_SECONDS, API_AUTH_RATE_LIMIT_PER_MINUTE, API_RATE_LIMIT_PER_SECOND,
/// API_RATE_LIMIT_BURST; client limits: API_MAX_CONNECTIONS, API_HEADER_TIMEOUT_SECONDS,
/// API_REQUEST_TIMEOUT_SECONDS, API_MIN_BODY_BYTES_PER_SECOND, API_BODY_TIMEOUT_SECONDS,
/// API_MAX_UPLOADS, API_MAX_UPLOADS_PER_TENANT, API_UPLOAD_DIR,
/// API_UNAUTHENTICATED_PER_MINUTE, API_CLIENT_ADDRESS_HEADER; telemetry: RUST_LOG,
/// LOG_FORMAT, OTEL_EXPORTER_OTLP_ENDPOINT and the other standard OTEL_* variables.
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
    /// Manage OAuth2 applications (client credentials for /oauth/token).
    Applications {
        #[command(subcommand)]
        command: ApplicationsCommand,
    },
    /// Manage the keys access tokens are signed with.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum ApplicationsCommand {
    /// Create an application (and its organization when the slug is new); its client secret
    /// is shown once.
    Create {
        /// The organization's slug (lower-case letters, digits, inner hyphens).
        #[arg(long)]
        organization: String,
        /// test or live.
        #[arg(long, value_parser = ["test", "live"])]
        mode: String,
        /// The application's name.
        #[arg(long)]
        name: String,
        /// The application's kind.
        #[arg(long, default_value = "integration", value_parser = ["integration"])]
        kind: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List applications (never their secrets).
    List {
        /// Print a JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an application and every token it was given, at once.
    Revoke {
        /// The application's id (from `applications list`).
        id: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a new signing key; it signs from a few seconds on, the old ones keep verifying
    /// until their tokens have expired.
    Rotate,
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
        Command::Applications { command } => applications(command).await,
        Command::Keys { command } => keys(command).await,
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

/// One connection to the database of `DATABASE_URL`, for the management commands.
async fn connect() -> anyhow::Result<deadpool_postgres::Object> {
    let config = ServiceConfig::from_env()?;
    let pool = imports_storage::db::pool(&config.database_url, 1, &config.pool)?;
    pool.get().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot reach Postgres at {}: {e}",
            imports_storage::db::redact_url(&config.database_url)
        )
    })
}

async fn tokens(command: TokensCommand) -> anyhow::Result<()> {
    let client = connect().await?;
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
            let (id, token) = imports_api::tokens::create(&*client, &tenant).await?;
            println!(
                "token id: {id} (organization {}, mode {})",
                tenant.organization_id,
                tenant.mode.as_str()
            );
            println!("{token}");
        }
        TokensCommand::List => {
            for t in imports_api::tokens::list(&*client).await? {
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
                imports_api::tokens::revoke(&*client, &id).await?,
                "no active token has id {id}"
            );
            println!("revoked {id}");
        }
    }
    Ok(())
}

fn application_json(app: &Application) -> serde_json::Value {
    serde_json::json!({
        "id": app.id,
        "name": app.name,
        "kind": app.kind.as_str(),
        "organization": {
            "id": app.organization.id,
            "slug": app.organization.slug,
            "name": app.organization.name,
        },
        "mode": app.mode.as_str(),
        "client_id": app.client_id,
        "scopes": app.scopes,
        "created_at": app.created_at.to_rfc3339(),
        "revoked_at": app.revoked_at.map(|t| t.to_rfc3339()),
    })
}

async fn applications(command: ApplicationsCommand) -> anyhow::Result<()> {
    let client = connect().await?;
    match command {
        ApplicationsCommand::Create {
            organization,
            mode,
            name,
            kind: _,
            json,
        } => {
            let mode: Mode = mode.parse()?;
            let created =
                imports_api::applications::create(&*client, &organization, mode, &name).await?;
            let app = &created.application;
            if json {
                let mut out = application_json(app);
                out["client_secret"] = created.client_secret.clone().into();
                println!("{out}");
            } else {
                println!(
                    "application {} ({}) of organization {} in {} mode",
                    app.id,
                    app.name,
                    app.organization.slug,
                    app.mode.as_str()
                );
                println!("client id:     {}", app.client_id);
                println!("client secret: {} (shown only now)", created.client_secret);
            }
        }
        ApplicationsCommand::List { json } => {
            let apps = imports_api::applications::list(&*client).await?;
            if json {
                let all: Vec<_> = apps.iter().map(application_json).collect();
                println!("{}", serde_json::Value::from(all));
            }
            for app in apps.iter().filter(|_| !json) {
                let state = match app.revoked_at {
                    Some(at) => format!("revoked {}", at.to_rfc3339()),
                    None => "active".into(),
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{state}",
                    app.id,
                    app.organization.slug,
                    app.mode.as_str(),
                    app.client_id,
                    app.name,
                    app.created_at.to_rfc3339()
                );
            }
        }
        ApplicationsCommand::Revoke { id } => {
            let config = imports_runtime::config::OAuthConfig::from_env("")?;
            anyhow::ensure!(
                imports_api::applications::revoke(&*client, &id, config.token_lifetime).await?,
                "no active application has id {id}"
            );
            println!("revoked {id} and every token it was given");
        }
    }
    Ok(())
}

async fn keys(command: KeysCommand) -> anyhow::Result<()> {
    let mut client = connect().await?;
    match command {
        KeysCommand::Rotate => {
            let kid = imports_api::oauth::keys::rotate(&mut client).await?;
            println!(
                "new signing key {kid}: it signs in {} seconds; the old keys verify until their tokens expire",
                imports_api::oauth::keys::ROTATION_DELAY_SECS
            );
        }
    }
    Ok(())
}
