//! Writes one batch of validated inputs into its resource table, set-based.
//!
//! Per batch, whatever its size: one query per relationship to resolve references; one
//! `INSERT ... ON CONFLICT (natural key) DO UPDATE` for the records named by their natural key
//! (one per set of given attributes, usually one), which creates or updates them in the same
//! pass, as the COPY-and-merge script a user would write does (a plain INSERT instead while the
//! import's batches have all been new records: see `Expect`); and one UPDATE by primary key for
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
//!
//! - `resolve`: relationship resolution, and the ids of records written.
//! - `plan`: which record each input writes, and how; rows grouped by given attributes.
//! - [`sql`]: the SQL text of every statement the writer runs.
//! - `execute`: running the statements, set-based or record by record.
//! - `outcome`: what each input did, counted and logged.
//! - `generate`: keys generated for inputs that leave them out (order numbers...).
//! - `limits`: how many records one parent may have (a price's tiers).
//! - `nested`: records given inline (related records, children).
//! - `tags`: tags and `taggings`.

mod execute;
mod generate;
mod limits;
mod nested;
mod outcome;
mod plan;
mod resolve;
pub mod sql;
mod tags;

use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::Transaction;
use futures::future::BoxFuture;
use imports_common::catalogue::ResourceType;
use imports_common::model::Tenant;
use imports_common::validate::Prepared;
use imports_runtime::telemetry::traces::{sql_span, InSpan};
use imports_storage::leases::BatchTotals;

use execute::write_rows;
use outcome::{effects_of_inputs, outcome, Effect, Written};
use plan::{effects_known, plan_writes};
use resolve::{complete_ids, resolve_relationships};

pub use outcome::{BatchOutcome, UNCHANGED};

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
    let written = write_records(
        tx,
        rt,
        tenant,
        parent_resource_id,
        records,
        (hints.expect(), false),
    )
    .await?;
    let mut out = outcome(records, &written.did);
    out.inserted = written.inserted;
    hints.learn(&out.totals, written.met_existing);
    Ok(out)
}

/// What the writer expects of a batch's records (from the import's batches before it), which
/// chooses how it writes them: a wrong guess costs time, never a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// None exists yet: a plain INSERT, which Postgres runs for about three quarters of an
    /// upsert's cost (no arbiter index probe, no speculative insertion). Should one exist
    /// after all, the batch's set-based write is taken back and done again as `Mixed`.
    New,
    /// New, changed or unchanged records: the upsert decides.
    Mixed,
    /// Most already hold their given values: those are found by a plain read and left out
    /// of the upsert, which would lock (and so write) each of them.
    Unchanged,
}

/// What the writer learns from an import's batches for the next ones.
#[derive(Debug, Default)]
pub struct Hints {
    /// Most records of the last batch already held their given values (a re-import of the
    /// same file, say). Not worth a read per batch when most records are new or changed.
    unchanged_likely: AtomicBool,
    /// A record named by its natural key in the last batch already existed: the next one is
    /// upserted rather than tried as all new.
    met_existing: AtomicBool,
}

impl Hints {
    fn expect(&self) -> Expect {
        if self.unchanged_likely.load(Ordering::Relaxed) {
            Expect::Unchanged
        } else if self.met_existing.load(Ordering::Relaxed) {
            Expect::Mixed
        } else {
            Expect::New
        }
    }

    fn learn(&self, totals: &BatchTotals, met_existing: bool) {
        let unchanged = totals.processed - totals.created - totals.updated;
        self.unchanged_likely
            .store(unchanged * 2 > totals.processed, Ordering::Relaxed);
        self.met_existing.store(met_existing, Ordering::Relaxed);
    }
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
    (expect, want_ids): (Expect, bool),
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
                tx.batch_execute(sql::BATCH_WRITE.open).await?;
            }
            let related = nested::write_related(tx, rt, tenant, records).await?;
            if related.failed {
                // The inputs whose related records failed are now invalid: write the rest
                // again, without the related records of theirs that were written.
                tx.batch_execute(sql::BATCH_WRITE.roll_back).await?;
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
            let (mut effects, mut ids) =
                write_rows(tx, rt, &columns, tenant, &writes, records, expect).await?;
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
                tx.batch_execute(sql::BATCH_WRITE.roll_back).await?;
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
                tx.batch_execute(sql::BATCH_WRITE.release).await?;
            }
            return Ok(effects_of_inputs(&writes, effects, &ids, records));
        }
    })
}
