//! What a team's own script reaches on this Postgres, the yardsticks of the worker: every
//! baseline writes into `baseline_skus`, a copy of the real `skus` table (`LIKE skus
//! INCLUDING ALL`: its defaults, checks and indexes, plus its foreign key to
//! `shipping_categories`), so the work per row is the same as the worker's.
//!
//! - (a1) `COPY` into a staging table, then one `INSERT ... ON CONFLICT`, on one connection;
//! - (a2) the same with the file split in halves over two connections at once;
//! - (a3) raw `COPY` straight into the table: the floor for new rows.

use futures::SinkExt;
use tokio_postgres::{Client, NoTls};

use crate::cpu::Sample;

/// Makes `baseline_skus` (its shipping category, `bench-std`, must exist).
pub async fn prepare(client: &Client) -> anyhow::Result<()> {
    client
        .batch_execute(
            "CREATE TABLE baseline_skus (LIKE skus INCLUDING ALL);
             ALTER TABLE baseline_skus ADD FOREIGN KEY (shipping_category_id)
                 REFERENCES shipping_categories (id)",
        )
        .await?;
    Ok(())
}

/// Empties `baseline_skus`, so the next baseline writes new rows.
pub async fn empty(client: &Client) -> anyhow::Result<()> {
    client.batch_execute("TRUNCATE baseline_skus").await?;
    Ok(())
}

/// How fast a baseline wrote, and what it cost Postgres.
#[derive(Clone, Copy)]
pub struct Rate {
    /// Records/s.
    pub per_s: f64,
    /// Postgres's CPU microseconds per record.
    pub postgres_us: f64,
}

/// One run of each baseline.
pub struct Run {
    /// (a1), new rows.
    pub one_new: Rate,
    /// (a1), updates of all.
    pub one_updates: Rate,
    /// (a2), new rows.
    pub two_new: Rate,
    /// (a2), updates of all.
    pub two_updates: Rate,
    /// (a3), new rows.
    pub copy_new: Rate,
}

/// Runs every baseline once on `n` records, from an empty table each time new rows are
/// written; `url` gives the second connection of (a2).
pub async fn run(client: &Client, url: &str, n: usize) -> anyhow::Result<Run> {
    let (second, conn) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(conn);
    empty(client).await?;
    let one_new = rate(n, stage_and_merge(client, copy_text(0..n, "new", false))).await?;
    let data = copy_text(0..n, "updated", false);
    let one_updates = rate(n, stage_and_merge(client, data)).await?;
    empty(client).await?;
    let two = |name: &str| {
        let halves = [0..n / 2, n / 2..n].map(|rows| copy_text(rows, name, false));
        let second = &second;
        async move {
            let [first_half, second_half] = halves;
            let (a, b) = tokio::join!(
                stage_and_merge(client, first_half),
                stage_and_merge(second, second_half)
            );
            a.and(b)
        }
    };
    let two_new = rate(n, two("new")).await?;
    let two_updates = rate(n, two("updated")).await?;
    empty(client).await?;
    let copy_new = rate(n, raw_copy(client, copy_text(0..n, "new", true))).await?;
    Ok(Run {
        one_new,
        one_updates,
        two_new,
        two_updates,
        copy_new,
    })
}

/// The rate of `n` records written by `work` (its data is made before the clock starts, as
/// a script reads a file).
async fn rate(
    n: usize,
    work: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<Rate> {
    let before = Sample::take(None);
    work.await?;
    let cpu = before.until(&Sample::take(None));
    Ok(Rate {
        per_s: n as f64 / cpu.seconds,
        postgres_us: cpu.us_per(cpu.postgres, n),
    })
}

/// The rows `rows` as COPY text: id, code, name, pieces per pack, and with `with_tenant` the
/// tenant and shipping category columns too.
fn copy_text(rows: std::ops::Range<usize>, name: &str, with_tenant: bool) -> String {
    let mut data = String::with_capacity(rows.len() * 64);
    for i in rows {
        let pack = i % 10 + 1;
        if with_tenant {
            data.push_str(&format!(
                "a{i}\tbench\ttest\tBASE{i:08}\t{name} {i}\t{pack}\tbench-std\n"
            ));
        } else {
            data.push_str(&format!("a{i}\tBASE{i:08}\t{name} {i}\t{pack}\n"));
        }
    }
    data
}

/// (a1)/(a2): COPY text `data` into a temporary table, then merged in one statement, in one
/// transaction.
async fn stage_and_merge(client: &Client, data: String) -> anyhow::Result<()> {
    client
        .batch_execute("BEGIN; CREATE TEMP TABLE staging (id text, code text, name text, pieces_per_pack int8) ON COMMIT DROP")
        .await?;
    let sink = client.copy_in("COPY staging FROM STDIN").await?;
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from(data)).await?;
    sink.finish().await?;
    client
        .batch_execute(
            "INSERT INTO baseline_skus (id, organization_id, mode, code, name, pieces_per_pack, shipping_category_id)
             SELECT id, 'bench', 'test', code, name, pieces_per_pack, 'bench-std' FROM staging
             ON CONFLICT (organization_id, mode, code) DO UPDATE SET name = EXCLUDED.name,
               pieces_per_pack = EXCLUDED.pieces_per_pack, updated_at = now();
             COMMIT",
        )
        .await?;
    Ok(())
}

/// (a3): COPY text `data` straight into the table.
async fn raw_copy(client: &Client, data: String) -> anyhow::Result<()> {
    let sink = client
        .copy_in(
            "COPY baseline_skus (id, organization_id, mode, code, name, pieces_per_pack, shipping_category_id) FROM STDIN",
        )
        .await?;
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from(data)).await?;
    sink.finish().await?;
    Ok(())
}
