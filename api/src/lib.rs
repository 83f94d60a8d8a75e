//! The `/api/imports` HTTP API (JSON:API), following the reference API's conventions so that
//! a client written for it works with only its base URL and token changed.
//!
//! A request flows: [`routes`] (the router, one file per action) -> [`auth`] (bearer token ->
//! tenant, [`rate_limit`]) -> the action, which reads its request with [`document`] (a
//! create's body through [`upload`], a list's parameters through [`listing`] and
//! [`filters`]), calls `imports-storage` for every statement, and answers with [`render`] or
//! [`errors`].
//!
//! - [`tokens`]: creating, listing, revoking `imp_` API tokens.
//! - [`applications`]: OAuth2 applications and their client credentials.
//! - [`oauth`]: JWT access tokens: issued, verified in memory, revoked; the key set.
//! - [`events`]: an import's events as resources, `include=events`.
//! - [`outbox`]: announces created imports on RabbitMQ, at least once.
//! - [`attachments`]: signed, expiring download URLs of the raw inputs.
//! - [`observe`]: request spans, metrics, `/livez`, `/readyz` and `/metrics`.
//! - [`server`]: the accept loop and its bounds (connections, header timeout), plain or TLS.
//! - [`request_limits`]: the request timeout and the declared-length check of every route
//!   but a create.
//! - [`tls`]: HTTPS when `API_TLS_CERT` and `API_TLS_KEY` are set.

pub mod applications;
pub mod attachments;
pub mod auth;
pub mod document;
pub mod errors;
pub mod events;
pub mod filters;
#[doc(hidden)]
pub mod fuzzing;
pub mod known_tokens;
pub mod listing;
pub mod oauth;
pub mod observe;
pub mod outbox;
pub mod rate_limit;
pub mod render;
pub mod request_limits;
pub mod routes;
pub mod server;
pub mod tls;
pub mod tokens;
pub mod upload;

use std::sync::Arc;

use deadpool_postgres::Pool;
use imports_runtime::config::ApiConfig;
use imports_runtime::health::AmqpWatch;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// What every handler shares, behind one `Arc`: the router and each middleware clone the
/// state per request, and a clone of a dozen `Arc`s cost a dozen atomic operations each way.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    /// Postgres connections.
    pub pool: Pool,
    /// Settings.
    pub config: Arc<ApiConfig>,
    /// Wakes the outbox publisher after a create.
    pub outbox_wake: Arc<Notify>,
    /// Per-token request rate limits.
    pub limiter: Arc<rate_limit::RateLimiter>,
    /// Per-client token request rate limits of the auth endpoints.
    pub auth_limiter: Arc<rate_limit::RateLimiter>,
    /// Per-address limits of requests that reach the database unauthenticated.
    pub address_limiter: Arc<rate_limit::RateLimiter>,
    /// Issues and verifies access tokens.
    pub oauth: Arc<oauth::OAuth>,
    /// `imp_` tokens found in the last second.
    pub known_tokens: Arc<known_tokens::KnownTokens>,
    /// Metrics.
    pub metrics: Arc<observe::ApiMetrics>,
    /// The outbox's RabbitMQ connection, for readiness.
    pub amqp: AmqpWatch,
    /// A pool of one connection for readiness checks (busy handlers cannot starve it).
    pub health_pool: Pool,
    /// Creates receiving their body, per process and per tenant.
    pub uploads: Arc<upload::permits::UploadPermits>,
}

/// Serves the API on `listener` until `shutdown`, with the outbox publisher beside it. It
/// serves at once (`/livez` answers, `/readyz` says what is missing) and the outbox starts
/// once Postgres answers. Over TLS when the configuration names a certificate and key.
pub async fn serve(
    config: ApiConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let tls = tls::acceptor(&config)?;
    let pool = imports_storage::db::pool(&config.services.database_url, 16, &config.services.pool)?;
    let state = AppState(Arc::new(Shared {
        pool: pool.clone(),
        config: Arc::new(config.clone()),
        outbox_wake: Arc::new(Notify::new()),
        limiter: Arc::new(rate_limit::RateLimiter::new(
            config.rate_per_second,
            config.rate_burst,
        )),
        auth_limiter: Arc::new(rate_limit::RateLimiter::per_minute(
            config.oauth.token_requests_per_minute,
        )),
        address_limiter: Arc::new(rate_limit::RateLimiter::per_minute(
            config.http.unauthenticated_per_minute,
        )),
        oauth: Arc::new(oauth::OAuth::new(config.oauth.clone())?),
        known_tokens: Arc::default(),
        metrics: Arc::new(observe::ApiMetrics::new(pool.clone())),
        amqp: AmqpWatch::default(),
        health_pool: imports_storage::db::pool(
            &config.services.database_url,
            1,
            &config.services.pool,
        )?,
        uploads: Arc::new(upload::permits::UploadPermits::new(
            config.http.max_uploads,
            config.http.max_uploads_per_tenant,
        )),
    }));
    let outbox = {
        let (pool, wake, amqp, shutdown) = (
            pool,
            state.outbox_wake.clone(),
            state.amqp.clone(),
            shutdown.clone(),
        );
        tokio::spawn(async move {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = imports_runtime::startup::wait_for_postgres(&pool, &config.services.database_url, None) => {
                    outbox::run(pool, config, wake, amqp, shutdown).await
                }
            }
        })
    };
    let keys = tokio::spawn(
        state
            .oauth
            .clone()
            .run(state.pool.clone(), shutdown.clone()),
    );
    let refresher = imports_runtime::telemetry::metrics::otlp_enabled().then(|| {
        tokio::spawn(
            state
                .metrics
                .by_status
                .clone()
                .refresh_periodically(shutdown.clone()),
        )
    });
    let metrics = state.metrics.clone();
    let addr = listener.local_addr()?;
    tracing::info!(%addr, tls = tls.is_some(), "serving the imports API");
    let limits = state.config.http.clone();
    server::serve(
        listener,
        tls,
        routes::router(state),
        limits,
        shutdown.clone(),
    )
    .await;
    shutdown.cancel();
    let _ = outbox.await;
    let _ = keys.await;
    if let Some(r) = refresher {
        let _ = r.await;
    }
    metrics.metrics.shutdown().await;
    Ok(())
}
