//! An import's lifecycle events (`import_events`): created, started, completed, interrupted,
//! destroyed (written with their deliveries by the `lifecycle` module).

use crate::client::Db;
use serde_json::Value;

/// Writes a lifecycle event of an import; its id. `lifecycle::record_event`
/// writes it with its webhook deliveries.
pub async fn insert_event<C: Db>(
    client: &C,
    import_id: &str,
    name: &str,
    payload: &Value,
) -> Result<i64, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "INSERT INTO import_events (import_id, name, payload) VALUES ($1, $2, $3) RETURNING id",
            &[&import_id, &name, payload],
        )
        .await?
        .get(0))
}

pub use imports_common::events::Event;

fn event(r: &tokio_postgres::Row) -> Event {
    Event {
        id: r.get("id"),
        import_id: r.get("import_id"),
        name: r.get("name"),
        payload: r.get("payload"),
        created_at: r.get("created_at"),
    }
}

/// An import's lifecycle events, oldest first (the tests read them).
pub async fn events<C: Db>(
    client: &C,
    import_id: &str,
) -> Result<Vec<Event>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT id, import_id, name, payload, created_at FROM import_events WHERE import_id = $1 ORDER BY id",
            &[&import_id],
        )
        .await?
        .iter()
        .map(event)
        .collect())
}

/// One page of an import's events, oldest first, and how many it has in all.
pub async fn events_page<C: Db>(
    client: &C,
    import_id: &str,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<Event>), tokio_postgres::Error> {
    let total: i64 = client
        .query_one(
            "SELECT count(*) FROM import_events WHERE import_id = $1",
            &[&import_id],
        )
        .await?
        .get(0);
    let page = client
        .query(
            "SELECT id, import_id, name, payload, created_at FROM import_events \
             WHERE import_id = $1 ORDER BY id LIMIT $2 OFFSET $3",
            &[&import_id, &limit, &offset],
        )
        .await?
        .iter()
        .map(event)
        .collect();
    Ok((total, page))
}

/// The events of several imports (for `include=events`), oldest first, at most
/// `per_import` of each.
pub async fn events_of_imports<C: Db>(
    client: &C,
    import_ids: &[String],
    per_import: i64,
) -> Result<Vec<Event>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT id, import_id, name, payload, created_at FROM ( \
                 SELECT *, row_number() OVER (PARTITION BY import_id ORDER BY id) AS n \
                 FROM import_events WHERE import_id = ANY($1)) e \
             WHERE n <= $2 ORDER BY id",
            &[&import_ids, &per_import],
        )
        .await?
        .iter()
        .map(event)
        .collect())
}
