//! Reading imports back: the columns an [`Import`] is read from, and an import with its
//! logs. Apart from `imports` so that what records events (and their webhook deliveries)
//! can read an import without depending on the module that changes it.

use std::sync::OnceLock;

use tokio_postgres::Row;

use crate::client::Db;

use imports_common::inputs::{parse_csv_delimiter, DEFAULT_CSV_DELIMITER};
use imports_common::jsonapi::IMPORT_ATTRIBUTES;
use imports_common::model::{ErrorsLog, Format, Import, Tenant, WarningsLog};

use crate::logs::{add_log_entries, log_entries_columns, LOG_ENTRIES_SHOWN};
use crate::rows::parsed;

/// The columns an [`Import`] is read from: its id, tenant and interrupt flag, then every
/// attribute of [`IMPORT_ATTRIBUTES`] that is stored in a column. `{IMPORT_COLUMNS}` in a
/// statement's text writes the list.
pub const IMPORT_COLUMNS: ImportColumns = ImportColumns;

/// The SELECT list of imports, written from the attribute table (see [`IMPORT_COLUMNS`]).
#[derive(Debug, Clone, Copy)]
pub struct ImportColumns;

impl std::fmt::Display for ImportColumns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("organization_id, mode, interrupt_requested")?;
        for column in IMPORT_ATTRIBUTES.iter().filter_map(|a| a.column) {
            write!(f, ", {column}")?;
        }
        Ok(())
    }
}

/// The statement reading the import meeting `filter` (`$1` is its id, `$2` how many log
/// entries of each severity to read) with its first errors and warnings, in one round trip.
fn with_logs(filter: &str) -> String {
    format!(
        "SELECT p.*, {}
         FROM (SELECT {IMPORT_COLUMNS} FROM imports WHERE {filter}) p",
        log_entries_columns(2),
    )
}

/// Runs a statement of [`with_logs`].
async fn read_with_logs<C: Db>(
    client: &C,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Option<Import>, tokio_postgres::Error> {
    let Some(row) = client.query_opt(sql, params).await? else {
        return Ok(None);
    };
    let mut import = import_from_row(&row)?;
    add_log_entries(&row, &mut import);
    Ok(Some(import))
}

/// Reads an import with its errors and warnings logs, whoever owns it.
pub async fn get_import<C: Db>(
    client: &C,
    id: &str,
) -> Result<Option<Import>, tokio_postgres::Error> {
    // The texts are built once: formatting them per request cost more than the cache lookup.
    static SQL: OnceLock<String> = OnceLock::new();
    let sql = SQL.get_or_init(|| with_logs("id = $1"));
    read_with_logs(client, sql, &[&id, &LOG_ENTRIES_SHOWN]).await
}

/// Reads import `id` of `tenant` with its errors and warnings logs; `None` when the tenant
/// has no such import (another tenant's reads as missing).
pub async fn tenant_import<C: Db>(
    client: &C,
    tenant: &Tenant,
    id: &str,
) -> Result<Option<Import>, tokio_postgres::Error> {
    static SQL: OnceLock<String> = OnceLock::new();
    let sql = SQL.get_or_init(|| with_logs("id = $1 AND organization_id = $3 AND mode = $4"));
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [
        &id,
        &LOG_ENTRIES_SHOWN,
        &tenant.organization_id,
        &tenant.mode.as_str(),
    ];
    read_with_logs(client, sql, &params).await
}

/// The `csv_delimiter` column: `None` for JSON, `,` for a CSV import that predates it; a
/// delimiter this build cannot read is an error.
pub(crate) fn delimiter_from_row(
    row: &Row,
    format: Format,
) -> Result<Option<u8>, tokio_postgres::Error> {
    if format != Format::Csv {
        return Ok(None);
    }
    let stored: Option<Delimiter> = row.try_get("csv_delimiter")?;
    Ok(Some(stored.map_or(DEFAULT_CSV_DELIMITER, |d| d.0)))
}

/// A stored `csv_delimiter`, read with the model's own parser.
struct Delimiter(u8);

impl<'a> tokio_postgres::types::FromSql<'a> for Delimiter {
    fn from_sql(
        ty: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let text = <&str as tokio_postgres::types::FromSql>::from_sql(ty, raw)?;
        parse_csv_delimiter(text)
            .map(Delimiter)
            .ok_or_else(|| format!("{text:?} is not a csv_delimiter").into())
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <&str as tokio_postgres::types::FromSql>::accepts(ty)
    }
}

pub(crate) fn import_from_row(row: &Row) -> Result<Import, tokio_postgres::Error> {
    let format: Format = parsed(row, "format")?;
    Ok(Import {
        id: row.get("id"),
        tenant: Tenant {
            organization_id: row.get("organization_id"),
            mode: parsed(row, "mode")?,
        },
        resource_type: row.get("resource_type"),
        format,
        csv_delimiter: delimiter_from_row(row, format)?,
        dry_run: row.get("dry_run"),
        parent_resource_id: row.get("parent_resource_id"),
        status: parsed(row, "status")?,
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
    })
}
