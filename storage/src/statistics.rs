//! The planner's statistics of a resource table: how many rows they count, how many rows
//! the table has, and refreshing them with ANALYZE (the worker keeps them fresh while an
//! import grows a table).

use crate::client::Db;

/// The rows `table`'s statistics count (`reltuples`, negative when never analyzed) and the
/// live rows Postgres has seen written (`n_live_tup`), to tell when they are far behind.
pub async fn table_rows<C: Db>(
    client: &C,
    table: &str,
) -> Result<(f64, f64), tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT c.reltuples::float8, COALESCE(s.n_live_tup, 0)::float8
                 FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
                 WHERE c.oid = $1::text::regclass",
            &[&table],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// Analyzes `table` (a catalogue type's table, never user input: the name is part of the
/// statement) and returns the rows its statistics now count.
pub async fn analyze<C: Db>(client: &C, table: &'static str) -> Result<f64, tokio_postgres::Error> {
    client.batch_execute(&format!("ANALYZE {table}")).await?;
    let row = client
        .query_one(
            "SELECT reltuples::float8 FROM pg_class WHERE oid = $1::text::regclass",
            &[&table],
        )
        .await?;
    Ok(row.get(0))
}
