//! The RabbitMQ side: the message that announces an import, the queue topology, publishing
//! with confirms and connecting with retries.
//!
//! The message body is `{"import_id": "..."}`; the W3C trace context (`traceparent`,
//! `tracestate`) travels in the AMQP headers, where tracing tools expect it.
//!
//! Topology: the work queue is a durable quorum queue, so RabbitMQ counts redeliveries and
//! dead-letters a message past `DELIVERY_LIMIT` attempts into `<queue>.dead`, where a poison
//! message is parked instead of crashing workers forever.

use std::collections::BTreeMap;
use std::time::Duration;

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::Confirmation;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde::{Deserialize, Serialize};

use imports_storage::db::redact_url;

use crate::retry::RetryPolicy;

/// Deliveries of one message before RabbitMQ parks it in the dead-letter queue.
pub const DELIVERY_LIMIT: i64 = 5;

/// The announcement that an import is ready to be processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportMessage {
    /// The import to process.
    pub import_id: String,
    /// W3C trace context of whoever announced it (`traceparent`, `tracestate`).
    #[serde(skip)]
    pub trace_context: BTreeMap<String, String>,
}

/// A delivery that is not an import message.
#[derive(Debug, thiserror::Error)]
pub enum BadMessage {
    /// The body is not the expected JSON.
    #[error("the message body is not an import message: {0}")]
    Body(String),
}

/// Trace headers copied between the message and the tracing context.
const TRACE_HEADERS: [&str; 2] = ["traceparent", "tracestate"];

impl ImportMessage {
    /// A message for `import_id` with no trace context.
    pub fn new(import_id: impl Into<String>) -> Self {
        ImportMessage {
            import_id: import_id.into(),
            trace_context: BTreeMap::new(),
        }
    }

    /// The message body and AMQP properties (persistent, JSON, trace headers).
    pub fn encode(&self) -> (Vec<u8>, BasicProperties) {
        let body = serde_json::to_vec(self).expect("an import message serializes");
        let mut headers = FieldTable::default();
        for name in TRACE_HEADERS {
            if let Some(v) = self.trace_context.get(name) {
                headers.insert(
                    name.into(),
                    AMQPValue::LongString(LongString::from(v.as_bytes().to_vec())),
                );
            }
        }
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_headers(headers);
        (body, props)
    }

    /// Reads a delivery's body and headers.
    pub fn decode(body: &[u8], properties: &BasicProperties) -> Result<Self, BadMessage> {
        let mut msg: ImportMessage =
            serde_json::from_slice(body).map_err(|e| BadMessage::Body(e.to_string()))?;
        if msg.import_id.is_empty() || msg.import_id.len() > 64 {
            return Err(BadMessage::Body(
                "import_id must have 1 to 64 characters".into(),
            ));
        }
        if let Some(headers) = properties.headers() {
            for name in TRACE_HEADERS {
                if let Some(AMQPValue::LongString(v)) = headers.inner().get(name) {
                    msg.trace_context.insert(
                        name.to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    );
                }
            }
        }
        Ok(msg)
    }
}

/// The name of the queue where poison messages of `queue` are parked.
pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dead")
}

/// Connects to RabbitMQ, retrying under [`RetryPolicy::SERVICE`] with one log line per
/// failure naming the service, until it answers (or `give_up_after` has passed).
pub async fn connect(url: &str, give_up_after: Option<Duration>) -> anyhow::Result<Connection> {
    let mut backoff = RetryPolicy::SERVICE.giving_up_after(give_up_after).start();
    loop {
        match Connection::connect(url, ConnectionProperties::default()).await {
            Ok(c) => return Ok(c),
            Err(e) => match backoff.next_delay() {
                Some(delay) => {
                    tracing::warn!(
                        "cannot reach RabbitMQ at {}: {e}; retrying in {delay:?}",
                        redact_url(url)
                    );
                    tokio::time::sleep(delay).await;
                }
                None => anyhow::bail!("cannot reach RabbitMQ at {}: {e}", redact_url(url)),
            },
        }
    }
}

/// Declares the work queue and its dead-letter queue (idempotent).
pub async fn declare(channel: &Channel, queue: &str) -> lapin::Result<()> {
    let dead = dead_letter_queue(queue);
    channel
        .queue_declare(
            dead.as_str().into(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await?;
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(DELIVERY_LIMIT),
    );
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString("".into()),
    );
    args.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(dead.as_str().into()),
    );
    channel
        .queue_declare(queue.into(), QueueDeclareOptions::durable(), args)
        .await?;
    Ok(())
}

