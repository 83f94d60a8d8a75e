//! Announces created imports on RabbitMQ, at least once.
//!
//! An import and its outbox row are written in one transaction. This loop publishes each row
//! with publisher confirms and deletes it only once RabbitMQ confirmed; it runs right after
//! each create (woken by a notification), on startup, and every `OUTBOX_INTERVAL_SECONDS`,
//! so an import created while RabbitMQ was down, or by a process that died before
//! publishing, is announced as soon as RabbitMQ is back. A duplicate announcement is harmless:
//! the worker claims each import once.
//!
//! Each publish runs in a producer span that continues the trace of the create request (its
//! context was stored in the outbox row); the message carries the publish span's context.

use std::collections::BTreeMap;
use std::sync::Arc;

use imports_runtime::config::ApiConfig;
use imports_runtime::health::AmqpWatch;
use imports_runtime::queue::{self, ImportMessage, Publisher};
use imports_runtime::telemetry::traces;
use imports_storage::outbox;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Publishes outbox rows until shutdown; `amqp` tells readiness whether it is connected.
pub async fn run(
    pool: deadpool_postgres::Pool,
    config: ApiConfig,
    wake: Arc<Notify>,
    amqp: AmqpWatch,
    shutdown: CancellationToken,
) {
    let mut publisher: Option<(lapin::Connection, Publisher)> = None;
    loop {
        if publisher
            .as_ref()
            .map(|(c, _)| !c.status().connected())
            .unwrap_or(true)
        {
            amqp.clear();
            publisher = match connect(&config).await {
                Ok(p) => {
                    amqp.set(&p.0);
                    Some(p)
                }
                Err(e) => {
                    tracing::warn!("outbox: cannot reach RabbitMQ: {e:#}");
                    None
                }
            };
        }
        if let Some((_, p)) = &publisher {
            if let Err(e) = drain(&pool, p, &config.services.queue).await {
                tracing::warn!("outbox: publishing failed, will retry: {e:#}");
                // A publish failure reconnects (and declares the queue again); a Postgres
                // failure says nothing about RabbitMQ, whose connection stays (and stays
                // ready).
                if e.downcast_ref::<queue::PublishError>().is_some() {
                    amqp.clear();
                    publisher = None;
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(config.outbox_interval) => {}
        }
    }
    amqp.clear();
    if let Some((c, _)) = publisher {
        let _ = c.close(200, "api shutting down".into()).await;
    }
}

async fn connect(config: &ApiConfig) -> anyhow::Result<(lapin::Connection, Publisher)> {
    let conn = queue::connect(&config.services.amqp_url, Some(std::time::Duration::ZERO)).await?;
    let publisher = Publisher::new(&conn, &config.services.queue).await?;
    Ok((conn, publisher))
}

/// Publishes every pending row, a hundred at a time, and deletes each once RabbitMQ confirmed
/// it. No row lock is held while publishing (a delete of the import must not wait on
/// RabbitMQ); two API replicas may therefore announce the same import twice, which the
/// worker's claim makes harmless.
async fn drain(
    pool: &deadpool_postgres::Pool,
    publisher: &Publisher,
    queue: &str,
) -> anyhow::Result<()> {
    loop {
        let client = pool.get().await?;
        let rows = outbox::pending(&*client, 100).await?;
        if rows.is_empty() {
            return Ok(());
        }
        for row in rows {
            let import_id = row.import_id;
            let trace = row.trace_context;
            let trace_context: BTreeMap<String, String> =
                serde_json::from_value(trace).unwrap_or_default();
            let span = tracing::info_span!(
                "publish",
                otel.name = %format_args!("send {queue}"),
                otel.kind = "producer",
                import_id = %import_id,
            );
            traces::set_messaging_attributes(&span, "send", queue);
            traces::set_remote_parent(&span, &trace_context);
            // The message continues the trace from this span; without tracing installed,
            // the stored context is passed on as it is.
            let message = ImportMessage {
                import_id: import_id.clone(),
                trace_context: match traces::trace_context_of(&span) {
                    own if own.contains_key("traceparent") => own,
                    _ => trace_context,
                },
            };
            let published = publisher.publish(&message).instrument(span.clone()).await;
            if let Err(e) = &published {
                traces::record_error(&span, &format!("{e:#}"));
            }
            if let Err(e) = published {
                outbox::record_failure(&*client, &import_id, &e.to_string()).await?;
                return Err(e);
            }
            outbox::remove(&*client, &import_id).await?;
        }
    }
}
