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

/// Records per batch when `IMPORTS_BATCH_MAX_RECORDS` is not set: ten per input of a full
/// default batch (2,000 inputs), so only inputs that carry many children close a batch early
/// (2,000 orders of 1,000 line items would be two million records in one transaction).
pub const DEFAULT_BATCH_MAX_RECORDS: usize = 20_000;

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
    /// `DATABASE_STATEMENT_TIMEOUT_SECONDS`, `DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS`,
    /// `DATABASE_TCP_KEEPALIVE_SECONDS`: what every pool connection is set up with.
    pub pool: PoolSettings,
}

impl ServiceConfig {
    /// Reads the connection settings from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(ServiceConfig {
            database_url: env_or("DATABASE_URL", DEFAULT_DATABASE_URL.to_owned())?,
            amqp_url: env_or("AMQP_URL", DEFAULT_AMQP_URL.to_owned())?,
            queue: env_or("IMPORTS_QUEUE", DEFAULT_QUEUE.to_owned())?,
            pool: pool_settings()?,
        })
    }
}

// --- Postgres connection settings (every pool of the API and the worker) ---------------

pub use imports_storage::db::PoolSettings;

/// The pool settings when none is set. A statement may run 5 minutes: a worker's batch runs
/// a handful of set-based statements, each seconds at most on a healthy database (or waiting
/// on a lock another batch holds for as long), so only a runaway or stuck one is cut. A
/// transaction may sit idle 2 minutes: a batch transaction idles only while the batch before
/// it commits (`GATE_PATIENCE`, 2 s, then it lets go), so only a transaction whose client
/// forgot it (or went away) is ended, with its locks. Keepalives after 30 s of silence: a
/// peer gone without a word (a cut network, a lost host) is found in about a minute.
pub const DEFAULT_POOL_SETTINGS: PoolSettings = PoolSettings {
    statement_timeout: Duration::from_secs(300),
    idle_in_transaction_timeout: Duration::from_secs(120),
    keepalive_idle: Duration::from_secs(30),
};

/// Reads the pool settings (0 turns a timeout off; keepalives are always on).
fn pool_settings() -> Result<PoolSettings, ConfigError> {
    let d = DEFAULT_POOL_SETTINGS;
    let secs = |name, default: Duration, min| {
        env_at_least(name, default.as_secs(), min).map(Duration::from_secs)
    };
    Ok(PoolSettings {
        statement_timeout: secs("DATABASE_STATEMENT_TIMEOUT_SECONDS", d.statement_timeout, 0)?,
        idle_in_transaction_timeout: secs(
            "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS",
            d.idle_in_transaction_timeout,
            0,
        )?,
        keepalive_idle: secs("DATABASE_TCP_KEEPALIVE_SECONDS", d.keepalive_idle, 1)?,
    })
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
    /// `IMPORTS_BATCH_MAX_RECORDS`: records (inputs and the records they give inline, such as
    /// an order's line items) per transaction: a batch closes early, before the input that
    /// would pass it.
    pub batch_max_records: usize,
    /// `IMPORTS_LEASE_SECONDS`: how long a claim lasts without a heartbeat.
    pub lease: Duration,
    /// `WORKER_HTTP_ADDR`: where the worker serves `/livez`, `/readyz` and `/metrics`.
    pub http_addr: String,
    /// `IMPORTS_TIME_SLICE_SECONDS`: how long an import runs before it yields its slot to
    /// another organization's waiting import (checked between batches; 0: never yields).
    pub time_slice: Duration,
    /// How webhook deliveries are sent (`WEBHOOKS_*`).
    pub webhooks: WebhookSettings,
}

