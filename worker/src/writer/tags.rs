//! The tags of taggable records: an input's `tags` are its record's whole set of tags. Tags
//! not yet known are created (they are labels, named by the user), and the links between
//! records and tags are kept in `taggings`, one row per record and tag.

use std::collections::{BTreeSet, HashMap, HashSet};

use deadpool_postgres::Transaction;
use imports_common::catalogue::ResourceType;
use imports_common::ids::new_id;
use imports_common::model::Tenant;
use imports_common::validate::Prepared;

use super::outcome::Effect;
use super::plan::Write;
use super::sql;

/// Gives the records just written the tags their inputs name (the last input naming a record
/// wins), with a few set-based statements per batch: create the missing tags, read their ids,
/// remove the links no longer wanted, add the new ones. A record whose tags changed was
/// updated, even if its own columns did not change.
pub(super) async fn write_tags(
    tx: &Transaction<'_>,
    rt: &ResourceType,
    tenant: &Tenant,
    writes: &[Write],
    effects: &mut [Effect],
    ids: &[Option<String>],
    records: &[Prepared],
) -> Result<(), tokio_postgres::Error> {
    let mut targets: Vec<(usize, &str, &[String])> = Vec::new();
    for (w, write) in writes.iter().enumerate() {
        let tags = write
            .members
            .iter()
            .rev()
            .find_map(|&m| records[m].tags.as_deref());
        if let (Some(id), Some(tags)) = (ids[w].as_deref(), tags) {
            targets.push((w, id, tags));
        }
    }
    if targets.is_empty() {
        return Ok(());
    }
    let mode = tenant.mode.as_str();
    // Sorted: concurrent imports creating the same tags take their locks in the same order.
    let names: Vec<&str> = targets
        .iter()
        .flat_map(|(_, _, tags)| tags.iter().map(String::as_str))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut tag_ids: HashMap<String, String> = HashMap::new();
    if !names.is_empty() {
        let proposed: Vec<String> = names.iter().map(|_| new_id()).collect();
        let create = tx.prepare_cached(sql::CREATE_TAGS).await?;
        tx.execute(
            &create,
            &[&tenant.organization_id, &mode, &proposed, &names],
        )
        .await?;
        let read = tx.prepare_cached(sql::READ_TAGS).await?;
        for row in tx
            .query(&read, &[&tenant.organization_id, &mode, &names])
            .await?
        {
            tag_ids.insert(row.get(1), row.get(0));
        }
    }
    let record_ids: Vec<&str> = targets.iter().map(|(_, id, _)| *id).collect();
    let mut pair_records: Vec<&str> = Vec::new();
    let mut pair_tags: Vec<&str> = Vec::new();
    for (_, id, tags) in &targets {
        for tag in tags.iter() {
            if let Some(tag_id) = tag_ids.get(tag) {
                pair_records.push(id);
                pair_tags.push(tag_id);
            }
        }
    }
    let mut changed: HashSet<String> = HashSet::new();
    let unlink = tx.prepare_cached(sql::UNLINK_TAGS).await?;
    for row in tx
        .query(&unlink, &[&rt.name, &record_ids, &pair_records, &pair_tags])
        .await?
    {
        changed.insert(row.get(0));
    }
    if !pair_records.is_empty() {
        let link = tx.prepare_cached(sql::LINK_TAGS).await?;
        for row in tx
            .query(
                &link,
                &[
                    &tenant.organization_id,
                    &mode,
                    &rt.name,
                    &pair_records,
                    &pair_tags,
                ],
            )
            .await?
        {
            changed.insert(row.get(0));
        }
    }
    for (w, id, _) in targets {
        if effects[w] == Effect::Unchanged && changed.contains(id) {
            effects[w] = Effect::Updated;
        }
    }
    Ok(())
}
