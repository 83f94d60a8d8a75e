//! Which worker holds an import: claiming it, renewing, yielding and releasing the lease,
//! and the per-batch checkpoint that is fenced by the lease and the cursor.
//!
//! The worker's batch writes live in the worker crate; what they record on the import
//! (counters, cursor) goes through [`checkpoint`] here, in the batch's transaction.

use std::time::Duration;

use crate::client::Db;
use uuid::Uuid;

use imports_common::inputs::DEFAULT_CSV_DELIMITER;
use imports_common::model::{Format, Status, Tenant};

use crate::imports::{delimiter_from_row, transition};
use crate::lifecycle::record_event;
use crate::rows::parsed;

/// What a worker learns when it tries to claim an import.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The import is now this worker's, until the lease expires without a heartbeat.
    Claimed(ClaimedImport),
    /// It was pending with an interruption requested: it is now interrupted, never started.
    InterruptedBeforeStart,
    /// Nothing to do: why (unknown, final, or held by a live worker).
    Skip(&'static str),
}

/// The part of an import a worker needs to process it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedImport {
    /// The import's id.
    pub id: String,
    /// Its owner.
    pub tenant: Tenant,
    /// A catalogue name.
    pub resource_type: String,
    /// The inputs' encoding.
    pub format: Format,
    /// The field delimiter of CSV inputs.
    pub csv_delimiter: u8,
    /// The parent of every input.
    pub parent_resource_id: Option<String>,
    /// The number of inputs.
    pub inputs_size: i64,
    /// Inputs handled by committed batches: where to resume.
    pub cursor: i64,
    /// Errors so far (for the threshold).
    pub errors_count: i64,
    /// Whether the error threshold is off.
    pub skip_errors: bool,
    /// Claims of it whose run failed or vanished (a crashed worker), this one included: a
    /// graceful hand-back, a yield or a lost lease gives its claim back (see [`release_lease`]).
    pub attempts: i32,
    /// Whether an interruption was asked for while no worker held it.
    pub interrupt_requested: bool,
    /// Whether this claim started it (set `started_at`): the first claim, not a resumption.
    pub first_start: bool,
    /// Process in full but write nothing to the resource tables.
    pub dry_run: bool,
}

