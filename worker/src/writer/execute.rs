//! Running the write statements: set-based, and when the database rejects one record's
//! values, again record by record, each under its own savepoint.

use std::collections::HashMap;

use deadpool_postgres::Transaction;
use imports_common::catalogue::{Column, ResourceType};
use imports_common::model::Tenant;
use imports_common::validate::{Cell, Prepared};
use imports_runtime::telemetry::traces::{sql_span, InSpan};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::outcome::Effect;
use super::plan::{upsert_groups, Write, WriteKind};
use super::{sql, Expect};

/// Writes `writes` set-based as `expect` says (again as [`Expect::Mixed`] when a record
/// expected new exists), or, when the database rejects that for one record's values, record
/// by record, each under its own savepoint, so that only the offending records fail.
/// Returns each row's effect and the id of the record it wrote, when known (an upsert that
/// changed nothing does not say which record it met).
pub(super) async fn write_rows(
    tx: &Transaction<'_>,
    rt: &ResourceType,
    columns: &[Column],
    tenant: &Tenant,
    writes: &[Write],
    records: &mut [Prepared],
    mut expect: Expect,
) -> Result<(Vec<Effect>, Vec<Option<String>>), tokio_postgres::Error> {
    let all: Vec<&Write> = writes.iter().collect();
    loop {
        tx.batch_execute(sql::SET_WRITE.open).await?;
        // The span records the set-based write's failure, if any (then redone).
        let set_based = execute(tx, rt, columns, tenant, &all, expect)
            .in_span(sql_span("write", rt.name))
            .await;
        match set_based {
            Ok(done) => {
                tx.batch_execute(sql::SET_WRITE.release).await?;
                return Ok(done);
            }
            Err(e) if expect == Expect::New && is_unique_violation(&e) => {
                tracing::debug!(error = %e, "a record of the batch exists; upserting it");
                tx.batch_execute(sql::SET_WRITE.roll_back).await?;
                expect = Expect::Mixed;
            }
            Err(e) if record_error(&e, rt).is_some() => {
                tracing::debug!(error = %e, "set-based write rejected; writing record by record");
                tx.batch_execute(sql::SET_WRITE.roll_back).await?;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    let mut effects = Vec::with_capacity(writes.len());
    let mut ids = Vec::with_capacity(writes.len());
    for w in writes {
        tx.batch_execute(sql::RECORD_WRITE.open).await?;
        match execute(tx, rt, columns, tenant, &[w], Expect::Mixed).await {
            Ok((effect, id)) => {
                tx.batch_execute(sql::RECORD_WRITE.release).await?;
                effects.extend(effect);
                ids.extend(id);
            }
            Err(e) => {
                let Some((attribute, message)) = record_error(&e, rt) else {
                    return Err(e);
                };
                tx.batch_execute(sql::RECORD_WRITE.roll_back).await?;
                for &m in &w.members {
                    records[m].error(&attribute, message.clone());
                }
                effects.push(Effect::Gone);
                ids.push(None);
            }
        }
    }
    Ok((effects, ids))
}

fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
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
    if *code == SqlState::UNIQUE_VIOLATION || *code == SqlState::CARDINALITY_VIOLATION {
        // (A cardinality violation: two rows of one upsert met the same record, which the
        // record-by-record pass then writes one after the other.)
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

/// Beyond this many sets of given attributes in one batch, statements are not kept prepared
/// (JSON inputs may give any mix of attributes; a connection's statement cache must not grow
/// with them).
const CACHED_PATTERNS: usize = 4;

/// Runs a statement of the `n`th set of given attributes of a batch: kept prepared on the
/// connection for the first [`CACHED_PATTERNS`], sent once for the others.
async fn query_pattern(
    tx: &Transaction<'_>,
    n: usize,
    sql: &str,
    args: &[&(dyn ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
    if n < CACHED_PATTERNS {
        let stmt = tx.prepare_cached(sql).await?;
        tx.query(&stmt, args).await
    } else {
        tx.query(sql, args).await
    }
}

/// Writes `rows` set-based; returns what each did, in order, and the id of the record it
/// wrote when known.
async fn execute(
    tx: &Transaction<'_>,
    rt: &ResourceType,
    columns: &[Column],
    tenant: &Tenant,
    rows: &[&Write],
    expect: Expect,
) -> Result<(Vec<Effect>, Vec<Option<String>>), tokio_postgres::Error> {
    let mut effects = vec![Effect::Unchanged; rows.len()];
    let mut written: Vec<Option<String>> = vec![None; rows.len()];

    // Updates by primary key.
    let updates: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].kind == WriteKind::Update)
        .collect();
    if !updates.is_empty() {
        let batch: Vec<&Write> = updates.iter().map(|&i| rows[i]).collect();
        let all: Vec<usize> = (0..columns.len()).collect();
        let sql = sql::update_sql(rt, columns);
        let stmt = tx.prepare_cached(&sql).await?;
        let ids: Vec<&str> = batch.iter().map(|w| w.id.as_str()).collect();
        let arrays = arrays(columns, &batch, &all, true);
        let mode = tenant.mode.as_str();
        let mut args: Vec<&(dyn ToSql + Sync)> = vec![&tenant.organization_id, &mode, &ids];
        args.extend(arrays.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)));
        let changed: std::collections::HashSet<String> = tx
            .query(&stmt, &args)
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let untouched: Vec<&str> = ids
            .iter()
            .copied()
            .filter(|id| !changed.contains(*id))
            .collect();
        // Not changed: identical, or deleted since the lookup.
        let mut still_there = std::collections::HashSet::new();
        if !untouched.is_empty() {
            let stmt = tx.prepare_cached(&sql::still_there_sql(rt)).await?;
            for row in tx.query(&stmt, &[&untouched]).await? {
                still_there.insert(row.get::<_, String>(0));
            }
        }
        for &i in &updates {
            let id = &rows[i].id;
            written[i] = Some(id.clone());
            effects[i] = if changed.contains(id) {
                Effect::Updated
            } else if still_there.contains(id) {
                Effect::Unchanged
            } else {
                Effect::Gone
            };
        }
    }

    // Upserts, one statement per set of given attributes.
    let mut groups = upsert_groups(rows);
    for (n, (pattern, members)) in groups.iter_mut().enumerate() {
        // In key order: concurrent imports of overlapping keys then lock them in the same
        // order, rather than deadlock on each other.
        members.sort_by(|&a, &b| rows[a].key.cmp(&rows[b].key));
        let given: Vec<usize> = (0..columns.len()).filter(|&c| pattern[c]).collect();
        let mode = tenant.mode.as_str();
        if expect == Expect::Unchanged && !rt.natural_key.is_empty() {
            // Records that already hold the given values are found by a plain read and left
            // out of the upsert, which would lock (and so write) each of them.
            let batch: Vec<&Write> = members.iter().map(|&i| rows[i]).collect();
            let ids: Vec<&str> = batch.iter().map(|w| w.id.as_str()).collect();
            let arrays = arrays(columns, &batch, &given, false);
            let mut args: Vec<&(dyn ToSql + Sync)> = vec![&tenant.organization_id, &mode, &ids];
            args.extend(arrays.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)));
            let sql = sql::unchanged_sql(rt, columns, &given);
            let found = query_pattern(tx, n, &sql, &args).await?;
            let mut unchanged = vec![false; members.len()];
            for row in &found {
                let at = usize::try_from(row.get::<_, i64>(0) - 1).unwrap_or(usize::MAX);
                if let Some(&i) = members.get(at) {
                    unchanged[at] = true;
                    written[i] = Some(row.get(1));
                }
            }
            let mut at = 0;
            members.retain(|_| {
                at += 1;
                !unchanged[at - 1]
            });
            if members.is_empty() {
                continue;
            }
        }
        let batch: Vec<&Write> = members.iter().map(|&i| rows[i]).collect();
        let ids: Vec<&str> = batch.iter().map(|w| w.id.as_str()).collect();
        let arrays = arrays(columns, &batch, &given, false);
        let mut args: Vec<&(dyn ToSql + Sync)> = vec![&tenant.organization_id, &mode, &ids];
        args.extend(arrays.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)));
        if expect == Expect::New && !rt.natural_key.is_empty() {
            // All new, as far as the import's batches so far tell: see `Expect::New`.
            query_pattern(tx, n, &sql::insert_sql(rt, columns, &given), &args).await?;
            for &i in members.iter() {
                effects[i] = Effect::Created;
                written[i] = Some(rows[i].id.clone());
            }
            continue;
        }
        let returned = query_pattern(tx, n, &sql::upsert_sql(rt, columns, &given), &args).await?;
        if rt.natural_key.is_empty() {
            // Plain inserts: every row was created.
            for &i in members.iter() {
                effects[i] = Effect::Created;
                written[i] = Some(rows[i].id.clone());
            }
            continue;
        }
        // A created row has the id proposed for it; an updated one is found by its key (rows
        // without a complete key are only ever created).
        let by_id: HashMap<&str, usize> =
            members.iter().map(|&i| (rows[i].id.as_str(), i)).collect();
        let by_key: HashMap<&[String], usize> = members
            .iter()
            .filter(|&&i| !rows[i].key.is_empty())
            .map(|&i| (rows[i].key.as_slice(), i))
            .collect();
        for row in &returned {
            let id: String = row.get(0);
            let created: bool = row.get(1);
            let i = if created {
                by_id.get(id.as_str()).copied()
            } else {
                let key: Option<Vec<String>> =
                    (0..rt.natural_key.len()).map(|k| row.get(k + 2)).collect();
                key.and_then(|k| by_key.get(k.as_slice()).copied())
            };
            if let Some(i) = i {
                effects[i] = if created {
                    Effect::Created
                } else {
                    Effect::Updated
                };
                written[i] = Some(id);
            }
        }
        // The rows not returned met an identical record: Effect::Unchanged, as initialised.
    }
    Ok((effects, written))
}

/// The parameter arrays of `rows` for the columns `given`: values (and, with `flags`, whether
/// each row gives the column). Arrays of references into the batch: no value is copied on the
/// way to Postgres.
fn arrays<'a>(
    columns: &[Column],
    rows: &[&'a Write],
    given: &[usize],
    flags: bool,
) -> Vec<Box<dyn ToSql + Sync + Send + 'a>> {
    let mut out: Vec<Box<dyn ToSql + Sync + Send + 'a>> = Vec::with_capacity(given.len() * 2);
    for &c in given {
        let values: Box<dyn ToSql + Sync + Send + 'a> = match columns[c].sql_type {
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
            "timestamptz" => Box::new(column(rows, c, |v| match v {
                Cell::Timestamp(t) => Some(*t),
                _ => None,
            })),
            "jsonb" => Box::new(column(rows, c, |v| match v {
                Cell::Json(j) => Some(&**j),
                _ => None,
            })),
            _ => Box::new(column(rows, c, |v| match v {
                Cell::Text(t) => Some(t.as_str()),
                _ => None,
            })),
        };
        out.push(values);
        if flags {
            let given: Vec<bool> = rows.iter().map(|w| w.cells[c].is_some()).collect();
            out.push(Box::new(given));
        }
    }
    out
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
