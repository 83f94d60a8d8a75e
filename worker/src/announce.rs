//! Announces a handed-back import on RabbitMQ again, so that a worker with a free slot resumes
//! it within moments instead of at its next sweep.
//!
//! An import handed back on shutdown, or yielded to another organization's, has its lease
//! expired at once; the announcement (published with confirms, after the hand-back committed,
//! so that the claim it triggers succeeds) brings it to any worker consuming the queue. If the
//! publish fails, nothing is lost: the sweepers find the import in Postgres, as before. A
//! duplicate announcement is harmless: each import is claimed once.

use std::time::Duration;

use imports_runtime::queue::{self, ImportMessage, Publisher};
use imports_runtime::telemetry::traces;
use tokio::sync::Mutex;
use tracing::warn;

/// How long an announcement may take, connecting included, before the sweep is left to it.
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(5);

/// A publisher on its own RabbitMQ connection (the consumer's closes first on shutdown, when
/// the running imports are handed back), made at the first announcement and kept.
pub struct Announcer {
    url: String,
    queue: String,
    publisher: Mutex<Option<(lapin::Connection, Publisher)>>,
}

impl Announcer {
    /// An announcer for `queue` at `url`; it connects when first needed.
    pub fn new(url: &str, queue: &str) -> Self {
        Announcer {
            url: url.to_owned(),
            queue: queue.to_owned(),
            publisher: Mutex::new(None),
        }
    }

    /// Announces `import_id`, continuing the current span's trace; a failure is logged and
    /// returned (the sweep resumes the import then).
    pub async fn announce(&self, import_id: &str) -> anyhow::Result<()> {
        let mut message = ImportMessage::new(import_id);
        message.trace_context = traces::trace_context_of(&tracing::Span::current());
        let published = tokio::time::timeout(ANNOUNCE_TIMEOUT, self.publish(&message))
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("timed out after {ANNOUNCE_TIMEOUT:?}")));
        if let Err(e) = &published {
            warn!(%import_id, "could not announce the handed-back import (a sweep will find it): {e:#}");
        }
        published
    }

    /// Publishes on the kept connection, connecting again once if it was lost.
    async fn publish(&self, message: &ImportMessage) -> anyhow::Result<()> {
        let mut kept = self.publisher.lock().await;
        let mut last = None;
        for _ in 0..2 {
            if kept.is_none() {
                let connection = queue::connect(&self.url, Some(Duration::from_secs(2))).await?;
                let publisher = Publisher::new(&connection, &self.queue).await?;
                *kept = Some((connection, publisher));
            }
            let (_, publisher) = kept.as_ref().expect("connected above");
            match publisher.publish(message).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    *kept = None;
                    last = Some(e);
                }
            }
        }
        Err(last.expect("two attempts failed"))
    }

    /// Closes the connection, if one was made.
    pub async fn close(&self) {
        if let Some((connection, _)) = self.publisher.lock().await.take() {
            let _ = connection.close(200, "worker stopped".into()).await;
        }
    }
}
