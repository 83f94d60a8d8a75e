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

use imports_storage::{imports, leases, logs};
use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use imports_common::catalogue::{resource_type, ResourceType};
use imports_common::inputs::{read_inputs, ReadStop};
use imports_common::model::Status;
use imports_common::validate::{Prepared, Preparer};
use imports_storage::leases::ClaimedImport;
use imports_storage::logs::LogEntry;
use imports_storage::logs::Severity;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn, Instrument};

use crate::batch::{lookup_free, BatchError, InFlight};
use crate::outcome::Finish;
use crate::statistics::Statistics;
use crate::writer::Hints;
use crate::Context;
use imports_runtime::stored_inputs::StoredInputs;

/// Failed claims after which an import that keeps failing is given up on (interrupted): runs
/// that failed or vanished (a crash); graceful hand-backs, yields and lost leases do not count.
pub const MAX_ATTEMPTS: i32 = 10;

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

/// Checks the import may start, then writes its batches beside a heartbeat and a reader.
async fn run_inner(ctx: &Arc<Context>, import: &ClaimedImport) -> anyhow::Result<Finish> {
    let rt = match startable(import) {
        Ok(rt) => rt,
        Err((reason, entry)) => return interrupt(ctx, import, &reason, entry).await,
    };
    let lease_lost = CancellationToken::new();
    let heartbeat = tokio::spawn(heartbeat(
        ctx.clone(),
        import.id.clone(),
        lease_lost.clone(),
    ));
    let _stop_heartbeat = AbortOnDrop(heartbeat);
    let (batches, reader) = read_ahead(ctx, import, rt);
    let cursor = match write_batches(ctx, import, rt, batches, &lease_lost).await {
        ControlFlow::Continue(cursor) => cursor,
        ControlFlow::Break(finish) => return finish,
    };
    finish_reading(ctx, import, reader, cursor).await
}

/// The import's resource type, or why the run must stop before writing anything (with the
/// log entry to add, if any).
fn startable(import: &ClaimedImport) -> Result<&'static ResourceType, (String, Option<LogEntry>)> {
    if import.interrupt_requested {
        // Asked while its previous worker was gone: stop before writing anything more.
        return Err(("interrupted on request".into(), None));
    }
    if import.attempts > MAX_ATTEMPTS {
        let reason = format!(
            "given up after {} attempts to process it",
            import.attempts - 1
        );
        let entry = import_error(import.cursor, "import", &reason);
        return Err((reason, Some(entry)));
    }
    resource_type(&import.resource_type).ok_or_else(|| {
        let reason = format!("unknown resource type '{}'", import.resource_type);
        (reason, None)
    })
}

/// Reads and validates the inputs on a blocking thread, one batch ahead of the writes,
/// sending them in batches of `IMPORTS_BATCH_SIZE` inputs, or fewer when they reach
/// `IMPORTS_BATCH_MAX_RECORDS` records with their children. A resumed run passes the inputs
/// already handled through the preparer again (parsed and checked, not written) so that what
/// it remembers across inputs, the CSV columns already warned about and the keys already
/// seen, is what an uninterrupted run would remember.
fn read_ahead(
    ctx: &Context,
    import: &ClaimedImport,
    rt: &'static ResourceType,
) -> (
    mpsc::Receiver<Vec<Prepared>>,
    JoinHandle<Result<u64, ReadStop>>,
) {
    let (tx, rx) = mpsc::channel::<Vec<Prepared>>(1);
    let reader = StoredInputs::new(
        tokio::runtime::Handle::current(),
        ctx.pool.clone(),
        import.id.clone(),
    );
    let (format, delimiter, skip, batch_size, max_records) = (
        import.format,
        import.csv_delimiter,
        import.cursor as u64,
        ctx.config.batch_size,
        ctx.config.batch_max_records,
    );
    let parent = import.parent_resource_id.clone();
    let inputs_size = import.inputs_size.max(0) as usize;
    let parser = tokio::task::spawn_blocking(move || {
        let mut preparer = Preparer::with_capacity(rt, parent.as_deref(), inputs_size);
        let mut batch = Vec::with_capacity(batch_size);
        let mut records = 0;
        let total = read_inputs(format, delimiter, reader, 0, |input| {
            let handled_before = input.position < skip;
            let prepared = preparer.prepare(input);
            if handled_before {
                // Nothing is sent while catching up: stop as soon as nobody listens.
                return !tx.is_closed();
            }
            // A batch closes at `batch_size` inputs, or early, before the input that would
            // take its records (inputs and what they give inline) past `max_records`. An input
            // alone may pass it: its records are written together or not at all.
            let its_records = records_of(&prepared);
            if !batch.is_empty() && records + its_records > max_records {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                if tx.blocking_send(full).is_err() {
                    return false;
                }
                records = 0;
            }
            records += its_records;
            batch.push(prepared);
            if batch.len() < batch_size {
                return true;
            }
            records = 0;
            let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
            tx.blocking_send(full).is_ok()
        })?;
        if !batch.is_empty() && tx.blocking_send(batch).is_err() {
            return Err(ReadStop::Cancelled);
        }
        Ok(total)
    });
    (rx, parser)
}

