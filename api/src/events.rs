//! An import's events as the API shows them: Commerce Layer's event attributes (`name`,
//! timestamps, `reference`, `reference_origin`, `metadata`) with our `payload`, sparse
//! fieldsets (`fields[events]`), and `include=events` on imports.

use imports_common::jsonapi::timestamp;
use imports_storage::events::{events_of_imports, Event};
use serde_json::{json, Map, Value};

use crate::errors::ApiError;

/// The JSON:API type of events.
pub const EVENTS_TYPE: &str = "events";

/// The attributes of an event, for `fields[events]`.
pub const EVENT_FIELDS: &[&str] = &[
    "name",
    "created_at",
    "updated_at",
    "reference",
    "reference_origin",
    "metadata",
    "payload",
];

/// The most events of one import put in `included` (an import has a handful: created,
/// started, completed or interrupted, and one start per resumption).
pub const MAX_INCLUDED_PER_IMPORT: i64 = 100;

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

/// An event as a JSON:API resource, with only the `fields` asked for.
pub fn event_resource(e: &Event, fields: Option<&[String]>) -> Value {
    let created = timestamp(e.created_at);
    let all = json!({
        "name": e.name,
        "created_at": created,
        // An event is never changed once recorded.
        "updated_at": created,
        "reference": Value::Null,
        "reference_origin": Value::Null,
        "metadata": {},
        "payload": e.payload,
    });
    let attributes: Map<String, Value> = match (all, fields) {
        (Value::Object(map), Some(fields)) => map
            .into_iter()
            .filter(|(k, _)| fields.iter().any(|f| f == k))
            .collect(),
        (Value::Object(map), None) => map,
        _ => Map::new(),
    };
    json!({
        "id": e.id.to_string(),
        "type": EVENTS_TYPE,
        "attributes": attributes,
        "relationships": {"import": {"data": {"type": "imports", "id": e.import_id}}},
    })
}

/// The linkage of an event, for `relationships.events.data`.
pub fn linkage(e: &Event) -> Value {
    json!({"type": EVENTS_TYPE, "id": e.id.to_string()})
}

/// Fills `relationships.events.data` of each import resource and returns the events for
/// `included`.
pub async fn include<C: tokio_postgres::GenericClient>(
    client: &C,
    imports: &mut [Value],
    wanted: &EventsWanted,
) -> Result<Vec<Value>, ApiError> {
    let ids: Vec<String> = imports
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect();
    let events = events_of_imports(client, &ids, MAX_INCLUDED_PER_IMPORT).await?;
    Ok(include_read(imports, events, wanted))
}

/// [`include`] with the events already read (a list page reads them with its imports):
/// fills `relationships.events.data` of each import resource and returns the events for
/// `included`, oldest first.
pub fn include_read(
    imports: &mut [Value],
    mut events: Vec<Event>,
    wanted: &EventsWanted,
) -> Vec<Value> {
    events.sort_by_key(|e| e.id);
    for resource in imports.iter_mut() {
        let id = resource["id"].as_str().unwrap_or_default().to_owned();
        let data: Vec<Value> = events
            .iter()
            .filter(|e| e.import_id == id)
            .map(linkage)
            .collect();
        resource["relationships"]["events"]["data"] = Value::Array(data);
    }
    events
        .iter()
        .map(|e| event_resource(e, wanted.fields.as_deref()))
        .collect()
}
