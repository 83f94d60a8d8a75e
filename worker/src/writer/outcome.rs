//! Outcome accounting: what each row and input did, and a batch's counts and log entries.

use imports_common::validate::Prepared;
use imports_storage::leases::BatchTotals;
use imports_storage::logs::LogEntry;
use imports_storage::logs::Severity;

use super::plan::{effects_known, Write, WriteKind};

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

/// What writing a row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    Created,
    Updated,
    /// The record already held the given values: nothing was written.
    Unchanged,
    /// The record was deleted between the lookup and the write.
    Gone,
}

/// What [`write_records`] did.
pub(super) struct Written {
    /// Each input's effect (`None` for inputs not written).
    pub(super) did: Vec<Option<Effect>>,
    /// The id of the record each input wrote, when asked for (`want_ids`).
    pub(super) ids: Vec<Option<String>>,
    /// How many records were created.
    pub(super) inserted: u64,
    /// Whether a record named by its natural key already existed (was not created).
    pub(super) met_existing: bool,
}

/// What each input did, from what each row did. A record created by several inputs was
/// created by the first and updated by the others.
pub(super) fn effects_of_inputs(
    writes: &[Write],
    effects: Vec<Effect>,
    row_ids: &[Option<String>],
    records: &[Prepared],
) -> Written {
    let mut did: Vec<Option<Effect>> = vec![None; records.len()];
    let mut ids: Vec<Option<String>> = vec![None; records.len()];
    let mut inserted = 0;
    let met_existing = writes
        .iter()
        .zip(&effects)
        .any(|(w, e)| w.kind == WriteKind::Upsert && *e != Effect::Created);
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
    Written {
        did,
        ids,
        inserted,
        met_existing,
    }
}

/// Counts a batch's inputs and gathers their log entries, from what each input did.
pub(super) fn outcome(records: &[Prepared], did: &[Option<Effect>]) -> BatchOutcome {
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
