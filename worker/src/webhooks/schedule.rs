//! Announces due deliveries on the webhook queue: at once when a new one is committed
//! (`LISTEN webhook_deliveries`) or a call ends (a webhook at its share may take another),
//! and every second for retries and for deliveries whose
//! sender was lost. Each announced delivery is pushed [`REANNOUNCE_AFTER`] into the future,
//! so it is announced once unless it is still pending then (its message lost). Settled
//! deliveries past their retention are pruned here too, and the open-circuits gauge read.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use imports_runtime::queue::{self, Publisher};
use imports_runtime::retry::RetryPolicy;
use imports_storage::deliveries;
use lapin::BasicProperties;
use tokio::sync::Notify;

use crate::webhooks::Deliverer;

/// How long an announced delivery waits before it is announced again, should it still be
/// pending then (its message or its sender lost).
pub const REANNOUNCE_AFTER: Duration = Duration::from_secs(120);

/// How often due deliveries are looked for without a notification.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Deliveries announced per round.
const ROUND: i64 = 500;

/// How often settled deliveries are pruned and the open circuits counted.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(5);

/// Runs until shutdown.
pub async fn run(d: Arc<Deliverer>) {
    let wake = d.wake.clone();
    let listener = tokio::spawn(listen(d.clone(), wake.clone()));
    let mut publisher: Option<(lapin::Connection, Publisher)> = None;
    let mut backoff = RetryPolicy::SERVICE.start();
    let mut last_housekeeping = tokio::time::Instant::now() - HOUSEKEEPING_INTERVAL;
    while !d.shutdown.is_cancelled() {
        if last_housekeeping.elapsed() >= HOUSEKEEPING_INTERVAL {
            housekeeping(&d).await;
            last_housekeeping = tokio::time::Instant::now();
        }
        let wait = match announce_due(&d, &mut publisher).await {
            Ok(announced) => {
                backoff.reset();
                match announced {
                    // A full round: more may be due at once.
                    n if n as i64 >= ROUND => Duration::ZERO,
                    _ => POLL_INTERVAL,
                }
            }
            Err(e) => {
                publisher = None;
                let delay = backoff
                    .next_delay()
                    .unwrap_or(RetryPolicy::SERVICE.max_delay);
                tracing::warn!("announcing webhook deliveries failed: {e:#}; again in {delay:?}");
                delay
            }
        };
        tokio::select! {
            _ = d.shutdown.cancelled() => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
    listener.abort();
}

/// Announces one round of due deliveries; how many. They stay locked while they are
/// published and are marked announced in the same transaction, so an announcer that dies
/// in the middle leaves them due (a delivery announced twice is claimed once).
async fn announce_due(
    d: &Deliverer,
    publisher: &mut Option<(lapin::Connection, Publisher)>,
) -> anyhow::Result<usize> {
    let mut client = d.pool.get().await?;
    let tx = client.transaction().await?;
    let share = d.settings.per_webhook as i64;
    let due = deliveries::lock_due(&tx, ROUND, share).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let (_, p) = match publisher {
        Some(kept) => kept,
        None => {
            let connection =
                queue::connect(&d.services.amqp_url, Some(Duration::from_secs(5))).await?;
            let name = queue::webhook_queue(&d.services.queue);
            let p = Publisher::new(&connection, &name).await?;
            publisher.insert((connection, p))
        }
    };
    let bodies: Vec<Vec<u8>> = due
        .iter()
        .map(|id| {
            serde_json::json!({"delivery_id": id})
                .to_string()
                .into_bytes()
        })
        .collect();
    let props = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into());
    p.publish_all(&bodies, props).await?;
    deliveries::mark_announced(&tx, &due, REANNOUNCE_AFTER).await?;
    tx.commit().await?;
    tracing::debug!(count = due.len(), "announced webhook deliveries");
    Ok(due.len())
}

/// Prunes settled deliveries past their retention and reads the open circuits.
async fn housekeeping(d: &Deliverer) {
    let Ok(client) = d.pool.get().await else {
        return;
    };
    match deliveries::prune_settled(&*client, d.settings.retention, 10_000).await {
        Ok(n) if n > 0 => tracing::info!(count = n, "pruned settled webhook deliveries"),
        Ok(_) => {}
        Err(e) => tracing::warn!("pruning webhook deliveries failed: {e}"),
    }
    if let Ok(open) = deliveries::open_circuits(&*client).await {
        d.metrics.webhooks.set_open_circuits(open);
    }
}

/// Listens for new deliveries on a connection of its own, waking the announcer at each;
/// reconnects when the connection is lost (meanwhile the poll finds them).
async fn listen(d: Arc<Deliverer>, wake: Arc<Notify>) {
    let mut backoff = RetryPolicy::SERVICE.start();
    loop {
        match listen_once(&d, &wake).await {
            Ok(()) => backoff.reset(),
            Err(e) => tracing::debug!("LISTEN webhook_deliveries stopped: {e}"),
        }
        let delay = backoff
            .next_delay()
            .unwrap_or(RetryPolicy::SERVICE.max_delay);
        tokio::time::sleep(delay).await;
    }
}

async fn listen_once(d: &Deliverer, wake: &Notify) -> anyhow::Result<()> {
    let (client, mut connection) =
        tokio_postgres::connect(&d.services.database_url, tokio_postgres::NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // The connection is driven by its own task, which passes each notification on.
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(_) = message? {
                let _ = tx.send(());
            }
        }
        Ok::<_, tokio_postgres::Error>(())
    });
    deliveries::listen_for_new(&client).await?;
    while rx.recv().await.is_some() {
        wake.notify_one();
    }
    driver.await??;
    Ok(())
}
