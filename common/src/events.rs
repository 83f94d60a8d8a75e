//! An import's lifecycle events (created, started, completed, interrupted) as stored and as
//! the API shows them: Commerce Layer's event attributes (`name`, timestamps, `reference`,
//! `reference_origin`, `metadata`) with our `payload`, and `included` on imports (a list
//! page's, a retrieve's, a webhook payload's).

use serde_json::{json, Map, Value};

use crate::jsonapi::ImportResource;
pub use crate::jsonapi::EVENTS_TYPE;
use crate::shown::timestamp;

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

/// One lifecycle event of an import, as stored (and kept with a webhook delivery that
/// includes its import's events).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Event {
    /// Its id: the order events were recorded in.
    pub id: i64,
    /// The import it is about.
    pub import_id: String,
    /// `imports.create`, `imports.start`, ...
    pub name: String,
    /// What the event recorded (counts, a reason).
    pub payload: Value,
    /// When it was recorded.
    pub created_at: chrono::DateTime<chrono::Utc>,
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
    linkage_of(e.id)
}

fn linkage_of(id: i64) -> Value {
    json!({"type": EVENTS_TYPE, "id": id.to_string()})
}

/// A resource that `include=events` links its import's events to: a resource object kept
/// as JSON (a webhook payload's) or an [`ImportResource`] serialized into a response.
pub trait LinksEvents {
    /// The id of the import it shows.
    fn import_id(&self) -> &str;
    /// Sets `relationships.events.data` to the events of these ids.
    fn link_events(&mut self, ids: Vec<i64>);
}

impl LinksEvents for Value {
    fn import_id(&self) -> &str {
        self["id"].as_str().unwrap_or_default()
    }

    fn link_events(&mut self, ids: Vec<i64>) {
        let data = ids.into_iter().map(linkage_of).collect();
        self["relationships"]["events"]["data"] = Value::Array(data);
    }
}

impl LinksEvents for ImportResource<'_> {
    fn import_id(&self) -> &str {
        &self.import().id
    }

    fn link_events(&mut self, ids: Vec<i64>) {
        ImportResource::link_events(self, ids);
    }
}

/// Links each import resource to its events (read with them) in
/// `relationships.events.data`, and returns the events for `included`, oldest first, with
/// only the `fields` asked for.
pub fn include_read<R: LinksEvents>(
    imports: &mut [R],
    mut events: Vec<Event>,
    fields: Option<&[String]>,
) -> Vec<Value> {
    events.sort_by_key(|e| e.id);
    for resource in imports.iter_mut() {
        let ids = events
            .iter()
            .filter(|e| e.import_id == resource.import_id())
            .map(|e| e.id)
            .collect();
        resource.link_events(ids);
    }
    events.iter().map(|e| event_resource(e, fields)).collect()
}
