//! `importctl create`: a file split into chunks that each fit in one import, checked whole
//! before anything is submitted, then created chunk by chunk (or only the missing ones, with
//! --resume), and watched with --watch.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use imports_common::inputs::DEFAULT_CSV_DELIMITER;
use imports_common::model::{csv_delimiter_text, Format};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::{display, finish_watch, interval, print_json};
use crate::client::{Api, ApiError};
use crate::output::thousands;
use crate::split::{self, Chunk, Limits};
use crate::watch::{self, Target};
use crate::{CreateArgs, EXIT_OK};

/// When the API does not say its limits (an API without `/api/resource_types`): the
/// reference API's inputs limit, and a body size well under the default body limit.
const DEFAULT_MAX_INPUTS: u64 = 10_000;
const DEFAULT_MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;

/// Room left in a create request beside its inputs and attributes.
const BODY_SLACK: u64 = 1024;

fn format_of(args: &CreateArgs) -> Result<Format> {
    match args.format.or_else(|| Format::from_path(&args.file)) {
        Some(f) => Ok(f),
        None => bail!(
            "cannot tell the format of {} from its extension: name it .csv or .json, or pass --format csv|json",
            args.file.display()
        ),
    }
}

/// Checks what needs no API (the file, its format, the group), so a typo is told first.
pub(super) fn check_file(args: &CreateArgs) -> Result<()> {
    let meta = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    if meta.is_dir() {
        bail!("{} is a directory, not a file", args.file.display());
    }
    if format_of(args)? == Format::Json && args.csv_delimiter.is_some() {
        bail!("--csv-delimiter is for CSV files only");
    }
    if let Some(g) = &args.reference_group {
        check_group(g)?;
    }
    Ok(())
}

fn check_group(g: &str) -> Result<()> {
    if g.is_empty() || g.len() > 1000 || g.chars().any(char::is_control) {
        bail!("--reference-group must be 1 to 1000 characters, none of them a control character");
    }
    Ok(())
}

/// What the API says about itself: its types and limits.
struct ServerInfo {
    types: Option<Vec<String>>,
    max_inputs: u64,
    max_body_bytes: u64,
}

fn api_status(e: &anyhow::Error) -> Option<StatusCode> {
    e.downcast_ref::<ApiError>().map(|e| e.status)
}

fn server_info(api: &Api) -> Result<ServerInfo> {
    match api.get("/api/resource_types", &[]) {
        Ok(doc) => {
            let limits = &doc["meta"]["limits"];
            Ok(ServerInfo {
                types: doc["data"].as_array().map(|d| {
                    d.iter()
                        .filter_map(|t| t["id"].as_str().map(str::to_owned))
                        .collect()
                }),
                max_inputs: limits["max_inputs_per_import"]
                    .as_u64()
                    .unwrap_or(DEFAULT_MAX_INPUTS),
                max_body_bytes: limits["max_body_bytes"]
                    .as_u64()
                    .unwrap_or(DEFAULT_MAX_BODY_BYTES),
            })
        }
        // An API older than /api/resource_types: the defaults, and the API checks the type.
        Err(e) if api_status(&e) == Some(StatusCode::NOT_FOUND) => Ok(ServerInfo {
            types: None,
            max_inputs: DEFAULT_MAX_INPUTS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }),
        Err(e) => Err(e),
    }
}

#[derive(Serialize)]
struct CreateDocument<'a> {
    data: CreateData<'a>,
}

#[derive(Serialize)]
struct CreateData<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    attributes: CreateAttributes<'a>,
}

#[derive(Serialize)]
struct CreateAttributes<'a> {
    resource_type: &'a str,
    format: &'static str,
    /// Before `inputs`, so that the API counts them with it as they arrive.
    #[serde(skip_serializing_if = "Option::is_none")]
    csv_delimiter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_resource_id: Option<&'a str>,
    skip_errors: bool,
    reference: String,
    reference_origin: &'static str,
    metadata: Value,
    inputs: Inputs<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Inputs<'a> {
    Csv(&'a str),
    Json(&'a RawValue),
}

/// What every chunk's create request shares.
struct Submission<'a> {
    args: &'a CreateArgs,
    format: Format,
    group: String,
    file_name: String,
    chunks: usize,
}

