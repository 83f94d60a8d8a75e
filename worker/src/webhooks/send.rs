//! Consumes the webhook queue and sends each delivery: claimed in Postgres (a duplicate
//! announcement finds it held or settled and is dropped), acked, then POSTed and settled.
//! At most `WEBHOOKS_CONCURRENCY` are sent at once, and at most
//! `WEBHOOKS_PER_WEBHOOK_CONCURRENCY` to one webhook (the announcer already holds a webhook
//! to its share across processes; should two announcements race, the delivery over the
//! share is given back, due again a moment later), so a slow receiver never holds the
//! others up.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use imports_common::webhooks::CircuitState;
use imports_runtime::queue;
use imports_runtime::retry::RetryPolicy;
use imports_runtime::telemetry::traces;
use imports_storage::deliveries::{self, Attempt, Claimed};
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicRejectOptions};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::task::TaskTracker;
use tracing::Instrument;
use uuid::Uuid;

use crate::webhooks::{backoff, client, payload, Deliverer};

/// How long past its deadline a sender holds a delivery: if it dies, the delivery is due
/// again this long after its call began.
pub const HOLD_MARGIN: Duration = Duration::from_secs(10);

/// How long a delivery over its webhook's share waits before it is due again.
pub const BUSY_WEBHOOK_DELAY: Duration = Duration::from_millis(500);

/// The header with the delivery's id, the same on every attempt: receivers deduplicate by it.
pub const DELIVERY_ID_HEADER: &str = "X-Imports-Delivery-Id";

/// The calls in flight to each webhook (in this process).
#[derive(Default)]
struct PerWebhook(Mutex<HashMap<String, Arc<Semaphore>>>);

impl PerWebhook {
    fn try_take(&self, webhook_id: &str, share: usize) -> Option<OwnedSemaphorePermit> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Webhooks with nothing in flight are forgotten, so the map stays small.
        map.retain(|_, s| s.available_permits() < share);
        map.entry(webhook_id.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(share)))
            .clone()
            .try_acquire_owned()
            .ok()
    }
}

