//! Takes import ids from RabbitMQ and runs each claimed import in a slot (see `slots`).
//!
//! A delivery is acked as soon as its import is claimed in Postgres (or found final, unknown,
//! or held by a live worker): from then on Postgres holds the state and the lease, so a long
//! import never keeps a delivery unacked past RabbitMQ's consumer timeout. Garbage is rejected
//! without requeue, which parks it in the dead-letter queue. The loop reconnects with backoff
//! whenever the connection or channel is lost.

use std::sync::Arc;

use futures::StreamExt;
use imports_runtime::queue::{self, ImportMessage};
use imports_runtime::telemetry::traces;
use imports_storage::leases::Claim;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions, BasicRejectOptions};
use tokio::sync::OwnedSemaphorePermit;
use tracing::{info, warn, Instrument};

use imports_runtime::retry::RetryPolicy;

use crate::{slots, Context};

/// Consumes the queue until shutdown, reconnecting as needed.
pub async fn consume(ctx: Arc<Context>) {
    let mut backoff = RetryPolicy::SERVICE.start();
    while !ctx.shutdown.is_cancelled() {
        let consumed = consume_once(&ctx).await;
        ctx.amqp.clear();
        match consumed {
            Ok(()) => backoff.reset(),
            Err(e) => {
                // SERVICE never gives up; shutdown ends the wait.
                let delay = backoff
                    .next_delay()
                    .unwrap_or(RetryPolicy::SERVICE.max_delay);
                warn!("RabbitMQ consumer stopped: {e:#}; reconnecting in {delay:?}");
                tokio::select! {
                    _ = ctx.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

async fn consume_once(ctx: &Arc<Context>) -> anyhow::Result<()> {
    let url = &ctx.config.services.amqp_url;
    let connection = tokio::select! {
        _ = ctx.shutdown.cancelled() => return Ok(()),
        c = queue::connect(url, None) => c?,
    };
    let tag = format!("imports-worker-{}", ctx.worker_id);
    let (channel, mut consumer) = queue::consume(
        &connection,
        &ctx.config.services.queue,
        ctx.config.concurrency as u16,
        &tag,
    )
    .await?;
    ctx.amqp.set(&connection);
    info!(queue = %ctx.config.services.queue, concurrency = ctx.config.concurrency, "consuming");
    loop {
        let delivery = tokio::select! {
            _ = ctx.shutdown.cancelled() => break,
            d = consumer.next() => d,
        };
        let delivery = match delivery {
            Some(Ok(delivery)) => delivery,
            Some(Err(e)) => anyhow::bail!("delivery failed: {e}"),
            None => anyhow::bail!("the consumer was cancelled by RabbitMQ"),
        };
        // Start it when an import slot is free (the sweeper shares the slots). Until then
        // the delivery stays unacked; the prefetch bounds how many wait so.
        let waiting = WaitingDelivery::new(ctx);
        let permit = tokio::select! {
            _ = ctx.shutdown.cancelled() => break,
            p = ctx.permits.clone().acquire_owned() => p?,
        };
        drop(waiting);
        let task_ctx = ctx.clone();
        ctx.tasks.spawn(handle(task_ctx, delivery, permit));
    }
    // Unacked deliveries go back to the queue when the channel closes.
    let _ = channel.close(200, "worker shutting down".into()).await;
    let _ = connection.close(200, "worker shutting down".into()).await;
    Ok(())
}

/// Counts a delivery waiting for a slot in `Context::waiting_deliveries` while it lives.
struct WaitingDelivery(Arc<std::sync::atomic::AtomicUsize>);

impl WaitingDelivery {
    fn new(ctx: &Context) -> Self {
        ctx.waiting_deliveries
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        WaitingDelivery(ctx.waiting_deliveries.clone())
    }
}

impl Drop for WaitingDelivery {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

async fn handle(ctx: Arc<Context>, delivery: Delivery, permit: OwnedSemaphorePermit) {
    let message = match ImportMessage::decode(&delivery.data, &delivery.properties) {
        Ok(m) => m,
        Err(e) => {
            warn!(
                bytes = delivery.data.len(),
                "parking a message that is not an import message: {e}"
            );
            let _ = delivery
                .acker
                .reject(BasicRejectOptions { requeue: false })
                .await;
            return;
        }
    };
    // A consumer span continuing the trace of the request that created the import.
    let span = tracing::info_span!(
        "delivery",
        otel.name = %format_args!("process {}", ctx.config.services.queue),
        otel.kind = "consumer",
        import_id = %message.import_id,
        redelivered = delivery.redelivered,
    );
    traces::set_messaging_attributes(&span, "process", &ctx.config.services.queue);
    traces::set_remote_parent(&span, &message.trace_context);
    let span_handle = span.clone();
    async move {
        match slots::claim_with_retry(&ctx, &message.import_id).await {
            Ok(Claim::Claimed(import)) => {
                ack(&delivery).await;
                let _ = slots::run_claimed(ctx.clone(), import, permit).await;
            }
            Ok(Claim::InterruptedBeforeStart) => {
                info!("interrupted before it started");
                ack(&delivery).await;
            }
            Ok(Claim::Skip(why)) => {
                info!("nothing to do: {why}");
                ack(&delivery).await;
            }
            Err(e) => {
                // Postgres is unreachable: give the message back; the delivery limit bounds
                // the loop, and the sweeper finds the import in Postgres anyway.
                warn!("cannot claim the import: {e:#}");
                traces::record_error(&span_handle, &format!("cannot claim the import: {e:#}"));
                let _ = delivery
                    .acker
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await;
            }
        }
    }
    .instrument(span)
    .await
}

async fn ack(delivery: &Delivery) {
    match delivery.acker.ack(BasicAckOptions::default()).await {
        Ok(true) => {}
        Ok(false) => {
            warn!("the delivery tag is stale (reconnected): RabbitMQ will redeliver it, harmlessly")
        }
        Err(e) => warn!("ack failed: {e}; RabbitMQ will redeliver it, harmlessly"),
    }
}