impl Submission<'_> {
    fn reference(&self, index: usize) -> String {
        format!("{}-{:04}", self.group, index + 1)
    }

    /// A chunk's create request. Its `metadata` carries the keys Commerce Layer's CLI imports
    /// plugin writes (`group_id`, `chunk_number` `i/N`, `chunk_items` `first-last`), so that
    /// either tool groups the other's chunks, and importctl's own beside them.
    fn body(
        &self,
        index: usize,
        (first, records): (u64, u64),
        inputs: Inputs<'_>,
    ) -> Result<String> {
        let last = first.saturating_add(records.saturating_sub(1));
        let doc = CreateDocument {
            data: CreateData {
                kind: "imports",
                attributes: CreateAttributes {
                    resource_type: &self.args.resource_type,
                    format: self.format.as_str(),
                    csv_delimiter: self.args.csv_delimiter.map(csv_delimiter_text),
                    parent_resource_id: self.args.parent.as_deref(),
                    skip_errors: self.args.skip_errors,
                    reference: self.reference(index),
                    reference_origin: "importctl",
                    metadata: json!({
                        "group_id": self.group,
                        "chunk_number": format!("{}/{}", index + 1, self.chunks),
                        "chunk_items": format!("{first}-{last}"),
                        "importctl": {
                            "file": self.file_name,
                            "group": self.group,
                            "chunk": index + 1,
                            "chunks": self.chunks,
                            "first_input": first,
                        },
                    }),
                    inputs,
                },
            },
        };
        Ok(serde_json::to_string(&doc)?)
    }

    /// The bytes of a create request besides its inputs (their quotes included).
    fn envelope_len(&self) -> Result<u64> {
        // The widest numbers any chunk can have.
        let widest = Submission {
            group: self.group.clone(),
            file_name: self.file_name.clone(),
            chunks: 99_999_999,
            ..*self
        };
        let body = widest.body(99_999_998, (u64::MAX, 1), Inputs::Csv(""))?;
        Ok(body.len() as u64 - 2)
    }

    fn chunk_body(&self, chunk: &Chunk) -> Result<String> {
        let items = (chunk.first, chunk.records as u64);
        match self.format {
            Format::Csv => self.body(chunk.index, items, Inputs::Csv(&chunk.text)),
            Format::Json => {
                let raw: &RawValue = serde_json::from_str(&chunk.text)?;
                self.body(chunk.index, items, Inputs::Json(raw))
            }
        }
    }
}

fn default_group(path: &Path) -> String {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("import");
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    format!("{stem}-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"))
}

