//! The imports worker: takes import ids from RabbitMQ, claims each import in Postgres, and
//! writes its inputs in batches, each batch exactly once.
//!
//! - [`consumer`]: RabbitMQ deliveries -> claims, with reconnects.
//! - [`sweeper`]: finds imports whose worker vanished, or whose announcement was lost.
//! - [`announce`]: announces a handed-back import again, for another worker to resume it.
//! - [`slots`]: claims imports and runs them in this worker's slots; resumes those that yielded.
//! - [`processor`]: the life of one claimed import, batch by batch, with heartbeat and fences.
//! - [`batch`]: one batch's cycle: written on its own connection, committed once allowed.
//! - [`outcome`]: how a run of an import ended.
//! - [`writer`]: the set-based SQL that writes one batch.
//! - [`statistics`]: keeps the planner's statistics fresh while an import grows a table.
//! - [`http`]: `/livez`, `/readyz` and `/metrics` on `WORKER_HTTP_ADDR`.
//! - [`observe`]: the worker's metrics, and what its spans learn from the database.
//! - [`webhooks`]: sends the webhook deliveries of import events (`imports-worker` does both;
//!   `imports-worker deliver` only this).
//!
//! Shutdown (SIGTERM/SIGINT): consumption stops, each running import finishes its current
//! batch, hands its lease back and announces it again on RabbitMQ, so that another worker
//! resumes it from its cursor at once.

pub mod announce;
pub mod batch;
pub mod consumer;
pub mod http;
pub mod observe;
pub mod outcome;
pub mod processor;
pub mod slots;
pub mod statistics;
pub mod sweeper;
pub mod webhooks;
pub mod writer;

use std::sync::Arc;

use deadpool_postgres::Pool;
use imports_runtime::config::WorkerConfig;
use imports_runtime::health::AmqpWatch;
use imports_storage::db;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

/// What every task of a worker shares.
pub struct Context {
    /// Postgres connections.
    pub pool: Pool,
    /// Settings.
    pub config: WorkerConfig,
    /// This worker's identity, written as the lease owner of the imports it holds.
    pub worker_id: Uuid,
    /// Cancelled on shutdown.
    pub shutdown: CancellationToken,
    /// One permit per import processed at once.
    pub permits: Arc<Semaphore>,
    /// The running import tasks, awaited on shutdown.
    pub tasks: TaskTracker,
    /// Metrics.
    pub metrics: Arc<observe::WorkerMetrics>,
    /// The consumer's RabbitMQ connection, for readiness.
    pub amqp: AmqpWatch,
    /// Deliveries waiting here for a free slot: an import yields its slot only to one of
    /// these (another worker's waiting deliveries are that worker's to serve).
    pub waiting_deliveries: Arc<std::sync::atomic::AtomicUsize>,
    /// Where an import that yielded its slot sends its id, to be resumed in the next free
    /// slot by [`slots::resume_yielded`].
    pub yielded: mpsc::UnboundedSender<String>,
    /// Announces handed-back imports again (on its own connection, which outlives the
    /// consumer's on shutdown).
    pub announcer: announce::Announcer,
}

/// The connections of a process's webhook deliveries (beside one `LISTEN` connection).
pub const DELIVERY_CONNECTIONS: usize = 6;

/// What a worker process does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Processes imports and delivers webhooks (`imports-worker`).
    Everything,
    /// Only delivers webhooks (`imports-worker deliver`), for those who scale the two apart.
    DeliveriesOnly,
}

/// Runs a worker until `shutdown` is cancelled, then waits for its imports to reach a batch
/// boundary and hand themselves back. Serves `/livez`, `/readyz` and `/metrics` on
/// `WORKER_HTTP_ADDR` from the start (not ready until Postgres and RabbitMQ answer).
pub async fn run(
    role: Role,
    config: WorkerConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&config.http_addr).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on WORKER_HTTP_ADDR={}: {e}",
            config.http_addr
        )
    })?;
    serve_as(role, config, listener, shutdown).await
}

/// Like [`run`] for a worker that does everything, serving the HTTP endpoints on `listener`.
pub async fn serve(
    config: WorkerConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    serve_as(Role::Everything, config, listener, shutdown).await
}

