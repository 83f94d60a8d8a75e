//! Write planning: which record each valid input writes, and how (insert or update by
//! natural key, update by id), inputs naming one record merged, rows grouped by the set of
//! attributes they give.

use std::collections::HashMap;

use deadpool_postgres::Transaction;
use imports_common::catalogue::{Column, ResourceType};
use imports_common::ids::new_id;
use imports_common::model::Tenant;
use imports_common::validate::{missing_at_create, missing_message, Cell, Prepared};

use super::generate::generate_keys;
use super::limits::keep_under_parent_limit;
use super::resolve::lookup_keys;
use super::sql;

/// How a row is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WriteKind {
    /// An existing record, by primary key.
    Update,
    /// Created, or updated when a record with its natural key exists.
    Upsert,
}

/// One row to write, standing for one or more inputs naming the same record.
pub(super) struct Write {
    /// The record's id (existing for updates, proposed for upserts).
    pub(super) id: String,
    /// How it is written.
    pub(super) kind: WriteKind,
    /// The natural key (upserts), to match the rows the statement returns.
    pub(super) key: Vec<String>,
    /// Merged column values (`None`: not given).
    pub(super) cells: Vec<Option<Cell>>,
    /// The inputs (indices into the batch) this row stands for.
    pub(super) members: Vec<usize>,
}

impl Write {
    /// Which columns the row gives: rows of one pattern share a statement.
    fn pattern(&self) -> Vec<bool> {
        self.cells.iter().map(Option::is_some).collect()
    }
}

/// Whether every input of a row is still valid (none failed in the record-by-record pass).
pub(super) fn effects_known(w: &Write, records: &[Prepared]) -> bool {
    w.members.iter().all(|&m| records[m].is_valid())
}

/// Which record each valid input writes, and how.
///
/// Inputs with an id update that record (it must exist). Inputs without one are named by
/// their natural key: when they give every required attribute they are upserted (created, or
/// updated if the key exists, decided by Postgres in the write itself); when they lack one they
/// can only update, so their keys are looked up. Inputs naming the same record are merged.
pub(super) async fn plan_writes(
    tx: &Transaction<'_>,
    rt: &ResourceType,
    columns: &[Column],
    tenant: &Tenant,
    records: &mut [Prepared],
) -> Result<Vec<Write>, tokio_postgres::Error> {
    let key_cols = rt.key_columns();
    generate_keys(tx, rt, tenant, records).await?;

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
        let stmt = tx.prepare_cached(&sql::existing_ids_sql(rt)).await?;
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

    // Upserts lacking what a create needs (a required attribute, a shipping category...) can
    // only update; and an input already rejected that would have created a record should say
    // what else it lacks. Both need to know whether their key exists. (Relationships are
    // resolved by now: their id columns say whether they are given.)
    let missing = |cells: &[Option<Cell>]| missing_at_create(rt, cells, |_| false);
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
            // Reread, not taken: a retried batch must report the same errors. What validation
            // found missing, unless resolution filled it (the import's parent); a relationship
            // named but not found was reported as such. (An input that could not be read at
            // all has nothing missing: it has no fields.)
            let named = |ri: usize| p.references[ri].is_some() || p.gives_related(ri);
            let still = missing_at_create(rt, &p.cells, named);
            let lacking: Vec<&'static str> = p
                .missing_required
                .iter()
                .copied()
                .filter(|attr| still.contains(attr))
                .collect();
            for attr in lacking {
                if !p.errors.iter().any(|(a, _)| a == attr) {
                    p.error(attr, missing_message(rt, attr));
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
                records[m].error(attr, missing_message(rt, attr));
            }
        }
        false
    });
    keep_under_parent_limit(tx, rt, tenant, records, &mut writes).await?;
    Ok(writes)
}

/// The upserts among `rows`, grouped by the set of columns they give (one statement per
/// group): each pattern with the places in `rows` of its members, in order of appearance.
pub(super) fn upsert_groups(rows: &[&Write]) -> Vec<(Vec<bool>, Vec<usize>)> {
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
    groups
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
