//! Records given inline with an input, each kind written as a batch of its own type through
//! the same writer, in the same transaction:
//!
//! - related records (an order's `shipping_address`), written before the inputs, which are
//!   then linked to them by the ids written;
//! - children (an order's `line_items`, a price's `price_tiers`), written after their parents,
//!   each naming its parent by the id just written.

use deadpool_postgres::Transaction;
use imports_common::catalogue::{resource_type, ResourceType};
use imports_common::model::Tenant;
use imports_common::validate::{Cell, Prepared};

use super::outcome::Effect;
use super::plan::Write;
use super::{sql, write_records, Expect};

/// What writing the related records given inline did.
pub(super) struct Related {
    /// Some related record failed: its error is now its input's (`shipping_address.city`).
    pub failed: bool,
    /// Per input, whether a related record of its was created or changed.
    pub changed: Vec<bool>,
}

/// Writes the related records the valid inputs give inline, one batch per relationship, and
/// fills each input's relationship column with the id written.
pub(super) async fn write_related(
    tx: &Transaction<'_>,
    rt: &'static ResourceType,
    tenant: &Tenant,
    records: &mut [Prepared],
) -> Result<Related, tokio_postgres::Error> {
    let mut out = Related {
        failed: false,
        changed: vec![false; records.len()],
    };
    for (ri, rel) in rt.relationships.iter().enumerate() {
        if !rel.inline {
            continue;
        }
        let Some(target) = resource_type(rel.target) else {
            continue;
        };
        let id_col = rt.relationship_column(ri);
        let mut owners: Vec<usize> = Vec::new();
        let mut batch: Vec<Prepared> = Vec::new();
        for (m, p) in records.iter().enumerate() {
            if !p.is_valid() {
                continue;
            }
            if let Some((_, related)) = p.related.iter().find(|(r, _)| *r == ri) {
                owners.push(m);
                batch.push(related.clone());
            }
        }
        if batch.is_empty() {
            continue;
        }
        let written =
            write_records(tx, target, tenant, None, &mut batch, (Expect::Mixed, true)).await?;
        for (((m, related), effect), id) in owners
            .into_iter()
            .zip(&batch)
            .zip(written.did)
            .zip(written.ids)
        {
            for (attribute, message) in &related.errors {
                records[m].error(&format!("{}.{attribute}", rel.name), message.clone());
                out.failed = true;
            }
            if let (true, Some(id)) = (related.is_valid(), id) {
                records[m].cells[id_col] = Some(Cell::Text(id));
                out.changed[m] |= matches!(effect, Some(Effect::Created | Effect::Updated));
            }
        }
    }
    Ok(out)
}

/// Writes the inline children of the records just written, one batch per child type. A parent
/// whose children changed was updated, even if its own columns did not change. Returns whether
/// some child failed: its error is now its parent input's, named by place
/// (`line_items[1].quantity`), and the caller writes the batch again without that input.
pub(super) async fn write_children(
    tx: &Transaction<'_>,
    rt: &'static ResourceType,
    tenant: &Tenant,
    writes: &[Write],
    effects: &mut [Effect],
    ids: &[Option<String>],
    records: &mut [Prepared],
) -> Result<bool, tokio_postgres::Error> {
    let mut failed = false;
    for (ci, child_name) in rt.children.iter().enumerate() {
        let Some((_, child_rt)) = rt.child(child_name) else {
            continue;
        };
        let Some(parent_ri) = child_rt.parent_index() else {
            continue;
        };
        let parent_col = child_rt.relationship_column(parent_ri);
        // (write, input, place in its list) of each child, in order.
        let mut owners: Vec<(usize, usize, usize)> = Vec::new();
        let mut batch: Vec<Prepared> = Vec::new();
        for (w, write) in writes.iter().enumerate() {
            let Some(parent_id) = ids[w].as_ref() else {
                continue; // not written
            };
            for &m in &write.members {
                for (j, child) in records[m]
                    .children
                    .get(ci)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    // Linked to the parent just written: no lookup (see `linked_by_writer`).
                    let mut child = child.clone();
                    child.cells[parent_col] = Some(Cell::Text(parent_id.clone()));
                    batch.push(child);
                    owners.push((w, m, j));
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        refuse_other_parents_children(tx, child_rt, parent_ri, tenant, &mut batch).await?;
        let written = write_records(
            tx,
            child_rt,
            tenant,
            None,
            &mut batch,
            (Expect::Mixed, false),
        )
        .await?;
        for ((w, m, j), (child, effect)) in owners.into_iter().zip(batch.iter().zip(written.did)) {
            for (attribute, message) in &child.errors {
                records[m].error(&format!("{child_name}[{j}].{attribute}"), message.clone());
                failed = true;
            }
            if matches!(effect, Some(Effect::Created | Effect::Updated))
                && effects[w] == Effect::Unchanged
            {
                effects[w] = Effect::Updated;
            }
        }
    }
    Ok(failed)
}

/// A child given by id must already be a child of the parent it is given in: updating it
/// would otherwise move it from its own parent (another order's line item, say).
async fn refuse_other_parents_children(
    tx: &Transaction<'_>,
    child_rt: &ResourceType,
    parent_ri: usize,
    tenant: &Tenant,
    batch: &mut [Prepared],
) -> Result<(), tokio_postgres::Error> {
    let ids: Vec<&str> = batch.iter().filter_map(|c| c.id.as_deref()).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let parent = &child_rt.relationships[parent_ri];
    let sql = sql::parents_of_children_sql(child_rt, parent);
    let stmt = tx.prepare_cached(&sql).await?;
    let parents: std::collections::HashMap<String, String> = tx
        .query(
            &stmt,
            &[&tenant.organization_id, &tenant.mode.as_str(), &ids],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for child in batch.iter_mut() {
        let parent_col = child_rt.relationship_column(parent_ri);
        let (Some(id), Some(Cell::Text(given_in))) = (&child.id, &child.cells[parent_col]) else {
            continue;
        };
        if parents.get(id).is_some_and(|own| own != given_in) {
            let message = format!("belongs to another {}", parent.name);
            child.error("id", message);
        }
    }
    Ok(())
}
