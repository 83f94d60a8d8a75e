//! Writes one batch of validated inputs into its resource table, set-based.
//!
//! Per batch, whatever its size: one query per relationship to resolve references, one query
//! to find which inputs update an existing record (by id, then by natural key), one UPDATE and
//! one INSERT for all the records. Inputs naming the same record within a batch are merged in
//! file order, as if applied one after the other.
//!
//! When the database rejects the set-based statements (a constraint the checks above could not
//! foresee, such as a record deleted meanwhile), the batch is written again record by record,
//! each under its own savepoint, so that only the offending records fail and are logged.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::Transaction;
use imports_common::catalogue::{Column, ResourceType};
use imports_common::ids::new_id;
use imports_common::model::Tenant;
use imports_common::store::{BatchTotals, LogEntry, Severity};
use imports_common::telemetry::traces::{sql_span, InSpan};
use imports_common::validate::{Cell, Prepared, Reference};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

/// What a batch did: its totals and its log entries.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Counters to add to the import.
    pub totals: BatchTotals,
    /// Errors and warnings, in input order.
    pub entries: Vec<LogEntry>,
    /// New records written (for the statistics upkeep).
    pub inserted: u64,
}

/// One row to write, standing for one or more inputs naming the same record.
struct Write {
    /// The record's id (existing for updates, new for inserts).
    id: String,
    /// Whether the record is new.
    insert: bool,
    /// Merged column values.
    cells: Vec<Option<Cell>>,
    /// The inputs (indices into the batch) this row stands for.
    members: Vec<usize>,
}

/// Validates references, writes the batch's valid records and returns what happened to each
/// input. Errors returned are database failures that should roll the batch back and retry it.
pub async fn write_batch(
    tx: &Transaction<'_>,
    rt: &ResourceType,
    tenant: &Tenant,
    parent_resource_id: Option<&str>,
    records: &mut [Prepared],
) -> Result<BatchOutcome, tokio_postgres::Error> {
    let columns = rt.columns();
    let writes = async {
        resolve_relationships(tx, rt, &columns, tenant, parent_resource_id, records).await?;
        plan_writes(tx, rt, &columns, tenant, records).await
    }
    .in_span(sql_span("lookup", rt.name))
    .await?;

    let (updates, inserts): (Vec<&Write>, Vec<&Write>) = writes.iter().partition(|w| !w.insert);
    tx.batch_execute("SAVEPOINT batch_write").await?;
    let set_based = async {
        let mut written = execute_rows(tx, rt, &columns, tenant, &updates, false).await?;
        written.extend(execute_rows(tx, rt, &columns, tenant, &inserts, true).await?);
        Ok::<_, tokio_postgres::Error>(written)
    }
    .in_span(sql_span("write", rt.name))
    .await;
    let written = match set_based {
        Ok(written) => {
            tx.batch_execute("RELEASE SAVEPOINT batch_write").await?;
            written
        }
        Err(e) if record_error(&e, rt).is_some() => {
            tracing::debug!(error = %e, "set-based write rejected; writing record by record");
            tx.batch_execute("ROLLBACK TO SAVEPOINT batch_write")
                .await?;
            let mut written = HashSet::new();
            for w in &writes {
                tx.batch_execute("SAVEPOINT record_write").await?;
                match execute_rows(tx, rt, &columns, tenant, &[w], w.insert).await {
                    Ok(ids) => {
                        tx.batch_execute("RELEASE SAVEPOINT record_write").await?;
                        written.extend(ids);
                    }
                    Err(e) => {
                        let Some((attribute, message)) = record_error(&e, rt) else {
                            return Err(e);
                        };
                        tx.batch_execute("ROLLBACK TO SAVEPOINT record_write")
                            .await?;
                        for &m in &w.members {
                            records[m].error(&attribute, message.clone());
                        }
                        // Marked failed: not expected among the written ids below.
                        written.insert(w.id.clone());
                    }
                }
            }
            tx.batch_execute("RELEASE SAVEPOINT batch_write").await?;
            written
        }
        Err(e) => return Err(e),
    };
    // An update whose record was deleted between the lookup and the write touched nothing.
    for w in &writes {
        if !written.contains(&w.id) {
            for &m in &w.members {
                records[m].error("id", "no longer exists");
            }
        }
    }
    let mut out = outcome(records);
    out.inserted = writes
        .iter()
        .filter(|w| w.insert && w.members.iter().all(|&m| records[m].is_valid()))
        .count() as u64;
    Ok(out)
}

