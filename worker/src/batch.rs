//! One batch's cycle: written by its own task on its own connection, beside the batch before
//! it, then committed with its checkpoint once that one has committed (or rolled back if it
//! stopped the import), retrying transient failures.

use imports_runtime::retry::RetryPolicy;
use imports_storage::{batches, leases, logs};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use imports_common::catalogue::ResourceType;
use imports_common::validate::Prepared;
use imports_runtime::telemetry::traces::{record_error_chain, sql_span, InSpan};
use imports_storage::leases::AfterCheckpoint;
use imports_storage::leases::ClaimedImport;
use imports_storage::logs::{LogEntry, Severity};
use tokio::sync::oneshot;
use tracing::{warn, Instrument};

use crate::writer::{write_batch, Hints};
use crate::Context;

/// Why a batch could not be committed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BatchError {
    #[error("the lease on the import was lost")]
    LeaseLost,
    #[error("the batch before it stopped the import")]
    Cancelled,
    #[error("written again after waiting for the batch before it")]
    Redo,
    #[error("the batch task failed: {0}")]
    Task(String),
    #[error(transparent)]
    Db(#[from] tokio_postgres::Error),
    #[error(transparent)]
    Pool(#[from] deadpool_postgres::PoolError),
}

/// Whether a batch's writes depend on no lookup of the records the batch before it may still
/// be writing: no input names a record by id (checked to exist, and its key read) and none
/// lacks a required attribute (such an input may only update, so its key is looked up).
/// Such a batch is pure upserts by natural key, which Postgres orders after the uncommitted
/// writes they meet. Two batches overlap only when both are such and name different keys;
/// otherwise the later one starts once the earlier one has committed. (The same record named
/// two ways, a price's list by id in one batch and by code in the next, still meets in the
/// database: then the gate's patience below sorts it out, slowly but in order.) Inputs with
/// records given inline (children, related records) are never lookup-free, nor batches whose
/// writes read what is stored: a parent's records counted against its limit, or a key to
/// generate (an input without an id naming no record), checked against the keys taken.
pub(crate) fn lookup_free(rt: &ResourceType, batch: &[Prepared]) -> bool {
    rt.max_per_parent.is_none()
        && batch.iter().all(|p| {
            p.id.is_none()
                && p.missing_required.is_empty()
                && !p.has_nested()
                && (rt.generated_key.is_none() || p.identity.is_some() || !p.is_valid())
        })
}

/// Keeps every error entry and the first `room` warning entries (in input order).
fn cap_warnings(entries: &mut Vec<LogEntry>, room: i64) {
    let mut room = room.max(0);
    entries.retain(|e| {
        if e.severity == Severity::Error {
            return true;
        }
        room -= 1;
        room >= 0
    });
}

/// A batch being written by its own task, and what it needs to commit.
pub(crate) struct InFlight {
    handle: tokio::task::JoinHandle<Result<(AfterCheckpoint, u64), BatchError>>,
    /// Tells the task whether it may commit (`true`) or must roll back.
    allow: Option<oneshot::Sender<bool>>,
    /// The records its inputs name (see `Prepared::identity`).
    pub(crate) keys: HashSet<u64>,
    /// Whether it is [`lookup_free`]: only two such batches naming different keys overlap.
    pub(crate) independent: bool,
    /// How many inputs it holds.
    pub(crate) size: usize,
    span: tracing::Span,
}

impl InFlight {
    /// Starts writing `batch` (inputs from `cursor` on); it commits once allowed.
    pub(crate) fn start(
        ctx: &Arc<Context>,
        import: &ClaimedImport,
        rt: &'static ResourceType,
        mut batch: Vec<Prepared>,
        (keys, independent): (HashSet<u64>, bool),
        (cursor, index): (i64, i64),
        hints: &Arc<Hints>,
    ) -> InFlight {
        let span = tracing::info_span!(
            "batch",
            import_id = %import.id,
            resource_type = %import.resource_type,
            organization_id = %import.tenant.organization_id,
            mode = import.tenant.mode.as_str(),
            index,
            first_position = cursor,
            size = batch.len(),
            processed = tracing::field::Empty,
            errors = tracing::field::Empty,
            warnings = tracing::field::Empty,
        );
        let (allow, permit) = oneshot::channel();
        let size = batch.len();
        let (ctx, import, hints) = (ctx.clone(), import.clone(), hints.clone());
        let handle = tokio::spawn(
            async move {
                let mut gate = Gate::Waiting(permit);
                let at = (cursor, &*hints);
                apply_with_retry(&ctx, &import, rt, &mut batch, at, &mut gate).await
            }
            .instrument(span.clone()),
        );
        InFlight {
            handle,
            allow: Some(allow),
            keys,
            independent,
            size,
            span,
        }
    }

    /// Lets the batch commit (the one before it has).
    pub(crate) fn allow(&mut self) {
        if let Some(allow) = self.allow.take() {
            let _ = allow.send(true);
        }
    }

    /// Waits for the batch's outcome.
    pub(crate) async fn finish(mut self) -> Result<(AfterCheckpoint, u64), BatchError> {
        self.allow();
        let result = match self.handle.await {
            Ok(result) => result,
            Err(join) => Err(BatchError::Task(join.to_string())),
        };
        if let Err(e) = &result {
            record_error_chain(&self.span, e);
        }
        result
    }

    /// Makes the batch roll back (the one before it stopped the import) and waits for it.
    pub(crate) async fn cancel(mut self) {
        if let Some(allow) = self.allow.take() {
            let _ = allow.send(false);
        }
        let _ = self.handle.await;
    }
}

/// When a written batch may commit.
enum Gate {
    /// Once the batch before it has committed: `true` then, `false` if it stopped the import.
    Waiting(oneshot::Receiver<bool>),
    /// Now.
    Open,
    /// Never: the batch before it stopped the import.
    Closed,
}

/// How long a written batch waits for the one before it while holding its transaction open.
/// Past that it lets go and writes again once allowed: the batch before may be waiting for a
/// record this one holds (the same record named by id in one and by key in the other).
const GATE_PATIENCE: Duration = Duration::from_secs(2);

/// Applies one batch, retrying transient database failures with backoff. The batch's own
/// validation errors are kept; what the write adds is redone on each attempt.
async fn apply_with_retry(
    ctx: &Context,
    import: &ClaimedImport,
    rt: &'static ResourceType,
    batch: &mut [Prepared],
    (cursor, hints): (i64, &Hints),
    gate: &mut Gate,
) -> Result<(AfterCheckpoint, u64), BatchError> {
    // What validation said; the write adds to it, again on each attempt.
    let validation: Vec<(usize, usize)> = batch
        .iter()
        .map(|p| (p.errors.len(), p.warnings.len()))
        .collect();
    let mut backoff = RetryPolicy::BATCH.start();
    loop {
        for (p, (errors, warnings)) in batch.iter_mut().zip(&validation) {
            p.errors.truncate(*errors);
            p.warnings.truncate(*warnings);
        }
        match apply(ctx, import, rt, batch, (cursor, hints), gate).await {
            Ok(after) => return Ok(after),
            Err(BatchError::LeaseLost) => return Err(BatchError::LeaseLost),
            Err(BatchError::Cancelled) => return Err(BatchError::Cancelled),
            Err(BatchError::Redo) => continue,
            Err(e) if ctx.shutdown.is_cancelled() => return Err(e),
            Err(e) => match backoff.next_delay() {
                Some(delay) => {
                    warn!(
                        attempt = backoff.failures(),
                        "batch failed, retrying in {delay:?}: {e}"
                    );
                    tokio::time::sleep(delay).await;
                }
                None => return Err(e),
            },
        }
    }
}

/// Writes one batch and its checkpoint in one transaction.
async fn apply(
    ctx: &Context,
    import: &ClaimedImport,
    rt: &'static ResourceType,
    batch: &mut [Prepared],
    (cursor, hints): (i64, &Hints),
    gate: &mut Gate,
) -> Result<(AfterCheckpoint, u64), BatchError> {
    if matches!(gate, Gate::Closed) {
        return Err(BatchError::Cancelled);
    }
    let started = std::time::Instant::now();
    let mut client = ctx.pool.get().await?;
    let tx = client.transaction().await?;
    // Index scans only, no JIT (see `batches::tune_for_batch`); the statistics are kept
    // fresh by `Statistics`.
    batches::tune_for_batch(&tx).await?;
    // A dry run writes the batch like any other, constraints and all, then takes the writes
    // back; its counts, logs and checkpoint are kept.
    if import.dry_run {
        batches::begin_dry_run(&tx).await?;
    }
    let mut outcome = write_batch(
        &tx,
        rt,
        &import.tenant,
        import.parent_resource_id.as_deref(),
        batch,
        hints,
    )
    .await?;
    if import.dry_run {
        batches::undo_dry_run(&tx).await?;
        outcome.inserted = 0;
    }
    if let Gate::Waiting(permit) = gate {
        let allowed = match tokio::time::timeout(GATE_PATIENCE, &mut *permit).await {
            Ok(allowed) => allowed.unwrap_or(false),
            Err(_) => {
                // Let go of the transaction and the connection while waiting.
                let allowed = {
                    let rolled_back = tx.rollback().await;
                    drop(client);
                    let allowed = permit.await.unwrap_or(false);
                    *gate = if allowed { Gate::Open } else { Gate::Closed };
                    rolled_back?;
                    allowed
                };
                return Err(if allowed {
                    BatchError::Redo
                } else {
                    BatchError::Cancelled
                });
            }
        };
        if !allowed {
            *gate = Gate::Closed;
            tx.rollback().await?;
            return Err(BatchError::Cancelled);
        }
        *gate = Gate::Open;
    }
    // The fence first: if this worker no longer holds the import (or it was deleted),
    // nothing of the batch is kept.
    let after = leases::checkpoint(
        &tx,
        &import.id,
        ctx.worker_id,
        cursor,
        outcome.totals,
        ctx.config.lease,
    )
    .in_span(sql_span("checkpoint", "imports"))
    .await?;
    let Some(after) = after else {
        tx.rollback().await?;
        return Err(BatchError::LeaseLost);
    };
    // Warnings past the first LOG_ENTRIES_SHOWN of the import are counted, not stored: no one
    // reads them (a re-import of a million identical records would store a million). The
    // batches before this one committed first, so this one stores what room they left.
    let before = after.warnings_count - outcome.totals.warnings;
    cap_warnings(&mut outcome.entries, logs::LOG_ENTRIES_SHOWN - before);
    logs::insert_log_entries(&tx, &import.id, &outcome.entries).await?;
    tx.commit().in_span(sql_span("commit", rt.name)).await?;
    ctx.metrics
        .batch_committed(rt.name, &outcome.totals, started.elapsed());
    let span = tracing::Span::current();
    span.record("processed", outcome.totals.processed);
    span.record("errors", outcome.totals.errors);
    span.record("warnings", outcome.totals.warnings);
    tracing::debug!("batch committed");
    Ok((after, outcome.inserted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(severity: Severity, position: i64) -> LogEntry {
        LogEntry {
            position,
            severity,
            key: "k".into(),
            attribute: None,
            message: "m".into(),
        }
    }

    #[test]
    fn warnings_are_kept_up_to_the_room_left_and_errors_always() {
        let all: Vec<LogEntry> = (0..6)
            .map(|i| entry([Severity::Warning, Severity::Error][i as usize % 2], i))
            .collect();
        for (room, kept) in [
            (-5, vec![1, 3, 5]),
            (0, vec![1, 3, 5]),
            (2, vec![0, 1, 2, 3, 5]),
        ] {
            let mut entries = all.clone();
            cap_warnings(&mut entries, room);
            let positions: Vec<i64> = entries.iter().map(|e| e.position).collect();
            assert_eq!(positions, kept, "room {room}");
        }
    }
}