/// Claims an import for `worker` for `lease`: a pending one, or an in-progress one whose
/// previous worker stopped renewing its lease. The claim and the `imports.start` event (first
/// claim only) are one transaction.
pub async fn claim(
    client: &mut tokio_postgres::Client,
    id: &str,
    worker: Uuid,
    lease: Duration,
) -> Result<Claim, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    let lease_secs = lease.as_secs_f64();
    let row = tx
        .query_opt(
            "UPDATE imports SET status = 'in_progress',
                    started_at = COALESCE(started_at, now()),
                    lease_owner = $2,
                    lease_expires_at = now() + make_interval(secs => $3),
                    attempts = attempts + 1,
                    updated_at = now()
             WHERE id = $1
               AND ((status = 'pending' AND NOT interrupt_requested)
                    OR (status = 'in_progress' AND lease_expires_at < now()))
             RETURNING id, organization_id, mode, resource_type, format, parent_resource_id,
                       inputs_size, cursor, errors_count, skip_errors, attempts, interrupt_requested,
                       csv_delimiter, dry_run, started_at = now() AS first_start",
            &[&id, &worker, &lease_secs],
        )
        .await?;
    if let Some(r) = row {
        let attempts: i32 = r.get("attempts");
        // started_at was set by this very claim (now() is the transaction's time): an import
        // that yielded its slot and is claimed again has started already.
        let first_start: bool = r.get("first_start");
        if first_start {
            record_event(&tx, id, "imports.start", serde_json::json!({})).await?;
        }
        tx.commit().await?;
        let format: Format = parsed(&r, "format")?;
        return Ok(Claim::Claimed(ClaimedImport {
            id: r.get("id"),
            tenant: Tenant {
                organization_id: r.get("organization_id"),
                mode: parsed(&r, "mode")?,
            },
            resource_type: r.get("resource_type"),
            format,
            csv_delimiter: delimiter_from_row(&r, format)?.unwrap_or(DEFAULT_CSV_DELIMITER),
            parent_resource_id: r.get("parent_resource_id"),
            inputs_size: r.get("inputs_size"),
            cursor: r.get("cursor"),
            errors_count: r.get("errors_count"),
            skip_errors: r.get("skip_errors"),
            attempts,
            interrupt_requested: r.get("interrupt_requested"),
            first_start,
            dry_run: r.get("dry_run"),
        }));
    }
    let current = tx
        .query_opt(
            "SELECT status, interrupt_requested FROM imports WHERE id = $1",
            &[&id],
        )
        .await?;
    let outcome = match current {
        None => Claim::Skip("unknown import"),
        Some(r) => {
            let status: Status = parsed(&r, "status")?;
            let interrupt: bool = r.get(1);
            match status {
                Status::Pending if interrupt => {
                    if transition(&tx, id, Status::Interrupted, None, None).await? {
                        Claim::InterruptedBeforeStart
                    } else {
                        Claim::Skip("changed while being claimed")
                    }
                }
                Status::Completed | Status::Interrupted => Claim::Skip("already final"),
                Status::InProgress => Claim::Skip("held by a live worker"),
                Status::Pending => Claim::Skip("not claimable"),
            }
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// What a batch adds to its import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchTotals {
    /// Inputs handled by the batch (= processed + errors).
    pub handled: i64,
    /// Records created or updated.
    pub processed: i64,
    /// Inputs rejected.
    pub errors: i64,
    /// Warnings raised.
    pub warnings: i64,
    /// Inputs that created a record.
    pub created: i64,
    /// Inputs that changed an existing record.
    pub updated: i64,
}

/// The import's state right after a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterCheckpoint {
    /// Whether someone asked for an interruption.
    pub interrupt_requested: bool,
    /// Errors so far.
    pub errors_count: i64,
    /// Warnings so far.
    pub warnings_count: i64,
    /// The new cursor.
    pub cursor: i64,
}

/// Adds a batch's totals to its import and advances the cursor, in the batch's transaction,
/// only if `worker` still holds the import and the cursor is where the batch started. `None`
/// means the fence failed (lease lost, or another worker moved on): roll the batch back.
/// The lease is extended from the clock at this statement (`clock_timestamp()`), not from the
/// transaction's start (`now()`): a batch that ran longer than the lease would otherwise
/// leave an expired lease behind, for a sweeper to take over an import its worker still runs.
pub async fn checkpoint<C: Db>(
    client: &C,
    id: &str,
    worker: Uuid,
    expected_cursor: i64,
    totals: BatchTotals,
    lease: Duration,
) -> Result<Option<AfterCheckpoint>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "UPDATE imports SET cursor = cursor + $4,
                    processed_count = processed_count + $5,
                    errors_count = errors_count + $6,
                    warnings_count = warnings_count + $7,
                    created_count = created_count + $9,
                    updated_count = updated_count + $10,
                    lease_expires_at = clock_timestamp() + make_interval(secs => $8),
                    updated_at = now()
             WHERE id = $1 AND lease_owner = $2 AND cursor = $3 AND status = 'in_progress'
             RETURNING interrupt_requested, errors_count, cursor, warnings_count",
            &[
                &id,
                &worker,
                &expected_cursor,
                &totals.handled,
                &totals.processed,
                &totals.errors,
                &totals.warnings,
                &lease.as_secs_f64(),
                &totals.created,
                &totals.updated,
            ],
        )
        .await?;
    Ok(row.map(|r| AfterCheckpoint {
        interrupt_requested: r.get(0),
        errors_count: r.get(1),
        cursor: r.get(2),
        warnings_count: r.get(3),
    }))
}

