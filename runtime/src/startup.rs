//! Starting against services that may not be up yet: waiting for Postgres, and the `migrate`
//! subcommand of every binary.

use std::time::Duration;

use deadpool_postgres::Pool;
use imports_storage::db::{self, redact_url};
use imports_storage::migrate;

use crate::retry::RetryPolicy;

/// Waits until Postgres answers, retrying under [`RetryPolicy::SERVICE`] and logging one line
/// per failure that names the service. Gives up after `give_up_after`, if set.
pub async fn wait_for_postgres(
    pool: &Pool,
    url: &str,
    give_up_after: Option<Duration>,
) -> anyhow::Result<()> {
    let mut backoff = RetryPolicy::SERVICE.giving_up_after(give_up_after).start();
    loop {
        let failure = match pool.get().await {
            Ok(client) => match db::ping(&client).await {
                Ok(_) => return Ok(()),
                Err(e) => format!("Postgres at {} is not usable yet: {e}", redact_url(url)),
            },
            Err(e) => format!("cannot reach Postgres at {}: {e}", redact_url(url)),
        };
        let Some(delay) = backoff.next_delay() else {
            anyhow::bail!("cannot reach Postgres at {}", redact_url(url));
        };
        tracing::warn!("{failure}; retrying in {delay:?}");
        tokio::time::sleep(delay).await;
    }
}

/// What the `migrate` subcommands do: wait up to `wait` for Postgres, create the database if
/// it is missing, apply the pending migrations. Returns the versions applied.
pub async fn migrate_url(url: &str, wait: Duration) -> anyhow::Result<Vec<i32>> {
    migrate_with(url, wait, &crate::config::DEFAULT_POOL_SETTINGS).await
}

/// Like [`migrate_url`], its connection set up with `settings` (its migrations run with no
/// statement timeout all the same: see `migrate::run`).
async fn migrate_with(
    url: &str,
    wait: Duration,
    settings: &imports_storage::db::PoolSettings,
) -> anyhow::Result<Vec<i32>> {
    let mut backoff = RetryPolicy::SERVICE.giving_up_after(Some(wait)).start();
    loop {
        match migrate::ensure_database(url).await {
            Ok(()) => break,
            Err(e) => match backoff.next_delay() {
                Some(delay) => {
                    tracing::warn!(
                        "cannot reach Postgres at {}: {e}; retrying in {delay:?}",
                        redact_url(url)
                    );
                    tokio::time::sleep(delay).await;
                }
                None => anyhow::bail!("cannot reach Postgres at {}: {e}", redact_url(url)),
            },
        }
    }
    let pool = imports_storage::db::pool(url, 1, settings)?;
    let mut client = pool.get().await?;
    migrate::run(&mut client).await
}

/// The `migrate` subcommand of every binary: `DATABASE_URL`, waiting up to
/// `MIGRATE_WAIT_SECONDS` (default 60) for Postgres; prints what it applied.
pub async fn migrate_from_env() -> anyhow::Result<()> {
    let config = crate::config::ServiceConfig::from_env()?;
    let wait = crate::config::env_at_least("MIGRATE_WAIT_SECONDS", 60, 0)?;
    let applied = migrate_with(
        &config.database_url,
        Duration::from_secs(wait),
        &config.pool,
    )
    .await?;
    println!("migrations applied: {applied:?}");
    Ok(())
}
