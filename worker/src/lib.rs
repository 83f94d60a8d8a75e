//! The imports worker: takes import ids from RabbitMQ, claims each import in Postgres, and
//! writes its inputs in batches, each batch exactly once.
//!
//! - [`consumer`]: RabbitMQ deliveries -> claims, with reconnects.
//! - [`sweeper`]: takes over imports whose worker vanished, or whose announcement was lost.
//! - [`processor`]: the life of one claimed import, batch by batch, with heartbeat and fences.
//! - [`writer`]: the set-based SQL that writes one batch.
//! - [`statistics`]: keeps the planner's statistics fresh while an import grows a table.
//!
//! Shutdown (SIGTERM/SIGINT): consumption stops, each running import finishes its current
//! batch, hands its lease back and is resumed from its cursor by any worker.

pub mod consumer;
pub mod processor;
pub mod statistics;
pub mod sweeper;
pub mod writer;

use std::sync::Arc;

use deadpool_postgres::Pool;
use imports_common::config::WorkerConfig;
use imports_common::db;
use tokio::sync::Semaphore;
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
}

/// Runs a worker until `shutdown` is cancelled, then waits for its imports to reach a batch
/// boundary and hand themselves back.
pub async fn run(config: WorkerConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    // Per import: a writer, a reader of stored inputs and a heartbeat; plus consumer and sweeper.
    let pool = db::pool(&config.services.database_url, config.concurrency * 3 + 2)?;
    tokio::select! {
        _ = shutdown.cancelled() => return Ok(()),
        r = db::wait_for(&pool, &config.services.database_url, None) => r?,
    }
    let ctx = Arc::new(Context {
        pool,
        worker_id: Uuid::new_v4(),
        shutdown: shutdown.clone(),
        permits: Arc::new(Semaphore::new(config.concurrency)),
        tasks: TaskTracker::new(),
        config,
    });
    tracing::info!(worker_id = %ctx.worker_id, "worker started");
    let consumer = tokio::spawn(consumer::consume(ctx.clone()));
    let sweeper = tokio::spawn(sweeper::sweep(ctx.clone()));
    shutdown.cancelled().await;
    tracing::info!("shutting down: finishing the current batches");
    let _ = consumer.await;
    let _ = sweeper.await;
    ctx.tasks.close();
    ctx.tasks.wait().await;
    tracing::info!("worker stopped");
    Ok(())
}
