//! Watching imports until they are final: live progress bars on a terminal, plain lines
//! otherwise, then a summary table.
//!
//! Imports are polled through the list endpoint (`filter[ids]`, or `filter[q][reference_start]`
//! for a group) with a sparse fieldset, so a pending import's inputs are never echoed back
//! and 25 imports cost one request.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};

use crate::client::Api;
use crate::output::{duration, rate, thousands, Table};

/// The attributes a watch reads.
pub const FIELDS: &str = "resource_type,status,reference,inputs_size,processed_count,errors_count,warnings_count,started_at,completed_at,interrupted_at,created_at,metadata";

/// The largest page of the list endpoint.
const PAGE: usize = 25;

/// Polls in a row that may fail to reach the API before a watch gives up.
const UNREACHABLE_POLLS: u32 = 30;

/// Past this many imports, only the running ones get a bar of their own.
const BARS_FOR_ALL: usize = 10;

/// What to watch.
#[derive(Debug, Clone)]
pub enum Target {
    /// These imports.
    Ids(Vec<String>),
    /// The imports whose reference is `<group>-NNNN`.
    Group(String),
}

/// An import as a watch sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportState {
    /// Its id.
    pub id: String,
    /// Its reference.
    pub reference: Option<String>,
    /// Its resource type.
    pub resource_type: String,
    /// `pending`, `in_progress`, `completed`, `interrupted`, or `deleted` once it is gone.
    pub status: String,
    /// `inputs_size`.
    pub inputs: i64,
    /// `processed_count`.
    pub processed: i64,
    /// `errors_count`.
    pub errors: i64,
    /// `warnings_count`.
    pub warnings: i64,
    /// `started_at`.
    pub started_at: Option<DateTime<Utc>>,
    /// `completed_at` or `interrupted_at`.
    pub ended_at: Option<DateTime<Utc>>,
    /// How many chunks its group has, when importctl created it.
    pub group_chunks: Option<usize>,
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The N of a `chunk_number` `i/N`, as Commerce Layer's CLI imports plugin writes it.
fn chunks_of(chunk_number: &Value) -> Option<usize> {
    chunk_number
        .as_str()?
        .split_once('/')?
        .1
        .trim()
        .parse()
        .ok()
}

impl ImportState {
    /// Reads a resource object of the API.
    pub fn from_resource(r: &Value) -> ImportState {
        let a = &r["attributes"];
        let n = |name: &str| a[name].as_i64().unwrap_or(0);
        ImportState {
            id: r["id"].as_str().unwrap_or_default().to_owned(),
            reference: a["reference"].as_str().map(str::to_owned),
            resource_type: a["resource_type"].as_str().unwrap_or_default().to_owned(),
            status: a["status"].as_str().unwrap_or("unknown").to_owned(),
            inputs: n("inputs_size"),
            processed: n("processed_count"),
            errors: n("errors_count"),
            warnings: n("warnings_count"),
            started_at: time(&a["started_at"]),
            ended_at: time(&a["completed_at"]).or_else(|| time(&a["interrupted_at"])),
            group_chunks: a["metadata"]["importctl"]["chunks"]
                .as_u64()
                .map(|c| c as usize)
                .or_else(|| chunks_of(&a["metadata"]["chunk_number"])),
        }
    }

    /// Inputs handled so far (`processed + errors`).
    pub fn handled(&self) -> i64 {
        self.processed + self.errors
    }

    /// Whether it will not change any more.
    pub fn is_final(&self) -> bool {
        matches!(
            self.status.as_str(),
            "completed" | "interrupted" | "deleted"
        )
    }

    /// Completed without errors.
    pub fn ok(&self) -> bool {
        self.status == "completed" && self.errors == 0
    }

    /// How long it ran (from the API's own timestamps), once final.
    pub fn run_time(&self) -> Option<Duration> {
        let (s, e) = (self.started_at?, self.ended_at?);
        (e - s).to_std().ok()
    }

