//! An import's lifecycle events (`import_events`): created, started, completed, interrupted.

use serde_json::Value;
use tokio_postgres::GenericClient;

/// Records a lifecycle event of an import.
pub async fn record_event<C: GenericClient>(
    client: &C,
    import_id: &str,
    name: &str,
    payload: Value,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO import_events (import_id, name, payload) VALUES ($1, $2, $3)",
            &[&import_id, &name, &payload],
        )
        .await?;
    Ok(())
}

/// An import's lifecycle events, oldest first: (name, payload, time).
pub async fn events<C: GenericClient>(
    client: &C,
    import_id: &str,
) -> Result<Vec<(String, Value, chrono::DateTime<chrono::Utc>)>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT name, payload, created_at FROM import_events WHERE import_id = $1 ORDER BY id",
            &[&import_id],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}
