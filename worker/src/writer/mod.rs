//! Writes one batch of validated inputs into its resource table, set-based.
//!
//! Per batch, whatever its size: one query per relationship to resolve references; one
//! `INSERT ... ON CONFLICT (natural key) DO UPDATE` for the records named by their natural key
//! (one per set of given attributes, usually one), which creates or updates them in the same
//! pass, as the COPY-and-merge script a user would write does; and one UPDATE by primary key for
//! the records named by id. Both skip a record whose given attributes already hold the given
//! values: nothing is written for it, and its input gets a warning that nothing changed.
//! Inputs naming the same record within a batch are merged in file order, as if applied one
//! after the other.
//!
//! Lookups happen only where the merge cannot decide alone: ids given by the inputs (they must
//! exist), and inputs that lack a required attribute (they may only update).
//!
//! When the database rejects the set-based statements (a constraint the checks above could not
//! foresee, such as a record deleted meanwhile), the batch is written again record by record,
//! each under its own savepoint, so that only the offending records fail and are logged.

mod nested;
mod tags;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::Transaction;
use futures::future::BoxFuture;
use imports_common::catalogue::{Column, ResourceType};
use imports_common::ids::new_id;
use imports_common::model::Tenant;
use imports_common::validate::{Cell, Prepared, Reference};
use imports_runtime::telemetry::traces::{sql_span, InSpan};
use imports_storage::leases::BatchTotals;
use imports_storage::logs::LogEntry;
use imports_storage::logs::Severity;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

/// The warning of an input that changed nothing.
pub const UNCHANGED: &str = "nothing changed: the record already had these values";

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

/// How a row is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteKind {
    /// An existing record, by primary key.
    Update,
    /// Created, or updated when a record with its natural key exists.
    Upsert,
}

/// What writing a row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Created,
    Updated,
    /// The record already held the given values: nothing was written.
    Unchanged,
    /// The record was deleted between the lookup and the write.
    Gone,
}

/// One row to write, standing for one or more inputs naming the same record.
struct Write {
    /// The record's id (existing for updates, proposed for upserts).
    id: String,
    kind: WriteKind,
    /// The natural key (upserts), to match the rows the statement returns.
    key: Vec<String>,
    /// Merged column values (`None`: not given).
    cells: Vec<Option<Cell>>,
    /// The inputs (indices into the batch) this row stands for.
    members: Vec<usize>,
}

impl Write {
    /// Which columns the row gives: rows of one pattern share a statement.
    fn pattern(&self) -> Vec<bool> {
        self.cells.iter().map(Option::is_some).collect()
    }
}

/// Validates references, writes the batch's valid records and returns what happened to each
/// input. Errors returned are database failures that should roll the batch back and retry it.
pub async fn write_batch(
    tx: &Transaction<'_>,
    rt: &'static ResourceType,
    tenant: &Tenant,
    parent_resource_id: Option<&str>,
    records: &mut [Prepared],
    hints: &Hints,
) -> Result<BatchOutcome, tokio_postgres::Error> {
    let look_for_unchanged = hints.unchanged_likely.load(Ordering::Relaxed);
    let written = write_records(
        tx,
        rt,
        tenant,
        parent_resource_id,
        records,
        (look_for_unchanged, false),
    )
    .await?;
    let mut out = outcome(records, &written.did);
    out.inserted = written.inserted;
    hints.learn(&out.totals);
    Ok(out)
}

/// What the writer learns from an import's batches for the next ones.
#[derive(Debug, Default)]
pub struct Hints {
    /// Most records of the last batch already held their given values (a re-import of the
    /// same file, say): the next batch first looks for such records with a plain read and
    /// leaves them out of its upsert, which would lock each of them (a write, to Postgres).
    /// Not worth a read per batch when most records are new or changed.
    unchanged_likely: AtomicBool,
}

impl Hints {
    fn learn(&self, totals: &BatchTotals) {
        let unchanged = totals.processed - totals.created - totals.updated;
        self.unchanged_likely
            .store(unchanged * 2 > totals.processed, Ordering::Relaxed);
    }
}