/// The records an input writes: its own, and those it gives inline (children, related
/// records, theirs in turn).
fn records_of(p: &Prepared) -> usize {
    1 + p.children.iter().flatten().map(records_of).sum::<usize>()
        + p.related.iter().map(|(_, r)| records_of(r)).sum::<usize>()
}

/// Writes the batches as they arrive, two at a time, until the inputs are all read (their
/// cursor then), or the import stops (how its run ended then).
async fn write_batches(
    ctx: &Arc<Context>,
    import: &ClaimedImport,
    rt: &'static ResourceType,
    mut rx: mpsc::Receiver<Vec<Prepared>>,
    lease_lost: &CancellationToken,
) -> ControlFlow<anyhow::Result<Finish>, i64> {
    let batch_size = ctx.config.batch_size;
    let mut statistics = Statistics::at_start(&ctx.pool, rt.name, batch_size as u64).await;
    let mut slice_started = std::time::Instant::now();
    let cursor = import.cursor;
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
                        return ControlFlow::Break(stop.act(ctx, import).await);
                    }
                }
            }
            if lease_lost.is_cancelled() {
                return ControlFlow::Break(Ok(lost(ctx, import, "the lease was lost").await));
            }
            return ControlFlow::Break(hand_back(ctx, import).await);
        }
        let Some(batch) = rx.recv().await else {
            if let Some(flight) = in_flight.take() {
                let settled =
                    settle(ctx, import, flight, &mut statistics, &mut slice_started).await;
                if let Err(stop) = settled {
                    return ControlFlow::Break(stop.act(ctx, import).await);
                }
            }
            break;
        };
        // Named while the batch was prepared (valid inputs only).
        let keys: HashSet<u64> = batch.iter().filter_map(|p| p.identity).collect();
        let independent = lookup_free(rt, &batch);
        let must_wait = in_flight.take_if(|flight| {
            !(independent && flight.independent && flight.keys.is_disjoint(&keys))
        });
        if let Some(flight) = must_wait {
            if let Err(stop) =
                settle(ctx, import, flight, &mut statistics, &mut slice_started).await
            {
                return ControlFlow::Break(stop.act(ctx, import).await);
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
                return ControlFlow::Break(stop.act(ctx, import).await);
            }
        }
        started.allow();
        in_flight = Some(started);
    }
    ControlFlow::Continue(next_cursor)
}

/// Ends the run once every batch is written: completed if the inputs were all read,
/// interrupted if they are unreadable, handed back if they could not be fetched.
async fn finish_reading(
    ctx: &Context,
    import: &ClaimedImport,
    reader: JoinHandle<Result<u64, ReadStop>>,
    cursor: i64,
) -> anyhow::Result<Finish> {
    match reader.await {
        Ok(Ok(_total)) => {
            // The status and its event in one transaction: a connection lost between the
            // two must not leave a completed import without its imports.complete event.
            let mut client = ctx.pool.get().await?;
            let tx = client.transaction().await?;
            let moved = imports::transition(
                &tx,
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
                Ok(lost(ctx, import, "the lease was lost before completion").await)
            }
        }
        Ok(Err(ReadStop::Unreadable(e))) => {
            let entry = import_error(cursor, "inputs", &e.0);
            interrupt(ctx, import, &e.0, Some(entry)).await
        }
        Ok(Err(ReadStop::InputTooLarge(position))) => {
            let why = imports_common::inputs::input_too_large(position).0;
            let entry = import_error(cursor, "inputs", &why);
            interrupt(ctx, import, &why, Some(entry)).await
        }
        Ok(Err(ReadStop::Io(e))) => {
            release_failed(
                ctx,
                import,
                &format!("the inputs could not be fetched: {e}"),
            )
            .await
        }
        Ok(Err(ReadStop::Cancelled)) => Ok(Finish::Released("reading stopped".into())),
        Err(join) => {
            let why = format!("the input reader failed: {join}");
            release_failed(ctx, import, &why).await
        }
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
            Stop::LeaseLost => Ok(lost(ctx, import, "the lease was lost").await),
            Stop::Failed(why) => release_failed(ctx, import, &why).await,
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
        logs::insert_log_entries(&tx, &import.id, &[entry]).await?;
    }
    let moved = imports::transition(
        &tx,
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
        Ok(lost(ctx, import, "the lease was lost before the interruption").await)
    }
}

