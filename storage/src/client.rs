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

/// Implements [`Db`] for a client type whose `prepare_cached` keeps its statements, through
/// the `tokio_postgres` type it dereferences to.
macro_rules! cached {
    ($ty:ty, $inner:ty) => {
        impl Db for $ty {
            async fn query(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Vec<Row>, Error> {
                let statement = self.prepare_cached(sql).await?;
                <$inner>::query(self, &statement, params).await
            }

            async fn query_one(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Row, Error> {
                let statement = self.prepare_cached(sql).await?;
                <$inner>::query_one(self, &statement, params).await
            }

            async fn query_opt(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Option<Row>, Error> {
                let statement = self.prepare_cached(sql).await?;
                <$inner>::query_opt(self, &statement, params).await
            }

            async fn execute(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<u64, Error> {
                let statement = self.prepare_cached(sql).await?;
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

/// Implements [`Db`] for a plain `tokio_postgres` type: each statement prepared at the call.
macro_rules! uncached {
    ($ty:ty) => {
        impl Db for $ty {
            async fn query(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Vec<Row>, Error> {
                <$ty>::query(self, sql, params).await
            }

            async fn query_one(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Row, Error> {
                <$ty>::query_one(self, sql, params).await
            }

            async fn query_opt(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Option<Row>, Error> {
                <$ty>::query_opt(self, sql, params).await
            }

            async fn execute(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<u64, Error> {
                <$ty>::execute(self, sql, params).await
            }

            async fn query_once(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Vec<Row>, Error> {
                <$ty>::query(self, sql, params).await
            }

            async fn batch_execute(&self, sql: &str) -> Result<(), Error> {
                <$ty>::batch_execute(self, sql).await
            }
        }
    };
}

cached!(deadpool_postgres::ClientWrapper, tokio_postgres::Client);
cached!(
    deadpool_postgres::Transaction<'_>,
    tokio_postgres::Transaction<'_>
);
uncached!(tokio_postgres::Client);
uncached!(tokio_postgres::Transaction<'_>);

impl Db for deadpool_postgres::Client {
    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
        Db::query(&**self, sql, params).await
    }

    async fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
        Db::query_one(&**self, sql, params).await
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error> {
        Db::query_opt(&**self, sql, params).await
    }

    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        Db::execute(&**self, sql, params).await
    }

    async fn query_once(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Error> {
        Db::query_once(&**self, sql, params).await
    }

    async fn batch_execute(&self, sql: &str) -> Result<(), Error> {
        Db::batch_execute(&**self, sql).await
    }
}