/// What [`write_records`] did.
struct Written {
    /// Each input's effect (`None` for inputs not written).
    did: Vec<Option<Effect>>,
    /// The id of the record each input wrote, when asked for (`want_ids`).
    ids: Vec<Option<String>>,
    /// How many records were created.
    inserted: u64,
}

/// Writes `records` of `rt` with what they give inline, all under one savepoint: first the
/// related records given inline (an order's `shipping_address`), linked by the ids written;
/// then the records; then their children (each child type as a batch of its own) and tags.
/// Nested records go through this same function. A nested record that fails fails its
/// input: the savepoint is rolled back and the batch written again without that input, so
/// that an input is written whole or not at all.
fn write_records<'a>(
    tx: &'a Transaction<'_>,
    rt: &'static ResourceType,
    tenant: &'a Tenant,
    parent_resource_id: Option<&'a str>,
    records: &'a mut [Prepared],
    (look_for_unchanged, want_ids): (bool, bool),
) -> BoxFuture<'a, Result<Written, tokio_postgres::Error>> {
    Box::pin(async move {
        let columns = rt.columns();
        resolve_relationships(tx, rt, &columns, tenant, parent_resource_id, records)
            .in_span(sql_span("lookup", rt.name))
            .await?;
        // Only a batch whose inputs carry nested records may have to be written again: the
        // others need no savepoint of their own (one less subtransaction on the hot path).
        let redoable = rt.has_nested_records();
        loop {
            if redoable {
                tx.batch_execute("SAVEPOINT batch_write").await?;
            }
            let related = nested::write_related(tx, rt, tenant, records).await?;
            if related.failed {
                // The inputs whose related records failed are now invalid: write the rest
                // again, without the related records of theirs that were written.
                tx.batch_execute(
                    "ROLLBACK TO SAVEPOINT batch_write; RELEASE SAVEPOINT batch_write",
                )
                .await?;
                continue;
            }
            // (Only inputs with related records given inline need it: see below.)
            let valid_before: Vec<bool> = match redoable {
                true => records.iter().map(Prepared::is_valid).collect(),
                false => Vec::new(),
            };
            let writes = plan_writes(tx, rt, &columns, tenant, records)
                .in_span(sql_span("match", rt.name))
                .await?;
            let (mut effects, mut ids) = write_rows(
                tx,
                rt,
                &columns,
                tenant,
                &writes,
                records,
                look_for_unchanged,
            )
            .await?;
            // A record updated by id and deleted meanwhile (the rows that failed in the
            // record-by-record pass already say why).
            for (w, write) in writes.iter().enumerate() {
                if effects[w] == Effect::Gone && effects_known(write, records) {
                    for &m in &write.members {
                        records[m].error("id", "no longer exists");
                    }
                }
            }
            // An input that failed once its related records were written must not leave them
            // behind: write the batch again without it.
            let mut failed = records
                .iter()
                .zip(&valid_before)
                .any(|(p, &was)| was && !p.is_valid() && !p.related.is_empty());
            if !failed && (want_ids || !rt.children.is_empty() || rt.taggable) {
                complete_ids(
                    tx, rt, tenant, &writes, &effects, &mut ids, records, want_ids,
                )
                .await?;
                failed = !rt.children.is_empty()
                    && nested::write_children(tx, rt, tenant, &writes, &mut effects, &ids, records)
                        .await?;
                if rt.taggable && !failed {
                    tags::write_tags(tx, rt, tenant, &writes, &mut effects, &ids, records).await?;
                }
            }
            if failed {
                // The inputs whose nested records failed are now invalid: write the rest again.
                tx.batch_execute(
                    "ROLLBACK TO SAVEPOINT batch_write; RELEASE SAVEPOINT batch_write",
                )
                .await?;
                continue;
            }
            // A record whose related record changed was updated.
            for (w, write) in writes.iter().enumerate() {
                if effects[w] == Effect::Unchanged
                    && write.members.iter().any(|&m| related.changed[m])
                {
                    effects[w] = Effect::Updated;
                }
            }
            if redoable {
                tx.batch_execute("RELEASE SAVEPOINT batch_write").await?;
            }
            return Ok(effects_of_inputs(&writes, effects, &ids, records));
        }
    })
}