fn outcome(records: &[Prepared]) -> BatchOutcome {
    let mut out = BatchOutcome::default();
    for p in records {
        out.totals.handled += 1;
        if p.is_valid() {
            out.totals.processed += 1;
        } else {
            out.totals.errors += 1;
        }
        out.totals.warnings += p.warnings.len() as i64;
        for (attribute, message) in &p.errors {
            out.entries.push(LogEntry {
                position: p.position as i64,
                severity: Severity::Error,
                key: p.key.clone(),
                attribute: Some(attribute.clone()),
                message: message.clone(),
            });
        }
        for message in &p.warnings {
            out.entries.push(LogEntry {
                position: p.position as i64,
                severity: Severity::Warning,
                key: p.key.clone(),
                attribute: None,
                message: message.clone(),
            });
        }
    }
    out
}

/// Maps a database error caused by one record's values to (attribute, message); `None` for
/// errors that are not about the data (connection lost, serialization...).
fn record_error(e: &tokio_postgres::Error, rt: &ResourceType) -> Option<(String, String)> {
    let db = e.as_db_error()?;
    let column = db.column().map(str::to_owned);
    let code = db.code();
    let relationship_of = |col: &str| {
        rt.relationships
            .iter()
            .find(|r| r.id_attribute == col)
            .map(|r| r.name.to_owned())
    };
    if *code == SqlState::UNIQUE_VIOLATION {
        let attribute = rt.natural_key.first().copied().unwrap_or("id").to_owned();
        Some((attribute, "has already been taken".into()))
    } else if *code == SqlState::FOREIGN_KEY_VIOLATION {
        let detail = db.detail().unwrap_or_default();
        let attribute = rt
            .relationships
            .iter()
            .find(|r| detail.contains(&format!("({})", r.id_attribute)))
            .map(|r| r.name.to_owned())
            .unwrap_or_else(|| "input".into());
        Some((attribute, "must exist".into()))
    } else if *code == SqlState::NOT_NULL_VIOLATION {
        let col = column.unwrap_or_else(|| "input".into());
        Some((
            relationship_of(&col).unwrap_or(col),
            "can't be blank".into(),
        ))
    } else if *code == SqlState::CHECK_VIOLATION {
        Some((
            column.unwrap_or_else(|| "input".into()),
            "is invalid".into(),
        ))
    } else if code.code().starts_with("54") {
        // Program limits: a value too large for an index (a multi-kilobyte code, say).
        Some((
            column.unwrap_or_else(|| "input".into()),
            "is too long to be stored".into(),
        ))
    } else if code.code().starts_with("22") {
        // Data exceptions: a value Postgres cannot store (NUL byte in text, out of range...).
        Some((
            column.unwrap_or_else(|| "input".into()),
            format!("is invalid: {}", db.message()),
        ))
    } else {
        None
    }
}

/// Whether an input could be read as a record (a malformed one has an `input` error).
fn readable(p: &Prepared) -> bool {
    !p.errors.iter().any(|(attribute, _)| attribute == "input")
}

