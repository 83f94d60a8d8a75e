//! Faults at random points: a worker killed again and again across many imports with
//! invalid inputs mixed in, and an import that keeps failing being given up on.

use std::time::Duration;

use imports_common::model::Status;
use imports_tests::{signal, ImportSpec, TestEnv};
use serde_json::{json, Value};

/// A deterministic xorshift generator, so a failing run can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `n` SKU inputs of import `tag`; every tenth has no name (an error).
fn mixed_inputs(tag: usize, n: usize) -> (Value, i64) {
    let mut valid = 0;
    let items = (0..n)
        .map(|i| {
            if i % 10 == 3 {
                json!({"code": format!("M{tag}-{i:05}"), "do_not_ship": true})
            } else {
                valid += 1;
                json!({"code": format!("M{tag}-{i:05}"), "name": format!("item {i}"), "do_not_ship": true})
            }
        })
        .collect();
    (Value::Array(items), valid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_killed_at_random_points_lose_and_double_nothing() {
    let seed: u64 = std::env::var("FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_abcd);
    eprintln!("FAULT_SEED={seed}");
    let mut rng = Rng(seed);
    let env = TestEnv::new().await;
    let mut imports = Vec::new();
    for tag in 0..6 {
        let (inputs, valid) = mixed_inputs(tag, 1200);
        let import = env
            .submit(ImportSpec::json("skus", &inputs).skip_errors())
            .await;
        imports.push((import.id, tag, valid));
    }
    // Kill a worker process at random moments, eight times by default, with a 2 s lease so that each
    // replacement takes over the abandoned imports quickly.
    // FAULT_ROUNDS raises the number of kills for a longer soak (docs/operations.md, "Tests").
    let rounds: usize = std::env::var("FAULT_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    for _ in 0..rounds {
        let mut child = env.spawn_worker_process(2, 25, 2);
        let wait = 200 + rng.below(700);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        signal(&child, libc::SIGKILL);
        child.wait().unwrap();
    }
    let worker = env.spawn_worker(env.worker_config(2, 25, 2));
    for (id, tag, valid) in &imports {
        let done = env.wait_final(id, Duration::from_secs(120)).await;
        assert_eq!(done.status, Status::Completed, "{done:?}");
        assert_eq!(done.processed_count + done.errors_count, done.inputs_size);
        assert_eq!(
            (done.processed_count, done.errors_count),
            (*valid, 1200 - valid)
        );
        let rows: i64 = env
            .query(&format!(
                "SELECT count(*) FROM skus WHERE code LIKE 'M{tag}-%'"
            ))
            .await[0]
            .get(0);
        assert_eq!(
            rows, *valid,
            "exactly the valid inputs are written, once each"
        );
        let logged: i64 = env
            .query(&format!("SELECT count(DISTINCT position) FROM import_log_entries WHERE import_id = '{id}' AND severity = 'error'"))
            .await[0]
            .get(0);
        assert_eq!(logged, 1200 - valid, "each error logged once");
        env.assert_started_and_completed_once(id).await;
    }
    let attempts: Vec<i32> = env
        .query("SELECT attempts FROM imports")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    eprintln!("claims per import: {attempts:?}");
    worker.stop().await;
}

/// Leaves an import as a dead worker would: in progress, claimed `attempts` times, its lease
/// expired; `interrupt` as if the user asked for an interruption meanwhile.
async fn abandon(env: &TestEnv, import_id: &str, attempts: i32, interrupt: bool) {
    env.query(&format!(
        "UPDATE imports SET status = 'in_progress', started_at = now(), attempts = {attempts},
         interrupt_requested = {interrupt}, lease_owner = gen_random_uuid(),
         lease_expires_at = now() - interval '1 second' WHERE id = '{import_id}'"
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_that_keeps_failing_is_given_up_with_a_clear_error() {
    let env = TestEnv::new().await;
    let inputs = imports_tests::skus(10);
    let import = env.create_import(ImportSpec::json("skus", &inputs)).await;
    // As if ten workers had claimed it and died (or crashed on it) one after another.
    abandon(&env, &import.id, 10, false).await;
    let worker = env.spawn_worker(env.worker_config(1, 5, 2));
    let done = env.wait_final(&import.id, Duration::from_secs(30)).await;
    assert_eq!(done.status, Status::Interrupted);
    // An entry about the import as a whole is not counted, and is shown all the same.
    assert_eq!(done.errors_count, 0);
    assert_eq!(
        done.errors_log.0["unknown"]["import"],
        vec!["given up after 10 attempts to process it"]
    );
    assert_eq!(env.count("skus").await, 0);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_asked_while_no_worker_held_the_import_stops_it_before_any_write() {
    let env = TestEnv::new().await;
    let inputs = imports_tests::skus(50);
    let import = env.create_import(ImportSpec::json("skus", &inputs)).await;
    // Its worker died mid-import; meanwhile the user asked for an interruption.
    abandon(&env, &import.id, 1, true).await;
    let worker = env.spawn_worker(env.worker_config(1, 5, 2));
    let done = env.wait_final(&import.id, Duration::from_secs(30)).await;
    assert_eq!(done.status, Status::Interrupted);
    assert_eq!(
        env.count("skus").await,
        0,
        "nothing written after the request"
    );
    worker.stop().await;
}
