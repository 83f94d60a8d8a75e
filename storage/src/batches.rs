//! The transaction that writes one batch: the planner settings its statements want, and
//! the savepoint under which a dry run's writes are taken back.

use crate::client::Db;

/// Sets up a batch's transaction. Every statement of a batch looks records up by id or by a
/// unique key: index scans are always right, sequential scans never (the statistics that
/// would say so are kept fresh beside the batches). JIT is off because these short
/// statements never repay its compile time.
pub async fn tune_for_batch<C: Db>(tx: &C) -> Result<(), tokio_postgres::Error> {
    tx.batch_execute("SET LOCAL enable_seqscan = off; SET LOCAL jit = off")
        .await
}

/// Starts a dry run's writes: written like any other, constraints and all, then taken back
/// by [`undo_dry_run`].
pub async fn begin_dry_run<C: Db>(tx: &C) -> Result<(), tokio_postgres::Error> {
    tx.batch_execute("SAVEPOINT dry_run").await
}

/// Takes back what a dry run wrote since [`begin_dry_run`]; the rest of the transaction
/// (counts, logs, checkpoint) is kept.
pub async fn undo_dry_run<C: Db>(tx: &C) -> Result<(), tokio_postgres::Error> {
    tx.batch_execute("ROLLBACK TO SAVEPOINT dry_run").await
}