/// Resolves every relationship of the batch with one query each, filling the relationship's
/// id column (and a stored key such as `sku_code`) or logging "must exist".
async fn resolve_relationships(
    tx: &Transaction<'_>,
    rt: &ResourceType,
    columns: &[Column],
    tenant: &Tenant,
    parent_resource_id: Option<&str>,
    records: &mut [Prepared],
) -> Result<(), tokio_postgres::Error> {
    for (ri, rel) in rt.relationships.iter().enumerate() {
        let is_parent = rt.parent == Some(rel.name);
        let id_col = columns
            .iter()
            .position(|c| c.name == rel.id_attribute)
            .expect("relationship column");
        let stored_key_col = rel
            .by_key
            .and_then(|k| columns.iter().position(|c| c.name == k.input));
        // What each record names: its own reference beats the parent. Records that already
        // failed validation are resolved too, so that an input's errors are reported at once;
        // only inputs that could not be read at all are left out.
        let mut wanted: Vec<Option<Reference>> = Vec::with_capacity(records.len());
        for p in records.iter() {
            if !readable(p) {
                wanted.push(None);
                continue;
            }
            let mut r = p.references[ri].clone();
            if r.is_none() && is_parent {
                r = parent_resource_id.map(|id| Reference::Id(id.to_owned()));
            }
            if r.is_none() {
                if let Some(Some(Cell::Text(k))) = stored_key_col.map(|c| &p.cells[c]) {
                    r = Some(Reference::Key(k.clone()));
                }
            }
            wanted.push(r);
        }
        let ids: Vec<&str> = wanted
            .iter()
            .filter_map(|r| match r {
                Some(Reference::Id(id)) => Some(id.as_str()),
                _ => None,
            })
            .collect();
        let keys: Vec<&str> = wanted
            .iter()
            .filter_map(|r| match r {
                Some(Reference::Key(k)) => Some(k.as_str()),
                _ => None,
            })
            .collect();
        let mut by_id: HashMap<String, Option<String>> = HashMap::new();
        let mut by_key: HashMap<String, String> = HashMap::new();
        if !ids.is_empty() || !keys.is_empty() {
            let key_column = rel.by_key.map(|k| k.target_column).unwrap_or("id");
            let sql = format!(
                "SELECT id, {key_column}::text FROM {target} WHERE organization_id = $1 AND mode = $2 AND id = ANY($3)
                 UNION
                 SELECT id, {key_column}::text FROM {target} WHERE organization_id = $1 AND mode = $2 AND {key_column} = ANY($4)",
                target = rel.target
            );
            let stmt = tx.prepare_cached(&sql).await?;
            for row in tx
                .query(
                    &stmt,
                    &[&tenant.organization_id, &tenant.mode.as_str(), &ids, &keys],
                )
                .await?
            {
                let id: String = row.get(0);
                let key: Option<String> = row.get(1);
                if let Some(k) = &key {
                    by_key.insert(k.clone(), id.clone());
                }
                by_id.insert(id, key);
            }
        }
        for (p, want) in records.iter_mut().zip(wanted) {
            if !readable(p) {
                continue;
            }
            match want {
                Some(Reference::Id(id)) => match by_id.get(&id) {
                    Some(key) => {
                        p.cells[id_col] = Some(Cell::Text(id));
                        if let (Some(c), Some(key)) = (stored_key_col, key) {
                            match &p.cells[c] {
                                Some(Cell::Text(given)) if given != key => p.error(
                                    rel.name,
                                    format!(
                                        "{} and {} name different records",
                                        rel.id_attribute, columns[c].name
                                    ),
                                ),
                                _ => p.cells[c] = Some(Cell::Text(key.clone())),
                            }
                        }
                    }
                    None => p.error(rel.name, "must exist"),
                },
                Some(Reference::Key(k)) => match by_key.get(&k) {
                    Some(id) => p.cells[id_col] = Some(Cell::Text(id.clone())),
                    None => p.error(rel.name, "must exist"),
                },
                None if rel.required && p.id.is_none() => p.error(rel.name, "can't be blank"),
                None => {}
            }
        }
    }
    Ok(())
}

