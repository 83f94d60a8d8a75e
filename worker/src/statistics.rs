//! Keeps the planner's statistics of a resource table fresh while an import grows it.
//!
//! Autovacuum analyzes a table a while after it changed; an import that loads a hundred
//! thousand rows into an empty table outruns it, and the planner, believing the table still
//! empty, picks plans that walk the whole table once per batch (measured: minutes instead of
//! milliseconds per batch). So the worker analyzes the table itself, beside its next batches,
//! whenever it has inserted as many rows as the statistics last counted (and at least ten
//! batches): a few cheap ANALYZEs per import (they sample at most 30,000 rows), each at twice
//! the size of the last. (Analyzing at every half again, as before, cost a tenth of a
//! 200,000-record import's time on 2 cores; the writes themselves need no fresh statistics,
//! being index lookups by key.)

use deadpool_postgres::Pool;
use futures::FutureExt;
use imports_storage::statistics;

/// The statistics bookkeeping of one import's table.
pub struct Statistics {
    table: &'static str,
    counted_rows: f64,
    inserted_since: u64,
    min_rows: u64,
    /// An ANALYZE running beside the batches; it returns the rows it counted.
    running: Option<tokio::task::JoinHandle<Option<f64>>>,
}

impl Statistics {
    /// Reads the table's statistics, analyzing it first if they are missing or far behind.
    pub async fn at_start(pool: &Pool, table: &'static str, min_rows: u64) -> Self {
        let mut stats = Statistics {
            table,
            counted_rows: 0.0,
            inserted_since: 0,
            min_rows,
            running: None,
        };
        match stats.read(pool).await {
            Ok((counted, live)) => {
                stats.counted_rows = counted.max(0.0);
                if (counted < 0.0 && live > 0.0) || live > 2.0 * counted.max(0.0) + min_rows as f64
                {
                    stats.analyze(pool).await;
                }
            }
            Err(e) => tracing::warn!(table, "cannot read table statistics: {e}"),
        }
        stats
    }

    /// Notes a committed batch's inserts, and starts an ANALYZE beside the next batches when
    /// they add up (one at a time).
    pub async fn after_batch(&mut self, pool: &Pool, inserted: u64) {
        self.inserted_since += inserted;
        if let Some(running) = &self.running {
            if !running.is_finished() {
                return;
            }
            if let Some(Some(Ok(Some(counted)))) = self.running.take().map(|h| h.now_or_never()) {
                self.counted_rows = counted;
            }
        }
        if self.inserted_since as f64 >= self.counted_rows.max(10.0 * self.min_rows as f64) {
            self.inserted_since = 0;
            let (pool, table) = (pool.clone(), self.table);
            self.running = Some(tokio::spawn(async move { analyze(&pool, table).await }));
        }
    }

    async fn read(&self, pool: &Pool) -> anyhow::Result<(f64, f64)> {
        let client = pool.get().await?;
        Ok(statistics::table_rows(&*client, self.table).await?)
    }

    async fn analyze(&mut self, pool: &Pool) {
        if let Some(counted) = analyze(pool, self.table).await {
            self.counted_rows = counted;
        }
        self.inserted_since = 0;
    }
}

/// Analyzes `table`; returns the rows the statistics now count, or `None` if it failed (the
/// import goes on either way).
async fn analyze(pool: &Pool, table: &'static str) -> Option<f64> {
    let started = std::time::Instant::now();
    let result = async {
        let client = pool.get().await?;
        let counted = statistics::analyze(&*client, table).await?;
        anyhow::Ok(counted.max(0.0))
    }
    .await;
    match result {
        Ok(counted) => {
            tracing::debug!(table, rows = counted, elapsed = ?started.elapsed(), "analyzed");
            Some(counted)
        }
        Err(e) => {
            tracing::warn!(table, "ANALYZE failed (the import goes on): {e:#}");
            None
        }
    }
}
