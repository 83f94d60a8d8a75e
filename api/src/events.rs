//! An import's events as the API shows them: Commerce Layer's event attributes (`name`,
//! timestamps, `reference`, `reference_origin`, `metadata`) with our `payload`, sparse
//! fieldsets (`fields[events]`), and `include=events` on imports.

use imports_common::jsonapi::ImportResource;
use imports_storage::events::events_of_imports;
use serde_json::Value;

use crate::errors::ApiError;

pub use imports_common::events::{event_resource, include_read, linkage, EVENT_FIELDS};

pub use imports_common::events::MAX_INCLUDED_PER_IMPORT;

/// What a request asked to include and show of events.
#[derive(Debug, Default, Clone)]
pub struct EventsWanted {
    /// `include=events`.
    pub include: bool,
    /// `fields[events]`, all when `None`.
    pub fields: Option<Vec<String>>,
}

impl EventsWanted {
    /// Reads `include` and `fields[events]`; `false` for any other parameter.
    pub fn read(&mut self, key: &str, value: &str) -> Result<bool, ApiError> {
        match key {
            "include" => {
                for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    if name != "events" {
                        return Err(ApiError::bad_parameter(
                            "include",
                            format!("cannot include '{name}': imports include only events"),
                        ));
                    }
                    self.include = true;
                }
                Ok(true)
            }
            "fields[events]" => {
                let names: Vec<String> = value
                    .split(',')
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty())
                    .collect();
                if let Some(bad) = names.iter().find(|n| !EVENT_FIELDS.contains(&n.as_str())) {
                    return Err(ApiError::bad_parameter(
                        "fields[events]",
                        format!("'{bad}' is not an attribute of events"),
                    ));
                }
                self.fields = Some(names);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// Reads the first events of each import resource (at most [`MAX_INCLUDED_PER_IMPORT`]),
/// links them in its `relationships.events.data` and returns them for `included`.
pub async fn include<C: imports_storage::client::Db>(
    client: &C,
    imports: &mut [ImportResource<'_>],
    wanted: &EventsWanted,
) -> Result<Vec<Value>, ApiError> {
    let ids: Vec<String> = imports.iter().map(|r| r.import().id.clone()).collect();
    let events = events_of_imports(client, &ids, MAX_INCLUDED_PER_IMPORT).await?;
    Ok(include_read(imports, events, wanted.fields.as_deref()))
}