    fn label(&self) -> String {
        self.reference.clone().unwrap_or_else(|| self.id.clone())
    }

    /// The stable JSON shape of `--json`.
    pub fn to_json(&self) -> Value {
        let t = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339());
        json!({
            "id": self.id,
            "reference": self.reference,
            "resource_type": self.resource_type,
            "status": self.status,
            "inputs_size": self.inputs,
            "processed_count": self.processed,
            "errors_count": self.errors,
            "warnings_count": self.warnings,
            "started_at": t(self.started_at),
            "ended_at": t(self.ended_at),
            "ok": self.ok(),
        })
    }
}

/// Whether `reference` is a chunk of `group` (`<group>-` and digits).
pub fn in_group(reference: &str, group: &str) -> bool {
    reference
        .strip_prefix(group)
        .and_then(|r| r.strip_prefix('-'))
        .map(|n| n.len() >= 4 && n.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or(false)
}

fn list_all(api: &Api, filter: (String, String)) -> Result<Vec<ImportState>> {
    let mut out = Vec::new();
    let mut page = 1;
    loop {
        let doc = api.get(
            "/api/imports",
            &[
                filter.clone(),
                ("fields[imports]".into(), FIELDS.into()),
                ("sort".into(), "reference,created_at".into()),
                ("page[size]".into(), PAGE.to_string()),
                ("page[number]".into(), page.to_string()),
            ],
        )?;
        if let Some(data) = doc["data"].as_array() {
            out.extend(data.iter().map(ImportState::from_resource));
        }
        let pages = doc["meta"]["page_count"].as_i64().unwrap_or(1);
        if page >= pages {
            return Ok(out);
        }
        page += 1;
    }
}

/// The imports of a group, by reference.
pub fn group_members(api: &Api, group: &str) -> Result<Vec<ImportState>> {
    let all = list_all(
        api,
        ("filter[q][reference_start]".into(), format!("{group}-")),
    )?;
    Ok(all
        .into_iter()
        .filter(|i| i.reference.as_deref().is_some_and(|r| in_group(r, group)))
        .collect())
}

/// These imports, in this order; an id the API no longer knows is `deleted`.
pub fn by_ids(api: &Api, ids: &[String]) -> Result<Vec<ImportState>> {
    let mut found: HashMap<String, ImportState> = HashMap::new();
    for batch in ids.chunks(PAGE) {
        for i in list_all(api, ("filter[ids]".into(), batch.join(",")))? {
            found.insert(i.id.clone(), i);
        }
    }
    Ok(ids
        .iter()
        .map(|id| {
            found.remove(id).unwrap_or_else(|| ImportState {
                id: id.clone(),
                reference: None,
                resource_type: String::new(),
                status: "deleted".into(),
                inputs: 0,
                processed: 0,
                errors: 0,
                warnings: 0,
                started_at: None,
                ended_at: None,
                group_chunks: None,
            })
        })
        .collect())
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Progress bars (stdout is a terminal).
    Bars,
    /// One line per change (stdout is a file or a pipe).
    Plain,
    /// Nothing until the end (`--json`).
    Quiet,
}

/// How to watch.
#[derive(Debug, Clone)]
pub struct Options {
    /// Time between polls.
    pub interval: Duration,
    /// How progress is shown.
    pub display: Display,
    /// For a group: how long to wait for chunks not created yet once every created one is
    /// final.
    pub missing_timeout: Duration,
}

/// The end of a watch.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The imports, final.
    pub imports: Vec<ImportState>,
    /// For a group, the chunk numbers it should have and does not.
    pub missing: Vec<usize>,
    /// The group, when one was watched.
    pub group: Option<String>,
    /// How long the watch took.
    pub elapsed: Duration,
}