impl WorkerConfig {
    /// Reads the worker's settings from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(WorkerConfig {
            services: ServiceConfig::from_env()?,
            concurrency: env_at_least("IMPORTS_CONCURRENCY", 2, 1)? as usize,
            batch_size: env_at_least("IMPORTS_BATCH_SIZE", 2000, 1)? as usize,
            batch_max_records: env_at_least(
                "IMPORTS_BATCH_MAX_RECORDS",
                DEFAULT_BATCH_MAX_RECORDS as u64,
                1,
            )? as usize,
            lease: Duration::from_secs(env_at_least("IMPORTS_LEASE_SECONDS", 30, 2)?),
            http_addr: env_or("WORKER_HTTP_ADDR", DEFAULT_WORKER_HTTP_ADDR.to_owned())?,
            time_slice: Duration::from_secs(env_at_least("IMPORTS_TIME_SLICE_SECONDS", 10, 0)?),
            webhooks: WebhookSettings::from_env()?,
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
    /// `IMPORTS_MAX_ACTIVE`: imports pending or in progress per organization and mode.
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
    /// OAuth2: the token endpoint and the access tokens it issues.
    pub oauth: OAuthConfig,
    /// `API_TLS_CERT`: a PEM certificate chain; with `tls_key`, the API serves HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// `API_TLS_KEY`: the PEM private key of `tls_cert` (PKCS#8, PKCS#1 or SEC1).
    pub tls_key: Option<PathBuf>,
    /// What one client may hold of the API: connections, time, uploads.
    pub http: HttpLimits,
    /// `WEBHOOKS_ALLOW_PRIVATE_NETWORKS`: accept callback URLs on loopback, private and
    /// link-local addresses (tests; a private deployment's own receivers).
    pub allow_private_networks: bool,
}

/// The bounds on what clients hold of an API process, so that a slow or hostile client (or
/// tenant) costs only its own share: connections, time to send a request, uploads at once,
/// and unauthenticated requests per client address.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// `API_MAX_CONNECTIONS`: open connections per process; past it, new ones wait in the
    /// listen backlog.
    pub max_connections: usize,
    /// `API_HEADER_TIMEOUT_SECONDS`: how long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// `API_REQUEST_TIMEOUT_SECONDS`: how long any request but a create may take to be
    /// answered (its body included).
    pub request_timeout: Duration,
    /// `API_BODY_TIMEOUT_SECONDS`: how far a create's body may fall behind the minimum rate.
    pub body_timeout: Duration,
    /// `API_MIN_BODY_BYTES_PER_SECOND`: the slowest a create's body may arrive, on average.
    pub min_body_bytes_per_second: u64,
    /// `API_MAX_UPLOADS`: creates receiving their body slowly at once, per process.
    pub max_uploads: usize,
    /// `API_MAX_UPLOADS_PER_TENANT`: creates receiving their body slowly at once, per
    /// organization and mode.
    pub max_uploads_per_tenant: usize,
    /// `API_UPLOAD_DIR`: where a create's inputs wait, in an unlinked file, until the body is
    /// whole (the system's temporary directory by default).
    pub upload_dir: PathBuf,
    /// `API_UNAUTHENTICATED_PER_MINUTE`: requests per client address that reach the database
    /// before they are authenticated (token requests, failed authentications).
    pub unauthenticated_per_minute: u64,
    /// `API_CLIENT_ADDRESS_HEADER`: a header a trusted proxy sets to the client's address
    /// (the last address in it counts); unset, the connection's peer address.
    pub client_address_header: Option<String>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(10),
            min_body_bytes_per_second: 16 * 1024,
            max_uploads: 64,
            max_uploads_per_tenant: 4,
            upload_dir: std::env::temp_dir(),
            unauthenticated_per_minute: 300,
            client_address_header: None,
        }
    }
}

