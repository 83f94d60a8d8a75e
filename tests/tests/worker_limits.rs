//! Workers under restarts and heavy batches (issue 15, item 6): a handed-back import is
//! announced again and resumed at once, a worker sweeps when it starts, only failures count as
//! attempts, a batch longer than the lease keeps its import, every pool connection has its
//! timeouts, batches are bounded in records (inputs and their children), and the first batch's
//! warnings are capped.
//!
//! `graceful_restarts_every_two_and_a_half_seconds_never_stall_the_import` is also the
//! measurement of the issue ("the longest time the import made no progress"): it prints
//! `longest stall: ...`; run it with `--nocapture` to read the figure. To measure another
//! build of the worker (the one before a change, say), name it in `TEST_WORKER_BINARY` and
//! set `MEASURE_ONLY=1` so that a worker's life without progress is printed, not asserted:
//!
//! ```text
//! MEASURE_ONLY=1 TEST_WORKER_BINARY=/tmp/imports-worker-before \
//!   cargo test -p imports-tests --test worker_limits graceful -- --nocapture
//! ```

use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imports_common::model::Status;
use imports_runtime::queue;
use imports_tests::proxy::TcpProxy;
use imports_tests::{signal, skus, ImportSpec, TestEnv};

const T: Duration = Duration::from_secs(120);

/// Makes every INSERT statement into `table` take `seconds` (a statement-level trigger): slow
/// storage, so that an import lasts long enough whatever the machine's speed.
async fn slow_inserts(env: &TestEnv, table: &str, seconds: f64) {
    let client = env.pool.get().await.unwrap();
    client
        .batch_execute(&format!(
            "CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN PERFORM pg_sleep({seconds}); RETURN NULL; END $$;
             CREATE TRIGGER slow_insert BEFORE INSERT ON {table}
               FOR EACH STATEMENT EXECUTE FUNCTION slow_insert();"
        ))
        .await
        .unwrap();
}

