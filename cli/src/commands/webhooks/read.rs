//! `importctl webhooks list` and `show` (with `--callbacks`, the last event callbacks).

use anyhow::Result;
use serde_json::{json, Value};

use super::{attribute_table, webhook_path, ListWebhooksArgs, WEBHOOKS_PATH};
use crate::client::Api;
use crate::commands::print_json;
use crate::output::{cell, truncate, Table};
use crate::EXIT_OK;

/// The columns of `list`.
const LIST_FIELDS: &str =
    "name,topic,callback_url,disabled_at,circuit_state,circuit_failure_count,created_at";

/// The most characters of a callback's response message in a table.
const MESSAGE_CHARS: usize = 160;

/// Runs `list`: one page of webhooks, as a table or the API's document.
pub(super) fn list(api: &Api, json_output: bool, args: &ListWebhooksArgs) -> Result<i32> {
    let mut query: Vec<(String, String)> = Vec::new();
    if let Some(t) = &args.topic {
        query.push(("filter[q][topic_eq]".into(), t.clone()));
    }
    if let Some(c) = &args.circuit {
        query.push(("filter[q][circuit_state_eq]".into(), c.clone()));
    }
    query.push(("page[number]".into(), args.page.to_string()));
    query.push(("page[size]".into(), args.size.to_string()));
    if !json_output {
        query.push(("fields[webhooks]".into(), LIST_FIELDS.into()));
    }
    let doc = api.get(WEBHOOKS_PATH, &query)?;
    if json_output {
        print_json(&doc)?;
        return Ok(EXIT_OK);
    }
    let mut t = Table::new(
        &[
            "ID",
            "NAME",
            "TOPIC",
            "CALLBACK_URL",
            "STATE",
            "FAILURES",
            "CREATED",
        ],
        &["FAILURES"],
    );
    for w in doc["data"].as_array().into_iter().flatten() {
        let a = &w["attributes"];
        t.row(vec![
            cell(&w["id"]),
            cell(&a["name"]),
            cell(&a["topic"]),
            cell(&a["callback_url"]),
            state(a),
            cell(&a["circuit_failure_count"]),
            cell(&a["created_at"]),
        ]);
    }
    if t.is_empty() {
        println!("no webhooks");
    } else {
        print!("{}", t.render());
    }
    println!(
        "page {} of {} · {} webhook(s)",
        args.page,
        doc["meta"]["page_count"].as_i64().unwrap_or(0).max(1),
        doc["meta"]["record_count"].as_i64().unwrap_or(0)
    );
    Ok(EXIT_OK)
}

/// Whether a webhook is called: `disabled`, else its circuit (`open` is not called).
fn state(attributes: &Value) -> String {
    match attributes["disabled_at"].is_null() {
        true => format!("circuit {}", cell(&attributes["circuit_state"])),
        false => "disabled".into(),
    }
}

/// Runs `show`: the webhook's attributes, and with `callbacks` its last event callbacks
/// (their first page, newest first). JSON: the API's document, or with `callbacks`
/// `{"webhook": <document>, "last_event_callbacks": <document>}`.
pub(super) fn show(api: &Api, json_output: bool, id: &str, callbacks: bool) -> Result<i32> {
    let doc = api.get(&webhook_path(id), &[])?;
    let calls = match callbacks {
        true => Some(api.get(&format!("{}/last_event_callbacks", webhook_path(id)), &[])?),
        false => None,
    };
    if json_output {
        match calls {
            Some(calls) => print_json(&json!({"webhook": doc, "last_event_callbacks": calls}))?,
            None => print_json(&doc)?,
        }
        return Ok(EXIT_OK);
    }
    print!("{}", attribute_table(&doc["data"]).render());
    let Some(calls) = calls else {
        return Ok(EXIT_OK);
    };
    let data = calls["data"].as_array().cloned().unwrap_or_default();
    let total = calls["meta"]["record_count"].as_i64().unwrap_or(0);
    println!(
        "\nlast event callbacks ({} of {total}, newest first):",
        data.len()
    );
    if data.is_empty() {
        println!("  none yet");
        return Ok(EXIT_OK);
    }
    let mut t = Table::new(&["TIME", "CODE", "MESSAGE"], &["CODE"]);
    for c in &data {
        let a = &c["attributes"];
        let code = match &a["response_code"] {
            Value::Null => "-".to_owned(),
            v => cell(v),
        };
        t.row(vec![
            cell(&a["created_at"]),
            code,
            truncate(&cell(&a["response_message"]), MESSAGE_CHARS),
        ]);
    }
    for line in t.render().lines() {
        println!("  {line}");
    }
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disabled_webhook_reads_disabled_whatever_its_circuit() {
        let a = json!({"disabled_at": null, "circuit_state": "open"});
        assert_eq!(state(&a), "circuit open");
        let a = json!({"disabled_at": "2025-01-01T00:00:00Z", "circuit_state": "closed"});
        assert_eq!(state(&a), "disabled");
    }
}
