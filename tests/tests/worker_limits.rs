//! Workers under restarts and heavy batches (issue 15, item 6): a handed-back import is
//! announced again and resumed at once, a worker sweeps when it starts, only failures count as
//! attempts, a batch longer than the lease keeps its import, every pool connection has its
//! timeouts, batches are bounded in records (inputs and their children), and the first batch's
//! warnings are capped.
//!
//! `graceful_restarts_every_two_and_a_half_seconds_never_stall_the_import` is also the
//! measurement of the issue ("the longest time the import made no progress"): it prints
//! `longest stall: ...`; run it with `--nocapture` to read the figure.

use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imports_common::model::Status;
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
    let n = 4000;
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
    assert_written_once(&env, &import.id, n as i64).await;
    let attempts: i32 = env.query("SELECT attempts FROM imports").await[0].get(0);
    assert_eq!(attempts, 1, "graceful hand-backs are not attempts");
    progress.task.abort();
    stop_gracefully(worker).await;
}
