//! `importctl list`: imports as a table, one page or every page, filtered.

use anyhow::Result;
use serde_json::{json, Value};

use super::print_json;
use crate::client::Api;
use crate::output::{cell, thousands, Table};
use crate::watch;
use crate::{ListArgs, EXIT_OK};

/// The columns of `list`.
const LIST_FIELDS: &str = "resource_type,status,inputs_size,processed_count,errors_count,warnings_count,reference,created_at";

/// Runs `list`: one page, or every page with --all, as a table or JSON.
pub(super) fn list(api: &Api, json_output: bool, args: &ListArgs) -> Result<i32> {
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
