//! Storage of imports in Postgres: creating them with their inputs, reading them with their
//! logs, and every change of status, all through the transitions of [`Status`].
//!
//! The worker's batch writes live in the worker crate; what they record on the import
//! (counters, log entries, cursor) goes through [`checkpoint`] and [`insert_log_entries`] here.

use std::time::Duration;

use serde_json::Value;
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

use imports_common::model::{ErrorsLog, Format, Import, Mode, Status, Tenant, WarningsLog};

/// Size of the chunks raw inputs are stored in.
pub const INPUT_CHUNK_BYTES: usize = 1024 * 1024;

/// Everything needed to create an import.
#[derive(Debug, Clone)]
pub struct NewImport {
    /// Who owns it.
    pub tenant: Tenant,
    /// A catalogue name.
    pub resource_type: String,
    /// How `inputs` is encoded.
    pub format: Format,
    /// The field delimiter of CSV inputs (`None` for JSON).
    pub csv_delimiter: Option<u8>,
    /// The parent of every input.
    pub parent_resource_id: Option<String>,
    /// The number of inputs in `inputs`.
    pub inputs_size: i64,
    /// Go on past the error threshold.
    pub skip_errors: bool,
    /// Process in full but write nothing to the resource tables.
    pub dry_run: bool,
    /// External identifier.
    pub reference: Option<String>,
    /// System of the external identifier.
    pub reference_origin: Option<String>,
    /// Free key-value pairs.
    pub metadata: Value,
}

/// One error or warning about one input.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// The input's position in the file.
    pub position: i64,
    /// `error` or `warning`.
    pub severity: Severity,
    /// The input's key (its code, email... or `unknown`).
    pub key: String,
    /// The attribute concerned (errors only).
    pub attribute: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// How bad a log entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The input was not written.
    Error,
    /// The input was written, something was ignored.
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

const IMPORT_COLUMNS: &str = "id, organization_id, mode, resource_type, format, parent_resource_id, status, \
    started_at, completed_at, interrupted_at, inputs_size, errors_count, warnings_count, processed_count, created_count, updated_count, \
    skip_errors, interrupt_requested, created_at, updated_at, reference, reference_origin, metadata, \
    csv_delimiter, dry_run";

/// Creates an import (status pending) with its raw inputs and its `imports.create` event.
/// Call it inside a transaction so that the import and its inputs appear together.
pub async fn create_import<C: GenericClient>(
    client: &C,
    new: &NewImport,
    inputs: &[u8],
) -> Result<Import, tokio_postgres::Error> {
    let id = imports_common::ids::new_id();
    let import = insert_import(client, &id, new).await?;
    for (seq, chunk) in inputs.chunks(INPUT_CHUNK_BYTES).enumerate() {
        append_input_chunk(client, &id, seq as i32, chunk).await?;
    }
    Ok(import)
}

/// Writes a new import whose inputs were already appended under `id`, in the same
/// transaction (the chunks' reference to their import is checked at commit). Its
/// `created_at` is the time of this write, just before the commit that makes it visible,
/// not the start of a transaction that may have spent seconds receiving the inputs.
pub async fn insert_import<C: GenericClient>(
    client: &C,
    id: &str,
    new: &NewImport,
) -> Result<Import, tokio_postgres::Error> {
    let row = client
        .query_one(
            &format!(
                "INSERT INTO imports (id, organization_id, mode, resource_type, format, parent_resource_id,
                    inputs_size, skip_errors, reference, reference_origin, metadata, csv_delimiter,
                    dry_run, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                    clock_timestamp(), clock_timestamp())
                 RETURNING {IMPORT_COLUMNS}"
            ),
            &[
                &id,
                &new.tenant.organization_id,
                &new.tenant.mode.as_str(),
                &new.resource_type,
                &new.format.as_str(),
                &new.parent_resource_id,
                &new.inputs_size,
                &new.skip_errors,
                &new.reference,
                &new.reference_origin,
                &new.metadata,
                &new.csv_delimiter.map(imports_common::model::csv_delimiter_text),
                &new.dry_run,
            ],
        )
        .await?;
    record_event(
        client,
        id,
        "imports.create",
        serde_json::json!({"inputs_size": new.inputs_size}),
    )
    .await?;
    Ok(import_from_row(&row))
}

