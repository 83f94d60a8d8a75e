//! Imports themselves: creating one, reading it back with its logs, and every change of its
//! status, all through the transitions of [`Status`].

use crate::client::Db;
use serde_json::Value;
use uuid::Uuid;

use imports_common::model::{csv_delimiter_text, Format, Import, Status, Tenant};

use crate::inputs::{append_input_chunk, INPUT_CHUNK_BYTES};
use crate::lifecycle::record_event;
use crate::rows::parsed;

pub(crate) use crate::import_rows::{delimiter_from_row, import_from_row};
pub use crate::import_rows::{get_import, ImportColumns, IMPORT_COLUMNS};

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
    /// The W3C trace context of the request that creates it (its webhook deliveries join
    /// that trace); `{}` for none.
    pub trace_context: Value,
}

/// Creates an import (status pending) with its raw inputs and its `imports.create` event.
/// Call it inside a transaction so that the import and its inputs appear together.
pub async fn create_import<C: Db>(
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
pub async fn insert_import<C: Db>(
    client: &C,
    id: &str,
    new: &NewImport,
) -> Result<Import, tokio_postgres::Error> {
    let row = client
        .query_one(
            &format!(
                "INSERT INTO imports (id, organization_id, mode, resource_type, format, parent_resource_id,
                    inputs_size, skip_errors, reference, reference_origin, metadata, csv_delimiter,
                    dry_run, trace_context, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
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
                &new.csv_delimiter.map(csv_delimiter_text),
                &new.dry_run,
                &new.trace_context,
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
    import_from_row(&row)
}

/// Moves an import to `to` if the move is legal from its current status (and, when `owner`
/// is given, only while that worker holds it), setting the matching timestamp and recording
/// the event. Returns whether it moved.
///
/// Call it inside a transaction: the status and its event must be written together.
pub async fn transition<C: Db>(
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
    let mut status: Status = parsed(&row, "status")?;
    if status == Status::Pending && transition(&tx, id, Status::Interrupted, None, None).await? {
        status = Status::Interrupted;
    }
    tx.commit().await?;
    Ok(Some(status))
}

/// How many imports there are of each status (for the imports-by-status gauge); a status
/// with no import is absent.
pub async fn count_by_status<C: Db>(
    client: &C,
) -> Result<Vec<(Status, i64)>, tokio_postgres::Error> {
    client
        .query("SELECT status, count(*) FROM imports GROUP BY status", &[])
        .await?
        .iter()
        .map(|row| Ok((parsed(row, "status")?, row.get(1))))
        .collect()
}

/// How long an import waited to be started (created_at -> started_at, by the database's
/// clock), in seconds; `None` when it is unknown or not started.
pub async fn queue_latency_seconds<C: Db>(
    client: &C,
    id: &str,
) -> Result<Option<f64>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT EXTRACT(EPOCH FROM started_at - created_at)::float8 FROM imports WHERE id = $1",
            &[&id],
        )
        .await?
        .and_then(|row| row.get::<_, Option<f64>>(0)))
}

/// An import's counters as they are now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Records created or updated.
    pub processed: i64,
    /// Inputs rejected.
    pub errors: i64,
    /// Warnings raised.
    pub warnings: i64,
}

/// Reads an import's counters (for the span of the run that ends), `None` if it is gone.
pub async fn counts<C: Db>(client: &C, id: &str) -> Result<Option<Counts>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT processed_count, errors_count, warnings_count FROM imports WHERE id = $1",
            &[&id],
        )
        .await?
        .map(|row| Counts {
            processed: row.get(0),
            errors: row.get(1),
            warnings: row.get(2),
        }))
}

/// Whether import `id` exists, whoever owns it (a signed attachment URL names no tenant).
pub async fn import_exists<C: Db>(client: &C, id: &str) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_opt("SELECT 1 FROM imports WHERE id = $1", &[&id])
        .await?
        .is_some())
}

