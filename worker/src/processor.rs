//! Processes one claimed import: streams its inputs in batches and writes each batch, with
//! the import's counters, logs and cursor, in one transaction.
//!
//! A batch is therefore applied exactly once or not at all. The transaction is fenced on the
//! worker's lease and on the cursor it started from, so a worker that lost its lease (it was
//! paused, its heartbeat failed) cannot write a batch that another worker has taken over.
//! Between batches the worker reads the interrupt request and the error threshold, and stops
//! at once on shutdown, leaving the import to be resumed from its cursor.
//!
//! Fairness between organizations: an import that has run for a time slice
//! (`IMPORTS_TIME_SLICE_SECONDS`) while another organization's import waits for a slot hands
//! itself back at the batch boundary, exactly as on shutdown, and is resumed from its cursor
//! when a slot frees (the waiting import's delivery takes the slot first). So a large import
//! holds up another organization's small one by at most a slice and a batch; imports of the
//! same organization do not preempt each other.

use imports_runtime::retry::RetryPolicy;
use imports_storage::{imports, leases, logs};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use imports_common::catalogue::{resource_type, ResourceType};
use imports_common::inputs::{read_inputs, ReadStop};
use imports_common::model::Status;
use imports_common::validate::{Prepared, Preparer};
use imports_runtime::telemetry::traces::{record_error_chain, sql_span, InSpan};
use imports_storage::leases::AfterCheckpoint;
use imports_storage::leases::ClaimedImport;
use imports_storage::logs::LogEntry;
use imports_storage::logs::Severity;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn, Instrument};

use crate::statistics::Statistics;
use crate::writer::{write_batch, Hints};
use crate::Context;
use imports_runtime::stored_inputs::StoredInputs;

/// Claims after which an import that keeps failing is given up on (interrupted).
pub const MAX_ATTEMPTS: i32 = 10;

/// How a worker's run of an import ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Every input was handled.
    Completed,
    /// Stopped early: requested, past the error threshold, or unreadable inputs.
    Interrupted(String),
    /// Handed back unfinished (shutdown, lost lease, storage unreachable): another run resumes it.
    Released(String),
}