impl HttpLimits {
    /// Reads the limits from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = HttpLimits::default();
        let seconds = |name, default: Duration| -> Result<Duration, ConfigError> {
            Ok(Duration::from_secs(env_at_least(
                name,
                default.as_secs(),
                1,
            )?))
        };
        let header = env_or("API_CLIENT_ADDRESS_HEADER", String::new())?;
        Ok(HttpLimits {
            max_connections: env_at_least("API_MAX_CONNECTIONS", d.max_connections as u64, 1)?
                as usize,
            header_timeout: seconds("API_HEADER_TIMEOUT_SECONDS", d.header_timeout)?,
            request_timeout: seconds("API_REQUEST_TIMEOUT_SECONDS", d.request_timeout)?,
            body_timeout: seconds("API_BODY_TIMEOUT_SECONDS", d.body_timeout)?,
            min_body_bytes_per_second: env_at_least(
                "API_MIN_BODY_BYTES_PER_SECOND",
                d.min_body_bytes_per_second,
                1,
            )?,
            max_uploads: env_at_least("API_MAX_UPLOADS", d.max_uploads as u64, 1)? as usize,
            max_uploads_per_tenant: env_at_least(
                "API_MAX_UPLOADS_PER_TENANT",
                d.max_uploads_per_tenant as u64,
                1,
            )? as usize,
            upload_dir: env_or("API_UPLOAD_DIR", d.upload_dir)?,
            unauthenticated_per_minute: env_at_least(
                "API_UNAUTHENTICATED_PER_MINUTE",
                d.unauthenticated_per_minute,
                1,
            )?,
            client_address_header: (!header.is_empty()).then(|| header.to_ascii_lowercase()),
        })
    }
}

/// Settings of the OAuth2 token endpoint and of the JWT access tokens it issues.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// `API_AUTH_URL`: the issuer (`iss`) of access tokens, as clients reach the token
    /// endpoint; by default `https://auth.` + the host of `API_PUBLIC_URL`, the form
    /// Commerce Layer's clients derive the API's URL from.
    pub auth_url: String,
    /// `API_JWT_PRIVATE_KEY`: a PEM file (PKCS#8 or PKCS#1 RSA key) to sign tokens with;
    /// unset, a key is made once and kept in Postgres for every replica.
    pub jwt_private_key: Option<std::path::PathBuf>,
    /// `API_TOKEN_LIFETIME_SECONDS`: how long an access token lasts (Commerce Layer: 2 hours).
    pub token_lifetime: Duration,
    /// `API_AUTH_RATE_LIMIT_PER_MINUTE`: token requests a client may make per minute
    /// (Commerce Layer: 30).
    pub token_requests_per_minute: u64,
}

impl OAuthConfig {
    /// The defaults, issuing as `auth_url`.
    pub fn new(auth_url: String) -> Self {
        OAuthConfig {
            auth_url,
            jwt_private_key: None,
            token_lifetime: Duration::from_secs(7200),
            token_requests_per_minute: 30,
        }
    }

    /// Reads the OAuth2 settings from the environment, the issuer derived from `public_url`
    /// unless `API_AUTH_URL` is set.
    pub fn from_env(public_url: &str) -> Result<Self, ConfigError> {
        let auth_url = env_or("API_AUTH_URL", default_auth_url(public_url))?;
        let key = env_or("API_JWT_PRIVATE_KEY", String::new())?;
        let lifetime = env_at_least("API_TOKEN_LIFETIME_SECONDS", 7200, 60)?;
        if lifetime > 30 * 24 * 3600 {
            return Err(ConfigError {
                name: "API_TOKEN_LIFETIME_SECONDS",
                value: lifetime.to_string(),
                reason: "must be at most 2592000 (30 days)".into(),
            });
        }
        Ok(OAuthConfig {
            auth_url: auth_url.trim_end_matches('/').to_owned(),
            jwt_private_key: (!key.is_empty()).then(|| key.into()),
            token_lifetime: Duration::from_secs(lifetime),
            token_requests_per_minute: env_at_least("API_AUTH_RATE_LIMIT_PER_MINUTE", 30, 1)?,
        })
    }
}

/// `https://auth.` + the host (and port) of `public_url`: where Commerce Layer's clients look
/// for the token endpoint and the key set, given the domain the API is served under.
pub fn default_auth_url(public_url: &str) -> String {
    let rest = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("https://auth.{host}")
}