/// Appends one chunk of raw inputs (chunks are read back in `seq` order).
pub async fn append_input_chunk<C: GenericClient>(
    client: &C,
    import_id: &str,
    seq: i32,
    data: &[u8],
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO import_inputs (import_id, seq, data) VALUES ($1, $2, $3)",
            &[&import_id, &seq, &data],
        )
        .await?;
    Ok(())
}

/// Reads one chunk of raw inputs, or `None` past the last.
pub async fn input_chunk<C: GenericClient>(
    client: &C,
    import_id: &str,
    seq: i32,
) -> Result<Option<Vec<u8>>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT data FROM import_inputs WHERE import_id = $1 AND seq = $2",
            &[&import_id, &seq],
        )
        .await?
        .map(|r| r.get(0)))
}

/// Records a lifecycle event of an import.
pub async fn record_event<C: GenericClient>(
    client: &C,
    import_id: &str,
    name: &str,
    payload: Value,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO import_events (import_id, name, payload) VALUES ($1, $2, $3)",
            &[&import_id, &name, &payload],
        )
        .await?;
    Ok(())
}

/// An import's lifecycle events, oldest first: (name, payload, time).
pub async fn events<C: GenericClient>(
    client: &C,
    import_id: &str,
) -> Result<Vec<(String, Value, chrono::DateTime<chrono::Utc>)>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT name, payload, created_at FROM import_events WHERE import_id = $1 ORDER BY id",
            &[&import_id],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Reads an import with its errors and warnings logs, whoever owns it.
pub async fn get_import<C: GenericClient>(
    client: &C,
    id: &str,
) -> Result<Option<Import>, tokio_postgres::Error> {
    let Some(row) = client
        .query_opt(
            &format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE id = $1"),
            &[&id],
        )
        .await?
    else {
        return Ok(None);
    };
    let mut import = import_from_row(&row);
    let (errors, warnings) = logs(client, id).await?;
    import.errors_log = errors;
    import.warnings_log = warnings;
    Ok(Some(import))
}

/// How many entries of each severity an import's errors_log and warnings_log show: an import
/// of a million identical records has a million "nothing changed" warnings, and reading one
/// must not load them all. The failed-inputs report lists every error.
pub const LOG_ENTRIES_SHOWN: i64 = 1000;

/// Builds an import's errors_log and warnings_log from its first log entries (at most
/// [`LOG_ENTRIES_SHOWN`] of each severity, in input order).
pub async fn logs<C: GenericClient>(
    client: &C,
    id: &str,
) -> Result<(ErrorsLog, WarningsLog), tokio_postgres::Error> {
    let mut errors = ErrorsLog::default();
    let mut warnings = WarningsLog::default();
    for row in client
        .query(
            "(SELECT severity, key, attribute, message, position FROM import_log_entries
              WHERE import_id = $1 AND severity = 'error' ORDER BY position, ctid LIMIT $2)
             UNION ALL
             (SELECT severity, key, attribute, message, position FROM import_log_entries
              WHERE import_id = $1 AND severity = 'warning' ORDER BY position, ctid LIMIT $2)",
            &[&id, &LOG_ENTRIES_SHOWN],
        )
        .await?
    {
        let severity: &str = row.get(0);
        let key: &str = row.get(1);
        let message: &str = row.get(3);
        if severity == "error" {
            let attribute: Option<&str> = row.get(2);
            errors.add(key, attribute.unwrap_or("input"), message);
        } else {
            warnings.add(key, message);
        }
    }
    Ok((errors, warnings))
}

/// Every error entry of an import, in input order (for the failed-inputs report).
pub async fn error_entries<C: GenericClient>(
    client: &C,
    id: &str,
) -> Result<Vec<LogEntry>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT position, key, attribute, message FROM import_log_entries
             WHERE import_id = $1 AND severity = 'error' ORDER BY position, ctid",
            &[&id],
        )
        .await?
        .iter()
        .map(|r| LogEntry {
            position: r.get(0),
            severity: Severity::Error,
            key: r.get(1),
            attribute: r.get(2),
            message: r.get(3),
        })
        .collect())
}

