//! An import as the API shows it: its inputs echoed while pending, its attachment URL once
//! started, only the `fields[imports]` asked for.

use imports_common::jsonapi::{import_attributes, import_resource};
use imports_common::model::{Format, Import, Status};
use serde_json::{Map, Value};

use crate::errors::ApiError;
use crate::{attachments, AppState};

/// Inputs larger than this are not echoed back in `inputs` while pending (it stays null).
pub const ECHO_INPUTS_MAX_BYTES: usize = 4 * 1024 * 1024;

/// The resource object of an import, with `inputs` while pending, `attachment_url` after,
/// and only the `fields` asked for.
pub(crate) async fn render(
    state: &AppState,
    client: &tokio_postgres::Client,
    mut import: Import,
    fields: Option<&[String]>,
) -> Result<Value, ApiError> {
    let wants = |name: &str| fields.map(|f| f.iter().any(|x| x == name)).unwrap_or(true);
    if import.status == Status::Pending && wants("inputs") {
        let mut raw = Vec::new();
        let mut seq = 0;
        while let Some(chunk) =
            imports_storage::inputs::input_chunk(client, &import.id, seq).await?
        {
            raw.extend_from_slice(&chunk);
            seq += 1;
            if raw.len() > ECHO_INPUTS_MAX_BYTES {
                break;
            }
        }
        if raw.len() > ECHO_INPUTS_MAX_BYTES {
            // Echoing a large import back would cost many times its size in memory;
            // its owner has the inputs, and attachment_url serves them once it starts.
            raw.clear();
        }
        import.inputs = Some(match import.format {
            _ if raw.is_empty() => Value::Null,
            Format::Json => serde_json::from_slice(&raw).unwrap_or(Value::Null),
            Format::Csv => Value::String(String::from_utf8_lossy(&raw).into_owned()),
        });
    }
    if import.status != Status::Pending {
        import.attachment_url = Some(attachments::signed_url(state, &import.id));
    }
    let mut resource = import_resource(&import, &state.config.public_url);
    if let Some(fields) = fields {
        let all = import_attributes(&import);
        let picked: Map<String, Value> = all
            .into_iter()
            .filter(|(k, _)| fields.contains(k))
            .collect();
        resource["attributes"] = Value::Object(picked);
    }
    Ok(resource)
}
