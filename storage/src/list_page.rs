//! One page of `GET /api/imports` in one statement: the count of the tenant's imports that
//! meet the query, the page's imports, and for each what rendering needs (the first log
//! entries of each severity, the head of its inputs while pending, its first events), so a
//! page costs one round trip whatever its size (it cost two queries an import).

use crate::client::Db;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::types::ToSql;

use imports_common::model::{Import, Tenant};

use crate::events::Event;
use crate::imports::{import_from_row, IMPORT_COLUMNS};
use crate::listing::ImportQuery;
use crate::logs::{add_log_entries, log_entries_columns, LOG_ENTRIES_SHOWN};

/// What the page is read with, beyond the imports themselves.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageWants {
    /// The first bytes of a pending import's inputs (0 for none: `inputs` is not shown).
    pub inputs_head_bytes: i32,
    /// The first events of each import (0 for none: `include=events` not asked).
    pub events_per_import: i64,
}

/// The first bytes of a pending import's stored inputs.
#[derive(Debug, Clone)]
pub struct InputsHead {
    /// Up to [`PageWants::inputs_head_bytes`] bytes.
    pub bytes: Vec<u8>,
    /// Whether they are all of the inputs.
    pub whole: bool,
}

/// An import of the page with what rendering it needs.
#[derive(Debug, Clone)]
pub struct ListedImport {
    /// The import, with its errors_log and warnings_log.
    pub import: Import,
    /// The head of its inputs, when pending and asked for.
    pub inputs_head: Option<InputsHead>,
    /// Its first events, oldest first, when asked for.
    pub events: Vec<Event>,
}

/// A page of the list, and how many imports meet its query in all.
#[derive(Debug, Clone)]
pub struct ImportPage {
    /// Imports meeting the query, on every page.
    pub total: i64,
    /// This page's, in the query's order.
    pub imports: Vec<ListedImport>,
}

/// Reads a page of the tenant's imports meeting `query`, in one statement.
pub async fn list_page<C: Db>(
    client: &C,
    tenant: &Tenant,
    query: &ImportQuery,
    wants: PageWants,
) -> Result<ImportPage, tokio_postgres::Error> {
    let mode = tenant.mode.as_str();
    let (extra, owned) = query.conditions();
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&tenant.organization_id, &mode];
    for p in &owned {
        params.push(p.as_ref() as &(dyn ToSql + Sync));
    }
    let offset = (query.page - 1).saturating_mul(query.size);
    let head_bytes = wants.inputs_head_bytes.saturating_add(1);
    let n = params.len();
    let (logs, limit_at, offset_at) = (n + 1, n + 2, n + 3);
    params.push(&LOG_ENTRIES_SHOWN);
    params.push(&query.size);
    params.push(&offset);
    // What is not asked for is left out of the text, not skipped at run time: a lateral
    // join costs its setup on every row even when a parameter empties it.
    let mut columns = log_entries_columns(logs);
    if wants.inputs_head_bytes > 0 {
        params.push(&head_bytes);
        columns.push_str(&inputs_head_columns(params.len()));
    }
    let mut joins = String::new();
    if wants.events_per_import > 0 {
        params.push(&wants.events_per_import);
        columns.push_str(", e.event_ids, e.event_names, e.event_payloads, e.event_times");
        joins = events_join(params.len());
    }
    // Without filters, and sorted by at most one attribute, the statement's text is one of a
    // few, and it is kept on the connection: planning this statement costs more than running
    // it on a page of 25.
    let bounded_text = extra.is_empty() && query.sort.as_ref().is_none_or(|s| s.len() <= 1);
    let mut conditions = vec!["organization_id = $1".to_owned(), "mode = $2".to_owned()];
    conditions.extend(extra);
    let filter = conditions.join(" AND ");
    let order = query.order_by();
    let sql = format!(
        "SELECT t.total, p.*, {columns}
         FROM (SELECT count(*) AS total FROM imports WHERE {filter}) t
         LEFT JOIN LATERAL (
             SELECT {IMPORT_COLUMNS}, row_number() OVER (ORDER BY {order}) AS page_row
             FROM imports WHERE {filter} ORDER BY {order} LIMIT ${limit_at}::int8 OFFSET ${offset_at}::int8) p ON true
         {joins}
         ORDER BY p.page_row"
    );
    let rows = if bounded_text {
        client.query(&sql, &params).await?
    } else {
        client.query_once(&sql, &params).await?
    };
    let mut page = ImportPage {
        total: rows.first().map_or(0, |r| r.get("total")),
        imports: Vec::with_capacity(rows.len()),
    };
    for row in &rows {
        let Some(_) = row.get::<_, Option<i64>>("page_row") else {
            continue; // no import on this page: the count alone
        };
        page.imports.push(listed(row, wants)?);
    }
    Ok(page)
}