impl Outcome {
    /// Every import completed without errors, none missing.
    pub fn ok(&self) -> bool {
        self.missing.is_empty() && self.imports.iter().all(ImportState::ok)
    }

    /// The stable JSON shape of `--json`.
    pub fn to_json(&self) -> Value {
        let sum = |f: fn(&ImportState) -> i64| self.imports.iter().map(f).sum::<i64>();
        json!({
            "group": self.group,
            "ok": self.ok(),
            "imports": self.imports.iter().map(ImportState::to_json).collect::<Vec<_>>(),
            "missing_chunks": self.missing,
            "totals": {
                "imports": self.imports.len(),
                "completed": self.imports.iter().filter(|i| i.status == "completed").count(),
                "interrupted": self.imports.iter().filter(|i| i.status == "interrupted").count(),
                "deleted": self.imports.iter().filter(|i| i.status == "deleted").count(),
                "inputs_size": sum(|i| i.inputs),
                "processed_count": sum(|i| i.processed),
                "errors_count": sum(|i| i.errors),
                "warnings_count": sum(|i| i.warnings),
            },
        })
    }

    /// The summary table and a verdict, for people.
    pub fn summary(&self) -> String {
        let mut t = Table::new(
            &[
                "ID",
                "REFERENCE",
                "STATUS",
                "INPUTS",
                "PROCESSED",
                "ERRORS",
                "WARNINGS",
                "TIME",
                "RATE",
            ],
            &["INPUTS", "PROCESSED", "ERRORS", "WARNINGS", "TIME", "RATE"],
        );
        for i in &self.imports {
            let run = i.run_time();
            t.row(vec![
                i.id.clone(),
                i.reference.clone().unwrap_or_default(),
                i.status.clone(),
                thousands(i.inputs),
                thousands(i.processed),
                thousands(i.errors),
                thousands(i.warnings),
                run.map(duration).unwrap_or_default(),
                run.filter(|d| d.as_secs_f64() > 0.0)
                    .map(|d| rate(i.handled() as f64 / d.as_secs_f64()))
                    .unwrap_or_default(),
            ]);
        }
        if self.imports.len() > 1 {
            let sum = |f: fn(&ImportState) -> i64| self.imports.iter().map(f).sum::<i64>();
            t.row(vec![
                format!("TOTAL ({})", self.imports.len()),
                String::new(),
                String::new(),
                thousands(sum(|i| i.inputs)),
                thousands(sum(|i| i.processed)),
                thousands(sum(|i| i.errors)),
                thousands(sum(|i| i.warnings)),
                duration(self.elapsed),
                String::new(),
            ]);
        }
        let mut out = t.render();
        let bad: Vec<&ImportState> = self.imports.iter().filter(|i| !i.ok()).collect();
        if !self.missing.is_empty() {
            let group = self.group.as_deref().unwrap_or("?");
            out.push_str(&format!(
                "{} chunk(s) of group {group} were never created: {}\n",
                self.missing.len(),
                self.missing
                    .iter()
                    .map(|n| format!("{group}-{n:04}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if bad.is_empty() && self.missing.is_empty() {
            out.push_str(&format!(
                "{} import(s) completed without errors\n",
                self.imports.len()
            ));
        }
        for i in bad {
            let why = match i.status.as_str() {
                "completed" => format!("completed with {} error(s)", thousands(i.errors)),
                "deleted" => "was deleted".to_owned(),
                s => format!("{s} with {} error(s)", thousands(i.errors)),
            };
            out.push_str(&format!("{} {why}", i.id));
            if i.errors > 0 {
                out.push_str(&format!(": importctl errors {}", i.id));
            }
            out.push('\n');
        }
        out
    }
}

/// Rates from what this watch has seen: the first sight of an import running, and now.
#[derive(Default)]
struct Rates {
    seen: HashMap<String, (Instant, i64)>,
}

impl Rates {
    /// Inputs per second, and the time left, when they can be told.
    fn of(&mut self, i: &ImportState) -> (Option<f64>, Option<Duration>) {
        if i.is_final() {
            let r = i
                .run_time()
                .filter(|d| d.as_secs_f64() > 0.0)
                .map(|d| i.handled() as f64 / d.as_secs_f64());
            return (r, None);
        }
        if i.status != "in_progress" {
            return (None, None);
        }
        let now = Instant::now();
        let (t0, h0) = *self.seen.entry(i.id.clone()).or_insert((now, i.handled()));
        let elapsed = now.duration_since(t0).as_secs_f64();
        if elapsed < 0.5 || i.handled() <= h0 {
            return (None, None);
        }
        let r = (i.handled() - h0) as f64 / elapsed;
        let left = (i.inputs - i.handled()).max(0) as f64 / r;
        (Some(r), Some(Duration::from_secs_f64(left.min(1e7))))
    }
}

fn progress_text(i: &ImportState, r: Option<f64>, eta: Option<Duration>) -> String {
    let mut parts = vec![i.status.clone()];
    if let Some(r) = r {
        parts.push(rate(r));
    }
    if let Some(eta) = eta {
        parts.push(format!("ETA {}", duration(eta)));
    }
    parts.push(format!("errors {}", thousands(i.errors)));
    parts.push(format!("warnings {}", thousands(i.warnings)));
    parts.join(" · ")
}

struct Bars {
    multi: MultiProgress,
    total: Option<ProgressBar>,
    bars: HashMap<String, ProgressBar>,
    all: bool,
    width: usize,
}

impl Bars {
    fn new() -> Bars {
        Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            total: None,
            bars: HashMap::new(),
            all: true,
            width: 12,
        }
    }

    fn style() -> ProgressStyle {
        // A constant template: should indicatif ever refuse it, plain bars beat a panic.
        ProgressStyle::with_template(
            "{prefix:.bold} [{bar:30.cyan/blue}] {human_pos}/{human_len} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
    }

    fn update(&mut self, imports: &[ImportState], rates: &mut Rates) {
        self.all = imports.len() <= BARS_FOR_ALL;
        self.width = imports
            .iter()
            .map(|i| i.label().chars().count())
            .max()
            .unwrap_or(5)
            .max(5);
        if imports.len() > 1 && self.total.is_none() {
            let bar = self.multi.insert(0, ProgressBar::new(0));
            bar.set_style(Self::style());
            self.total = Some(bar);
        }
        for i in imports {
            let (r, eta) = rates.of(i);
            let wanted = self.all || i.status == "in_progress";
            match self.bars.get(&i.id) {
                None if wanted => {
                    let bar = self.multi.add(ProgressBar::new(i.inputs.max(0) as u64));
                    bar.set_style(Self::style());
                    bar.set_prefix(format!("{:<w$}", i.label(), w = self.width));
                    self.bars.insert(i.id.clone(), bar);
                }
                _ => {}
            }
            if let Some(bar) = self.bars.get(&i.id) {
                bar.set_length(i.inputs.max(0) as u64);
                bar.set_position(i.handled().max(0) as u64);
                bar.set_message(progress_text(i, r, eta));
                if i.is_final() && !bar.is_finished() {
                    if self.all {
                        bar.finish();
                    } else {
                        bar.finish_and_clear();
                        self.multi.remove(bar);
                    }
                }
            }
        }
        if let Some(total) = &self.total {
            let done = imports.iter().filter(|i| i.is_final()).count();
            let running = imports.iter().filter(|i| i.status == "in_progress").count();
            let errors: i64 = imports.iter().map(|i| i.errors).sum();
            let warnings: i64 = imports.iter().map(|i| i.warnings).sum();
            total.set_prefix(format!("{:<w$}", "total", w = self.width));
            total.set_length(imports.iter().map(|i| i.inputs.max(0) as u64).sum());
            total.set_position(imports.iter().map(|i| i.handled().max(0) as u64).sum());
            total.set_message(format!(
                "{done}/{} done · {running} running · errors {} · warnings {}",
                imports.len(),
                thousands(errors),
                thousands(warnings)
            ));
        }
    }

    fn finish(&self) {
        if let Some(total) = &self.total {
            total.finish();
        }
        for bar in self.bars.values() {
            if !bar.is_finished() {
                bar.finish();
            }
        }
    }
}

struct Plain {
    start: Instant,
    last: HashMap<String, (String, i64, i64, i64)>,
    last_total: Option<(usize, i64, i64)>,
}

impl Plain {
    fn update(&mut self, imports: &[ImportState], rates: &mut Rates) {
        let at = self.start.elapsed().as_secs_f64();
        for i in imports {
            let (r, eta) = rates.of(i);
            let key = (i.status.clone(), i.handled(), i.errors, i.warnings);
            if self.last.get(&i.id) == Some(&key) {
                continue;
            }
            println!(
                "[{at:7.1}s] {} {} {}/{} {}",
                i.id,
                i.label(),
                thousands(i.handled()),
                thousands(i.inputs),
                progress_text(i, r, eta)
            );
            self.last.insert(i.id.clone(), key);
        }
        if imports.len() > 1 {
            let done = imports.iter().filter(|i| i.is_final()).count();
            let handled: i64 = imports.iter().map(ImportState::handled).sum();
            let inputs: i64 = imports.iter().map(|i| i.inputs).sum();
            if self.last_total != Some((done, handled, inputs)) {
                println!(
                    "[{at:7.1}s] total {done}/{} done {}/{}",
                    imports.len(),
                    thousands(handled),
                    thousands(inputs)
                );
                self.last_total = Some((done, handled, inputs));
            }
        }
    }
}

/// Polls `target` until every import is final.
pub fn watch(api: &Api, target: &Target, options: &Options) -> Result<Outcome> {
    let start = Instant::now();
    let mut rates = Rates::default();
    let mut bars = (options.display == Display::Bars).then(Bars::new);
    let mut plain = (options.display == Display::Plain).then(|| Plain {
        start,
        last: HashMap::new(),
        last_total: None,
    });
    let mut first = true;
    let mut unreachable_polls = 0;
    let mut members = 0;
    let mut members_changed = Instant::now();
    loop {
        let polled = match target {
            Target::Ids(ids) => by_ids(api, ids),
            Target::Group(g) => group_members(api, g),
        };
        let imports = match polled {
            Ok(imports) => {
                unreachable_polls = 0;
                imports
            }
            // A watch outlives a restart of the API: an unreachable API is polled again a
            // few times; an error answer is final.
            Err(e) if !first && e.downcast_ref::<crate::client::ApiError>().is_none() => {
                unreachable_polls += 1;
                if unreachable_polls > UNREACHABLE_POLLS {
                    return Err(e);
                }
                eprintln!("{e:#}; trying again");
                std::thread::sleep(options.interval.max(Duration::from_secs(2)));
                continue;
            }
            Err(e) => return Err(e),
        };
        if first {
            match target {
                Target::Group(g) if imports.is_empty() => bail!("no import is in group {g}"),
                Target::Ids(ids) => {
                    if let Some(i) = imports.iter().find(|i| i.status == "deleted") {
                        if ids.len() == 1 {
                            bail!("import {} not found", i.id);
                        }
                        bail!("import {} not found (of {})", i.id, ids.join(", "));
                    }
                }
                _ => {}
            }
            first = false;
        }
        if imports.len() != members {
            members = imports.len();
            members_changed = Instant::now();
        }
        if let Some(b) = bars.as_mut() {
            b.update(&imports, &mut rates);
        }
        if let Some(p) = plain.as_mut() {
            p.update(&imports, &mut rates);
        }
        let missing = match target {
            Target::Group(_) => missing_chunks(&imports),
            Target::Ids(_) => Vec::new(),
        };
        let settled = imports.iter().all(ImportState::is_final)
            && (missing.is_empty() || members_changed.elapsed() >= options.missing_timeout);
        if settled {
            if let Some(b) = &bars {
                b.finish();
            }
            return Ok(Outcome {
                imports,
                missing,
                group: match target {
                    Target::Group(g) => Some(g.clone()),
                    Target::Ids(_) => None,
                },
                elapsed: start.elapsed(),
            });
        }
        std::thread::sleep(options.interval);
    }
}

/// The chunk numbers (1-based) a group's imports say it has and that are not there.
fn missing_chunks(imports: &[ImportState]) -> Vec<usize> {
    let Some(expected) = imports.iter().filter_map(|i| i.group_chunks).max() else {
        return Vec::new();
    };
    let present: std::collections::HashSet<usize> = imports
        .iter()
        .filter_map(|i| {
            let r = i.reference.as_deref()?;
            r.rsplit('-').next()?.parse().ok()
        })
        .collect();
    (1..=expected).filter(|n| !present.contains(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_groups_size_is_read_from_importctl_or_from_the_cli_plugins_metadata() {
        let of = |metadata: Value| {
            ImportState::from_resource(
                &serde_json::json!({"id": "x", "attributes": {"metadata": metadata}}),
            )
            .group_chunks
        };
        assert_eq!(of(serde_json::json!({"importctl": {"chunks": 5}})), Some(5));
        assert_eq!(
            of(
                serde_json::json!({"group_id": "g", "chunk_number": "2/7", "chunk_items": "10001-20000"})
            ),
            Some(7)
        );
        assert_eq!(of(serde_json::json!({"chunk_number": "seven"})), None);
        assert_eq!(of(serde_json::json!({})), None);
    }

    fn state(reference: &str, status: &str, chunks: Option<usize>) -> ImportState {
        ImportState {
            id: reference.to_uppercase(),
            reference: Some(reference.into()),
            resource_type: "skus".into(),
            status: status.into(),
            inputs: 10,
            processed: 10,
            errors: 0,
            warnings: 0,
            started_at: None,
            ended_at: None,
            group_chunks: chunks,
        }
    }

    #[test]
    fn group_members_are_the_numbered_chunks_only() {
        assert!(in_group("skus-0001", "skus"));
        assert!(in_group("skus-12345", "skus"));
        assert!(!in_group("skus-x-0001", "skus"));
        assert!(!in_group("skus-001", "skus"));
        assert!(!in_group("skus0001", "skus"));
        assert!(!in_group("other-0001", "skus"));
    }

    #[test]
    fn missing_chunks_are_told() {
        let imports = vec![
            state("g-0001", "completed", Some(4)),
            state("g-0003", "completed", Some(4)),
        ];
        assert_eq!(missing_chunks(&imports), vec![2, 4]);
        assert!(missing_chunks(&[state("g-0001", "completed", None)]).is_empty());
    }

    #[test]
    fn the_outcome_fails_on_errors_interruptions_and_gaps() {
        let ok = Outcome {
            imports: vec![state("g-0001", "completed", None)],
            missing: vec![],
            group: None,
            elapsed: Duration::from_secs(1),
        };
        assert!(ok.ok());
        assert!(ok
            .summary()
            .contains("1 import(s) completed without errors"));
        let mut errors = ok.clone();
        errors.imports[0].errors = 2;
        assert!(!errors.ok());
        assert!(errors
            .summary()
            .contains("G-0001 completed with 2 error(s): importctl errors G-0001"));
        let mut interrupted = ok.clone();
        interrupted.imports[0].status = "interrupted".into();
        assert!(!interrupted.ok());
        let mut gap = ok.clone();
        gap.missing = vec![2];
        assert!(!gap.ok());
        assert_eq!(gap.to_json()["ok"], false);
    }
}
