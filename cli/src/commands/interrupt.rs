//! `importctl interrupt`: an import asked to stop at its next batch boundary.

use anyhow::Result;
use reqwest::Method;
use serde_json::json;

use super::{import_path, print_json};
use crate::client::Api;
use crate::EXIT_OK;

/// Runs `interrupt`: asks the API to stop the import, and says where it is.
pub(super) fn interrupt(api: &Api, json_output: bool, id: &str) -> Result<i32> {
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
