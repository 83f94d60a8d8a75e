//! `importctl delete`: an import removed (its records stay).

use anyhow::Result;
use serde_json::json;

use super::{import_path, print_json};
use crate::client::Api;
use crate::EXIT_OK;

/// Runs `delete`: removes the import.
pub(super) fn delete(api: &Api, json_output: bool, id: &str) -> Result<i32> {
    api.delete(&import_path(id))?;
    if json_output {
        print_json(&json!({"id": id, "deleted": true}))?;
    } else {
        println!("deleted {id}");
    }
    Ok(EXIT_OK)
}