/// The columns `head` (the first `$head` bytes of a pending import's first chunk of inputs,
/// where `$head` is one more than asked for, to tell whether they fit) and `last` (whether
/// that chunk is its only one), read only for pending imports.
fn inputs_head_columns(head: usize) -> String {
    format!(
        ",
         CASE WHEN p.status = 'pending' THEN (
             SELECT substring(data FROM 1 FOR ${head}::int4) FROM import_inputs
             WHERE import_id = p.id AND seq = 0) END AS head,
         CASE WHEN p.status = 'pending' THEN NOT EXISTS (
             SELECT 1 FROM import_inputs WHERE import_id = p.id AND seq = 1) END AS last"
    )
}

/// The first `$events` events of each import, oldest first, as arrays of `e`.
fn events_join(events: usize) -> String {
    format!(
        "LEFT JOIN LATERAL (
             SELECT array_agg(id ORDER BY id) AS event_ids, array_agg(name ORDER BY id) AS event_names,
                    array_agg(payload ORDER BY id) AS event_payloads,
                    array_agg(created_at ORDER BY id) AS event_times
             FROM (SELECT id, name, payload, created_at FROM import_events
                   WHERE import_id = p.id ORDER BY id LIMIT ${events}::int8) v) e ON true"
    )
}

/// An import of the page from its row, with the columns `wants` added to the statement.
fn listed(
    row: &tokio_postgres::Row,
    wants: PageWants,
) -> Result<ListedImport, tokio_postgres::Error> {
    let mut import = import_from_row(row)?;
    add_log_entries(row, &mut import);
    let inputs_head = match wants.inputs_head_bytes {
        0 => None,
        max => match row.try_get::<_, Option<Vec<u8>>>("head")? {
            None => None,
            Some(mut bytes) => {
                let max = usize::try_from(max).unwrap_or(0);
                let fits = bytes.len() <= max;
                bytes.truncate(max);
                let last = row.try_get::<_, Option<bool>>("last")?.unwrap_or(false);
                Some(InputsHead {
                    bytes,
                    whole: fits && last,
                })
            }
        },
    };
    let events = match wants.events_per_import {
        0 => Vec::new(),
        _ => events(row, &import.id)?,
    };
    Ok(ListedImport {
        import,
        inputs_head,
        events,
    })
}

/// The events of [`events_join`]'s arrays.
fn events(row: &tokio_postgres::Row, import_id: &str) -> Result<Vec<Event>, tokio_postgres::Error> {
    let ids: Vec<i64> = row
        .try_get::<_, Option<_>>("event_ids")?
        .unwrap_or_default();
    let names: Vec<String> = row
        .try_get::<_, Option<_>>("event_names")?
        .unwrap_or_default();
    let payloads: Vec<Value> = row
        .try_get::<_, Option<_>>("event_payloads")?
        .unwrap_or_default();
    let times: Vec<DateTime<Utc>> = row
        .try_get::<_, Option<_>>("event_times")?
        .unwrap_or_default();
    Ok(ids
        .into_iter()
        .zip(names)
        .zip(payloads)
        .zip(times)
        .map(|(((id, name), payload), created_at)| Event {
            id,
            import_id: import_id.to_owned(),
            name,
            payload,
            created_at,
        })
        .collect())
}