impl ApiConfig {
    /// Reads the API's settings from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let addr = env_or("API_ADDR", "127.0.0.1:8080".to_owned())?;
        let (tls_cert, tls_key) = tls_files()?;
        let scheme = if tls_cert.is_some() { "https" } else { "http" };
        let public_url = env_or("API_PUBLIC_URL", format!("{scheme}://{addr}"))?;
        let signing_secret = signing_secret()?;
        let oauth = OAuthConfig::from_env(&public_url)?;
        Ok(ApiConfig {
            services: ServiceConfig::from_env()?,
            addr,
            public_url,
            max_inputs: env_at_least("IMPORTS_MAX_INPUTS", 10_000, 1)?,
            max_active: env_at_least("IMPORTS_MAX_ACTIVE", 10, 1)? as i64,
            max_body_bytes: env_at_least("API_MAX_BODY_BYTES", 64 * 1024 * 1024, 1024)? as usize,
            signing_secret,
            outbox_interval: Duration::from_secs(env_at_least("OUTBOX_INTERVAL_SECONDS", 5, 1)?),
            rate_per_second: env_at_least("API_RATE_LIMIT_PER_SECOND", 50, 1)?,
            rate_burst: env_at_least("API_RATE_LIMIT_BURST", 100, 1)?,
            oauth,
            tls_cert,
            tls_key,
            http: HttpLimits::from_env()?,
            allow_private_networks: env_or("WEBHOOKS_ALLOW_PRIVATE_NETWORKS", false)?,
        })
    }
}

/// How a worker process delivers webhooks.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `WEBHOOKS_CONCURRENCY`: deliveries sent at once by one process (and its prefetch).
    pub concurrency: usize,
    /// `WEBHOOKS_PER_WEBHOOK_CONCURRENCY`: deliveries to one webhook sent at once by one
    /// process, so that a slow receiver holds only its own share.
    pub per_webhook: usize,
    /// `WEBHOOKS_TIMEOUT_SECONDS`: how long a receiver has to answer 2xx (Commerce Layer: 5).
    pub timeout: Duration,
    /// `WEBHOOKS_MAX_ATTEMPTS`: attempts of one delivery before it is given up as failed.
    pub max_attempts: i32,
    /// `WEBHOOKS_RETRY_BASE_SECONDS`: the wait after a first failure, doubled after each
    /// next one (with jitter) up to `retry_max`.
    pub retry_base: Duration,
    /// `WEBHOOKS_RETRY_MAX_SECONDS`: the longest wait between two attempts.
    pub retry_max: Duration,
    /// `WEBHOOKS_CIRCUIT_THRESHOLD`: consecutive failures that open a webhook's circuit.
    pub circuit_threshold: i32,
    /// `WEBHOOKS_ALLOW_PRIVATE_NETWORKS`: call receivers on loopback, private and link-local
    /// addresses.
    pub allow_private_networks: bool,
    /// `WEBHOOKS_RETENTION_HOURS`: how long settled deliveries are kept.
    pub retention: Duration,
    /// `API_PUBLIC_URL`: the root of the links in payloads (the API's own setting).
    pub public_url: String,
    /// `API_SIGNING_SECRET`: signs the payloads' `attachment_url`; unset, it is null.
    pub signing_secret: Option<String>,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            concurrency: 16,
            per_webhook: 4,
            timeout: Duration::from_secs(5),
            max_attempts: 10,
            retry_base: Duration::from_secs(15),
            retry_max: Duration::from_secs(3600),
            circuit_threshold: 30,
            allow_private_networks: false,
            retention: Duration::from_secs(7 * 24 * 3600),
            public_url: "http://127.0.0.1:8080".to_owned(),
            signing_secret: None,
        }
    }
}