/// Extends `worker`'s lease on an import; `false` when the worker no longer holds it.
pub async fn renew_lease<C: Db>(
    client: &C,
    id: &str,
    worker: Uuid,
    lease: Duration,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .execute(
            "UPDATE imports SET lease_expires_at = clock_timestamp() + make_interval(secs => $3)
             WHERE id = $1 AND lease_owner = $2 AND status = 'in_progress'",
            &[&id, &worker, &lease.as_secs_f64()],
        )
        .await?
        == 1)
}

/// Gives an import back (on shutdown): its lease expires now, so any worker may resume it,
/// and the claim it gives up is not counted against its attempts (only failures are).
/// `false` when the worker no longer holds it.
pub async fn release_lease<C: Db>(
    client: &C,
    id: &str,
    worker: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    hand_back(client, id, worker, 1).await
}

/// Gives an import back after its run failed (a batch that could not be written, inputs that
/// could not be fetched): like [`release_lease`], but the claim counts as an attempt, so that
/// an import that keeps failing is given up on.
pub async fn release_failed<C: Db>(
    client: &C,
    id: &str,
    worker: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    hand_back(client, id, worker, 0).await
}

/// Takes back the attempt a claim counted, for a worker that lost its lease (it was paused,
/// or cut off from Postgres, and another worker took over): its run did not fail. Unfenced
/// by the lease, which is no longer this worker's; it takes off this claim's count only.
pub async fn forgive_attempt<C: Db>(client: &C, id: &str) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE imports SET attempts = greatest(attempts - 1, 0) WHERE id = $1",
            &[&id],
        )
        .await?;
    Ok(())
}

/// Expires `worker`'s lease at once, taking `uncounted` claims off the import's attempts.
async fn hand_back<C: Db>(
    client: &C,
    id: &str,
    worker: Uuid,
    uncounted: i32,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .execute(
            "UPDATE imports SET lease_expires_at = now() - interval '1 second', lease_owner = NULL,
                    attempts = greatest(attempts - $3, 0)
             WHERE id = $1 AND lease_owner = $2 AND status = 'in_progress'",
            &[&id, &worker, &uncounted],
        )
        .await?
        == 1)
}

/// Hands an import back so that another organization's import can run (see
/// `IMPORTS_TIME_SLICE_SECONDS`): like [`release_lease`], the claim it gave up is not
/// counted against the import's attempts. `false` when the worker no longer holds it.
pub async fn yield_lease<C: Db>(
    client: &C,
    id: &str,
    worker: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    hand_back(client, id, worker, 1).await
}

/// Whether an import of another tenant than `tenant` (another organization, or the same
/// organization's other mode: test and live are separate environments) is waiting for a
/// worker: pending, or handed back and not yet taken over.
pub async fn others_waiting<C: Db>(
    client: &C,
    tenant: &Tenant,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM imports
                 WHERE (organization_id, mode) <> ($1, $2)
                   AND (status = 'pending' AND NOT interrupt_requested
                        OR status = 'in_progress' AND lease_expires_at < now()))",
            &[&tenant.organization_id, &tenant.mode.as_str()],
        )
        .await?
        .get(0))
}

/// Imports no live worker is attending to, oldest first: in progress with an expired lease,
/// or pending for longer than `pending_for` (their announcement was lost).
pub async fn unattended_imports<C: Db>(
    client: &C,
    pending_for: Duration,
    limit: i64,
) -> Result<Vec<String>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT id FROM imports
             WHERE (status = 'in_progress' AND (lease_expires_at IS NULL OR lease_expires_at < now()))
                OR (status = 'pending' AND NOT interrupt_requested
                    AND created_at < now() - make_interval(secs => $1))
             ORDER BY created_at LIMIT $2",
            &[&pending_for.as_secs_f64(), &limit],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}
