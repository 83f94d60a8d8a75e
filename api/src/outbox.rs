//! Announces created imports on RabbitMQ, at least once.
//!
//! An import and its outbox row are written in one transaction. This loop publishes each row
//! with publisher confirms and deletes it only once RabbitMQ confirmed; it runs right after
//! each create (woken by a notification), on startup, and every `OUTBOX_INTERVAL_SECONDS`,
//! so an import created while RabbitMQ was down, or by a process that died before
//! publishing, is announced as soon as RabbitMQ is back. A duplicate announcement is harmless:
//! the worker claims each import once.

use std::collections::BTreeMap;
use std::sync::Arc;

use imports_common::config::ApiConfig;
use imports_common::queue::{self, ImportMessage, Publisher};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Publishes outbox rows until shutdown.
pub async fn run(
    pool: deadpool_postgres::Pool,
    config: ApiConfig,
    wake: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let mut publisher: Option<(lapin::Connection, Publisher)> = None;
    loop {
        if publisher
            .as_ref()
            .map(|(c, _)| !c.status().connected())
            .unwrap_or(true)
        {
            publisher = match connect(&config).await {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!("outbox: cannot reach RabbitMQ: {e:#}");
                    None
                }
            };
        }
        if let Some((_, p)) = &publisher {
            if let Err(e) = drain(&pool, p).await {
                tracing::warn!("outbox: publishing failed, will retry: {e:#}");
                publisher = None;
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(config.outbox_interval) => {}
        }
    }
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
async fn drain(pool: &deadpool_postgres::Pool, publisher: &Publisher) -> anyhow::Result<()> {
    loop {
        let client = pool.get().await?;
        let rows = client
            .query(
                "SELECT import_id, trace_context FROM import_outbox ORDER BY created_at LIMIT 100",
                &[],
            )
            .await?;
        if rows.is_empty() {
            return Ok(());
        }
        for row in &rows {
            let import_id: String = row.get(0);
            let trace: serde_json::Value = row.get(1);
            let trace_context: BTreeMap<String, String> =
                serde_json::from_value(trace).unwrap_or_default();
            let message = ImportMessage {
                import_id: import_id.clone(),
                trace_context,
            };
            if let Err(e) = publisher.publish(&message).await {
                client
                    .execute(
                        "UPDATE import_outbox SET attempts = attempts + 1, last_error = $2 WHERE import_id = $1",
                        &[&import_id, &e.to_string()],
                    )
                    .await?;
                return Err(e);
            }
            client
                .execute(
                    "DELETE FROM import_outbox WHERE import_id = $1",
                    &[&import_id],
                )
                .await?;
        }
    }
}
