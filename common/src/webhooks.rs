//! Webhooks on the imports topics, as Commerce Layer's `webhooks` resource: what one is, its
//! attribute table (rendering, the list's parameters and storage's SELECT list read it), and
//! the `event_callbacks` that record each attempt to call one.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::jsonapi::{shown_attributes, Attribute, AttributeKind};
use crate::model::{Tenant, UnknownValue};
use crate::shown::Shown;

/// The JSON:API type of webhooks.
pub const WEBHOOKS_TYPE: &str = "webhooks";

/// The JSON:API type of a webhook's delivery attempts.
pub const EVENT_CALLBACKS_TYPE: &str = "event_callbacks";

/// What a webhook payload may include besides the import (`include_resources`): the
/// relationships of imports.
pub const INCLUDABLE: &[&str] = &["events"];

/// The most webhooks one organization may have in one mode.
pub const MAX_WEBHOOKS_PER_TENANT: i64 = 100;

/// The most characters of a `callback_url`.
pub const MAX_CALLBACK_URL_CHARS: usize = 2048;

/// The most characters of a webhook's `name`.
pub const MAX_NAME_CHARS: usize = 255;

/// The event a webhook is called on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// An import was created.
    Create,
    /// A worker started it.
    Start,
    /// Its last input was handled.
    Complete,
    /// It stopped early (`_interrupt`, too many errors, unreadable inputs).
    Interrupt,
    /// It was deleted.
    Destroy,
}

impl Topic {
    /// Every topic, in lifecycle order.
    pub const ALL: [Topic; 5] = [
        Topic::Create,
        Topic::Start,
        Topic::Complete,
        Topic::Interrupt,
        Topic::Destroy,
    ];

    /// Its name, also the name of the event it is called on.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Create => "imports.create",
            Topic::Start => "imports.start",
            Topic::Complete => "imports.complete",
            Topic::Interrupt => "imports.interrupt",
            Topic::Destroy => "imports.destroy",
        }
    }
}

impl FromStr for Topic {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Topic::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownValue::new("topic", s))
    }
}

/// Whether a webhook is being called: `open` once its consecutive failures reached the
/// threshold, until `_reset_circuit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Called on its events.
    Closed,
    /// Not called.
    Open,
}

impl CircuitState {
    /// Its name in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
        }
    }
}

impl FromStr for CircuitState {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "closed" => Ok(CircuitState::Closed),
            "open" => Ok(CircuitState::Open),
            _ => Err(UnknownValue::new("circuit_state", s)),
        }
    }
}

/// A webhook: a URL called with the import on each event of its topic, for one tenant.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Its id.
    pub id: String,
    /// Whose events it receives.
    pub tenant: Tenant,
    /// A name for people.
    pub name: Option<String>,
    /// The event it is called on.
    pub topic: Topic,
    /// Where the import is POSTed.
    pub callback_url: String,
    /// What the payload includes besides the import ([`INCLUDABLE`]).
    pub include_resources: Vec<String>,
    /// The key of the payload's signature: shown only in the answer to the create.
    pub shared_secret: Option<String>,
    /// When it was disabled (`_disable`); it is not called while disabled.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Whether it is being called.
    pub circuit_state: CircuitState,
    /// Its consecutive failed calls.
    pub circuit_failure_count: i32,
    /// External identifier.
    pub reference: Option<String>,
    /// System of the external identifier.
    pub reference_origin: Option<String>,
    /// Free key-value pairs.
    pub metadata: Value,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

use AttributeKind::{Bool, Json, Number, String as Text, Time};

