//! One function per subcommand.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use imports_common::inputs::DEFAULT_CSV_DELIMITER;
use imports_common::model::{csv_delimiter_text, Format};

use crate::client::{Api, ApiError};
use crate::output::{cell, thousands, truncate, Table};
use crate::split::{self, Chunk, Limits};
use crate::watch::{self, Display, Target};
use crate::{Cli, Command, CreateArgs, ListArgs, WatchArgs, EXIT_IMPORT_FAILED, EXIT_OK};

/// Every readable attribute but `inputs` (a pending import would echo them back).
const SHOW_FIELDS: &str = "resource_type,format,parent_resource_id,status,started_at,completed_at,interrupted_at,inputs_size,errors_count,warnings_count,processed_count,errors_log,warnings_log,attachment_url,skip_errors,created_at,updated_at,reference,reference_origin,metadata";

/// The columns of `list`.
const LIST_FIELDS: &str = "resource_type,status,inputs_size,processed_count,errors_count,warnings_count,reference,created_at";

/// When the API does not say its limits (an API without `/api/resource_types`): the
/// reference API's inputs limit, and a body size well under the default body limit.
const DEFAULT_MAX_INPUTS: u64 = 10_000;
const DEFAULT_MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;

/// Room left in a create request beside its inputs and attributes.
const BODY_SLACK: u64 = 1024;

/// Runs the subcommand; returns the exit status.
pub fn dispatch(cli: &Cli) -> Result<i32> {
    // Checks that need no API come first, so that a typo is told before anything else.
    if let Command::Create(args) = &cli.command {
        check_file(args)?;
    }
    let token = cli
        .token
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| anyhow!("no API token: set IMPORTS_TOKEN or pass --token"))?;
    let api = Api::new(&cli.api_url, token.trim())?;
    match &cli.command {
        Command::Create(args) => create(&api, cli.json, args),
        Command::Watch(args) => watch_command(&api, cli.json, args),
        Command::List(args) => list(&api, cli.json, args),
        Command::Show { id } => show(&api, cli.json, id),
        Command::Interrupt { id } => interrupt(&api, cli.json, id),
        Command::Delete { id } => delete(&api, cli.json, id),
        Command::Errors { id, csv } => errors(&api, cli.json, *csv, id),
        Command::Types { name } => types(&api, cli.json, name.as_deref()),
    }
}

fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn import_path(id: &str) -> String {
    format!("/api/imports/{}", path_segment(id))
}

fn print_json(v: &Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}

fn interval(seconds: f64) -> Result<Duration> {
    if !(seconds.is_finite() && seconds > 0.0) {
        bail!("--interval must be a number of seconds above 0");
    }
    Ok(Duration::from_secs_f64(seconds.max(0.05)))
}

fn display(json: bool) -> Display {
    if json {
        Display::Quiet
    } else if std::io::stdout().is_terminal() {
        Display::Bars
    } else {
        Display::Plain
    }
}

// ---------------------------------------------------------------------------------------
// create

fn format_of(args: &CreateArgs) -> Result<Format> {
    match args.format.or_else(|| Format::from_path(&args.file)) {
        Some(f) => Ok(f),
        None => bail!(
            "cannot tell the format of {} from its extension: name it .csv or .json, or pass --format csv|json",
            args.file.display()
        ),
    }
}

