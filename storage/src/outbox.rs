//! The outbox (`import_outbox`): imports created but not yet announced on RabbitMQ.

use crate::client::Db;
use serde_json::Value;

/// An outbox row waiting to be published.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The import to announce.
    pub import_id: String,
    /// The W3C trace context of the request that created it.
    pub trace_context: Value,
}

/// Queues the announcement of a new import; call it in the transaction that creates the
/// import, so that both appear together or not at all.
pub async fn enqueue<C: Db>(
    client: &C,
    import_id: &str,
    trace_context: &Value,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO import_outbox (import_id, trace_context) VALUES ($1, $2)",
            &[&import_id, trace_context],
        )
        .await?;
    Ok(())
}

/// The oldest announcements still to publish, at most `limit`.
pub async fn pending<C: Db>(client: &C, limit: i64) -> Result<Vec<Pending>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT import_id, trace_context FROM import_outbox ORDER BY created_at LIMIT $1",
            &[&limit],
        )
        .await?
        .iter()
        .map(|row| Pending {
            import_id: row.get(0),
            trace_context: row.get(1),
        })
        .collect())
}

/// Counts a failed publication of an import's announcement, with its error, for operators.
pub async fn record_failure<C: Db>(
    client: &C,
    import_id: &str,
    error: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE import_outbox SET attempts = attempts + 1, last_error = $2 WHERE import_id = $1",
            &[&import_id, &error],
        )
        .await?;
    Ok(())
}

/// Removes an import's announcement: once RabbitMQ confirmed it, or when the import is deleted.
pub async fn remove<C: Db>(client: &C, import_id: &str) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "DELETE FROM import_outbox WHERE import_id = $1",
            &[&import_id],
        )
        .await?;
    Ok(())
}
