//! `importctl errors`: the failed-inputs report, as a table, JSON, or the CSV to fix and
//! import again.

use std::io::Write;

use anyhow::Result;
use serde_json::{json, Value};

use super::{import_path, print_json};
use crate::client::Api;
use crate::output::{cell, truncate, Table};
use crate::EXIT_OK;

/// Runs `errors`: the failed-inputs report as a table, JSON, or CSV (--csv).
pub(super) fn errors(api: &Api, json_output: bool, csv_output: bool, id: &str) -> Result<i32> {
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
