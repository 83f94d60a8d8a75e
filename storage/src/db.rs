//! The Postgres connection pool, its liveness check, and connection URLs with their passwords
//! redacted.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::{Client, NoTls};

/// What every connection of a pool is set up with, so that no statement, no forgotten
/// transaction and no dead peer holds a connection (and its locks) forever. The values come
/// from `imports_runtime::config` (`DATABASE_*` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// `statement_timeout` of each session (zero: none).
    pub statement_timeout: Duration,
    /// `idle_in_transaction_session_timeout` of each session (zero: none).
    pub idle_in_transaction_timeout: Duration,
    /// Idle time before the first TCP keepalive probe; then a probe every third of it, and
    /// the connection is dropped after [`KEEPALIVE_RETRIES`] unanswered ones.
    pub keepalive_idle: Duration,
}

/// Unanswered TCP keepalive probes after which a connection counts as dead.
pub const KEEPALIVE_RETRIES: u32 = 3;

/// Builds a pool of at most `size` connections to `url`, each set up with `settings`.
/// Connections are made lazily.
pub fn pool(url: &str, size: usize, settings: &PoolSettings) -> anyhow::Result<Pool> {
    let mut cfg = tokio_postgres::Config::from_str(url)
        .map_err(|e| anyhow::anyhow!("DATABASE_URL {} is invalid: {e}", redact_url(url)))?;
    apply(&mut cfg, settings);
    let manager = Manager::from_config(
        cfg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Ok(Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(Duration::from_secs(30)))
        .create_timeout(Some(Duration::from_secs(10)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()?)
}

/// Sets the session timeouts as startup options of every connection (after any `options` of
/// the URL, so these win) and turns TCP keepalives on.
fn apply(cfg: &mut tokio_postgres::Config, settings: &PoolSettings) {
    let mut options = cfg.get_options().unwrap_or_default().to_owned();
    for (name, value) in [
        ("statement_timeout", settings.statement_timeout),
        (
            "idle_in_transaction_session_timeout",
            settings.idle_in_transaction_timeout,
        ),
    ] {
        if !options.is_empty() {
            options.push(' ');
        }
        options.push_str(&format!("-c {name}={}", value.as_millis()));
    }
    cfg.options(&options);
    let idle = settings.keepalive_idle.max(Duration::from_secs(1));
    cfg.keepalives(true)
        .keepalives_idle(idle)
        .keepalives_interval((idle / 3).max(Duration::from_secs(1)))
        .keepalives_retries(KEEPALIVE_RETRIES);
}

/// Whether the server answers a trivial statement on `client`: the readiness and startup
/// checks' probe.
pub async fn ping(client: &Client) -> Result<(), tokio_postgres::Error> {
    client.simple_query("SELECT 1").await.map(|_| ())
}

/// Redacts the password of a connection URL, for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeouts_are_startup_options_after_the_urls_own() {
        let mut cfg =
            tokio_postgres::Config::from_str("postgres://u@h/db?options=-c%20work_mem%3D4MB")
                .unwrap();
        let settings = PoolSettings {
            statement_timeout: Duration::from_secs(300),
            idle_in_transaction_timeout: Duration::from_millis(1500),
            keepalive_idle: Duration::from_secs(30),
        };
        apply(&mut cfg, &settings);
        assert_eq!(
            cfg.get_options(),
            Some(
                "-c work_mem=4MB -c statement_timeout=300000 \
                 -c idle_in_transaction_session_timeout=1500"
            )
        );
        assert!(cfg.get_keepalives());
        assert_eq!(cfg.get_keepalives_idle(), Duration::from_secs(30));
        assert_eq!(cfg.get_keepalives_interval(), Some(Duration::from_secs(10)));
        assert_eq!(cfg.get_keepalives_retries(), Some(KEEPALIVE_RETRIES));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/imports"),
            "postgres://postgres@127.0.0.1/imports"
        );
    }
}