/// Writes log entries in one statement.
pub async fn insert_log_entries<C: GenericClient>(
    client: &C,
    import_id: &str,
    entries: &[LogEntry],
) -> Result<(), tokio_postgres::Error> {
    if entries.is_empty() {
        return Ok(());
    }
    let positions: Vec<i64> = entries.iter().map(|e| e.position).collect();
    let severities: Vec<&str> = entries.iter().map(|e| e.severity.as_str()).collect();
    let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    let attributes: Vec<Option<&str>> = entries.iter().map(|e| e.attribute.as_deref()).collect();
    let messages: Vec<&str> = entries.iter().map(|e| e.message.as_str()).collect();
    client
        .execute(
            "INSERT INTO import_log_entries (import_id, position, severity, key, attribute, message)
             SELECT $1, * FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[], $6::text[])",
            &[&import_id, &positions, &severities, &keys, &attributes, &messages],
        )
        .await?;
    Ok(())
}

/// The `csv_delimiter` column: `None` for JSON, `,` for a CSV import that predates it.
fn delimiter_from_row(row: &Row) -> Option<u8> {
    let format: &str = row.get("format");
    let delimiter: Option<&str> = row.get("csv_delimiter");
    match (format.parse::<Format>(), delimiter) {
        (Ok(Format::Csv), d) => Some(
            d.and_then(imports_common::inputs::parse_csv_delimiter)
                .unwrap_or(imports_common::inputs::DEFAULT_CSV_DELIMITER),
        ),
        _ => None,
    }
}