/// Why a batch could not be committed.
#[derive(Debug, thiserror::Error)]
enum BatchError {
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

/// Processes a claimed import until it completes, is interrupted or is handed back.
pub async fn run(ctx: Arc<Context>, import: ClaimedImport) -> anyhow::Result<Finish> {
    let span = tracing::info_span!(
        "import",
        import_id = %import.id,
        resource_type = %import.resource_type,
        organization_id = %import.tenant.organization_id,
        mode = import.tenant.mode.as_str(),
        attempt = import.attempts,
        resume_from = import.cursor,
        inputs_size = import.inputs_size,
    );
    async move {
        let _active = ctx.metrics.import_started();
        let finish = run_inner(&ctx, &import).await;
        crate::observe::import_ended(&ctx, &import.id, &finish).await;
        match &finish {
            Ok(f) => info!(outcome = ?f, "import run ended"),
            Err(e) => warn!("import run failed: {e:#}"),
        }
        finish
    }
    .instrument(span)
    .await
}

async fn run_inner(ctx: &Arc<Context>, import: &ClaimedImport) -> anyhow::Result<Finish> {
    if import.interrupt_requested {
        // Asked while its previous worker was gone: stop before writing anything more.
        return interrupt(ctx, import, "interrupted on request", None).await;
    }
    if import.attempts > MAX_ATTEMPTS {
        let reason = format!(
            "given up after {} attempts to process it",
            import.attempts - 1
        );
        let entry = import_error(import.cursor, "import", &reason);
        return interrupt(ctx, import, &reason, Some(entry)).await;
    }
    let Some(rt) = resource_type(&import.resource_type) else {
        let reason = format!("unknown resource type '{}'", import.resource_type);
        return interrupt(ctx, import, &reason, None).await;
    };

    let lease_lost = CancellationToken::new();
    let heartbeat = tokio::spawn(heartbeat(
        ctx.clone(),
        import.id.clone(),
        lease_lost.clone(),
    ));
    let _stop_heartbeat = AbortOnDrop(heartbeat);

    // Read and validate on a blocking thread, one batch ahead of the writes. A resumed run
    // passes the inputs already handled through the preparer again (parsed and checked, not
    // written) so that what it remembers across inputs, the CSV columns already warned about
    // and the keys already seen, is what an uninterrupted run would remember.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Prepared>>(1);
    let reader = StoredInputs::new(
        tokio::runtime::Handle::current(),
        ctx.pool.clone(),
        import.id.clone(),
    );
    let (format, delimiter, skip, batch_size) = (
        import.format,
        import.csv_delimiter,
        import.cursor as u64,
        ctx.config.batch_size,
    );
    let parent = import.parent_resource_id.clone();
    let inputs_size = import.inputs_size.max(0) as usize;
    let parser = tokio::task::spawn_blocking(move || {
        let mut preparer = Preparer::with_capacity(rt, parent.as_deref(), inputs_size);
        let mut batch = Vec::with_capacity(batch_size);
        let total = read_inputs(format, delimiter, reader, 0, |input| {
            let handled_before = input.position < skip;
            let prepared = preparer.prepare(input);
            if handled_before {
                // Nothing is sent while catching up: stop as soon as nobody listens.
                return !tx.is_closed();
            }
            batch.push(prepared);
            if batch.len() < batch_size {
                return true;
            }
            let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
            tx.blocking_send(full).is_ok()
        })?;
        if !batch.is_empty() && tx.blocking_send(batch).is_err() {
            return Err(ReadStop::Cancelled);
        }
        Ok(total)
    });

    let mut statistics = Statistics::at_start(&ctx.pool, rt.name, batch_size as u64).await;
    let mut slice_started = std::time::Instant::now();
    let mut cursor = import.cursor;
    let mut index = cursor / batch_size as i64;
    // Two batches overlap: while one commits, the next is written beside it on another
    // connection (Postgres then works on both cores). The later one commits only once the
    // earlier one has committed and passed the checks below; only batches of pure upserts
    // naming different keys overlap (see `lookup_free`).
    let mut in_flight: Option<InFlight> = None;
    let mut next_cursor = cursor;
    let hints = Arc::new(Hints::default());
    loop {
        if ctx.shutdown.is_cancelled() || lease_lost.is_cancelled() {
            // The batch in flight was allowed to commit already: let it finish first, and
            // heed what it says (an interrupt request, the error threshold).
            if let Some(flight) = in_flight.take() {
                if let Err(stop) =
                    settle(ctx, import, flight, &mut statistics, &mut slice_started).await
                {
                    if !matches!(stop, Stop::Yield) {
                        return stop.act(ctx, import).await;
                    }
                }
            }
            if lease_lost.is_cancelled() {
                return Ok(Finish::Released("the lease was lost".into()));
            }
            return release(ctx, import, "the worker is shutting down").await;
        }
        let Some(batch) = rx.recv().await else {
            if let Some(flight) = in_flight.take() {
                let settled =
                    settle(ctx, import, flight, &mut statistics, &mut slice_started).await;
                if let Err(stop) = settled {
                    return stop.act(ctx, import).await;
                }
            }
            break;
        };
        // Named while the batch was prepared (valid inputs only).
        let keys: HashSet<u64> = batch.iter().filter_map(|p| p.identity).collect();
        let independent = lookup_free(&batch);
        let must_wait = in_flight.take_if(|flight| {
            !(independent && flight.independent && flight.keys.is_disjoint(&keys))
        });
        if let Some(flight) = must_wait {
            if let Err(stop) =
                settle(ctx, import, flight, &mut statistics, &mut slice_started).await
            {
                return stop.act(ctx, import).await;
            }
        }
        let mut started = InFlight::start(
            ctx,
            import,
            rt,
            batch,
            (keys, independent),
            (next_cursor, index),
            &hints,
        );
        next_cursor += started.size as i64;
        index += 1;
        if let Some(flight) = in_flight.take() {
            if let Err(stop) =
                settle(ctx, import, flight, &mut statistics, &mut slice_started).await
            {
                started.cancel().await;
                return stop.act(ctx, import).await;
            }
        }
        started.allow();
        in_flight = Some(started);
    }
    cursor = next_cursor;

    match parser.await {
        Ok(Ok(_total)) => {
            // The status and its event in one transaction: a connection lost between the
            // two must not leave a completed import without its imports.complete event.
            let mut client = ctx.pool.get().await?;
            let tx = client.transaction().await?;
            let moved = imports::transition(
                &*tx,
                &import.id,
                Status::Completed,
                Some(ctx.worker_id),
                None,
            )
            .await?;
            tx.commit().await?;
            if moved {
                Ok(Finish::Completed)
            } else {
                Ok(Finish::Released(
                    "the lease was lost before completion".into(),
                ))
            }
        }
        Ok(Err(ReadStop::Unreadable(e))) => {
            let entry = import_error(cursor, "inputs", &e.0);
            interrupt(ctx, import, &e.0, Some(entry)).await
        }
        Ok(Err(ReadStop::Io(e))) => {
            release(
                ctx,
                import,
                &format!("the inputs could not be fetched: {e}"),
            )
            .await
        }
        Ok(Err(ReadStop::Cancelled)) => Ok(Finish::Released("reading stopped".into())),
        Err(join) => release(ctx, import, &format!("the input reader failed: {join}")).await,
    }
}

/// Whether a batch's writes depend on no lookup of the records the batch before it may still
/// be writing: no input names a record by id (checked to exist, and its key read) and none
/// lacks a required attribute (such an input may only update, so its key is looked up).
/// Such a batch is pure upserts by natural key, which Postgres orders after the uncommitted
/// writes they meet. Two batches overlap only when both are such and name different keys;
/// otherwise the later one starts once the earlier one has committed. (The same record named
/// two ways, a price's list by id in one batch and by code in the next, still meets in the
/// database: then the gate's patience below sorts it out, slowly but in order.) Inputs with
/// records given inline (children, related records) are never lookup-free.
fn lookup_free(batch: &[Prepared]) -> bool {
    batch
        .iter()
        .all(|p| p.id.is_none() && p.missing_required.is_empty() && !p.has_nested())
}

/// A batch being written by its own task, and what it needs to commit.
struct InFlight {
    handle: tokio::task::JoinHandle<Result<(AfterCheckpoint, u64), BatchError>>,
    /// Tells the task whether it may commit (`true`) or must roll back.
    allow: Option<oneshot::Sender<bool>>,
    /// The records its inputs name (see `Prepared::identity`).
    keys: HashSet<u64>,
    /// Whether it is [`lookup_free`]: only two such batches naming different keys overlap.
    independent: bool,
    size: usize,
    span: tracing::Span,
}

impl InFlight {
    /// Starts writing `batch` (inputs from `cursor` on); it commits once allowed.
    fn start(
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
    fn allow(&mut self) {
        if let Some(allow) = self.allow.take() {
            let _ = allow.send(true);
        }
    }

    /// Waits for the batch's outcome.
    async fn finish(mut self) -> Result<(AfterCheckpoint, u64), BatchError> {
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
    async fn cancel(mut self) {
        if let Some(allow) = self.allow.take() {
            let _ = allow.send(false);
        }
        let _ = self.handle.await;
    }
}

/// Why the import stops after a batch.
enum Stop {
    LeaseLost,
    Failed(String),
    Interrupt(String),
    Yield,
}

impl Stop {
    async fn act(self, ctx: &Arc<Context>, import: &ClaimedImport) -> anyhow::Result<Finish> {
        match self {
            Stop::LeaseLost => Ok(Finish::Released("the lease was lost".into())),
            Stop::Failed(why) => release(ctx, import, &why).await,
            Stop::Interrupt(reason) => interrupt(ctx, import, &reason, None).await,
            Stop::Yield => yield_slot(ctx, import).await,
        }
    }
}

/// Waits for a batch to commit, then checks what may stop the import: an interrupt request,
/// the error threshold, another organization waiting past the time slice.
async fn settle(
    ctx: &Arc<Context>,
    import: &ClaimedImport,
    flight: InFlight,
    statistics: &mut Statistics,
    slice_started: &mut std::time::Instant,
) -> Result<(), Stop> {
    let (after, inserted) = match flight.finish().await {
        Ok(done) => done,
        Err(BatchError::LeaseLost) => return Err(Stop::LeaseLost),
        Err(e) => return Err(Stop::Failed(format!("the batch could not be written: {e}"))),
    };
    statistics.after_batch(&ctx.pool, inserted).await;
    if after.interrupt_requested {
        return Err(Stop::Interrupt("interrupted on request".into()));
    }
    if !import.skip_errors && after.errors_count * 10 > import.inputs_size {
        return Err(Stop::Interrupt(format!(
            "{} errors exceed 10% of {} inputs (create the import with skip_errors to go on)",
            after.errors_count, import.inputs_size
        )));
    }
    let slice = ctx.config.time_slice;
    if !slice.is_zero() && slice_started.elapsed() >= slice {
        *slice_started = std::time::Instant::now();
        if after.cursor < import.inputs_size && others_waiting(ctx, import).await {
            return Err(Stop::Yield);
        }
    }
    Ok(())
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
    // Every statement of a batch looks records up by id or by a unique key: index scans are
    // always right, sequential scans never (the statistics that would say so are kept fresh
    // by `Statistics`). JIT is off because these short statements never repay its compile time.
    tx.batch_execute("SET LOCAL enable_seqscan = off; SET LOCAL jit = off")
        .await?;
    // A dry run writes the batch like any other, constraints and all, then takes the writes
    // back; its counts, logs and checkpoint are kept.
    if import.dry_run {
        tx.batch_execute("SAVEPOINT dry_run").await?;
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
        tx.batch_execute("ROLLBACK TO SAVEPOINT dry_run").await?;
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
        &*tx,
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
    // reads them (a re-import of a million identical records would store a million).
    if after.warnings_count - outcome.totals.warnings >= logs::LOG_ENTRIES_SHOWN {
        outcome.entries.retain(|e| e.severity == Severity::Error);
    }
    logs::insert_log_entries(&*tx, &import.id, &outcome.entries).await?;
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

/// An errors_log entry about the import as a whole (under "unknown"), for the reasons it
/// stops that are not one input's fault.
fn import_error(position: i64, attribute: &str, message: &str) -> LogEntry {
    LogEntry {
        position,
        severity: Severity::Error,
        key: imports_common::validate::UNKNOWN_KEY.into(),
        attribute: Some(attribute.into()),
        message: message.into(),
    }
}

/// Ends the import as interrupted (fenced on this worker's lease), with an optional log entry.
async fn interrupt(
    ctx: &Context,
    import: &ClaimedImport,
    reason: &str,
    entry: Option<LogEntry>,
) -> anyhow::Result<Finish> {
    let mut client = ctx.pool.get().await?;
    let tx = client.transaction().await?;
    if let Some(entry) = entry {
        logs::insert_log_entries(&*tx, &import.id, &[entry]).await?;
    }
    let moved = imports::transition(
        &*tx,
        &import.id,
        Status::Interrupted,
        Some(ctx.worker_id),
        Some(reason),
    )
    .await?;
    tx.commit().await?;
    if moved {
        Ok(Finish::Interrupted(reason.to_owned()))
    } else {
        Ok(Finish::Released(
            "the lease was lost before the interruption".into(),
        ))
    }
}

/// Hands the import back so that any worker may resume it from its cursor.
async fn release(ctx: &Context, import: &ClaimedImport, why: &str) -> anyhow::Result<Finish> {
    match ctx.pool.get().await {
        Ok(client) => {
            if let Err(e) = leases::release_lease(&**client, &import.id, ctx.worker_id).await {
                warn!("could not release the lease (it will expire): {e}");
            }
        }
        Err(e) => warn!("could not release the lease (it will expire): {e}"),
    }
    Ok(Finish::Released(why.to_owned()))
}

/// Whether another organization's import waits for a slot of this worker: a delivery waits
/// here, and an import of another organization is pending (a failed check says no).
async fn others_waiting(ctx: &Context, import: &ClaimedImport) -> bool {
    if ctx
        .waiting_deliveries
        .load(std::sync::atomic::Ordering::SeqCst)
        == 0
    {
        return false;
    }
    let client = match ctx.pool.get().await {
        Ok(client) => client,
        Err(_) => return false,
    };
    leases::others_waiting(&**client, &import.tenant.organization_id)
        .await
        .unwrap_or(false)
}

/// Hands the import back for another organization's, to be resumed from its cursor.
async fn yield_slot(ctx: &Arc<Context>, import: &ClaimedImport) -> anyhow::Result<Finish> {
    let client = ctx.pool.get().await?;
    leases::yield_lease(&**client, &import.id, ctx.worker_id).await?;
    info!("yielding the slot to another organization's import");
    // Queue for the next free slot: the waiting import's delivery, queued before, takes the
    // slot this import frees; the one after that resumes this import (unless another worker
    // took it over meanwhile). Imports thus take turns, a time slice each.
    let (ctx2, id) = (ctx.clone(), import.id.clone());
    ctx.tasks.spawn(async move {
        let ctx = ctx2;
        let permit = tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            permit = ctx.permits.clone().acquire_owned() => permit,
        };
        if let Ok(permit) = permit {
            if let Err(e) = crate::sweeper::take_over(ctx, id, permit).await {
                warn!("could not resume the import that yielded (the sweeper will): {e:#}");
            }
        }
    });
    Ok(Finish::Released(
        "yielded the slot to another organization's import".into(),
    ))
}

/// Renews the lease every third of its length; cancels `lost` when the worker no longer holds it.
async fn heartbeat(ctx: Arc<Context>, import_id: String, lost: CancellationToken) {
    let every = ctx.config.lease / 3;
    loop {
        tokio::time::sleep(every).await;
        let renewed = match ctx.pool.get().await {
            Ok(client) => {
                leases::renew_lease(&**client, &import_id, ctx.worker_id, ctx.config.lease).await
            }
            Err(e) => {
                warn!(%import_id, "heartbeat skipped: {e}");
                continue;
            }
        };
        match renewed {
            Ok(true) => {}
            Ok(false) => {
                warn!(%import_id, "lease lost: another worker may have taken the import over");
                lost.cancel();
                return;
            }
            Err(e) => warn!(%import_id, "heartbeat failed: {e}"),
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
