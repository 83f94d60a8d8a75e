//! Limits on how many records one parent may have (a price's tiers, at most 10 as in the
//! reference API), checked against what the parent has and what the batch adds.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::Transaction;
use imports_common::catalogue::ResourceType;
use imports_common::model::Tenant;
use imports_common::validate::{Cell, Prepared};

use super::plan::{Write, WriteKind};
use super::sql;

/// Fails the inputs whose creates would give a parent more than the type's limit, and drops
/// their writes. A record already under the parent is an update and always allowed.
pub(super) async fn keep_under_parent_limit(
    tx: &Transaction<'_>,
    rt: &ResourceType,
    tenant: &Tenant,
    records: &mut [Prepared],
    writes: &mut Vec<Write>,
) -> Result<(), tokio_postgres::Error> {
    let (Some(max), Some(pi)) = (rt.max_per_parent, rt.parent_index()) else {
        return Ok(());
    };
    let parent = &rt.relationships[pi];
    let parent_col = rt.relationship_column(pi);
    let parent_of = |w: &Write| match &w.cells[parent_col] {
        Some(Cell::Text(id)) => Some(id.clone()),
        _ => None,
    };
    let parents: Vec<String> = writes
        .iter()
        .filter(|w| w.kind == WriteKind::Upsert)
        .filter_map(parent_of)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if parents.is_empty() {
        return Ok(());
    }
    let stmt = tx.prepare_cached(&sql::siblings_sql(rt, parent)).await?;
    let mut keys: HashMap<String, HashSet<Vec<String>>> = HashMap::new();
    let mode = tenant.mode.as_str();
    for row in tx
        .query(&stmt, &[&tenant.organization_id, &mode, &parents])
        .await?
    {
        let key: Vec<String> = (0..rt.natural_key.len())
            .map(|k| row.get::<_, Option<String>>(k + 1).unwrap_or_default())
            .collect();
        keys.entry(row.get(0)).or_default().insert(key);
    }
    let mut refused = Vec::new();
    for (w, write) in writes.iter().enumerate() {
        let Some(p) = parent_of(write).filter(|_| write.kind == WriteKind::Upsert) else {
            continue;
        };
        let set = keys.entry(p).or_default();
        if set.contains(&write.key) {
            continue;
        }
        if set.len() >= max {
            refused.push(w);
        } else {
            set.insert(write.key.clone());
        }
    }
    for &w in refused.iter().rev() {
        for &m in &writes[w].members {
            records[m].error(
                parent.name,
                format!("has {max} {} already: at most {max} are allowed", rt.name),
            );
        }
        writes.remove(w);
    }
    Ok(())
}