/// Opens a channel on `connection` that consumes `queue` (declared, with its dead-letter
/// queue) with `prefetch` unacked messages at most, under consumer tag `tag`.
pub async fn consume(
    connection: &Connection,
    queue: &str,
    prefetch: u16,
    tag: &str,
) -> lapin::Result<(Channel, lapin::Consumer)> {
    let channel = connection.create_channel().await?;
    declare(&channel, queue).await?;
    channel
        .basic_qos(prefetch, lapin::options::BasicQosOptions::default())
        .await?;
    let consumer = channel
        .basic_consume(
            queue.into(),
            tag.into(),
            lapin::options::BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok((channel, consumer))
}

/// The queue of webhook deliveries beside the work queue `queue`.
pub fn webhook_queue(queue: &str) -> String {
    format!("{queue}.webhooks")
}

/// Deletes the work queue, the webhook queue beside it and their dead-letter queues (for
/// tests and teardown).
pub async fn delete(channel: &Channel, queue: &str) -> lapin::Result<()> {
    let webhooks = webhook_queue(queue);
    for name in [
        queue.to_owned(),
        dead_letter_queue(queue),
        webhooks.clone(),
        dead_letter_queue(&webhooks),
    ] {
        channel
            .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
            .await?;
    }
    Ok(())
}

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The connection or channel failed.
    #[error("RabbitMQ: {0}")]
    Amqp(#[from] lapin::Error),
    /// No queue took the message.
    #[error("RabbitMQ could not route the message to queue {0}")]
    Unroutable(String),
    /// The broker refused the message.
    #[error("RabbitMQ refused the message (nack)")]
    Nack,
    /// The channel is not in confirm mode.
    #[error("publisher confirms are not enabled")]
    NoConfirms,
}

/// What a publisher confirm says of a message published to `queue`.
fn confirmed(confirmation: Confirmation, queue: &ShortString) -> Result<(), PublishError> {
    match confirmation {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(_)) => Err(PublishError::Unroutable(queue.to_string())),
        Confirmation::Nack(_) => Err(PublishError::Nack),
        Confirmation::NotRequested => Err(PublishError::NoConfirms),
    }
}

/// Publishes import messages with publisher confirms: `publish` returns only once RabbitMQ
/// has taken responsibility for the message.
pub struct Publisher {
    channel: Channel,
    queue: ShortString,
}

impl Publisher {
    /// A publisher on a new confirm-mode channel of `connection`, declaring the queue.
    pub async fn new(connection: &Connection, queue: &str) -> anyhow::Result<Self> {
        let channel = connection.create_channel().await?;
        declare(&channel, queue).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Publisher {
            channel,
            queue: ShortString::try_new(queue).map_err(|e| anyhow::anyhow!("queue name: {e}"))?,
        })
    }

    /// Publishes one message and waits for RabbitMQ's confirm. A nack (a quorum queue
    /// electing its leader, say) is retried a few times with backoff before it is an error.
    pub async fn publish(&self, message: &ImportMessage) -> anyhow::Result<()> {
        let (body, props) = message.encode();
        self.publish_body(&body, props).await
    }

    /// Publishes one message body with its properties, as [`Publisher::publish`].
    pub async fn publish_body(&self, body: &[u8], props: BasicProperties) -> anyhow::Result<()> {
        let mut backoff = RetryPolicy::PUBLISH_NACK.start();
        loop {
            match self.publish_once(body, props.clone()).await {
                Err(PublishError::Nack) => match backoff.next_delay() {
                    Some(delay) => {
                        tracing::debug!(
                            attempt = backoff.failures(),
                            "RabbitMQ nacked a publish; retrying in {delay:?}"
                        );
                        tokio::time::sleep(delay).await;
                    }
                    None => return Err(PublishError::Nack.into()),
                },
                Err(e) => return Err(e.into()),
                Ok(()) => return Ok(()),
            }
        }
    }

    async fn publish_once(&self, body: &[u8], props: BasicProperties) -> Result<(), PublishError> {
        confirmed(self.start(body, props).await?.await?, &self.queue)
    }

    /// Publishes one message, mandatory (an unroutable one comes back), without waiting for
    /// its confirm.
    async fn start(
        &self,
        body: &[u8],
        props: BasicProperties,
    ) -> lapin::Result<lapin::PublisherConfirm> {
        self.channel
            .basic_publish(
                "".into(),
                self.queue.clone(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                body,
                props,
            )
            .await
    }

    /// Publishes several message bodies with the same properties, then waits for all
    /// their confirms together (one round trip, not one per message). Fails if any was not
    /// confirmed; the caller announces them all again (a duplicate is harmless).
    pub async fn publish_all(
        &self,
        bodies: &[Vec<u8>],
        props: BasicProperties,
    ) -> anyhow::Result<()> {
        let mut confirms = Vec::with_capacity(bodies.len());
        for body in bodies {
            confirms.push(self.start(body, props.clone()).await?);
        }
        for confirm in confirms {
            confirmed(confirm.await?, &self.queue)?;
        }
        Ok(())
    }

    /// Publishes raw bytes (for tests of malformed messages).
    pub async fn publish_raw(&self, body: &[u8]) -> anyhow::Result<()> {
        self.channel
            .basic_publish(
                "".into(),
                self.queue.clone(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await?
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_with_their_trace_context() {
        let mut m = ImportMessage::new("imp1");
        m.trace_context.insert(
            "traceparent".into(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
        );
        let (body, props) = m.encode();
        assert_eq!(body, br#"{"import_id":"imp1"}"#);
        assert_eq!(props.delivery_mode(), &Some(2));
        assert_eq!(ImportMessage::decode(&body, &props).unwrap(), m);
    }

    #[test]
    fn garbage_is_a_bad_message() {
        let props = BasicProperties::default();
        assert!(ImportMessage::decode(b"\xff\x00garbage", &props).is_err());
        assert!(ImportMessage::decode(br#"{"import_id":""}"#, &props).is_err());
        assert!(ImportMessage::decode(br#"{"id":"x"}"#, &props).is_err());
    }
}