/// The import's cursor sampled every 20 ms, to find the longest time it did not move.
struct Progress {
    samples: Arc<Mutex<Vec<(Instant, i64)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    fn watch(env: &TestEnv, id: &str) -> Progress {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (pool, id, out) = (env.pool.clone(), id.to_owned(), samples.clone());
        let task = tokio::spawn(async move {
            let Ok(client) = pool.get().await else { return };
            loop {
                let Ok(row) = client
                    .query_one("SELECT cursor, status FROM imports WHERE id = $1", &[&id])
                    .await
                else {
                    return; // the test is over
                };
                out.lock().unwrap().push((Instant::now(), row.get(0)));
                if row.get::<_, &str>(1) != "in_progress" && row.get::<_, &str>(1) != "pending" {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        Progress { samples, task }
    }

    /// The cursor now (the last sample).
    fn cursor(&self) -> i64 {
        self.samples.lock().unwrap().last().map_or(0, |s| s.1)
    }

    /// The longest time between two moves of the cursor, from `from` to `to`.
    fn longest_stall(&self, from: Instant, to: Instant) -> Duration {
        let samples = self.samples.lock().unwrap();
        let mut longest = Duration::ZERO;
        let mut since = from;
        let mut last = None;
        for &(at, cursor) in samples.iter().filter(|s| s.0 >= from && s.0 <= to) {
            if last.is_some_and(|c| c != cursor) {
                since = at;
            }
            last = Some(cursor);
            longest = longest.max(at - since);
        }
        longest
    }
}

/// A worker process, killed if the test fails before stopping it.
struct Worker(Option<Child>);

impl Worker {
    fn start(env: &TestEnv, batch_size: usize, lease_secs: u64) -> Worker {
        Worker(Some(env.spawn_worker_process(1, batch_size, lease_secs)))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends SIGTERM and waits for the process to exit cleanly.
async fn stop_gracefully(mut worker: Worker) {
    let mut child = worker.0.take().expect("running");
    signal(&child, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            return;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The invariant of every scenario: completed, each input written once (created once, never
/// rewritten: a second write of a record would count as an update or a "nothing changed").
async fn assert_written_once(env: &TestEnv, id: &str, n: i64) {
    let done = env.import(id).await;
    assert_eq!(done.status, Status::Completed, "{done:?}");
    assert_eq!(
        (
            done.processed_count,
            done.created_count,
            done.updated_count,
            done.errors_count,
            done.warnings_count
        ),
        (n, n, 0, 0, 0),
        "{done:?}"
    );
    assert_eq!(env.count("skus").await, n);
    let distinct: i64 = env.query("SELECT count(DISTINCT code) FROM skus").await[0].get(0);
    assert_eq!(distinct, n);
    env.assert_started_and_completed_once(id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_restarts_every_two_and_a_half_seconds_never_stall_the_import() {
    let env = TestEnv::new().await;
    slow_inserts(&env, "skus", 0.2).await;
    let n = 3600;
    let inputs = skus(n);
    // The default lease: a sweep every 15 s, so only the announcement can explain a quick
    // resumption.
    let lease = 30;
    let mut worker = Worker::start(&env, 10, lease);
    let import = env.submit(ImportSpec::json("skus", &inputs)).await;
    let progress = Progress::watch(&env, &import.id);
    env.wait_until(&import.id, T, |i| i.processed_count > 0)
        .await;
    let started = Instant::now();
    let mut at_start = progress.cursor();
    for restart in 1..=11 {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let now = progress.cursor();
        eprintln!("worker {}: cursor {at_start} -> {now}", restart - 1);
        if std::env::var_os("MEASURE_ONLY").is_none() {
            assert!(
                now > at_start,
                "no progress in the life of worker {}: cursor {now}",
                restart - 1
            );
        }
        at_start = now;
        let old = std::mem::replace(&mut worker, Worker::start(&env, 10, lease));
        stop_gracefully(old).await;
    }
    let restarts_ended = Instant::now();
    let stall = progress.longest_stall(started, restarts_ended);
    eprintln!("longest stall: {stall:?} (11 graceful restarts 2.5 s apart)");
    assert!(stall < Duration::from_secs(2), "stalled for {stall:?}");
    assert!(
        env.import(&import.id).await.processed_count < n as i64,
        "the import outlasted the restarts"
    );
    env.wait_final(&import.id, T).await;
    eprintln!(
        "completed {:?} after the restarts",
        restarts_ended.elapsed()
    );
    assert_written_once(&env, &import.id, n as i64).await;
    let attempts: i32 = env.query("SELECT attempts FROM imports").await[0].get(0);
    assert_eq!(attempts, 1, "graceful hand-backs are not attempts");
    progress.task.abort();
    stop_gracefully(worker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handed_back_import_is_resumed_by_another_worker_within_a_second() {
    let env = TestEnv::new().await;
    slow_inserts(&env, "skus", 0.1).await;
    let n = 600;
    let inputs = skus(n);
    // A lease of 30 s: sweeps 15 s apart, so only the announcement can explain a quick
    // resumption (the second worker's sweep at its start runs before the hand-back).
    let first = Worker::start(&env, 10, 30);
    let import = env.submit(ImportSpec::json("skus", &inputs)).await;
    env.wait_until(&import.id, T, |i| i.processed_count >= 20)
        .await;
    let owner = |env: &TestEnv| {
        let pool = env.pool.clone();
        async move {
            let client = pool.get().await.unwrap();
            let row = client
                .query_one("SELECT lease_owner FROM imports", &[])
                .await
                .unwrap();
            row.get::<_, Option<uuid::Uuid>>(0)
        }
    };
    let first_owner = owner(&env).await.expect("claimed");
    let second = Worker::start(&env, 10, 30);
    tokio::time::sleep(Duration::from_millis(1500)).await; // it is consuming by now
    stop_gracefully(first).await;
    let handed_back = Instant::now();
    let taken = loop {
        if owner(&env).await.is_some_and(|o| o != first_owner) {
            break handed_back.elapsed();
        }
        assert!(
            handed_back.elapsed() < Duration::from_secs(10),
            "not resumed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    eprintln!("resumed {taken:?} after the hand-back");
    assert!(taken < Duration::from_secs(1), "resumed after {taken:?}");
    env.wait_final(&import.id, T).await;
    assert_written_once(&env, &import.id, n as i64).await;
    let attempts: i32 = env.query("SELECT attempts FROM imports").await[0].get(0);
    assert_eq!(attempts, 1, "the hand-back was not an attempt");
    stop_gracefully(second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_longer_than_the_lease_keeps_its_lease() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 5, 2));
    // A SKU that the import's third batch names, locked by the test for 5 s (2.5 leases):
    // that batch's upsert waits for the lock, its transaction open all along.
    let held = skus(40)[12].clone();
    let one = serde_json::Value::Array(vec![held.clone()]);
    let seeded = env.submit(ImportSpec::json("skus", &one)).await;
    env.wait_final(&seeded.id, T).await;
    env.query("UPDATE skus SET name = 'before'").await;
    let mut locker = env.pool.get().await.unwrap();
    let lock = locker.transaction().await.unwrap();
    lock.execute("SELECT 1 FROM skus FOR UPDATE", &[])
        .await
        .unwrap();
    let inputs = skus(40);
    let import = env.submit(ImportSpec::json("skus", &inputs)).await;
    // The lease as the sweepers see it, every 20 ms, until the import is final.
    let expired_seen = {
        let pool = env.pool.clone();
        let id = import.id.clone();
        tokio::spawn(async move {
            let client = pool.get().await.unwrap();
            let mut expired = 0;
            loop {
                let row = client
                    .query_one(
                        "SELECT status, lease_expires_at < clock_timestamp() FROM imports
                         WHERE id = $1",
                        &[&id],
                    )
                    .await
                    .unwrap();
                match row.get::<_, &str>(0) {
                    "in_progress" => {
                        expired += u32::from(row.get::<_, Option<bool>>(1) == Some(true))
                    }
                    "pending" => {}
                    _ => return expired,
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    env.wait_until(&import.id, T, |i| i.processed_count == 10)
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        env.import(&import.id).await.processed_count,
        10,
        "the third batch waits for the lock"
    );
    lock.commit().await.unwrap();
    let done = env.wait_final(&import.id, T).await;
    assert_eq!(
        (done.status, done.created_count, done.updated_count),
        (Status::Completed, 39, 1)
    );
    assert_eq!(
        expired_seen.await.unwrap(),
        0,
        "the lease looked expired while its worker ran the batch"
    );
    env.assert_started_and_completed_once(&import.id).await;
    let claims: i32 = env
        .query(&format!(
            "SELECT attempts FROM imports WHERE id = '{}'",
            import.id
        ))
        .await[0]
        .get(0);
    assert_eq!(claims, 1, "never taken over");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pool_connection_has_its_timeouts() {
    let env = TestEnv::new().await;
    let settings = imports_storage::db::PoolSettings {
        statement_timeout: Duration::from_secs(1),
        idle_in_transaction_timeout: Duration::from_secs(1),
        keepalive_idle: Duration::from_secs(30),
    };
    let pool = imports_storage::db::pool(&env.database_url, 2, &settings).unwrap();
    let client = pool.get().await.unwrap();
    let show = |name: &'static str| {
        let client = &client;
        async move {
            let row = client
                .query_one(&format!("SHOW {name}"), &[])
                .await
                .unwrap();
            row.get::<_, String>(0)
        }
    };
    assert_eq!(show("statement_timeout").await, "1s");
    assert_eq!(show("idle_in_transaction_session_timeout").await, "1s");
    // In force: a statement past it is cancelled, a transaction left idle past it is ended.
    let slow = client.simple_query("SELECT pg_sleep(3)").await.unwrap_err();
    assert_eq!(
        slow.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED),
        "{slow}"
    );
    drop(client);
    let mut idle = pool.get().await.unwrap();
    let tx = idle.transaction().await.unwrap();
    tx.execute("SELECT 1", &[]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        tx.execute("SELECT 1", &[]).await.is_err(),
        "the idle transaction was ended"
    );
    // The defaults, on the pools of the binaries (the tests' own pool uses them too).
    let client = env.pool.get().await.unwrap();
    let row = client
        .query_one(
            "SELECT current_setting('statement_timeout'),
                    current_setting('idle_in_transaction_session_timeout')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, String>(1)),
        ("5min".to_owned(), "2min".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_pool_setting_stops_the_worker_naming_it() {
    let env = TestEnv::new().await;
    for (name, value) in [
        ("DATABASE_STATEMENT_TIMEOUT_SECONDS", "soon"),
        ("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS", "-1"),
        ("DATABASE_TCP_KEEPALIVE_SECONDS", "0"),
        ("IMPORTS_BATCH_MAX_RECORDS", "0"),
    ] {
        let out = std::process::Command::new(imports_tests::worker_binary())
            .env("DATABASE_URL", &env.database_url)
            .env(name, value)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(name), "{name}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_with_many_line_items_are_written_in_batches_bounded_in_records() {
    let env = TestEnv::new().await;
    let mut config = env.worker_config(1, 100, 30);
    config.batch_max_records = 5000;
    let worker = env.spawn_worker(config);
    for (rt, inputs) in [
        (
            "price_lists",
            serde_json::json!([{"code": "EU", "name": "Europe", "currency_code": "EUR"}]),
        ),
        ("skus", skus(1000)),
        (
            "markets",
            serde_json::json!([{"code": "M1", "name": "Market", "price_list_code": "EU"}]),
        ),
    ] {
        let done = env.submit(ImportSpec::json(rt, &inputs)).await;
        let done = env.wait_final(&done.id, T).await;
        assert_eq!(done.errors_count, 0, "{rt}: {:?}", done.errors_log);
    }
    let (rows, items) = (200, 1000);
    let line_items: Vec<serde_json::Value> = (0..items)
        .map(|i| serde_json::json!({"sku_code": format!("SKU{i:06}"), "quantity": 1}))
        .collect();
    let orders: Vec<serde_json::Value> = (0..rows)
        .map(|i| {
            serde_json::json!({"number": format!("O{i:04}"), "market_code": "M1",
                               "line_items": line_items})
        })
        .collect();
    let orders = serde_json::Value::Array(orders);
    let started = Instant::now();
    let import = env.submit(ImportSpec::json("orders", &orders)).await;
    let done = env.wait_final(&import.id, T).await;
    eprintln!(
        "{rows} orders of {items} line items in {:?}",
        started.elapsed()
    );
    assert_eq!(
        (done.status, done.processed_count, done.errors_count),
        (Status::Completed, rows, 0),
        "{:?}",
        done.errors_log
    );
    assert_eq!(env.count("line_items").await, rows * items);
    // One transaction per batch: the rows a batch wrote share its transaction id. Four
    // orders and their 4,000 line items fit in 5,000 records; a fifth would not.
    let per_batch: Vec<(i64, i64)> = env
        .query(
            "SELECT count(DISTINCT o.id), count(*) FROM orders o
             JOIN line_items l ON l.order_id = o.id GROUP BY o.xmin::text ORDER BY 1 DESC",
        )
        .await
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(per_batch.len(), 50, "{per_batch:?}");
    assert!(
        per_batch.iter().all(|&(o, l)| o == 4 && l == 4000),
        "{per_batch:?}"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_batch_stores_no_more_warnings_than_are_shown() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 1500, 10));
    let inputs = skus(1200);
    let first = env.submit(ImportSpec::json("skus", &inputs)).await;
    env.wait_final(&first.id, T).await;
    // The same records again: each input warns that nothing changed, all in one batch.
    let again = env.submit(ImportSpec::json("skus", &inputs)).await;
    let done = env.wait_final(&again.id, T).await;
    assert_eq!(
        (done.status, done.warnings_count),
        (Status::Completed, 1200)
    );
    let stored: i64 = env
        .query(&format!(
            "SELECT count(*) FROM import_log_entries WHERE import_id = '{}'",
            again.id
        ))
        .await[0]
        .get(0);
    assert_eq!(stored, imports_storage::logs::LOG_ENTRIES_SHOWN);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_announcement_fails_a_worker_sweeping_at_its_start_resumes_the_import() {
    let env = TestEnv::new().await;
    slow_inserts(&env, "skus", 0.1).await;
    let n = 300;
    let inputs = skus(n);
    // The first worker reaches RabbitMQ through a proxy that the test cuts before stopping
    // it: its hand-back cannot be announced.
    let (rabbit, via_proxy) = TcpProxy::for_url(&imports_tests::amqp_url(), 5672).await;
    let mut config = env.worker_config(1, 10, 30);
    config.services.amqp_url = via_proxy;
    let first = env.spawn_worker(config);
    let import = env.submit(ImportSpec::json("skus", &inputs)).await;
    env.wait_until(&import.id, T, |i| i.processed_count >= 20)
        .await;
    rabbit.cut();
    first.stop().await;
    let at_stop = env.import(&import.id).await.processed_count;
    let conn = queue::connect(&imports_tests::amqp_url(), Some(Duration::from_secs(10)))
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let queued = channel
        .queue_declare(
            env.queue.as_str().into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap()
        .message_count();
    assert_eq!(queued, 0, "the hand-back was not announced");
    let _ = conn.close(200, "done".into()).await;
    // A lease of 30 s: its next sweep would be 15 s away; the one at its start finds it.
    let started = Instant::now();
    let second = env.spawn_worker(env.worker_config(1, 10, 30));
    env.wait_until(&import.id, T, |i| i.processed_count > at_stop)
        .await;
    let resumed = started.elapsed();
    eprintln!("resumed {resumed:?} after the second worker started");
    assert!(
        resumed < Duration::from_secs(5),
        "resumed after {resumed:?}"
    );
    env.wait_final(&import.id, T).await;
    assert_written_once(&env, &import.id, n as i64).await;
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_lease_is_not_an_attempt() {
    let env = TestEnv::new().await;
    slow_inserts(&env, "skus", 0.05).await;
    let n = 200;
    let inputs = skus(n);
    let worker = env.spawn_worker(env.worker_config(1, 10, 2));
    let import = env.submit(ImportSpec::json("skus", &inputs)).await;
    env.wait_until(&import.id, T, |i| i.processed_count >= 20)
        .await;
    // Another owner takes the lease, as a worker that took over would: the running one
    // loses it at its next heartbeat or checkpoint, and gives its claim back.
    env.query(&format!(
        "UPDATE imports SET lease_owner = gen_random_uuid(),
                lease_expires_at = now() + interval '1 hour' WHERE id = '{}'",
        import.id
    ))
    .await;
    let query = format!("SELECT attempts FROM imports WHERE id = '{}'", import.id);
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.query(&query).await[0].get::<_, i32>(0) != 0 {
        assert!(
            Instant::now() < deadline,
            "the lost claim was not given back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // That owner vanishes: a sweep resumes the import, and its claim is the only one counted.
    env.query(&format!(
        "UPDATE imports SET lease_expires_at = now() - interval '1 second' WHERE id = '{}'",
        import.id
    ))
    .await;
    env.wait_final(&import.id, T).await;
    assert_written_once(&env, &import.id, n as i64).await;
    assert_eq!(env.query(&query).await[0].get::<_, i32>(0), 1);
    worker.stop().await;
}
