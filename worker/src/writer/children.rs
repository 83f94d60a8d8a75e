//! Children given inline with their parent (an order's `line_items`, a price's
//! `price_tiers`): written after their parents, in the same transaction, as a batch of their
//! own type through the same writer, each child naming its parent by the id just written.

use deadpool_postgres::Transaction;
use imports_common::catalogue::ResourceType;
use imports_common::model::Tenant;
use imports_common::validate::{Prepared, Reference};

use super::{write_records, Effect, Write};

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
        let Some(parent_ri) = child_rt
            .relationships
            .iter()
            .position(|r| Some(r.name) == child_rt.parent)
        else {
            continue;
        };
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
                    let mut child = child.clone();
                    child.references[parent_ri] = Some(Reference::Id(parent_id.clone()));
                    batch.push(child);
                    owners.push((w, m, j));
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        let (did, _) = write_records(tx, child_rt, tenant, None, &mut batch, false).await?;
        for ((w, m, j), (child, effect)) in owners.into_iter().zip(batch.iter().zip(did)) {
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
