//! `importctl webhooks create`, `delete`, and the triggers `reset`, `disable` and `enable`.

use anyhow::Result;
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::{attribute_table, webhook_path, CreateWebhookArgs, WEBHOOKS_PATH};
use crate::client::Api;
use crate::commands::print_json;
use crate::output::cell;
use crate::EXIT_OK;

/// The body of a create: the topic and URL as given (the API checks them and says why it
/// refuses one), the name and what to include when given.
fn create_body(args: &CreateWebhookArgs) -> Value {
    let mut attributes = Map::new();
    attributes.insert("topic".into(), json!(args.topic));
    attributes.insert("callback_url".into(), json!(args.url));
    if let Some(name) = &args.name {
        attributes.insert("name".into(), json!(name));
    }
    let include: Vec<&str> = args
        .include
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if !include.is_empty() {
        attributes.insert("include_resources".into(), json!(include));
    }
    json!({"data": {"type": "webhooks", "attributes": attributes}})
}

/// Runs `create`: the webhook as the API answered it, with its shared secret, which no
/// later answer shows.
pub(super) fn create(api: &Api, json_output: bool, args: &CreateWebhookArgs) -> Result<i32> {
    let body = create_body(args).to_string();
    let doc = api.send_document(Method::POST, WEBHOOKS_PATH, body)?;
    if json_output {
        print_json(&doc)?;
        return Ok(EXIT_OK);
    }
    let data = &doc["data"];
    println!(
        "created webhook {} on {}",
        cell(&data["id"]),
        cell(&data["attributes"]["topic"])
    );
    print!("{}", attribute_table(data).render());
    println!(
        "\nThe shared secret is shown only this once: keep it. It is the key of the \
         X-CommerceLayer-Signature header of each call (HMAC-SHA256 of the body, base64)."
    );
    Ok(EXIT_OK)
}

/// Runs `delete`: removes the webhook.
pub(super) fn delete(api: &Api, json_output: bool, id: &str) -> Result<i32> {
    api.delete(&webhook_path(id))?;
    if json_output {
        print_json(&json!({"id": id, "deleted": true}))?;
    } else {
        println!("deleted webhook {id}");
    }
    Ok(EXIT_OK)
}

/// A trigger of `PATCH /api/webhooks/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Trigger {
    /// `_reset_circuit`: the circuit closed, the failures zeroed.
    Reset,
    /// `_disable`.
    Disable,
    /// `_enable`.
    Enable,
}

impl Trigger {
    fn attribute(self) -> &'static str {
        match self {
            Trigger::Reset => "_reset_circuit",
            Trigger::Disable => "_disable",
            Trigger::Enable => "_enable",
        }
    }
}

fn trigger_body(id: &str, trigger: Trigger) -> Value {
    let mut attributes = Map::new();
    attributes.insert(trigger.attribute().into(), Value::Bool(true));
    json!({"data": {"type": "webhooks", "id": id, "attributes": attributes}})
}

/// Runs `reset`, `disable` or `enable`: sends the trigger and says where the webhook is.
pub(super) fn trigger(api: &Api, json_output: bool, id: &str, trigger: Trigger) -> Result<i32> {
    let body = trigger_body(id, trigger).to_string();
    let doc = api.send_document(Method::PATCH, &webhook_path(id), body)?;
    if json_output {
        print_json(&doc)?;
        return Ok(EXIT_OK);
    }
    let a = &doc["data"]["attributes"];
    match trigger {
        Trigger::Reset => println!(
            "reset the circuit of webhook {id}: {}, {} failure(s)",
            cell(&a["circuit_state"]),
            cell(&a["circuit_failure_count"])
        ),
        Trigger::Disable => println!(
            "disabled webhook {id} (since {}): it is not called until enabled",
            cell(&a["disabled_at"])
        ),
        Trigger::Enable => println!(
            "enabled webhook {id} (circuit {})",
            cell(&a["circuit_state"])
        ),
    }
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_send_only_what_was_given() {
        let mut args = CreateWebhookArgs {
            topic: "imports.complete".into(),
            url: "https://example.com/hook".into(),
            name: None,
            include: vec![],
        };
        assert_eq!(
            create_body(&args),
            json!({"data": {"type": "webhooks", "attributes": {
                "topic": "imports.complete", "callback_url": "https://example.com/hook"}}})
        );
        args.name = Some("done".into());
        args.include = vec!["events".into(), " ".into()];
        let body = create_body(&args);
        assert_eq!(body["data"]["attributes"]["name"], "done");
        assert_eq!(
            body["data"]["attributes"]["include_resources"],
            json!(["events"])
        );
        assert_eq!(
            trigger_body("w1", Trigger::Reset),
            json!({"data": {"type": "webhooks", "id": "w1",
                "attributes": {"_reset_circuit": true}}})
        );
        assert_eq!(Trigger::Disable.attribute(), "_disable");
        assert_eq!(Trigger::Enable.attribute(), "_enable");
    }
}