/// Decides, for each valid input, which record it writes: an existing one (by id, then by
/// natural key) or a new one; and merges inputs that name the same record.
async fn plan_writes(
    tx: &Transaction<'_>,
    rt: &ResourceType,
    columns: &[Column],
    tenant: &Tenant,
    records: &mut [Prepared],
) -> Result<Vec<Write>, tokio_postgres::Error> {
    let table = rt.name;
    let key_cols: Vec<usize> = rt
        .natural_key
        .iter()
        .map(|k| {
            columns
                .iter()
                .position(|c| c.name == *k)
                .expect("key column")
        })
        .collect();

    // Inputs that give an id must name an existing record of the tenant.
    let given_ids: Vec<&str> = records
        .iter()
        .filter(|p| p.is_valid())
        .filter_map(|p| p.id.as_deref())
        .collect();
    let mut existing_ids = std::collections::HashSet::new();
    if !given_ids.is_empty() {
        let stmt = tx
            .prepare_cached(&format!(
                "SELECT id FROM {table} WHERE organization_id = $1 AND mode = $2 AND id = ANY($3)"
            ))
            .await?;
        for row in tx
            .query(
                &stmt,
                &[&tenant.organization_id, &tenant.mode.as_str(), &given_ids],
            )
            .await?
        {
            existing_ids.insert(row.get::<_, String>(0));
        }
    }

    // The natural key of every input without an id (invalid ones too: see below).
    let mut keys: Vec<Option<Vec<String>>> = vec![None; records.len()];
    for (i, p) in records.iter_mut().enumerate() {
        if let Some(id) = &p.id {
            if p.is_valid() && !existing_ids.contains(id) {
                p.error("id", "not found");
            }
            continue;
        }
        let key: Option<Vec<String>> = key_cols
            .iter()
            .map(|&c| match &p.cells[c] {
                Some(Cell::Text(s)) if !s.is_empty() => Some(s.clone()),
                _ => None,
            })
            .collect();
        if key.is_none() && p.is_valid() {
            let blank = key_cols
                .iter()
                .find(|&&c| !matches!(&p.cells[c], Some(Cell::Text(s)) if !s.is_empty()));
            let name = columns[*blank.expect("a key column is blank")].name;
            let attribute = rt
                .relationships
                .iter()
                .find(|r| r.id_attribute == name)
                .map(|r| r.name)
                .unwrap_or(name);
            p.error(attribute, "can't be blank");
        }
        keys[i] = key;
    }

    let mut by_key: HashMap<Vec<String>, String> = HashMap::new();
    let lookups: Vec<&Vec<String>> = keys.iter().flatten().collect();
    if !lookups.is_empty() {
        let params: Vec<Vec<&str>> = (0..key_cols.len())
            .map(|k| lookups.iter().map(|key| key[k].as_str()).collect())
            .collect();
        let names: Vec<String> = (0..key_cols.len()).map(|k| format!("k{k}")).collect();
        let unnest_args: Vec<String> = (0..key_cols.len())
            .map(|k| format!("${}::text[]", k + 3))
            .collect();
        let join: Vec<String> = rt
            .natural_key
            .iter()
            .enumerate()
            .map(|(k, col)| format!("t.{col} = u.k{k}"))
            .collect();
        let sql = format!(
            "SELECT t.id, {cols} FROM {table} t JOIN unnest({args}) AS u({names}) ON {join}
             WHERE t.organization_id = $1 AND t.mode = $2",
            cols = rt
                .natural_key
                .iter()
                .map(|c| format!("t.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            args = unnest_args.join(", "),
            names = names.join(", "),
            join = join.join(" AND "),
        );
        let stmt = tx.prepare_cached(&sql).await?;
        let mode = tenant.mode.as_str();
        let mut args: Vec<&(dyn ToSql + Sync)> = vec![&tenant.organization_id, &mode];
        for p in &params {
            args.push(p);
        }
        for row in tx.query(&stmt, &args).await? {
            let id: String = row.get(0);
            let key: Vec<String> = (0..key_cols.len()).map(|k| row.get(k + 1)).collect();
            by_key.insert(key, id);
        }
    }

    // An input already rejected that would have created a record: say what else it lacks.
    for (p, key) in records.iter_mut().zip(&keys) {
        let creates = p.id.is_none()
            && key
                .as_ref()
                .map(|k| !by_key.contains_key(k))
                .unwrap_or(true);
        if !p.is_valid() && creates {
            // Cloned, not taken: a retried batch must report the same errors.
            for attr in p.missing_required.clone() {
                if !p.errors.iter().any(|(a, _)| a == attr) {
                    p.error(attr, "can't be blank");
                }
            }
        }
    }

    // One write per record named; later inputs override earlier ones column by column.
    let mut writes: Vec<Write> = Vec::new();
    let mut index: HashMap<(bool, Vec<String>), usize> = HashMap::new();
    for (i, p) in records.iter_mut().enumerate() {
        if !p.is_valid() {
            continue;
        }
        let (identity, target, insert) = match (&p.id, &keys[i]) {
            (Some(id), _) => ((false, vec![id.clone()]), id.clone(), false),
            (None, Some(key)) => match by_key.get(key) {
                Some(id) => ((false, vec![id.clone()]), id.clone(), false),
                None => ((true, key.clone()), new_id(), true),
            },
            (None, None) => continue,
        };
        match index.get(&identity) {
            Some(&w) => {
                let write = &mut writes[w];
                for (slot, cell) in write.cells.iter_mut().zip(p.cells.iter()) {
                    if cell.is_some() {
                        *slot = cell.clone();
                    }
                }
                write.members.push(i);
            }
            None => {
                index.insert(identity, writes.len());
                writes.push(Write {
                    id: target,
                    insert,
                    cells: p.cells.clone(),
                    members: vec![i],
                });
            }
        }
    }
    // A new record needs every required attribute, from one input or another.
    writes.retain(|w| {
        if !w.insert {
            return true;
        }
        let missing: Vec<&'static str> = rt
            .all_attributes()
            .enumerate()
            .filter(|(c, a)| a.required && w.cells[*c].is_none())
            .map(|(_, a)| a.name)
            .collect();
        for &m in &w.members {
            for attr in &missing {
                records[m].error(attr, "can't be blank");
            }
        }
        missing.is_empty()
    });
    Ok(writes)
}

/// Runs the UPDATE (or INSERT) of `rows` as one statement over arrays, one per column.
async fn execute_rows(
    tx: &Transaction<'_>,
    rt: &ResourceType,
    columns: &[Column],
    tenant: &Tenant,
    rows: &[&Write],
    insert: bool,
) -> Result<HashSet<String>, tokio_postgres::Error> {
    if rows.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = if insert {
        insert_sql(rt, columns)
    } else {
        update_sql(rt, columns)
    };
    let stmt = tx.prepare_cached(&sql).await?;
    let ids: Vec<&str> = rows.iter().map(|w| w.id.as_str()).collect();
    let mut owned: Vec<Box<dyn ToSql + Sync + Send + '_>> = Vec::with_capacity(columns.len() * 2);
    for (c, col) in columns.iter().enumerate() {
        let given: Vec<bool> = rows.iter().map(|w| w.cells[c].is_some()).collect();
        // Arrays of references into the batch: no value is copied on the way to Postgres.
        let values: Box<dyn ToSql + Sync + Send + '_> = match col.sql_type {
            "int8" => Box::new(column(rows, c, |v| match v {
                Cell::Integer(n) => Some(*n),
                _ => None,
            })),
            "float8" => Box::new(column(rows, c, |v| match v {
                Cell::Float(n) => Some(*n),
                _ => None,
            })),
            "bool" => Box::new(column(rows, c, |v| match v {
                Cell::Boolean(b) => Some(*b),
                _ => None,
            })),
            "jsonb" => Box::new(column(rows, c, |v| match v {
                Cell::Json(j) => Some(j),
                _ => None,
            })),
            _ => Box::new(column(rows, c, |v| match v {
                Cell::Text(t) => Some(t.as_str()),
                _ => None,
            })),
        };
        owned.push(values);
        owned.push(Box::new(given));
    }
    let mode = tenant.mode.as_str();
    let mut args: Vec<&(dyn ToSql + Sync)> = vec![&tenant.organization_id, &mode, &ids];
    for o in &owned {
        args.push(o.as_ref() as &(dyn ToSql + Sync));
    }
    Ok(tx
        .query(&stmt, &args)
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Column `c` of every row, as the values `pick` finds in the cells (`None` where the row
/// does not give the column or gives NULL).
fn column<'a, T>(
    rows: &[&'a Write],
    c: usize,
    pick: impl Fn(&'a Cell) -> Option<T>,
) -> Vec<Option<T>> {
    rows.iter()
        .map(|w| w.cells[c].as_ref().and_then(&pick))
        .collect()
}

fn unnest_clause(columns: &[Column]) -> (String, String) {
    let mut args = vec!["$3::text[]".to_owned()];
    let mut names = vec!["id".to_owned()];
    for (c, col) in columns.iter().enumerate() {
        args.push(format!("${}::{}[]", 4 + 2 * c, col.sql_type));
        args.push(format!("${}::bool[]", 5 + 2 * c));
        names.push(format!("v{c}"));
        names.push(format!("g{c}"));
    }
    (args.join(", "), names.join(", "))
}

/// The UPDATE joins on the primary key alone: every id in it was found by a tenant-scoped
/// query of the same transaction (`plan_writes`), and a record never changes tenant. A tenant
/// condition here would let the planner, with a freshly loaded table's stale statistics,
/// walk the (organization, mode) index once per row: minutes per batch instead of
/// milliseconds.
fn update_sql(rt: &ResourceType, columns: &[Column]) -> String {
    let (args, names) = unnest_clause(columns);
    let sets: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(c, col)| {
            format!(
                "{n} = CASE WHEN u.g{c} THEN u.v{c} ELSE t.{n} END",
                n = col.name
            )
        })
        .collect();
    format!(
        "UPDATE {table} AS t SET {sets}, updated_at = now()
         FROM unnest({args}) AS u({names})
         WHERE t.id = u.id AND $1::text IS NOT NULL AND $2::text IS NOT NULL
         RETURNING t.id",
        table = rt.name,
        sets = sets.join(", "),
    )
}

fn insert_sql(rt: &ResourceType, columns: &[Column]) -> String {
    let (args, names) = unnest_clause(columns);
    let cols: Vec<&str> = columns.iter().map(|c| c.name).collect();
    let values: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(c, col)| {
            format!(
                "CASE WHEN u.g{c} THEN u.v{c} ELSE {} END",
                col.default_sql.unwrap_or("NULL")
            )
        })
        .collect();
    format!(
        "INSERT INTO {table} (id, organization_id, mode, {cols})
         SELECT u.id, $1, $2, {values} FROM unnest({args}) AS u({names})
         RETURNING id",
        table = rt.name,
        cols = cols.join(", "),
        values = values.join(", "),
    )
}