/// Like [`run`], serving the HTTP endpoints on `listener`.
pub async fn serve_as(
    role: Role,
    config: WorkerConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Per import: two batch writers (one batch commits while the next is written), a reader of
    // stored inputs, a heartbeat and an ANALYZE beside the batches; plus consumer and sweeper.
    let imports = match role {
        Role::Everything => config.concurrency * 5 + 2,
        Role::DeliveriesOnly => 1,
    };
    let pool = db::pool(
        &config.services.database_url,
        imports,
        &config.services.pool,
    )?;
    // Deliveries have their own pool, so that imports and calls to receivers never wait for
    // each other's connections: a sender holds one only to claim and to settle (never during
    // its call), the announcer one per round.
    let delivery_pool = db::pool(
        &config.services.database_url,
        DELIVERY_CONNECTIONS,
        &config.services.pool,
    )?;
    let metrics = Arc::new(observe::WorkerMetrics::new(pool.clone()));
    let amqp = AmqpWatch::default();
    let http_state = http::HttpState {
        health_pool: db::pool(&config.services.database_url, 1, &config.services.pool)?,
        amqp: amqp.clone(),
        metrics: metrics.clone(),
    };
    tracing::info!(addr = %listener.local_addr()?, "serving /livez, /readyz and /metrics");
    let http_stop = CancellationToken::new();
    let http = tokio::spawn(http::serve(listener, http_state, http_stop.clone()));
    let refresher = imports_runtime::telemetry::metrics::otlp_enabled().then(|| {
        tokio::spawn(
            metrics
                .by_status
                .clone()
                .refresh_periodically(http_stop.clone()),
        )
    });
    let deliverer = Arc::new(webhooks::Deliverer {
        pool: delivery_pool,
        services: config.services.clone(),
        settings: config.webhooks.clone(),
        client: webhooks::client::build(
            config.webhooks.timeout,
            config.webhooks.allow_private_networks,
        )?,
        metrics: metrics.clone(),
        // A process that only delivers is ready once its delivery consumer is connected.
        amqp: match role {
            Role::DeliveriesOnly => amqp.clone(),
            Role::Everything => AmqpWatch::default(),
        },
        shutdown: shutdown.clone(),
        wake: Arc::new(tokio::sync::Notify::new()),
    });
    let result = match role {
        Role::Everything => {
            let delivering = tokio::spawn(webhooks::run(deliverer));
            let r = work(config, pool, metrics.clone(), amqp, shutdown).await;
            let _ = delivering.await;
            r
        }
        Role::DeliveriesOnly => {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                r = imports_runtime::startup::wait_for_postgres(&pool, &config.services.database_url, None) => r?,
            }
            webhooks::run(deliverer).await;
            Ok(())
        }
    };
    http_stop.cancel();
    let _ = http.await;
    if let Some(r) = refresher {
        let _ = r.await;
    }
    metrics.metrics.shutdown().await;
    result
}

async fn work(
    config: WorkerConfig,
    pool: deadpool_postgres::Pool,
    metrics: Arc<observe::WorkerMetrics>,
    amqp: AmqpWatch,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    tokio::select! {
        _ = shutdown.cancelled() => return Ok(()),
        r = imports_runtime::startup::wait_for_postgres(&pool, &config.services.database_url, None) => r?,
    }
    let (yielded, to_resume) = mpsc::unbounded_channel();
    let announcer = announce::Announcer::new(&config.services.amqp_url, &config.services.queue);
    let ctx = Arc::new(Context {
        pool,
        worker_id: Uuid::new_v4(),
        shutdown: shutdown.clone(),
        permits: Arc::new(Semaphore::new(config.concurrency)),
        tasks: TaskTracker::new(),
        config,
        metrics,
        amqp,
        waiting_deliveries: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        yielded,
        announcer,
    });
    tracing::info!(worker_id = %ctx.worker_id, "worker started");
    let consumer = tokio::spawn(consumer::consume(ctx.clone()));
    let sweeper = tokio::spawn(sweeper::sweep(ctx.clone()));
    let resumer = tokio::spawn(slots::resume_yielded(ctx.clone(), to_resume));
    shutdown.cancelled().await;
    tracing::info!("shutting down: finishing the current batches");
    let _ = consumer.await;
    let _ = sweeper.await;
    let _ = resumer.await;
    ctx.tasks.close();
    ctx.tasks.wait().await;
    ctx.announcer.close().await;
    tracing::info!("worker stopped");
    Ok(())
}
