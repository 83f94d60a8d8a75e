//! `importctl show`: one import's attributes, then its errors and warnings logs.

use anyhow::Result;

use super::{import_path, print_json};
use crate::client::Api;
use crate::output::{cell, Table};
use crate::EXIT_OK;

/// Every readable attribute but `inputs` (a pending import would echo them back).
const SHOW_FIELDS: &str = "resource_type,format,parent_resource_id,status,started_at,completed_at,interrupted_at,inputs_size,errors_count,warnings_count,processed_count,errors_log,warnings_log,attachment_url,skip_errors,created_at,updated_at,reference,reference_origin,metadata";

/// Runs `show`: the import's attributes, then its logs, as tables or JSON.
pub(super) fn show(api: &Api, json_output: bool, id: &str) -> Result<i32> {
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
