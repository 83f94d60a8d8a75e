//! Applies the SQL files of `migrations/` in order, once each, recorded in a table.
//!
//! A session-level advisory lock serialises concurrent runs, so several processes can start
//! at once (every replica of a deployment, say) and each migration is still applied once.

use tokio_postgres::Client;

/// The migrations, in the order they are applied: (version, name, SQL).
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "imports",
        include_str!("../../migrations/0001_imports.sql"),
    ),
    (
        2,
        "catalogue",
        include_str!("../../migrations/0002_catalogue.sql"),
    ),
    (3, "api", include_str!("../../migrations/0003_api.sql")),
    (
        4,
        "streamed inputs",
        include_str!("../../migrations/0004_streamed_inputs.sql"),
    ),
    (
        5,
        "write counts",
        include_str!("../../migrations/0005_write_counts.sql"),
    ),
    (
        6,
        "csv delimiter",
        include_str!("../../migrations/0006_csv_delimiter.sql"),
    ),
    (
        7,
        "dry run",
        include_str!("../../migrations/0007_dry_run.sql"),
    ),
    (
        8,
        "all resource types",
        include_str!("../../migrations/0008_all_resource_types.sql"),
    ),
    (
        9,
        "applications",
        include_str!("../../migrations/0009_applications.sql"),
    ),
    (
        10,
        "commerce layer inputs",
        include_str!("../../migrations/0010_commerce_layer_inputs.sql"),
    ),
    (
        11,
        "events with their import",
        include_str!("../../migrations/0011_events_with_their_import.sql"),
    ),
    (
        12,
        "webhooks",
        include_str!("../../migrations/0012_webhooks.sql"),
    ),
    (
        13,
        "active imports",
        include_str!("../../migrations/0013_active_imports.sql"),
    ),
    (
        14,
        "inputs compressed with lz4",
        include_str!("../../migrations/0014_inputs_lz4.sql"),
    ),
];

/// The advisory lock key that serialises migration runs (an arbitrary constant).
const LOCK_KEY: i64 = 0x0069_6d70_6f72_7473;

/// Creates the database named in `url` when it does not exist yet (connecting to the
/// `postgres` maintenance database of the same server), so that `migrate` works on a fresh
/// server.
pub async fn ensure_database(url: &str) -> anyhow::Result<()> {
    use std::str::FromStr;
    let cfg = tokio_postgres::Config::from_str(url)?;
    let Some(name) = cfg.get_dbname().map(str::to_owned) else {
        return Ok(());
    };
    let mut admin = cfg.clone();
    admin.dbname("postgres");
    let (client, connection) = admin.connect(tokio_postgres::NoTls).await?;
    let conn = tokio::spawn(connection);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        match client
            .batch_execute(&format!("CREATE DATABASE {quoted}"))
            .await
        {
            Ok(()) => tracing::info!(database = %name, "created the database"),
            // Another process created it meanwhile.
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
            Err(e) => return Err(e.into()),
        }
    }
    drop(client);
    let _ = conn.await;
    Ok(())
}

/// Applies every migration not yet recorded in `schema_migrations`, returning the versions
/// applied by this call. The session's statement timeout is off meanwhile: a migration may
/// rewrite a large table, and another process waits on the lock for as long.
pub async fn run(client: &mut Client) -> anyhow::Result<Vec<i32>> {
    client.batch_execute("SET statement_timeout = 0").await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await?;
    let result = apply_pending(client).await;
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await;
    // Back to the connection's own setting: it may go back to a pool.
    let reset = client.batch_execute("RESET statement_timeout").await;
    let applied = result?;
    unlock?;
    reset?;
    Ok(applied)
}

async fn apply_pending(client: &mut Client) -> anyhow::Result<Vec<i32>> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await?;
    let done: Vec<i32> = client
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        let tx = client.transaction().await?;
        tx.batch_execute(sql)
            .await
            .map_err(|e| anyhow::anyhow!("migration {version} ({name}) failed: {e}"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version, name, "applied migration");
        applied.push(*version);
    }
    Ok(applied)
}