/// Hands the import back on shutdown, its claim not counted as an attempt, and announces it
/// again so that another worker resumes it from its cursor at once (a sweep does, if the
/// announcement fails).
async fn hand_back(ctx: &Context, import: &ClaimedImport) -> anyhow::Result<Finish> {
    let released = match ctx.pool.get().await {
        Ok(client) => leases::release_lease(&*client, &import.id, ctx.worker_id).await,
        Err(e) => {
            warn!("could not release the lease (it will expire): {e}");
            Ok(false)
        }
    };
    match released {
        Ok(true) => {
            let _ = ctx.announcer.announce(&import.id).await;
        }
        Ok(false) => return Ok(lost(ctx, import, "the lease was lost before the hand-back").await),
        Err(e) => warn!("could not release the lease (it will expire): {e}"),
    }
    Ok(Finish::Released("the worker is shutting down".into()))
}

/// Hands the import back after its run failed: the claim counts as an attempt, and the import
/// is not announced (a sweep resumes it, in half a lease, by when a passing fault may be gone).
async fn release_failed(
    ctx: &Context,
    import: &ClaimedImport,
    why: &str,
) -> anyhow::Result<Finish> {
    match ctx.pool.get().await {
        Ok(client) => {
            if let Err(e) = leases::release_failed(&*client, &import.id, ctx.worker_id).await {
                warn!("could not release the lease (it will expire): {e}");
            }
        }
        Err(e) => warn!("could not release the lease (it will expire): {e}"),
    }
    Ok(Finish::Released(why.to_owned()))
}

/// Ends a run whose lease was lost: not a failure of the import, so its claim is taken off
/// the attempts (whoever holds the import now goes on).
async fn lost(ctx: &Context, import: &ClaimedImport, why: &str) -> Finish {
    let forgiven = match ctx.pool.get().await {
        Ok(client) => leases::forgive_attempt(&*client, &import.id)
            .await
            .map_err(anyhow::Error::from),
        Err(e) => Err(e.into()),
    };
    if let Err(e) = forgiven {
        warn!("could not take back the attempt of a lost lease: {e:#}");
    }
    Finish::Released(why.to_owned())
}

/// Whether another tenant's import (another organization, or another mode) waits for a slot
/// of this worker: a delivery waits here, and such an import is pending (a failed check says
/// no).
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
    leases::others_waiting(&*client, &import.tenant)
        .await
        .unwrap_or(false)
}

/// Hands the import back for another organization's, to be resumed from its cursor.
async fn yield_slot(ctx: &Context, import: &ClaimedImport) -> anyhow::Result<Finish> {
    let client = ctx.pool.get().await?;
    if !leases::yield_lease(&*client, &import.id, ctx.worker_id).await? {
        return Ok(lost(ctx, import, "the lease was lost before the yield").await);
    }
    drop(client);
    info!("yielding the slot to another organization's import");
    // Any worker with a free slot may resume it at once; this one will too, when it can.
    let _ = ctx.announcer.announce(&import.id).await;
    // Queued for the next free slot, after the waiting import's delivery (see `slots`). The
    // channel is closed only on shutdown, when the import is resumed from its cursor anyway.
    let _ = ctx.yielded.send(import.id.clone());
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
                leases::renew_lease(&*client, &import_id, ctx.worker_id, ctx.config.lease).await
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
