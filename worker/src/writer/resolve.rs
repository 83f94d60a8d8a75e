//! Relationship resolution: the records an input names by id or key, found with one query
//! per relationship, and the ids of records written whose statement did not return them.

use std::collections::HashMap;

use deadpool_postgres::Transaction;
use imports_common::catalogue::{Column, ResourceType};
use imports_common::ids::new_id;
use imports_common::model::Tenant;
use imports_common::validate::{Cell, Prepared, Reference};
use tokio_postgres::types::ToSql;

use super::outcome::Effect;
use super::plan::{effects_known, Write};
use super::sql;

/// Makes `ids` say, for every row written whose inputs give children or tags, which record
/// it wrote (`None` for the others): an upsert that changed nothing did not return its
/// record's id, so it is found by key.
#[allow(clippy::too_many_arguments)]
pub(super) async fn complete_ids(
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

/// Whether an input could be read as a record (a malformed one has an `input` error).
pub(super) fn readable(p: &Prepared) -> bool {
    !p.errors.iter().any(|(attribute, _)| attribute == "input")
}

/// Whether relationship `ri` of an input is linked by the writer rather than looked up: the
/// input gives the related record inline (it is written, then linked), or the input is a
/// child whose parent's id the writer has just filled in.
pub(super) fn linked_by_writer(p: &Prepared, ri: usize, id_col: usize) -> bool {
    p.gives_related(ri) || (p.references[ri].is_none() && p.cells[id_col].is_some())
}

/// Resolves every relationship of the batch with one query each, filling the relationship's
/// id column (and a stored key such as `sku_code`) or logging "must exist".
pub(super) async fn resolve_relationships(
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
            let sql = sql::relationship_sql(rel);
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
        if rel.creates_unknown_keys {
            // Keys of valid inputs that name no record create it (once each).
            let mut unknown: Vec<&str> = records
                .iter()
                .zip(&wanted)
                .filter(|(p, _)| p.is_valid())
                .filter_map(|(_, w)| match w {
                    Some(Reference::Key(k)) if !by_key.contains_key(k) => Some(k.as_str()),
                    _ => None,
                })
                .collect();
            unknown.sort_unstable();
            unknown.dedup();
            if !unknown.is_empty() {
                let new_ids: Vec<String> = unknown.iter().map(|_| new_id()).collect();
                let stmt = tx.prepare_cached(&sql::create_by_key_sql(rel)).await?;
                let mode = tenant.mode.as_str();
                for row in tx
                    .query(&stmt, &[&tenant.organization_id, &mode, &new_ids, &unknown])
                    .await?
                {
                    by_key.insert(row.get(1), row.get(0));
                }
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
                    None => p.error(rel.name, "must exist"),
                },
                // Needed to name the record; other required relationships are needed only to
                // create one (see `plan`).
                None if rel.required && p.id.is_none() && rt.keys_by(rel) => {
                    p.error(rel.name, "can't be blank")
                }
                None => {}
            }
        }
    }
    Ok(())
}

/// The ids of the records with these natural keys.
pub(super) async fn lookup_keys(
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
    let sql = sql::lookup_keys_sql(rt, key_len);
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
