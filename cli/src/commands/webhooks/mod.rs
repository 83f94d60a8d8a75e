//! `importctl webhooks`: the `/api/webhooks` resource (Commerce Layer's, on the imports
//! topics): its subcommands and what they share. The reads (`list`, `show`) are in `read`,
//! the writes (`create`, `delete` and the triggers `reset`, `disable`, `enable`) in `write`.

use clap::{Args, Subcommand};
use imports_common::webhooks::{CircuitState, Topic};
use serde_json::Value;

use super::path_segment;
use crate::client::Api;
use crate::output::{cell, Table};

mod read;
mod write;

/// `importctl webhooks <command>`.
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Create a webhook: the callback URL is POSTed the import on each event of the topic.
    #[command(
        after_help = "The answer shows the webhook's shared secret, the key of the X-CommerceLayer-Signature header of each call. It is shown only this once: keep it."
    )]
    Create(CreateWebhookArgs),
    /// List webhooks.
    List(ListWebhooksArgs),
    /// Show a webhook; with --callbacks, its last event callbacks too.
    Show {
        /// The webhook's id.
        id: String,
        /// The last calls of the webhook, newest first: time, response code, message.
        #[arg(long)]
        callbacks: bool,
    },
    /// Delete a webhook, with its pending deliveries and its callbacks.
    Delete {
        /// The webhook's id.
        id: String,
    },
    /// Close a webhook's circuit (opened by consecutive failed calls) and zero its failures.
    Reset {
        /// The webhook's id.
        id: String,
    },
    /// Disable a webhook: it is not called until enabled.
    Disable {
        /// The webhook's id.
        id: String,
    },
    /// Enable a disabled webhook.
    Enable {
        /// The webhook's id.
        id: String,
    },
}

/// `importctl webhooks create`.
#[derive(Debug, Args)]
pub struct CreateWebhookArgs {
    /// The event it is called on: imports.create, imports.start, imports.complete,
    /// imports.interrupt or imports.destroy.
    #[arg(long, value_name = "TOPIC")]
    pub topic: String,
    /// The callback URL (https; http too in test mode).
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// A name for people.
    #[arg(long)]
    pub name: Option<String>,
    /// What the payload includes besides the import (`events`); repeat or comma-separate.
    #[arg(long, value_name = "RESOURCE", value_delimiter = ',')]
    pub include: Vec<String>,
}

/// `importctl webhooks list`.
#[derive(Debug, Args)]
pub struct ListWebhooksArgs {
    /// Only the webhooks of this topic.
    #[arg(long, value_name = "TOPIC", value_parser = topic_name)]
    pub topic: Option<String>,
    /// Only the webhooks whose circuit is open (not called) or closed.
    #[arg(long, value_name = "open|closed", value_parser = circuit_name)]
    pub circuit: Option<String>,
    /// Page number (from 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub page: u64,
    /// Page size (at most 25).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u64).range(1..=25))]
    pub size: u64,
}

/// `--topic` of `list`: a topic of the model. (`create` sends any: the API says why it
/// refuses one.)
fn topic_name(s: &str) -> Result<String, String> {
    s.parse::<Topic>()
        .map(|t| t.as_str().to_owned())
        .map_err(|_| {
            let names: Vec<&str> = Topic::ALL.iter().map(|t| t.as_str()).collect();
            format!("'{s}' is not a topic: {}", names.join(", "))
        })
}

/// `--circuit`: a circuit state of the model.
fn circuit_name(s: &str) -> Result<String, String> {
    s.parse::<CircuitState>()
        .map(|c| c.as_str().to_owned())
        .map_err(|_| format!("'{s}' is not a circuit state: open or closed"))
}

/// Runs `webhooks <command>`; returns the exit status.
pub(super) fn webhooks(
    api: &Api,
    json_output: bool,
    command: &WebhooksCommand,
) -> anyhow::Result<i32> {
    match command {
        WebhooksCommand::Create(args) => write::create(api, json_output, args),
        WebhooksCommand::List(args) => read::list(api, json_output, args),
        WebhooksCommand::Show { id, callbacks } => read::show(api, json_output, id, *callbacks),
        WebhooksCommand::Delete { id } => write::delete(api, json_output, id),
        WebhooksCommand::Reset { id } => {
            write::trigger(api, json_output, id, write::Trigger::Reset)
        }
        WebhooksCommand::Disable { id } => {
            write::trigger(api, json_output, id, write::Trigger::Disable)
        }
        WebhooksCommand::Enable { id } => {
            write::trigger(api, json_output, id, write::Trigger::Enable)
        }
    }
}

/// The path of the webhooks resource.
const WEBHOOKS_PATH: &str = "/api/webhooks";

fn webhook_path(id: &str) -> String {
    format!("{WEBHOOKS_PATH}/{}", path_segment(id))
}

/// A webhook resource as an ATTRIBUTE/VALUE table: its id and mode, then its attributes in
/// the API's order; `shared_secret` only when the answer holds one (a create's).
fn attribute_table(data: &Value) -> Table {
    let mut t = Table::new(&["ATTRIBUTE", "VALUE"], &[]);
    t.row(vec!["id".into(), cell(&data["id"])]);
    t.row(vec!["mode".into(), cell(&data["meta"]["mode"])]);
    for (k, v) in data["attributes"].as_object().into_iter().flatten() {
        if k == "shared_secret" && v.is_null() {
            continue;
        }
        let value = match (k.as_str(), v) {
            ("include_resources", Value::Array(items)) => {
                items.iter().map(cell).collect::<Vec<_>>().join(",")
            }
            _ => cell(v),
        };
        t.row(vec![k.clone(), value]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_options_are_read_with_the_model_s_names() {
        assert_eq!(
            topic_name("imports.complete"),
            Ok("imports.complete".into())
        );
        assert!(topic_name("imports.done")
            .unwrap_err()
            .contains("'imports.done' is not a topic: imports.create, imports.start"));
        assert_eq!(circuit_name("open"), Ok("open".into()));
        assert_eq!(circuit_name("closed"), Ok("closed".into()));
        assert!(circuit_name("half").is_err());
        assert_eq!(webhook_path("a/b"), "/api/webhooks/a%2Fb");
    }

    #[test]
    fn the_secret_shows_only_when_there_is_one() {
        let mut data = json!({"id": "w1", "meta": {"mode": "test"}, "attributes": {
            "name": "n", "include_resources": ["events"], "shared_secret": null}});
        let text = attribute_table(&data).render();
        assert!(text.contains("include_resources  events"), "{text}");
        assert!(!text.contains("shared_secret"), "{text}");
        data["attributes"]["shared_secret"] = json!("s3cr3t");
        assert!(attribute_table(&data)
            .render()
            .contains("shared_secret      s3cr3t"));
    }
}