/// Every attribute of webhooks, readable ones in the order `attributes` shows them.
pub const WEBHOOK_ATTRIBUTES: &[Attribute<Webhook>] = &[
    Attribute::new("id", Text, |w: &Webhook| Shown::Text(&w.id))
        .queryable()
        .hidden(),
    Attribute::new("name", Text, |w: &Webhook| Shown::text(w.name.as_deref()))
        .queryable()
        .on_create()
        .on_update(),
    Attribute::new("topic", Text, |w: &Webhook| Shown::Text(w.topic.as_str()))
        .queryable()
        .on_create()
        .on_update(),
    Attribute::new("callback_url", Text, |w: &Webhook| {
        Shown::Text(&w.callback_url)
    })
    .queryable()
    .on_create()
    .on_update(),
    Attribute::new("include_resources", Json, |w: &Webhook| {
        match w.include_resources.is_empty() {
            true => Shown::Null,
            false => Shown::Texts(&w.include_resources),
        }
    })
    .on_create()
    .on_update(),
    Attribute::new("disabled_at", Time, |w: &Webhook| {
        Shown::time(w.disabled_at)
    })
    .queryable(),
    Attribute::new("circuit_state", Text, |w: &Webhook| {
        Shown::Text(w.circuit_state.as_str())
    })
    .queryable(),
    // An integer column: compared as bigint, the type of the list's number parameters.
    Attribute {
        column: Some("circuit_failure_count::bigint"),
        ..Attribute::new("circuit_failure_count", Number, |w: &Webhook| {
            Shown::Int(i64::from(w.circuit_failure_count))
        })
        .queryable()
    },
    Attribute::new("shared_secret", Text, |w: &Webhook| {
        Shown::text(w.shared_secret.as_deref())
    }),
    Attribute::new("created_at", Time, |w: &Webhook| Shown::Time(w.created_at)).queryable(),
    Attribute::new("updated_at", Time, |w: &Webhook| Shown::Time(w.updated_at)).queryable(),
    Attribute::new("reference", Text, |w: &Webhook| {
        Shown::text(w.reference.as_deref())
    })
    .queryable()
    .on_create()
    .on_update(),
    Attribute::new("reference_origin", Text, |w: &Webhook| {
        Shown::text(w.reference_origin.as_deref())
    })
    .queryable()
    .on_create()
    .on_update(),
    Attribute::new("metadata", Json, |w: &Webhook| Shown::Json(&w.metadata))
        .filterable()
        .on_create()
        .on_update(),
    Attribute::new("_disable", Bool, |_: &Webhook| Shown::Null)
        .hidden()
        .on_create()
        .on_update(),
    Attribute::new("_enable", Bool, |_: &Webhook| Shown::Null)
        .hidden()
        .on_create()
        .on_update(),
    Attribute::new("_reset_circuit", Bool, |_: &Webhook| Shown::Null)
        .hidden()
        .on_update(),
];

/// A webhook as a JSON:API resource object, with only the `fields` asked for (all when
/// `None`) and its `last_event_callbacks` relationship.
pub fn webhook_resource(w: &Webhook, base_url: &str, fields: Option<&[String]>) -> Value {
    let attributes: Map<String, Value> = shown_attributes(WEBHOOK_ATTRIBUTES, fields)
        .map(|a| (a.name.to_owned(), (a.render)(w).to_value()))
        .collect();
    let self_url = format!("{}/api/webhooks/{}", base_url.trim_end_matches('/'), w.id);
    json!({
        "id": w.id,
        "type": WEBHOOKS_TYPE,
        "links": {"self": self_url},
        "attributes": attributes,
        "relationships": {
            "last_event_callbacks": {
                "links": {
                    "self": format!("{self_url}/relationships/last_event_callbacks"),
                    "related": format!("{self_url}/last_event_callbacks"),
                }
            }
        },
        "meta": {"mode": w.tenant.mode.as_str()},
    })
}

/// One attempt to call a webhook.
#[derive(Debug, Clone)]
pub struct EventCallback {
    /// Its id.
    pub id: String,
    /// The webhook called.
    pub webhook_id: String,
    /// The URL called.
    pub callback_url: String,
    /// The body sent.
    pub payload: Option<Value>,
    /// The HTTP status answered; `None` when there was no answer (refused, timed out).
    pub response_code: Option<String>,
    /// The start of the answer's body, or why there was none.
    pub response_message: Option<String>,
    /// When the call was made.
    pub created_at: DateTime<Utc>,
}

/// An event callback as a JSON:API resource object.
pub fn event_callback_resource(c: &EventCallback, base_url: &str) -> Value {
    let base = base_url.trim_end_matches('/');
    let created = crate::shown::timestamp(c.created_at);
    json!({
        "id": c.id,
        "type": EVENT_CALLBACKS_TYPE,
        "links": {"self": format!("{base}/api/event_callbacks/{}", c.id)},
        "attributes": {
            "callback_url": c.callback_url,
            "payload": c.payload,
            "response_code": c.response_code,
            "response_message": c.response_message,
            "created_at": created,
            "updated_at": created,
            "reference": Value::Null,
            "reference_origin": Value::Null,
            "metadata": {},
        },
        "relationships": {
            "webhook": {"data": {"type": WEBHOOKS_TYPE, "id": c.webhook_id}}
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_read_back_and_unknown_ones_are_refused() {
        for t in Topic::ALL {
            assert_eq!(t.as_str().parse::<Topic>().unwrap(), t);
        }
        assert!("orders.place".parse::<Topic>().is_err());
        assert!("open".parse::<CircuitState>().is_ok());
        assert!("half".parse::<CircuitState>().is_err());
    }
}