/// Writes `writes` set-based, or, when the database rejects that for one record's values,
/// record by record, each under its own savepoint, so that only the offending records fail.
/// Returns each row's effect and the id of the record it wrote, when known (an upsert that
/// changed nothing does not say which record it met).
async fn write_rows(
    tx: &Transaction<'_>,
    rt: &ResourceType,
    columns: &[Column],
    tenant: &Tenant,
    writes: &[Write],
    records: &mut [Prepared],
    look_for_unchanged: bool,
) -> Result<(Vec<Effect>, Vec<Option<String>>), tokio_postgres::Error> {
    let all: Vec<&Write> = writes.iter().collect();
    tx.batch_execute("SAVEPOINT set_write").await?;
    // The span records the set-based write's failure, if any (then redone record by record).
    let set_based = execute(tx, rt, columns, tenant, &all, look_for_unchanged)
        .in_span(sql_span("write", rt.name))
        .await;
    match set_based {
        Ok(done) => {
            tx.batch_execute("RELEASE SAVEPOINT set_write").await?;
            return Ok(done);
        }
        Err(e) if record_error(&e, rt).is_some() => {
            tracing::debug!(error = %e, "set-based write rejected; writing record by record");
            tx.batch_execute("ROLLBACK TO SAVEPOINT set_write; RELEASE SAVEPOINT set_write")
                .await?;
        }
        Err(e) => return Err(e),
    }
    let mut effects = Vec::with_capacity(writes.len());
    let mut ids = Vec::with_capacity(writes.len());
    for w in writes {
        tx.batch_execute("SAVEPOINT record_write").await?;
        match execute(tx, rt, columns, tenant, &[w], false).await {
            Ok((effect, id)) => {
                tx.batch_execute("RELEASE SAVEPOINT record_write").await?;
                effects.extend(effect);
                ids.extend(id);
            }
            Err(e) => {
                let Some((attribute, message)) = record_error(&e, rt) else {
                    return Err(e);
                };
                tx.batch_execute(
                    "ROLLBACK TO SAVEPOINT record_write; RELEASE SAVEPOINT record_write",
                )
                .await?;
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

/// Makes `ids` say, for every row written whose inputs give children or tags, which record
/// it wrote (`None` for the others): an upsert that changed nothing did not return its
/// record's id, so it is found by key.
#[allow(clippy::too_many_arguments)]
async fn complete_ids(
    tx: &Transaction<'_>,
    rt: &ResourceType,
    tenant: &Tenant,
    writes: &[Write],
    effects: &[Effect],
    ids: &mut [Option<String>],
    records: &[Prepared],
    every_row: bool,
) -> Result<(), tokio_postgres::Error> {
    let wanted = |w: &Write| {
        effects_known(w, records)
            && (every_row
                || w.members
                    .iter()
                    .any(|&m| records[m].has_children() || records[m].tags.is_some()))
    };
    for (w, write) in writes.iter().enumerate() {
        if effects[w] == Effect::Gone || !wanted(write) {
            ids[w] = None;
        }
    }
    let unknown: Vec<&Vec<String>> = writes
        .iter()
        .zip(effects)
        .zip(ids.iter())
        .filter(|((w, e), id)| {
            id.is_none() && **e == Effect::Unchanged && !w.key.is_empty() && wanted(w)
        })
        .map(|((w, _), _)| &w.key)
        .collect();
    let found = lookup_keys(tx, rt, tenant, rt.natural_key.len(), &unknown).await?;
    for (w, write) in writes.iter().enumerate() {
        if ids[w].is_none() && effects[w] == Effect::Unchanged {
            ids[w] = found.get(&write.key).cloned();
        }
    }
    Ok(())
}

/// Whether every input of a row is still valid (none failed in the record-by-record pass).
fn effects_known(w: &Write, records: &[Prepared]) -> bool {
    w.members.iter().all(|&m| records[m].is_valid())
}

/// What each input did, from what each row did. A record created by several inputs was
/// created by the first and updated by the others.
fn effects_of_inputs(
    writes: &[Write],
    effects: Vec<Effect>,
    row_ids: &[Option<String>],
    records: &[Prepared],
) -> Written {
    let mut did: Vec<Option<Effect>> = vec![None; records.len()];
    let mut ids: Vec<Option<String>> = vec![None; records.len()];
    let mut inserted = 0;
    for ((w, effect), id) in writes.iter().zip(effects).zip(row_ids) {
        if !effects_known(w, records) {
            continue; // failed: in the record-by-record pass, or deleted meanwhile
        }
        for &m in &w.members {
            ids[m] = id.clone();
        }
        match effect {
            Effect::Created => {
                inserted += 1;
                for (n, &m) in w.members.iter().enumerate() {
                    did[m] = Some(if n == 0 {
                        Effect::Created
                    } else {
                        Effect::Updated
                    });
                }
            }
            other => {
                for &m in &w.members {
                    did[m] = Some(other);
                }
            }
        }
    }
    Written { did, ids, inserted }
}

fn outcome(records: &[Prepared], did: &[Option<Effect>]) -> BatchOutcome {
    let mut out = BatchOutcome::default();
    for (p, effect) in records.iter().zip(did) {
        out.totals.handled += 1;
        if p.is_valid() {
            out.totals.processed += 1;
        } else {
            out.totals.errors += 1;
        }
        match effect {
            Some(Effect::Created) if p.is_valid() => out.totals.created += 1,
            Some(Effect::Updated) if p.is_valid() => out.totals.updated += 1,
            _ => {}
        }
        let unchanged = p.is_valid() && *effect == Some(Effect::Unchanged);
        out.totals.warnings += p.warnings.len() as i64 + unchanged as i64;
        for (attribute, message) in &p.errors {
            out.entries.push(LogEntry {
                position: p.position as i64,
                severity: Severity::Error,
                key: p.key.clone(),
                attribute: Some(attribute.clone()),
                message: message.clone(),
            });
        }
        let written_warning = unchanged.then_some(UNCHANGED);
        for message in p.warnings.iter().map(String::as_str).chain(written_warning) {
            out.entries.push(LogEntry {
                position: p.position as i64,
                severity: Severity::Warning,
                key: p.key.clone(),
                attribute: None,
                message: message.to_owned(),
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

/// Whether an input could be read as a record (a malformed one has an `input` error).
fn readable(p: &Prepared) -> bool {
    !p.errors.iter().any(|(attribute, _)| attribute == "input")
}

/// Whether relationship `ri` of an input is linked by the writer rather than looked up: the
/// input gives the related record inline (it is written, then linked), or the input is a
/// child whose parent's id the writer has just filled in.
fn linked_by_writer(p: &Prepared, ri: usize, id_col: usize) -> bool {
    p.gives_related(ri) || (p.references[ri].is_none() && p.cells[id_col].is_some())
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
        let id_col = rt.relationship_column(ri);
        let stored_key_col = rel
            .by_key
            .and_then(|k| columns.iter().position(|c| c.name == k.input));
        // What each record names: its own reference beats the parent. Records that already
        // failed validation are resolved too, so that an input's errors are reported at once;
        // only inputs that could not be read at all are left out.
        let mut wanted: Vec<Option<Reference>> = Vec::with_capacity(records.len());
        for p in records.iter() {
            if !readable(p) || linked_by_writer(p, ri, id_col) {
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
            if !readable(p) || linked_by_writer(p, ri, id_col) {
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
                    None if rel.keeps_unknown_keys => {
                        let input = rel.by_key.map_or(rel.id_attribute, |k| k.input);
                        p.warnings.push(format!(
                            "{input} names no {}: written without one",
                            rel.name
                        ));
                    }
                    None => p.error(rel.name, "must exist"),
                },
                None if rel.required && p.id.is_none() => p.error(rel.name, "can't be blank"),
                None => {}
            }
        }
    }
    Ok(())
}

/// Which record each valid input writes, and how.
///
/// Inputs with an id update that record (it must exist). Inputs without one are named by
/// their natural key: when they give every required attribute they are upserted (created, or
/// updated if the key exists, decided by Postgres in the write itself); when they lack one they
/// can only update, so their keys are looked up. Inputs naming the same record are merged.
async fn plan_writes(
    tx: &Transaction<'_>,
    rt: &ResourceType,
    columns: &[Column],
    tenant: &Tenant,
    records: &mut [Prepared],
) -> Result<Vec<Write>, tokio_postgres::Error> {
    let key_cols = rt.key_columns();

    // Inputs that give an id must name an existing record of the tenant; its natural key
    // lets inputs that name it by key merge with them.
    let given_ids: Vec<&str> = records
        .iter()
        .filter(|p| p.is_valid())
        .filter_map(|p| p.id.as_deref())
        .collect();
    let mut existing_ids = std::collections::HashSet::new();
    let mut id_of_key: HashMap<Vec<String>, String> = HashMap::new();
    if !given_ids.is_empty() {
        let key_list: Vec<String> = rt
            .natural_key
            .iter()
            .map(|k| format!(", {k}::text"))
            .collect();
        let stmt = tx
            .prepare_cached(&format!(
                "SELECT id{keys} FROM {table} WHERE organization_id = $1 AND mode = $2 AND id = ANY($3)",
                keys = key_list.concat(),
                table = rt.name
            ))
            .await?;
        for row in tx
            .query(
                &stmt,
                &[&tenant.organization_id, &tenant.mode.as_str(), &given_ids],
            )
            .await?
        {
            let id: String = row.get(0);
            let key: Option<Vec<String>> = (0..key_cols.len())
                .map(|k| row.get::<_, Option<String>>(k + 1))
                .collect();
            if let Some(key) = key.filter(|k| !k.is_empty()) {
                id_of_key.insert(key, id.clone());
            }
            existing_ids.insert(id);
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
        let key: Option<Vec<String>> = key_cols.iter().map(|&c| key_text(&p.cells[c])).collect();
        let blank = key_cols.iter().find(|&&c| key_text(&p.cells[c]).is_none());
        if let (Some(&blank), true, false) = (blank, p.is_valid(), rt.creates_without_key) {
            let name = columns[blank].name;
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

    // One write per record named; later inputs override earlier ones column by column.
    #[derive(Hash, PartialEq, Eq)]
    enum Identity {
        Id(String),
        Key(Vec<String>),
        /// A type without a natural key: every input is its own record.
        Input(usize),
    }
    let mut writes: Vec<Write> = Vec::new();
    let mut index: HashMap<Identity, usize> = HashMap::new();
    for (i, p) in records.iter().enumerate() {
        if !p.is_valid() {
            continue;
        }
        let (identity, kind) = match (&p.id, &keys[i]) {
            (Some(id), _) => (Identity::Id(id.clone()), WriteKind::Update),
            (None, Some(key)) if key_cols.is_empty() => (Identity::Input(i), WriteKind::Upsert),
            (None, Some(key)) => match id_of_key.get(key) {
                Some(id) => (Identity::Id(id.clone()), WriteKind::Update),
                None => (Identity::Key(key.clone()), WriteKind::Upsert),
            },
            (None, None) if rt.creates_without_key => (Identity::Input(i), WriteKind::Upsert),
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
                let (id, key) = match &identity {
                    Identity::Id(id) => (id.clone(), Vec::new()),
                    Identity::Key(key) => (new_id(), key.clone()),
                    Identity::Input(_) => (new_id(), Vec::new()),
                };
                let mut cells = p.cells.clone();
                if matches!(identity, Identity::Input(_)) {
                    // A blank key is no key: stored as NULL, it never meets another record's
                    // (an empty text would, in the unique constraint).
                    for &c in &key_cols {
                        if matches!(&cells[c], Some(Cell::Text(s)) if s.is_empty()) {
                            cells[c] = Some(Cell::Null);
                        }
                    }
                }
                index.insert(identity, writes.len());
                writes.push(Write {
                    id,
                    kind,
                    key,
                    cells,
                    members: vec![i],
                });
            }
        }
    }

    // Upserts lacking a required attribute can only update; and an input already rejected
    // that would have created a record should say what else it lacks. Both need to know
    // whether their key exists.
    let missing = |cells: &[Option<Cell>]| -> Vec<&'static str> {
        rt.all_attributes()
            .enumerate()
            .filter(|(c, a)| a.required && cells[*c].is_none())
            .map(|(_, a)| a.name)
            .collect()
    };
    let mut wanted: Vec<&Vec<String>> = writes
        .iter()
        .filter(|w| {
            w.kind == WriteKind::Upsert && !w.key.is_empty() && !missing(&w.cells).is_empty()
        })
        .map(|w| &w.key)
        .collect();
    wanted.extend(
        records
            .iter()
            .zip(&keys)
            .filter(|(p, _)| !p.is_valid() && p.id.is_none() && !p.missing_required.is_empty())
            .filter_map(|(_, k)| k.as_ref())
            .filter(|k| !k.is_empty()),
    );
    let found = lookup_keys(tx, rt, tenant, key_cols.len(), &wanted).await?;

    for (p, key) in records.iter_mut().zip(&keys) {
        let creates = p.id.is_none()
            && key
                .as_ref()
                .map(|k| !found.contains_key(k) && !id_of_key.contains_key(k))
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
    writes.retain_mut(|w| {
        if w.kind != WriteKind::Upsert {
            return true;
        }
        let lacking = missing(&w.cells);
        if lacking.is_empty() {
            return true;
        }
        if let Some(id) = found.get(&w.key) {
            w.kind = WriteKind::Update;
            w.id = id.clone();
            return true;
        }
        for &m in &w.members {
            for attr in &lacking {
                records[m].error(attr, "can't be blank");
            }
        }
        false
    });
    Ok(writes)
}

/// A natural key column's value as keys are compared (text, as `key::text` returns it), or
/// `None` when it is not given.
fn key_text(cell: &Option<Cell>) -> Option<String> {
    match cell {
        Some(Cell::Text(s)) if !s.is_empty() => Some(s.clone()),
        Some(Cell::Integer(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The ids of the records with these natural keys.
async fn lookup_keys(
    tx: &Transaction<'_>,
    rt: &ResourceType,
    tenant: &Tenant,
    key_len: usize,
    wanted: &[&Vec<String>],
) -> Result<HashMap<Vec<String>, String>, tokio_postgres::Error> {
    let mut found = HashMap::new();
    if wanted.is_empty() || key_len == 0 {
        return Ok(found);
    }
    let params: Vec<Vec<&str>> = (0..key_len)
        .map(|k| wanted.iter().map(|key| key[k].as_str()).collect())
        .collect();
    let names: Vec<String> = (0..key_len).map(|k| format!("k{k}")).collect();
    let unnest_args: Vec<String> = (0..key_len)
        .map(|k| format!("${}::text[]", k + 3))
        .collect();
    let columns = rt.columns();
    let join: Vec<String> = rt
        .natural_key
        .iter()
        .enumerate()
        .map(|(k, col)| {
            let ty = columns
                .iter()
                .find(|c| c.name == *col)
                .map_or("text", |c| c.sql_type);
            format!("t.{col} = u.k{k}::{ty}")
        })
        .collect();
    let sql = format!(
        "SELECT t.id, {cols} FROM {table} t JOIN unnest({args}) AS u({names}) ON {join}
         WHERE t.organization_id = $1 AND t.mode = $2",
        cols = key_as_text(rt),
        table = rt.name,
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
        let key: Vec<String> = (0..key_len).map(|k| row.get(k + 1)).collect();
        found.insert(key, id);
    }
    Ok(found)
}

/// Beyond this many sets of given attributes in one batch, statements are not kept prepared
/// (JSON inputs may give any mix of attributes; a connection's statement cache must not grow
/// with them).
const CACHED_PATTERNS: usize = 4;

/// Writes `rows` set-based; returns what each did, in order, and the id of the record it
/// wrote when known.
async fn execute(
    tx: &Transaction<'_>,
    rt: &ResourceType,
    columns: &[Column],
    tenant: &Tenant,
    rows: &[&Write],
    look_for_unchanged: bool,
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
        let sql = update_sql(rt, columns);
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
            let stmt = tx
                .prepare_cached(&format!("SELECT id FROM {} WHERE id = ANY($1)", rt.name))
                .await?;
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
    let mut groups: Vec<(Vec<bool>, Vec<usize>)> = Vec::new();
    for (i, w) in rows.iter().enumerate() {
        if w.kind != WriteKind::Upsert {
            continue;
        }
        let pattern = w.pattern();
        match groups.iter_mut().find(|(p, _)| *p == pattern) {
            Some((_, members)) => members.push(i),
            None => groups.push((pattern, vec![i])),
        }
    }
    for (n, (pattern, members)) in groups.iter_mut().enumerate() {
        // In key order: concurrent imports of overlapping keys then lock them in the same
        // order, rather than deadlock on each other.
        members.sort_by(|&a, &b| rows[a].key.cmp(&rows[b].key));
        let given: Vec<usize> = (0..columns.len()).filter(|&c| pattern[c]).collect();
        let mode = tenant.mode.as_str();
        if look_for_unchanged && !rt.natural_key.is_empty() {
            // Records that already hold the given values are found by a plain read and left
            // out of the upsert, which would lock (and so write) each of them.
            let batch: Vec<&Write> = members.iter().map(|&i| rows[i]).collect();
            let ids: Vec<&str> = batch.iter().map(|w| w.id.as_str()).collect();
            let arrays = arrays(columns, &batch, &given, false);
            let mut args: Vec<&(dyn ToSql + Sync)> = vec![&tenant.organization_id, &mode, &ids];
            args.extend(arrays.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)));
            let sql = unchanged_sql(rt, columns, &given);
            let found = if n < CACHED_PATTERNS {
                let stmt = tx.prepare_cached(&sql).await?;
                tx.query(&stmt, &args).await?
            } else {
                tx.query(sql.as_str(), &args).await?
            };
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
        let sql = upsert_sql(rt, columns, &given);
        let ids: Vec<&str> = batch.iter().map(|w| w.id.as_str()).collect();
        let arrays = arrays(columns, &batch, &given, false);
        let mut args: Vec<&(dyn ToSql + Sync)> = vec![&tenant.organization_id, &mode, &ids];
        args.extend(arrays.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)));
        let returned = if n < CACHED_PATTERNS {
            let stmt = tx.prepare_cached(&sql).await?;
            tx.query(&stmt, &args).await?
        } else {
            tx.query(sql.as_str(), &args).await?
        };
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

/// The UPDATE by primary key, for rows that give any mix of columns (a flag array per column
/// says which). It changes only rows where a given column differs, and returns their ids.
///
/// It joins on the primary key alone: every id in it was found by a tenant-scoped query of
/// the same transaction (`plan_writes`), and a record never changes tenant. A tenant condition
/// here would let the planner, with a freshly loaded table's stale statistics, walk the
/// (organization, mode) index once per row: minutes per batch instead of milliseconds.
fn update_sql(rt: &ResourceType, columns: &[Column]) -> String {
    let mut args = vec!["$3::text[]".to_owned()];
    let mut names = vec!["id".to_owned()];
    for (c, col) in columns.iter().enumerate() {
        args.push(format!("${}::{}[]", 4 + 2 * c, col.sql_type));
        args.push(format!("${}::bool[]", 5 + 2 * c));
        names.push(format!("v{c}"));
        names.push(format!("g{c}"));
    }
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
    let differs: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(c, col)| format!("(u.g{c} AND u.v{c} IS DISTINCT FROM t.{})", col.name))
        .collect();
    format!(
        "UPDATE {table} AS t SET {sets}, updated_at = now()
         FROM unnest({args}) AS u({names})
         WHERE t.id = u.id AND $1::text IS NOT NULL AND $2::text IS NOT NULL
           AND ({differs})
         RETURNING t.id",
        table = rt.name,
        sets = sets.join(", "),
        args = args.join(", "),
        names = names.join(", "),
        differs = differs.join(" OR "),
    )
}

/// The upsert of rows giving exactly the columns `given`: a new record takes the table's
/// defaults for the others; an existing one (same natural key) has the given columns set,
/// unless they already hold those values, in which case nothing is written and no row is
/// returned. Returns each written row's id, whether it was created, and its natural key.
fn upsert_sql(rt: &ResourceType, columns: &[Column], given: &[usize]) -> String {
    let mut args = vec!["$3::text[]".to_owned()];
    let mut names = vec!["id".to_owned()];
    let mut cols = vec!["id", "organization_id", "mode"];
    let mut values = vec!["u.id".to_owned(), "$1".to_owned(), "$2".to_owned()];
    for (n, &c) in given.iter().enumerate() {
        args.push(format!("${}::{}[]", 4 + n, columns[c].sql_type));
        names.push(format!("v{c}"));
        cols.push(columns[c].name);
        values.push(format!("u.v{c}"));
    }
    let insert = format!(
        "INSERT INTO {table} AS t ({cols}) SELECT {values} FROM unnest({args}) AS u({names})",
        table = rt.name,
        cols = cols.join(", "),
        values = values.join(", "),
        args = args.join(", "),
        names = names.join(", "),
    );
    if rt.natural_key.is_empty() {
        return format!("{insert} RETURNING t.id, true");
    }
    let settable: Vec<&str> = given
        .iter()
        .map(|&c| columns[c].name)
        .filter(|name| !rt.natural_key.contains(name))
        .collect();
    let on_conflict = if settable.is_empty() {
        "DO NOTHING".to_owned()
    } else {
        format!(
            "DO UPDATE SET {sets}, updated_at = now() WHERE ({old}) IS DISTINCT FROM ({new})",
            sets = settable
                .iter()
                .map(|c| format!("{c} = EXCLUDED.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            old = settable
                .iter()
                .map(|c| format!("t.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            new = settable
                .iter()
                .map(|c| format!("EXCLUDED.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
        )
    };
    format!(
        "{insert} ON CONFLICT (organization_id, mode, {key}) {on_conflict}
         RETURNING t.id, (t.xmax = 0), {returned_key}",
        key = rt.natural_key.join(", "),
        returned_key = key_as_text(rt),
    )
}

/// Finds, among rows giving exactly the columns `given` (parameters as for [`upsert_sql`]),
/// those whose record (same natural key) already holds every given value: returns each one's
/// place in the rows (from 1) and its record's id. A plain read: nothing is locked.
fn unchanged_sql(rt: &ResourceType, columns: &[Column], given: &[usize]) -> String {
    let mut args = vec!["$3::text[]".to_owned()];
    let mut names = vec!["id".to_owned()];
    for (n, &c) in given.iter().enumerate() {
        args.push(format!("${}::{}[]", 4 + n, columns[c].sql_type));
        names.push(format!("v{c}"));
    }
    names.push("n".to_owned());
    let value_of = |name: &str| {
        given
            .iter()
            .find(|&&c| columns[c].name == name)
            .map(|c| format!("u.v{c}"))
            .unwrap_or_else(|| "NULL".to_owned())
    };
    let join: Vec<String> = rt
        .natural_key
        .iter()
        .map(|k| format!("t.{k} = {}", value_of(k)))
        .collect();
    let settable: Vec<&str> = given
        .iter()
        .map(|&c| columns[c].name)
        .filter(|name| !rt.natural_key.contains(name))
        .collect();
    let same = if settable.is_empty() {
        String::new()
    } else {
        format!(
            "WHERE ({}) IS NOT DISTINCT FROM ({})",
            settable
                .iter()
                .map(|c| format!("t.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            settable
                .iter()
                .map(|c| value_of(c))
                .collect::<Vec<_>>()
                .join(", "),
        )
    };
    format!(
        "SELECT u.n, t.id FROM unnest({args}) WITH ORDINALITY AS u({names})
         JOIN {table} t ON t.organization_id = $1 AND t.mode = $2 AND {join}
         {same}",
        args = args.join(", "),
        names = names.join(", "),
        table = rt.name,
        join = join.join(" AND "),
    )
}

/// The natural key's columns of table `t`, as text (how keys are compared in Rust).
fn key_as_text(rt: &ResourceType) -> String {
    rt.natural_key
        .iter()
        .map(|c| format!("t.{c}::text"))
        .collect::<Vec<_>>()
        .join(", ")
}