fn check_file(args: &CreateArgs) -> Result<()> {
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

    fn body(&self, index: usize, first: u64, inputs: Inputs<'_>) -> Result<String> {
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
                    metadata: json!({"importctl": {
                        "file": self.file_name,
                        "group": self.group,
                        "chunk": index + 1,
                        "chunks": self.chunks,
                        "first_input": first,
                    }}),
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
        let body = widest.body(99_999_998, u64::MAX, Inputs::Csv(""))?;
        Ok(body.len() as u64 - 2)
    }

    fn chunk_body(&self, chunk: &Chunk) -> Result<String> {
        match self.format {
            Format::Csv => self.body(chunk.index, chunk.first, Inputs::Csv(&chunk.text)),
            Format::Json => {
                let raw: &RawValue = serde_json::from_str(&chunk.text)?;
                self.body(chunk.index, chunk.first, Inputs::Json(raw))
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

fn create(api: &Api, json_output: bool, args: &CreateArgs) -> Result<i32> {
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

// ---------------------------------------------------------------------------------------
// watch

fn finish_watch(json_output: bool, outcome: &watch::Outcome) -> Result<i32> {
    if json_output {
        print_json(&outcome.to_json())?;
    } else {
        print!("{}", outcome.summary());
    }
    Ok(if outcome.ok() {
        EXIT_OK
    } else {
        EXIT_IMPORT_FAILED
    })
}

fn watch_command(api: &Api, json_output: bool, args: &WatchArgs) -> Result<i32> {
    let target = match &args.group {
        Some(g) => Target::Group(g.clone()),
        None => Target::Ids(args.ids.clone()),
    };
    if !(args.missing_timeout.is_finite() && args.missing_timeout >= 0.0) {
        bail!("--missing-timeout must be a number of seconds");
    }
    let options = watch::Options {
        interval: interval(args.interval)?,
        display: display(json_output),
        missing_timeout: Duration::from_secs_f64(args.missing_timeout),
    };
    let outcome = watch::watch(api, &target, &options)?;
    finish_watch(json_output, &outcome)
}

// ---------------------------------------------------------------------------------------
// list, show

fn list(api: &Api, json_output: bool, args: &ListArgs) -> Result<i32> {
    let mut query: Vec<(String, String)> = Vec::new();
    if let Some(s) = &args.status {
        query.push(("filter[q][status_in]".into(), s.clone()));
    }
    if let Some(t) = &args.resource_type {
        query.push(("filter[q][resource_type_eq]".into(), t.clone()));
    }
    if let Some(r) = &args.reference {
        query.push(("filter[q][reference_eq]".into(), r.clone()));
    }
    if let Some(g) = &args.group {
        query.push(("filter[q][reference_start]".into(), format!("{g}-")));
    }
    query.push(("sort".into(), args.sort.clone()));
    query.push(("page[size]".into(), args.size.to_string()));
    if !json_output {
        query.push(("fields[imports]".into(), LIST_FIELDS.into()));
    }
    let mut page = args.page;
    let mut data: Vec<Value> = Vec::new();
    let (mut record_count, mut page_count, mut last_doc);
    loop {
        let mut q = query.clone();
        q.push(("page[number]".into(), page.to_string()));
        let doc = api.get("/api/imports", &q)?;
        record_count = doc["meta"]["record_count"].as_i64().unwrap_or(0);
        page_count = doc["meta"]["page_count"].as_i64().unwrap_or(0);
        if let Some(d) = doc["data"].as_array() {
            data.extend(d.iter().cloned());
        }
        last_doc = doc;
        if !args.all || page as i64 >= page_count {
            break;
        }
        page += 1;
    }
    if let Some(g) = &args.group {
        data.retain(|r| {
            r["attributes"]["reference"]
                .as_str()
                .is_some_and(|x| watch::in_group(x, g))
        });
    }
    if json_output {
        if args.all || args.group.is_some() {
            print_json(&json!({"data": data, "meta": {"record_count": data.len()}}))?;
        } else {
            print_json(&last_doc)?;
        }
        return Ok(EXIT_OK);
    }
    let mut t = Table::new(
        &[
            "ID",
            "TYPE",
            "STATUS",
            "INPUTS",
            "PROCESSED",
            "ERRORS",
            "WARNINGS",
            "REFERENCE",
            "CREATED",
        ],
        &["INPUTS", "PROCESSED", "ERRORS", "WARNINGS"],
    );
    for r in &data {
        let a = &r["attributes"];
        let n = |k: &str| thousands(a[k].as_i64().unwrap_or(0));
        t.row(vec![
            cell(&r["id"]),
            cell(&a["resource_type"]),
            cell(&a["status"]),
            n("inputs_size"),
            n("processed_count"),
            n("errors_count"),
            n("warnings_count"),
            cell(&a["reference"]),
            cell(&a["created_at"]),
        ]);
    }
    if t.is_empty() {
        println!("no imports");
    } else {
        print!("{}", t.render());
    }
    if args.all {
        println!("{} import(s)", data.len());
    } else {
        println!(
            "page {} of {} · {} import(s)",
            args.page,
            page_count.max(1),
            record_count
        );
    }
    Ok(EXIT_OK)
}

fn show(api: &Api, json_output: bool, id: &str) -> Result<i32> {
    let doc = api.get(
        &import_path(id),
        &[("fields[imports]".into(), SHOW_FIELDS.into())],
    )?;
    if json_output {
        print_json(&doc)?;
        return Ok(EXIT_OK);
    }
    let data = &doc["data"];
    let mut t = Table::new(&["ATTRIBUTE", "VALUE"], &[]);
    t.row(vec!["id".into(), cell(&data["id"])]);
    t.row(vec!["mode".into(), cell(&data["meta"]["mode"])]);
    if let Some(attrs) = data["attributes"].as_object() {
        for (k, v) in attrs {
            if k == "errors_log" || k == "warnings_log" {
                continue;
            }
            t.row(vec![k.clone(), cell(v)]);
        }
    }
    print!("{}", t.render());
    let a = &data["attributes"];
    let errors = a["errors_log"].as_object().cloned().unwrap_or_default();
    println!("\nerrors_log ({} input(s)):", errors.len());
    let mut t = Table::new(&["KEY", "ATTRIBUTE", "MESSAGE"], &[]);
    for (key, by_attribute) in &errors {
        match by_attribute.as_object() {
            Some(m) => {
                for (attribute, messages) in m {
                    for message in messages.as_array().into_iter().flatten() {
                        t.row(vec![key.clone(), attribute.clone(), cell(message)]);
                    }
                }
            }
            None => t.row(vec![key.clone(), String::new(), cell(by_attribute)]),
        }
    }
    if !t.is_empty() {
        print!("{}", indent(&t.render()));
    }
    let warnings = a["warnings_log"].as_object().cloned().unwrap_or_default();
    println!("\nwarnings_log ({} input(s)):", warnings.len());
    let mut t = Table::new(&["KEY", "MESSAGE"], &[]);
    for (key, messages) in &warnings {
        match messages.as_array() {
            Some(list) => {
                for m in list {
                    t.row(vec![key.clone(), cell(m)]);
                }
            }
            None => t.row(vec![key.clone(), cell(messages)]),
        }
    }
    if !t.is_empty() {
        print!("{}", indent(&t.render()));
    }
    Ok(EXIT_OK)
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

// ---------------------------------------------------------------------------------------
// interrupt, delete, errors

fn interrupt(api: &Api, json_output: bool, id: &str) -> Result<i32> {
    let body = json!({"data": {"type": "imports", "id": id, "attributes": {"_interrupt": true}}});
    let doc = api.send_document(Method::PATCH, &import_path(id), body.to_string())?;
    if json_output {
        // The answer echoes a pending import's inputs: leave them out.
        let mut doc = doc;
        if let Some(a) = doc["data"]["attributes"].as_object_mut() {
            a.remove("inputs");
        }
        print_json(&doc)?;
        return Ok(EXIT_OK);
    }
    let status = doc["data"]["attributes"]["status"]
        .as_str()
        .unwrap_or("unknown");
    match status {
        "completed" => println!("{id} was already completed: nothing to interrupt"),
        "interrupted" => println!("{id} is interrupted"),
        s => println!("interrupt requested: {id} is {s}; it stops at its next batch boundary"),
    }
    Ok(EXIT_OK)
}

fn delete(api: &Api, json_output: bool, id: &str) -> Result<i32> {
    api.delete(&import_path(id))?;
    if json_output {
        print_json(&json!({"id": id, "deleted": true}))?;
    } else {
        println!("deleted {id}");
    }
    Ok(EXIT_OK)
}

fn errors(api: &Api, json_output: bool, csv_output: bool, id: &str) -> Result<i32> {
    let path = format!("{}/failed_inputs", import_path(id));
    if csv_output {
        // The CSV form: the failed rows with their errors, to fix and import again.
        let report = api.get_text(&path)?;
        print!("{report}");
        std::io::stdout().flush()?;
        return Ok(EXIT_OK);
    }
    let report = api.get(&path, &[("format".into(), "json".into())])?;
    let Some(entries) = report.as_array() else {
        anyhow::bail!("the failed-inputs report is not a JSON array");
    };
    if json_output {
        let items: Vec<Value> = entries
            .iter()
            .map(|e| {
                json!({
                    "row": e["position"].as_u64().map(|p| p + 1),
                    "position": e["position"],
                    "key": e["key"],
                    "attribute": e["attribute"],
                    "message": e["message"],
                    "input": e["input"],
                })
            })
            .collect();
        print_json(&json!({"import": id, "errors": items}))?;
        return Ok(EXIT_OK);
    }
    if entries.is_empty() {
        println!("{id} has no errors");
        return Ok(EXIT_OK);
    }
    let mut t = Table::new(&["ROW", "KEY", "ATTRIBUTE", "MESSAGE", "INPUT"], &["ROW"]);
    for e in entries {
        let row = e["position"]
            .as_u64()
            .map(|p| (p + 1).to_string())
            .unwrap_or_default();
        let input = match &e["input"] {
            Value::Null => String::new(),
            other => truncate(&other.to_string(), 80),
        };
        t.row(vec![
            row,
            cell(&e["key"]),
            cell(&e["attribute"]),
            cell(&e["message"]),
            input,
        ]);
    }
    print!("{}", t.render());
    println!(
        "{} error(s); --csv for the rows to fix and import again",
        entries.len()
    );
    Ok(EXIT_OK)
}

// ---------------------------------------------------------------------------------------
// types

fn types(api: &Api, json_output: bool, name: Option<&str>) -> Result<i32> {
    let doc = match name {
        Some(n) => api.get(&format!("/api/resource_types/{}", path_segment(n)), &[])?,
        None => api.get("/api/resource_types", &[])?,
    };
    if json_output {
        print_json(&doc)?;
        return Ok(EXIT_OK);
    }
    match name {
        Some(_) => print_type(&doc["data"]),
        None => {
            let mut t = Table::new(
                &["TYPE", "NATURAL KEY", "PARENT", "REQUIRED", "RELATIONSHIPS"],
                &[],
            );
            for r in doc["data"].as_array().into_iter().flatten() {
                let a = &r["attributes"];
                let required: Vec<String> = a["attributes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|x| x["required"] == true)
                    .map(|x| cell(&x["name"]))
                    .collect();
                let relationships: Vec<String> = a["relationships"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|x| format!("{} ({})", cell(&x["name"]), cell(&x["resource_type"])))
                    .collect();
                t.row(vec![
                    cell(&r["id"]),
                    join(&a["natural_key"]),
                    cell(&a["parent"]["resource_type"]),
                    required.join(", "),
                    relationships.join(", "),
                ]);
            }
            print!("{}", t.render());
            println!("importctl types TYPE: every attribute of a type");
        }
    }
    Ok(EXIT_OK)
}

fn join(v: &Value) -> String {
    v.as_array()
        .into_iter()
        .flatten()
        .map(cell)
        .collect::<Vec<_>>()
        .join(" + ")
}

fn print_type(r: &Value) {
    let a = &r["attributes"];
    let parent = match a["parent"]["resource_type"].as_str() {
        Some(p) => format!(
            "parent {p} (--parent fills {})",
            cell(&a["parent"]["id_attribute"])
        ),
        None => "no parent".into(),
    };
    println!(
        "{}: natural key {}; {parent}",
        cell(&r["id"]),
        join(&a["natural_key"])
    );
    let mut t = Table::new(&["ATTRIBUTE", "TYPE", "REQUIRED", "ALLOWED"], &[]);
    for x in a["attributes"].as_array().into_iter().flatten() {
        let mut allowed = Vec::new();
        if let Some(min) = x["min"].as_i64() {
            allowed.push(format!(">= {min}"));
        }
        if let Some(max) = x["max"].as_i64() {
            allowed.push(format!("<= {max}"));
        }
        if let Some(values) = x["one_of"].as_array() {
            allowed.push(values.iter().map(cell).collect::<Vec<_>>().join(" | "));
        }
        t.row(vec![
            cell(&x["name"]),
            cell(&x["type"]),
            if x["required"] == true { "yes" } else { "" }.into(),
            allowed.join(", "),
        ]);
    }
    print!("{}", t.render());
    let rels = a["relationships"].as_array().cloned().unwrap_or_default();
    if !rels.is_empty() {
        println!();
        let mut t = Table::new(
            &[
                "RELATIONSHIP",
                "RESOURCE TYPE",
                "BY ID",
                "BY KEY",
                "REQUIRED",
                "INLINE",
            ],
            &[],
        );
        for x in &rels {
            t.row(vec![
                cell(&x["name"]),
                cell(&x["resource_type"]),
                cell(&x["id_attribute"]),
                cell(&x["key_attribute"]),
                if x["required"] == true { "yes" } else { "" }.into(),
                if x["inline"] == true {
                    format!("{} or {}.*", cell(&x["name"]), cell(&x["name"]))
                } else {
                    String::new()
                },
            ]);
        }
        print!("{}", t.render());
    }
    let children: Vec<String> = a["children"]
        .as_array()
        .into_iter()
        .flatten()
        .map(cell)
        .collect();
    if !children.is_empty() {
        println!(
            "\nchildren given inline: {} (see importctl types CHILD)",
            children.join(", ")
        );
    }
    if a["taggable"] == true {
        println!("tags: a list of tag names, the record's whole set of tags");
    }
    if a["creates_without_key"] == true {
        println!("an input without its natural key (nor an id) creates a new record");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_escaped_in_paths() {
        assert_eq!(import_path("abc-D_9"), "/api/imports/abc-D_9");
        assert_eq!(import_path("a/b c"), "/api/imports/a%2Fb%20c");
    }

    #[test]
    fn default_groups_are_the_file_stem_and_the_time() {
        let g = default_group(Path::new("/tmp/my skus.csv"));
        assert!(g.starts_with("my_skus-2"), "{g}");
        assert_eq!(g.len(), "my_skus-".len() + "20260101-120000".len());
    }
}