fn open(path: &Path) -> Result<std::fs::File> {
    std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Runs `create`: counts the whole file, then submits its chunks; returns the exit status.
pub(super) fn create(api: &Api, json_output: bool, args: &CreateArgs) -> Result<i32> {
    let format = format_of(args)?;
    let info = server_info(api)?;
    if let Some(types) = &info.types {
        if !types.iter().any(|t| t == &args.resource_type) {
            bail!(
                "'{}' is not an importable resource type; the API knows: {}",
                args.resource_type,
                types.join(", ")
            );
        }
    }
    let records = match args.chunk_records {
        Some(n) if n > info.max_inputs => bail!(
            "--chunk-records {n} is more than the API's limit of {} inputs per import",
            info.max_inputs
        ),
        Some(n) => n,
        None => info.max_inputs,
    };
    let file_name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The group's imports so far: none, unless --resume.
    let (group, existing) = match &args.reference_group {
        Some(g) => {
            let existing = watch::group_members(api, g)?;
            if !existing.is_empty() && !args.resume {
                bail!(
                    "group {g} already has {} import(s): pass --resume to submit only its missing chunks, or choose another --reference-group",
                    existing.len()
                );
            }
            (g.clone(), existing)
        }
        None => {
            // The same file created twice within a second: the second waits for a name.
            let mut tries = 0;
            loop {
                let g = default_group(&args.file);
                if watch::group_members(api, &g)?.is_empty() {
                    break (g, Vec::new());
                }
                tries += 1;
                if tries >= 3 {
                    bail!("group {g} already exists: pass --reference-group");
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    };

    // First pass: the whole file is read and counted before anything is submitted, so a
    // file broken half-way creates no import.
    let probe = |bytes: u64| Limits {
        records: records.min(usize::MAX as u64) as usize,
        bytes: bytes.min(usize::MAX as u64) as usize,
    };
    let mut submission = Submission {
        args,
        format,
        group: group.clone(),
        file_name,
        chunks: 0,
    };
    let mut budget = info
        .max_body_bytes
        .saturating_sub(submission.envelope_len()? + BODY_SLACK);
    if let Some(b) = args.chunk_bytes {
        budget = budget.min(b);
    }
    if budget < 64 {
        bail!("the API's body limit leaves no room for inputs");
    }
    let limits = probe(budget);
    let mut inputs_total = 0u64;
    let delimiter = args.csv_delimiter.unwrap_or(DEFAULT_CSV_DELIMITER);
    let chunks = split::split(format, delimiter, open(&args.file)?, limits, |c| {
        inputs_total += c.records as u64;
        Ok(())
    })
    .with_context(|| format!("cannot read {}", args.file.display()))?;
    if chunks == 0 {
        bail!("{} has no inputs", args.file.display());
    }
    submission.chunks = chunks;

    if !json_output {
        println!(
            "{}: {} inputs in {} chunk(s) of at most {} as group {group}",
            args.file.display(),
            thousands(inputs_total as i64),
            chunks,
            thousands(records as i64)
        );
    }
    let mut submitted: Vec<Value> = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    let mut created = 0usize;
    let result = split::split(format, delimiter, open(&args.file)?, limits, |chunk| {
        let reference = submission.reference(chunk.index);
        let last = chunk.first + chunk.records as u64 - 1;
        if let Some(old) = existing
            .iter()
            .find(|i| i.reference.as_deref() == Some(reference.as_str()))
        {
            if !json_output {
                println!("skipped {reference}: already submitted as {}", old.id);
            }
            ids.push(old.id.clone());
            submitted.push(json!({"id": old.id, "reference": reference, "inputs": chunk.records, "first_input": chunk.first, "skipped": true}));
            return Ok(());
        }
        let body = submission.chunk_body(&chunk)?;
        let doc = api
            .send_document(Method::POST, "/api/imports", body)
            .with_context(|| {
                format!(
                    "chunk {} of {chunks} ({reference}, inputs {}-{last}) was refused",
                    chunk.index + 1,
                    chunk.first
                )
            })?;
        let id = doc["data"]["id"]
            .as_str()
            .ok_or_else(|| anyhow!("the API's answer has no import id"))?
            .to_owned();
        created += 1;
        if !json_output {
            println!(
                "created {id} {reference}: inputs {}-{last} ({})",
                chunk.first,
                thousands(chunk.records as i64)
            );
        }
        ids.push(id.clone());
        submitted.push(json!({"id": id, "reference": reference, "inputs": chunk.records, "first_input": chunk.first, "skipped": false}));
        Ok(())
    });
    if let Err(e) = result {
        if created > 0 || !existing.is_empty() {
            return Err(e.context(format!(
                "{} chunk(s) of group {group} are submitted; to submit the rest run the same command with --reference-group {group} --resume",
                ids.len()
            )));
        }
        return Err(e);
    }

    if args.watch {
        let options = watch::Options {
            interval: interval(args.interval)?,
            display: display(json_output),
            missing_timeout: Duration::ZERO,
        };
        let mut outcome = watch::watch(api, &Target::Ids(ids), &options)?;
        outcome.group = Some(group);
        return finish_watch(json_output, &outcome);
    }
    if json_output {
        print_json(&json!({"group": group, "imports": submitted}))?;
    } else {
        println!("submitted group {group}: importctl watch --group {group}");
    }
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_groups_are_the_file_stem_and_the_time() {
        let g = default_group(Path::new("/tmp/my skus.csv"));
        assert!(g.starts_with("my_skus-2"), "{g}");
        assert_eq!(g.len(), "my_skus-".len() + "20260101-120000".len());
    }
}
