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

/// One lifecycle event of an import, as stored.
#[derive(Debug, Clone)]
pub struct Event {
    /// Its id: the order events were recorded in.
    pub id: i64,
    /// `imports.create`, `imports.start`, ...
    pub name: String,
    /// What the event recorded (counts, a reason).
    pub payload: Value,
    /// When it was recorded.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// An import's lifecycle events, oldest first (the events endpoint and the tests read them).
pub async fn events<C: GenericClient>(
    client: &C,
    import_id: &str,
) -> Result<Vec<Event>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT id, name, payload, created_at FROM import_events WHERE import_id = $1 ORDER BY id",
            &[&import_id],
        )
        .await?
        .iter()
        .map(|r| Event {
            id: r.get(0),
            name: r.get(1),
            payload: r.get(2),
            created_at: r.get(3),
        })
        .collect())
}