fn import_from_row(row: &Row) -> Import {
    let status: &str = row.get("status");
    let format: &str = row.get("format");
    let mode: &str = row.get("mode");
    Import {
        id: row.get("id"),
        tenant: Tenant {
            organization_id: row.get("organization_id"),
            mode: mode.parse().unwrap_or(Mode::Test),
        },
        resource_type: row.get("resource_type"),
        format: format.parse().unwrap_or_default(),
        csv_delimiter: delimiter_from_row(row),
        dry_run: row.get("dry_run"),
        parent_resource_id: row.get("parent_resource_id"),
        status: status.parse().unwrap_or(Status::Pending),
        started_at: row.get("started_at"),
        completed_at: row.get("completed_at"),
        interrupted_at: row.get("interrupted_at"),
        inputs: None,
        inputs_size: row.get("inputs_size"),
        errors_count: row.get("errors_count"),
        warnings_count: row.get("warnings_count"),
        processed_count: row.get("processed_count"),
        created_count: row.get("created_count"),
        updated_count: row.get("updated_count"),
        errors_log: ErrorsLog::default(),
        warnings_log: WarningsLog::default(),
        attachment_url: None,
        skip_errors: row.get("skip_errors"),
        interrupt_requested: row.get("interrupt_requested"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        reference: row.get("reference"),
        reference_origin: row.get("reference_origin"),
        metadata: row.get("metadata"),
    }
}

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
    /// How many times a worker claimed it, this one included.
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
        let mode: &str = r.get("mode");
        let format: &str = r.get("format");
        return Ok(Claim::Claimed(ClaimedImport {
            id: r.get("id"),
            tenant: Tenant {
                organization_id: r.get("organization_id"),
                mode: mode.parse().unwrap_or(Mode::Test),
            },
            resource_type: r.get("resource_type"),
            format: format.parse().unwrap_or_default(),
            csv_delimiter: delimiter_from_row(&r)
                .unwrap_or(imports_common::inputs::DEFAULT_CSV_DELIMITER),
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
            let status: &str = r.get(0);
            let interrupt: bool = r.get(1);
            match status.parse::<Status>() {
                Ok(Status::Pending) if interrupt => {
                    if transition(&tx, id, Status::Interrupted, None, None).await? {
                        Claim::InterruptedBeforeStart
                    } else {
                        Claim::Skip("changed while being claimed")
                    }
                }
                Ok(s) if s.is_final() => Claim::Skip("already final"),
                Ok(Status::InProgress) => Claim::Skip("held by a live worker"),
                _ => Claim::Skip("not claimable"),
            }
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Moves an import to `to` if the move is legal from its current status (and, when `owner`
/// is given, only while that worker holds it), setting the matching timestamp and recording
/// the event. Returns whether it moved.
///
/// Call it inside a transaction: the status and its event must be written together.
pub async fn transition<C: GenericClient>(
    client: &C,
    id: &str,
    to: Status,
    owner: Option<Uuid>,
    failure_reason: Option<&str>,
) -> Result<bool, tokio_postgres::Error> {
    let sources = Status::sources_of(to);
    let stamp = match to {
        Status::InProgress => "started_at",
        Status::Completed => "completed_at",
        Status::Interrupted => "interrupted_at",
        Status::Pending => "updated_at",
    };
    let sql = format!(
        "UPDATE imports SET status = $2, {stamp} = now(), updated_at = now(),
                failure_reason = COALESCE($4, failure_reason),
                lease_owner = NULL, lease_expires_at = NULL
         WHERE id = $1 AND status = ANY($3) AND ($5::uuid IS NULL OR lease_owner = $5)
         RETURNING processed_count, errors_count, warnings_count"
    );
    let row = client
        .query_opt(
            &sql,
            &[&id, &to.as_str(), &sources, &failure_reason, &owner],
        )
        .await?;
    let Some(row) = row else { return Ok(false) };
    let event = match to {
        Status::Completed => "imports.complete",
        Status::Interrupted => "imports.interrupt",
        Status::InProgress => "imports.start",
        Status::Pending => return Ok(true),
    };
    let processed: i64 = row.get(0);
    let errors: i64 = row.get(1);
    let warnings: i64 = row.get(2);
    record_event(
        client,
        id,
        event,
        serde_json::json!({
            "processed_count": processed, "errors_count": errors, "warnings_count": warnings,
            "reason": failure_reason,
        }),
    )
    .await?;
    Ok(true)
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
pub async fn checkpoint<C: GenericClient>(
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
                    lease_expires_at = now() + make_interval(secs => $8),
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
pub async fn renew_lease<C: GenericClient>(
    client: &C,
    id: &str,
    worker: Uuid,
    lease: Duration,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .execute(
            "UPDATE imports SET lease_expires_at = now() + make_interval(secs => $3)
             WHERE id = $1 AND lease_owner = $2 AND status = 'in_progress'",
            &[&id, &worker, &lease.as_secs_f64()],
        )
        .await?
        == 1)
}

/// Gives an import back (on shutdown): its lease expires now, so any worker may resume it.
pub async fn release_lease<C: GenericClient>(
    client: &C,
    id: &str,
    worker: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    hand_back(client, id, worker, 0).await
}

/// Expires `worker`'s lease at once, taking `uncounted` claims off the import's attempts.
async fn hand_back<C: GenericClient>(
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
/// `IMPORTS_TIME_SLICE_SECONDS`): like [`release_lease`], but the claim it gave up is not
/// counted against the import's attempts. `false` when the worker no longer holds it.
pub async fn yield_lease<C: GenericClient>(
    client: &C,
    id: &str,
    worker: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    hand_back(client, id, worker, 1).await
}

/// Whether an import of another organization than `organization_id` is waiting for a
/// worker: pending, or handed back and not yet taken over.
pub async fn others_waiting<C: GenericClient>(
    client: &C,
    organization_id: &str,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM imports
                 WHERE organization_id <> $1
                   AND (status = 'pending' AND NOT interrupt_requested
                        OR status = 'in_progress' AND lease_expires_at < now()))",
            &[&organization_id],
        )
        .await?
        .get(0))
}

/// Imports no live worker is attending to, oldest first: in progress with an expired lease,
/// or pending for longer than `pending_for` (their announcement was lost).
pub async fn unattended_imports<C: GenericClient>(
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

/// Asks for an import to be interrupted: at once when it is pending, at the next batch
/// boundary when it is in progress. Returns the status after the request, or `None` when the
/// import does not exist.
pub async fn request_interrupt(
    client: &mut tokio_postgres::Client,
    id: &str,
) -> Result<Option<Status>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    let row = tx
        .query_opt(
            "UPDATE imports SET interrupt_requested = true, updated_at = now() WHERE id = $1 RETURNING status",
            &[&id],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut status: Status = row.get::<_, &str>(0).parse().unwrap_or(Status::Pending);
    if status == Status::Pending && transition(&tx, id, Status::Interrupted, None, None).await? {
        status = Status::Interrupted;
    }
    tx.commit().await?;
    Ok(Some(status))
}
