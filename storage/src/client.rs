//! What storage's statements run on: a pooled connection or transaction, whose statements
//! are prepared once per connection and kept (Postgres then parses each once, and plans
//! it generically after a few executions), or a plain `tokio_postgres` client or
//! transaction (tests, tools), whose statements are prepared at each call.
//!
//! A statement sent as text through `tokio_postgres` costs two round trips (prepare, then
//! execute) and a parse and a plan each time; through a pooled connection it costs one
//! round trip once it is cached. Dynamic statements (a list's WHERE) keep the text path:
//! their texts are unbounded, and so would a per-connection cache be.

use std::future::Future;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

/// A connection or transaction storage's static statements run on.
pub trait Db: Sync {
    /// Runs `sql`, returning its rows.
    fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send;

    /// Runs `sql`, which must return exactly one row.
    fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Row, Error>> + Send;

    /// Runs `sql`, which must return at most one row.
    fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Option<Row>, Error>> + Send;

    /// Runs `sql`, returning how many rows it changed.
    fn execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<u64, Error>> + Send;

    /// Runs `sql` without keeping its statement: for dynamic statements, whose texts are
    /// unbounded.
    fn query_once(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send;

    /// Runs `sql` (one or more statements, no parameters) as simple queries.
    fn batch_execute(&self, sql: &str) -> impl Future<Output = Result<(), Error>> + Send;
}

/// Implements [`Db`] for a client type, its statements made by its method `$prepare`
/// (`prepare_cached` keeps them on the connection, `prepare` makes them at each call) and run
/// through the `tokio_postgres` type it dereferences to.
macro_rules! db {
    ($ty:ty, $inner:ty, $prepare:ident) => {
        impl Db for $ty {
            async fn query(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Vec<Row>, Error> {
                let statement = self.$prepare(sql).await?;
                <$inner>::query(self, &statement, params).await
            }

            async fn query_one(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Row, Error> {
                let statement = self.$prepare(sql).await?;
                <$inner>::query_one(self, &statement, params).await
            }

            async fn query_opt(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Option<Row>, Error> {
                let statement = self.$prepare(sql).await?;
                <$inner>::query_opt(self, &statement, params).await
            }

            async fn execute(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<u64, Error> {
                let statement = self.$prepare(sql).await?;
                <$inner>::execute(self, &statement, params).await
            }

            async fn query_once(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Vec<Row>, Error> {
                <$inner>::query(self, sql, params).await
            }

            async fn batch_execute(&self, sql: &str) -> Result<(), Error> {
                <$inner>::batch_execute(self, sql).await
            }
        }
    };
}

db!(
    deadpool_postgres::Client,
    tokio_postgres::Client,
    prepare_cached
);
db!(
    deadpool_postgres::ClientWrapper,
    tokio_postgres::Client,
    prepare_cached
);
db!(
    deadpool_postgres::Transaction<'_>,
    tokio_postgres::Transaction<'_>,
    prepare_cached
);
db!(tokio_postgres::Client, tokio_postgres::Client, prepare);
db!(
    tokio_postgres::Transaction<'_>,
    tokio_postgres::Transaction<'_>,
    prepare
);