/// Whether `tenant` has a record `id` in `table`, the parent resource an import names.
/// `table` comes from the catalogue, never from a request.
pub async fn parent_resource_exists<C: Db>(
    client: &C,
    table: &str,
    id: &str,
    tenant: &Tenant,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            &format!("SELECT 1 FROM {table} WHERE id = $1 AND organization_id = $2 AND mode = $3"),
            &[&id, &tenant.organization_id, &tenant.mode.as_str()],
        )
        .await?
        .is_some())
}

/// The SQLSTATE of a create's commit refused by the active-imports limit (migration 0013).
const OVER_ACTIVE_LIMIT: &str = "IM429";

/// Sets the active-imports limit this transaction's new imports are checked against: at its
/// commit, the `active_imports` triggers count them and refuse the commit when the tenant
/// (test and live mode are separate environments, each with its own limit) already had
/// `max_active` imports pending or in progress. Checked there, the tenant's count is locked
/// only for the commit itself, and concurrent creates never pass the limit.
pub async fn limit_active<C: Db>(client: &C, max_active: i64) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "SELECT set_config('imports.max_active', $1, true)",
            &[&max_active.to_string()],
        )
        .await?;
    Ok(())
}

/// For a commit the active-imports limit refused (see [`limit_active`]): how many imports the
/// tenant had active. `None` for any other error.
pub fn over_active_limit(e: &tokio_postgres::Error) -> Option<i64> {
    let db = e.as_db_error()?;
    (db.code().code() == OVER_ACTIVE_LIMIT)
        .then(|| db.detail().and_then(|d| d.parse().ok()).unwrap_or(0))
}

/// Writes a new import (see [`insert_import`]) with its outbox row, which announces it on
/// RabbitMQ once committed; `trace_context` continues the create's trace there.
pub async fn insert_announced_import<C: Db>(
    client: &C,
    id: &str,
    new: &NewImport,
) -> Result<Import, tokio_postgres::Error> {
    let import = insert_import(client, id, new).await?;
    crate::outbox::enqueue(client, &import.id, &new.trace_context).await?;
    Ok(import)
}

/// What an update changes; `None` leaves an attribute as it is.
#[derive(Debug, Clone, Default)]
pub struct ImportChanges {
    /// The new `reference` (`Some(None)` clears it).
    pub reference: Option<Option<String>>,
    /// The new `reference_origin` (`Some(None)` clears it).
    pub reference_origin: Option<Option<String>>,
    /// The new `metadata`.
    pub metadata: Option<Value>,
}

/// Applies an update's changes to import `id`, and touches its `updated_at`.
pub async fn update_import<C: Db>(
    client: &C,
    id: &str,
    changes: &ImportChanges,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE imports SET
                reference = CASE WHEN $2 THEN $3 ELSE reference END,
                reference_origin = CASE WHEN $4 THEN $5 ELSE reference_origin END,
                metadata = COALESCE($6, metadata),
                updated_at = now()
             WHERE id = $1",
            &[
                &id,
                &changes.reference.is_some(),
                &changes.reference.clone().flatten(),
                &changes.reference_origin.is_some(),
                &changes.reference_origin.clone().flatten(),
                &changes.metadata,
            ],
        )
        .await?;
    Ok(())
}

/// Deletes import `id` with everything that is its own (inputs, log entries, events and
/// leases go with the row, `ON DELETE CASCADE`) and its outbox row, in one transaction that
/// also writes the `imports.destroy` deliveries of its webhooks (the event itself goes with
/// the import; its deliveries hold the import as it was).
pub async fn delete_import(
    client: &mut tokio_postgres::Client,
    id: &str,
) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    crate::outbox::remove(&tx, id).await?;
    record_event(&tx, id, "imports.destroy", serde_json::json!({})).await?;
    tx.execute("DELETE FROM imports WHERE id = $1", &[&id])
        .await?;
    tx.commit().await?;
    Ok(())
}
