//! Configuration from the environment, with defaults that work on a developer's machine.
//!
//! Every setting has one name, one default and one parser here, so a bad value is a one-line
//! error that names the variable.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Where the database lives, when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/imports";
/// Where RabbitMQ lives, when `AMQP_URL` is not set.
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// The queue of import ids, when `IMPORTS_QUEUE` is not set.
pub const DEFAULT_QUEUE: &str = "imports";

/// Where a worker serves its health and metrics endpoints, when `WORKER_HTTP_ADDR` is not set.
pub const DEFAULT_WORKER_HTTP_ADDR: &str = "0.0.0.0:9090";

/// A setting that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{name}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    /// The environment variable.
    pub name: &'static str,
    /// What it held.
    pub value: String,
    /// Why it was refused.
    pub reason: String,
}

/// Reads `name` from the environment, parsed, or `default` when it is unset or empty.
pub fn env_or<T: FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|e: T::Err| ConfigError {
            name,
            value: v.clone(),
            reason: e.to_string(),
        }),
        _ => Ok(default),
    }
}

/// Like [`env_or`], for a whole number that must be at least `min`.
pub fn env_at_least(name: &'static str, default: u64, min: u64) -> Result<u64, ConfigError> {
    let v = env_or(name, default)?;
    if v < min {
        return Err(ConfigError {
            name,
            value: v.to_string(),
            reason: format!("must be at least {min}"),
        });
    }
    Ok(v)
}

/// The connections every binary needs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// `DATABASE_URL`.
    pub database_url: String,
    /// `AMQP_URL`.
    pub amqp_url: String,
    /// `IMPORTS_QUEUE`.
    pub queue: String,
}

impl ServiceConfig {
    /// Reads the connection settings from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(ServiceConfig {
            database_url: env_or("DATABASE_URL", DEFAULT_DATABASE_URL.to_owned())?,
            amqp_url: env_or("AMQP_URL", DEFAULT_AMQP_URL.to_owned())?,
            queue: env_or("IMPORTS_QUEUE", DEFAULT_QUEUE.to_owned())?,
        })
    }
}

/// How a worker processes imports.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Connections.
    pub services: ServiceConfig,
    /// `IMPORTS_CONCURRENCY`: imports processed at once (and the RabbitMQ prefetch).
    pub concurrency: usize,
    /// `IMPORTS_BATCH_SIZE`: inputs written per transaction.
    pub batch_size: usize,
    /// `IMPORTS_LEASE_SECONDS`: how long a claim lasts without a heartbeat.
    pub lease: Duration,
    /// `WORKER_HTTP_ADDR`: where the worker serves `/livez`, `/readyz` and `/metrics`.
    pub http_addr: String,
    /// `IMPORTS_TIME_SLICE_SECONDS`: how long an import runs before it yields its slot to
    /// another organization's waiting import (checked between batches; 0: never yields).
    pub time_slice: Duration,
}

impl WorkerConfig {
    /// Reads the worker's settings from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(WorkerConfig {
            services: ServiceConfig::from_env()?,
            concurrency: env_at_least("IMPORTS_CONCURRENCY", 2, 1)? as usize,
            batch_size: env_at_least("IMPORTS_BATCH_SIZE", 2000, 1)? as usize,
            lease: Duration::from_secs(env_at_least("IMPORTS_LEASE_SECONDS", 30, 2)?),
            http_addr: env_or("WORKER_HTTP_ADDR", DEFAULT_WORKER_HTTP_ADDR.to_owned())?,
            time_slice: Duration::from_secs(env_at_least("IMPORTS_TIME_SLICE_SECONDS", 10, 0)?),
        })
    }
}

/// How the HTTP API serves.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Connections.
    pub services: ServiceConfig,
    /// `API_ADDR`: where to listen.
    pub addr: String,
    /// `API_PUBLIC_URL`: the root URL clients reach the API at (links, attachment URLs).
    pub public_url: String,
    /// `IMPORTS_MAX_INPUTS`: inputs accepted in one import.
    pub max_inputs: u64,
    /// `IMPORTS_MAX_ACTIVE`: imports pending or in progress per organization.
    pub max_active: i64,
    /// `API_MAX_BODY_BYTES`: the largest request body accepted.
    pub max_body_bytes: usize,
    /// `API_SIGNING_SECRET`: the key of signed attachment URLs (every replica needs the same).
    pub signing_secret: String,
    /// `OUTBOX_INTERVAL_SECONDS`: how often unannounced imports are published again.
    pub outbox_interval: Duration,
    /// `API_RATE_LIMIT_PER_SECOND`: requests a token may make per second, sustained.
    pub rate_per_second: u64,
    /// `API_RATE_LIMIT_BURST`: requests a token may make at once after a quiet spell.
    pub rate_burst: u64,
    /// `API_TLS_CERT`: a PEM certificate chain; with `tls_key`, the API serves HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// `API_TLS_KEY`: the PEM private key of `tls_cert` (PKCS#8, PKCS#1 or SEC1).
    pub tls_key: Option<PathBuf>,
}

impl ApiConfig {
    /// Reads the API's settings from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let addr = env_or("API_ADDR", "127.0.0.1:8080".to_owned())?;
        let (tls_cert, tls_key) = tls_files()?;
        let scheme = if tls_cert.is_some() { "https" } else { "http" };
        let public_url = env_or("API_PUBLIC_URL", format!("{scheme}://{addr}"))?;
        let signing_secret = env_or("API_SIGNING_SECRET", String::new())?;
        Ok(ApiConfig {
            services: ServiceConfig::from_env()?,
            addr,
            public_url,
            max_inputs: env_at_least("IMPORTS_MAX_INPUTS", 10_000, 1)?,
            max_active: env_at_least("IMPORTS_MAX_ACTIVE", 10, 1)? as i64,
            max_body_bytes: env_at_least("API_MAX_BODY_BYTES", 64 * 1024 * 1024, 1024)? as usize,
            signing_secret: if signing_secret.is_empty() {
                imports_common::ids::random_secret()
            } else {
                signing_secret
            },
            outbox_interval: Duration::from_secs(env_at_least("OUTBOX_INTERVAL_SECONDS", 5, 1)?),
            rate_per_second: env_at_least("API_RATE_LIMIT_PER_SECOND", 50, 1)?,
            rate_burst: env_at_least("API_RATE_LIMIT_BURST", 100, 1)?,
            tls_cert,
            tls_key,
        })
    }
}

/// `API_TLS_CERT` and `API_TLS_KEY`, both or neither: one without the other is an error
/// naming the missing one, rather than a silent fall-back to plain HTTP.
fn tls_files() -> Result<(Option<PathBuf>, Option<PathBuf>), ConfigError> {
    let cert = env_or("API_TLS_CERT", String::new())?;
    let key = env_or("API_TLS_KEY", String::new())?;
    let missing = |name, other| ConfigError {
        name,
        value: String::new(),
        reason: format!("{other} is set, so this must be too: TLS needs both"),
    };
    match (cert.is_empty(), key.is_empty()) {
        (true, true) => Ok((None, None)),
        (false, false) => Ok((Some(cert.into()), Some(key.into()))),
        (false, true) => Err(missing("API_TLS_KEY", "API_TLS_CERT")),
        (true, false) => Err(missing("API_TLS_CERT", "API_TLS_KEY")),
    }
}