impl WebhookSettings {
    /// Reads the delivery settings from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = WebhookSettings::default();
        let secret = env_or("API_SIGNING_SECRET", String::new())?;
        check_secret(&secret)?;
        let retry_base = env_or("WEBHOOKS_RETRY_BASE_SECONDS", d.retry_base.as_secs_f64())?;
        if !(retry_base.is_finite() && retry_base > 0.0 && retry_base <= 86_400.0) {
            return Err(ConfigError {
                name: "WEBHOOKS_RETRY_BASE_SECONDS",
                value: retry_base.to_string(),
                reason: "must be a number of seconds above 0, at most a day".into(),
            });
        }
        let whole = |name, default: u64, min| env_at_least(name, default, min);
        let secs = |d: Duration| d.as_secs();
        Ok(WebhookSettings {
            concurrency: whole("WEBHOOKS_CONCURRENCY", d.concurrency as u64, 1)? as usize,
            per_webhook: whole("WEBHOOKS_PER_WEBHOOK_CONCURRENCY", d.per_webhook as u64, 1)?
                as usize,
            timeout: Duration::from_secs(whole("WEBHOOKS_TIMEOUT_SECONDS", secs(d.timeout), 1)?),
            max_attempts: whole("WEBHOOKS_MAX_ATTEMPTS", d.max_attempts as u64, 1)?.min(1000)
                as i32,
            retry_base: Duration::from_secs_f64(retry_base),
            retry_max: Duration::from_secs(whole(
                "WEBHOOKS_RETRY_MAX_SECONDS",
                secs(d.retry_max),
                1,
            )?),
            circuit_threshold: whole("WEBHOOKS_CIRCUIT_THRESHOLD", d.circuit_threshold as u64, 1)?
                .min(1_000_000) as i32,
            allow_private_networks: env_or("WEBHOOKS_ALLOW_PRIVATE_NETWORKS", false)?,
            retention: Duration::from_secs(
                3600 * whole("WEBHOOKS_RETENTION_HOURS", secs(d.retention) / 3600, 1)?,
            ),
            public_url: env_or("API_PUBLIC_URL", d.public_url)?,
            signing_secret: (!secret.is_empty()).then_some(secret),
        })
    }
}

/// The shortest `API_SIGNING_SECRET` accepted: anyone who guesses it can forge attachment
/// URLs.
pub const MIN_SECRET_BYTES: usize = 32;

/// Words only a placeholder holds (`deploy/k8s/secret.yaml` ships `CHANGE-ME`).
const PLACEHOLDERS: &[&str] = &["change-me", "changeme", "change_me", "placeholder"];

/// `API_SIGNING_SECRET`, refused when it is a placeholder or shorter than
/// [`MIN_SECRET_BYTES`]; when unset, a random one (enough for a single replica).
fn signing_secret() -> Result<String, ConfigError> {
    let secret = env_or("API_SIGNING_SECRET", String::new())?;
    check_secret(&secret)?;
    Ok(match secret.is_empty() {
        true => imports_common::ids::random_secret(),
        false => secret,
    })
}

/// Why a signing secret is refused, saying how to make one; an empty one is allowed (a
/// random one is made). The secret itself is never shown.
fn check_secret(secret: &str) -> Result<(), ConfigError> {
    let refuse = |reason: String| ConfigError {
        name: "API_SIGNING_SECRET",
        value: format!("({} bytes, not shown)", secret.len()),
        reason: format!("{reason}; make one with `openssl rand -base64 48`"),
    };
    let lower = secret.to_ascii_lowercase();
    if let Some(word) = PLACEHOLDERS.iter().find(|w| lower.contains(*w)) {
        return Err(refuse(format!("holds the placeholder {word:?}")));
    }
    if !secret.is_empty() && secret.len() < MIN_SECRET_BYTES {
        return Err(refuse(format!(
            "is {} bytes: at least {MIN_SECRET_BYTES} are needed",
            secret.len()
        )));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_and_short_signing_secrets_are_refused_without_showing_them() {
        let e = check_secret("CHANGE-ME").unwrap_err().to_string();
        assert!(e.contains("placeholder \"change-me\""), "{e}");
        assert!(
            e.contains("openssl rand") && !e.contains("CHANGE-ME"),
            "{e}"
        );
        let e = check_secret("short-but-real").unwrap_err().to_string();
        assert!(e.contains("is 14 bytes: at least 32"), "{e}");
        assert!(check_secret(&"k".repeat(32)).is_ok());
        assert!(check_secret("").is_ok(), "unset: a random one is made");
    }

    #[test]
    fn the_issuer_is_auth_dot_the_public_host() {
        for (public, auth) in [
            (
                "https://imports.example.com",
                "https://auth.imports.example.com",
            ),
            (
                "https://example.test:8443/",
                "https://auth.example.test:8443",
            ),
            ("http://127.0.0.1:8080", "https://auth.127.0.0.1:8080"),
            ("localhost:8080", "https://auth.localhost:8080"),
        ] {
            assert_eq!(default_auth_url(public), auth, "{public}");
        }
    }
}