/// Consumes the webhook queue until shutdown, reconnecting as needed; then waits for the
/// calls in flight.
pub async fn run(d: Arc<Deliverer>) {
    let permits = Arc::new(Semaphore::new(d.settings.concurrency));
    let per_webhook = Arc::new(PerWebhook::default());
    let tasks = TaskTracker::new();
    let mut backoff = RetryPolicy::SERVICE.start();
    while !d.shutdown.is_cancelled() {
        let consumed = consume_once(&d, &permits, &per_webhook, &tasks).await;
        d.amqp.clear();
        match consumed {
            Ok(()) => backoff.reset(),
            Err(e) => {
                let delay = backoff
                    .next_delay()
                    .unwrap_or(RetryPolicy::SERVICE.max_delay);
                tracing::warn!("webhook consumer stopped: {e:#}; reconnecting in {delay:?}");
                tokio::select! {
                    _ = d.shutdown.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
    tasks.close();
    tasks.wait().await;
}

async fn consume_once(
    d: &Arc<Deliverer>,
    permits: &Arc<Semaphore>,
    per_webhook: &Arc<PerWebhook>,
    tasks: &TaskTracker,
) -> anyhow::Result<()> {
    let connection = tokio::select! {
        _ = d.shutdown.cancelled() => return Ok(()),
        c = queue::connect(&d.services.amqp_url, None) => c?,
    };
    let name = queue::webhook_queue(&d.services.queue);
    let tag = format!("imports-webhooks-{}", Uuid::new_v4());
    let (channel, mut consumer) =
        queue::consume(&connection, &name, d.settings.concurrency as u16, &tag).await?;
    d.amqp.set(&connection);
    loop {
        let permit = tokio::select! {
            _ = d.shutdown.cancelled() => break,
            p = permits.clone().acquire_owned() => p?,
        };
        let message = tokio::select! {
            _ = d.shutdown.cancelled() => break,
            m = consumer.next() => m,
        };
        let message = match message {
            Some(Ok(m)) => m,
            Some(Err(e)) => anyhow::bail!("delivery failed: {e}"),
            None => anyhow::bail!("the consumer was cancelled by RabbitMQ"),
        };
        let Some(id) = delivery_id(&message) else {
            tracing::warn!("parking a message that is not a webhook delivery");
            let _ = message
                .acker
                .reject(BasicRejectOptions { requeue: false })
                .await;
            continue;
        };
        let hold = d.settings.timeout + HOLD_MARGIN;
        let claimed = match d.pool.get().await {
            Ok(client) => deliveries::claim(&*client, id, hold)
                .await
                .map_err(Into::into),
            Err(e) => Err(anyhow::Error::from(e)),
        };
        // Postgres holds the delivery from here (or it was a duplicate): ack either way. If
        // the claim failed, the delivery is due again and announced again.
        let _ = message.acker.ack(BasicAckOptions::default()).await;
        let held = match claimed {
            Ok(Some(held)) => held,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!("cannot claim webhook delivery {id}: {e:#}");
                continue;
            }
        };
        let Some(share) = per_webhook.try_take(&held.webhook_id, d.settings.per_webhook) else {
            give_back(d, &held).await;
            continue;
        };
        let d = d.clone();
        tasks.spawn(async move {
            send(&d, held).await;
            drop((share, permit));
            d.wake.notify_one();
        });
    }
    let _ = channel.close(200, "shutting down".into()).await;
    let _ = connection.close(200, "shutting down".into()).await;
    Ok(())
}

fn delivery_id(message: &Delivery) -> Option<Uuid> {
    let body: serde_json::Value = serde_json::from_slice(&message.data).ok()?;
    body["delivery_id"].as_str()?.parse().ok()
}

/// A delivery over its webhook's share goes back, due again shortly; not an attempt.
async fn give_back(d: &Deliverer, held: &Claimed) {
    if let Ok(client) = d.pool.get().await {
        let _ = deliveries::release(&*client, held, BUSY_WEBHOOK_DELAY).await;
    }
    d.wake.notify_one();
}

/// Sends one claimed delivery and settles the attempt, in a span of the import's trace.
async fn send(d: &Deliverer, held: Claimed) {
    let span = tracing::info_span!(
        "webhook delivery",
        otel.name = %format_args!("deliver {}", held.topic),
        otel.kind = "client",
        delivery_id = %held.id,
        webhook_id = %held.webhook_id,
        import_id = %held.import_id,
        topic = %held.topic,
        attempt = held.attempts + 1,
    );
    let carrier: BTreeMap<String, String> = match &held.trace_context {
        serde_json::Value::Object(map) => map
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect(),
        _ => BTreeMap::new(),
    };
    traces::set_remote_parent(&span, &carrier);
    let span_handle = span.clone();
    async move {
        if let Err(e) = attempt(d, &held).await {
            tracing::warn!("webhook delivery {} not settled: {e:#}", held.id);
            traces::record_error(&span_handle, &format!("{e:#}"));
        }
    }
    .instrument(span)
    .await
}

async fn attempt(d: &Deliverer, held: &Claimed) -> anyhow::Result<()> {
    let db = d.pool.get().await?;
    if held.disabled || held.circuit_state == CircuitState::Open {
        deliveries::abandon(&**db, held).await?;
        d.metrics.webhooks.abandoned();
        tracing::info!("not sent: the webhook is disabled or its circuit is open");
        return Ok(());
    }
    let body = match &held.body {
        Some(body) => body.clone(),
        None => {
            // The events as they were at the event (the import may be gone since).
            let events = held
                .events
                .clone()
                .and_then(|v| serde_json::from_value::<Vec<imports_common::events::Event>>(v).ok());
            payload::render(&d.settings, held, events)
        }
    };
    drop(db);
    let mut headers = vec![
        (
            "X-CommerceLayer-Signature",
            payload::signature(&held.shared_secret, &body),
        ),
        ("X-CommerceLayer-Topic", held.topic.clone()),
        (DELIVERY_ID_HEADER, held.id.to_string()),
    ];
    // The receiver may continue the import's trace from this call.
    for (name, value) in traces::trace_context_of(&tracing::Span::current()) {
        match name.as_str() {
            "traceparent" => headers.push(("traceparent", value)),
            "tracestate" => headers.push(("tracestate", value)),
            _ => {}
        }
    }
    let started = Instant::now();
    let answer = client::post(
        &d.client,
        &held.callback_url,
        &headers,
        body.clone(),
        d.settings.timeout,
        d.settings.allow_private_networks,
    )
    .await;
    let took = started.elapsed();
    let attempts = held.attempts + 1;
    let outcome = Attempt {
        body,
        delivered: answer.ok,
        response_code: answer.code.map(|c| c.to_string()),
        response_message: Some(answer.message.clone()),
        retry_after: match answer.ok {
            true => None,
            false => backoff::retry_after(&d.settings, attempts),
        },
        circuit_threshold: d.settings.circuit_threshold,
    };
    let mut db = d.pool.get().await?;
    let settled = deliveries::settle(&mut db, held, &outcome).await?;
    d.metrics.webhooks.attempted(answer.ok, took);
    let span = tracing::Span::current();
    traces::set_attribute(
        &span,
        "http.response.status_code",
        answer.code.unwrap_or(0) as i64,
    );
    if answer.ok {
        tracing::info!(took_ms = took.as_millis() as u64, "delivered");
    } else {
        traces::record_error(&span, &answer.message);
        tracing::info!(
            code = answer.code,
            retry_in = ?outcome.retry_after,
            "delivery failed: {}",
            answer.message
        );
    }
    if settled.opened_circuit {
        tracing::warn!(webhook_id = %held.webhook_id, "the webhook's circuit opened: it is not called until _reset_circuit");
    }
    Ok(())
}
