//! Nothing lost, nothing counted twice: interrupts, duplicate deliveries, several workers,
//! workers killed or stopped mid-import, lost announcements, poison messages, dropped
//! database connections.

use imports_storage::imports;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use imports_common::model::Status;
use imports_runtime::queue;
use imports_tests::{amqp_url, signal, sku, skus, ImportSpec, TestEnv};
use serde_json::Value;

const T: Duration = Duration::from_secs(90);

/// `n` SKUs whose codes start with `prefix`.
fn skus_with_prefix(prefix: &str, n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                let mut s = sku(i);
                s["code"] = Value::String(format!("{prefix}{i:06}"));
                s
            })
            .collect(),
    )
}

/// The invariant every scenario ends with: final status, counts that add up, and exactly
/// the valid inputs written, once each.
async fn assert_exact(env: &TestEnv, import_id: &str, expected_rows: i64) {
    let import = env.import(import_id).await;
    assert_eq!(import.status, Status::Completed, "{import:?}");
    assert_eq!(
        import.processed_count + import.errors_count,
        import.inputs_size
    );
    assert_eq!(import.processed_count, expected_rows);
    env.assert_started_and_completed_once(import_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_interrupted_while_pending_never_starts() {
    let env = TestEnv::new().await;
    let inputs = skus(10);
    let import = env.create_import(ImportSpec::json("skus", &inputs)).await;
    {
        let mut client = env.pool.get().await.unwrap();
        assert_eq!(
            imports::request_interrupt(&mut client, &import.id)
                .await
                .unwrap(),
            Some(Status::Interrupted)
        );
        assert_eq!(
            imports::request_interrupt(&mut client, "nope")
                .await
                .unwrap(),
            None
        );
    }
    let worker = env.spawn_worker(env.worker_config(1, 5, 10));
    env.publish(&import.id).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = env.import(&import.id).await;
    assert_eq!(after.status, Status::Interrupted);
    assert!(after.interrupted_at.is_some() && after.started_at.is_none());
    assert_eq!(env.count("skus").await, 0);
    assert_eq!(
        env.event_names(&import.id).await,
        vec!["imports.create", "imports.interrupt"]
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_mid_import_keeps_what_was_written_and_writes_nothing_more() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 5, 10));
    let inputs = skus(5000);
    let import = env.submit(ImportSpec::json("skus", &inputs)).await;
    env.wait_until(&import.id, T, |i| i.processed_count >= 10)
        .await;
    {
        let mut client = env.pool.get().await.unwrap();
        assert_eq!(
            imports::request_interrupt(&mut client, &import.id)
                .await
                .unwrap(),
            Some(Status::InProgress)
        );
    }
    let done = env.wait_final(&import.id, T).await;
    assert_eq!(done.status, Status::Interrupted);
    assert!(done.processed_count < 5000, "{}", done.processed_count);
    assert_eq!(done.processed_count % 5, 0, "stopped at a batch boundary");
    assert_eq!(env.count("skus").await, done.processed_count);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        env.count("skus").await,
        done.processed_count,
        "nothing written after the interruption"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_and_repeated_deliveries_process_each_import_once() {
    let env = TestEnv::new().await;
    let w1 = env.spawn_worker(env.worker_config(2, 50, 10));
    let w2 = env.spawn_worker(env.worker_config(2, 50, 10));
    let mut ids = Vec::new();
    for n in 0..12 {
        let inputs = skus_with_prefix(&format!("I{n}-"), 200);
        let import = env.create_import(ImportSpec::json("skus", &inputs)).await;
        ids.push(import.id);
    }
    // Every id announced three times, interleaved.
    for _ in 0..3 {
        for id in &ids {
            env.publish(id).await;
        }
    }
    for id in &ids {
        env.wait_final(id, T).await;
        assert_exact(&env, id, 200).await;
    }
    assert_eq!(env.count("skus").await, 12 * 200);
    let attempts: Vec<i32> = env
        .query("SELECT attempts FROM imports")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(attempts.iter().all(|a| *a == 1), "{attempts:?}");
    w1.stop().await;
    w2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_is_replaced_and_the_import_completes_exactly() {
    let env = TestEnv::new().await;
    let mut child = env.spawn_worker_process(1, 20, 2);
    let inputs = skus(4000);
    let import = env.submit(ImportSpec::json("skus", &inputs)).await;
    let seen = env
        .wait_until(&import.id, T, |i| i.processed_count >= 100)
        .await;
    signal(&child, libc::SIGKILL);
    child.wait().unwrap();
    let at_kill = env.import(&import.id).await;
    assert_eq!(at_kill.status, Status::InProgress);
    assert!(at_kill.processed_count >= seen.processed_count && at_kill.processed_count < 4000);
    assert_eq!(
        env.count("skus").await,
        at_kill.processed_count,
        "rows match the counters at the kill"
    );

    let started = Instant::now();
    let worker = env.spawn_worker(env.worker_config(1, 20, 2));
    env.wait_final(&import.id, T).await;
    assert_exact(&env, &import.id, 4000).await;
    assert_eq!(env.count("skus").await, 4000);
    let attempts: i32 = env.query("SELECT attempts FROM imports").await[0].get(0);
    assert_eq!(attempts, 2);
    eprintln!("taken over and finished in {:?}", started.elapsed());
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_batch_and_hands_the_import_back() {
    let env = TestEnv::new().await;
    let mut child = env.spawn_worker_process(1, 20, 30);
    let inputs = skus(4000);
    let import = env.submit(ImportSpec::json("skus", &inputs)).await;
    env.wait_until(&import.id, T, |i| i.processed_count >= 100)
        .await;
    signal(&child, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the worker did not stop after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    let handed_back = env.import(&import.id).await;
    assert_eq!(handed_back.status, Status::InProgress);
    assert_eq!(env.count("skus").await, handed_back.processed_count);
    let owner: Option<uuid::Uuid> = env.query("SELECT lease_owner FROM imports").await[0].get(0);
    assert_eq!(owner, None, "the lease was handed back");

    // Its lease was handed back and the import announced again: the next worker takes the
    // announcement (or finds it in its first sweep, when it starts), without waiting for the
    // lease to expire.
    let worker = env.spawn_worker(env.worker_config(1, 20, 30));
    env.wait_final(&import.id, T).await;
    assert_exact(&env, &import.id, 4000).await;
    assert_eq!(env.count("skus").await, 4000);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_whose_announcement_was_lost_is_still_processed() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 20, 2));
    let inputs = skus(50);
    let import = env.create_import(ImportSpec::json("skus", &inputs)).await;
    env.wait_final(&import.id, Duration::from_secs(20)).await;
    assert_exact(&env, &import.id, 50).await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_messages_are_parked_and_other_imports_go_on() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 20, 10));
    let conn = queue::connect(&amqp_url(), Some(Duration::from_secs(5)))
        .await
        .unwrap();
    let publisher = queue::Publisher::new(&conn, &env.queue).await.unwrap();
    publisher.publish_raw(b"\xff\xfe not json").await.unwrap();
    publisher
        .publish_raw(&vec![b'x'; 2 * 1024 * 1024])
        .await
        .unwrap();
    publisher
        .publish(&queue::ImportMessage::new("no-such-import"))
        .await
        .unwrap();
    let inputs = skus(30);
    let import = env.submit(ImportSpec::json("skus", &inputs)).await;
    env.wait_final(&import.id, T).await;
    assert_exact(&env, &import.id, 30).await;

    let channel = conn.create_channel().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let dead = channel
            .queue_declare(
                queue::dead_letter_queue(&env.queue).as_str().into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                Default::default(),
            )
            .await
            .unwrap();
        if dead.message_count() == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} messages parked, expected 2",
            dead.message_count()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = conn.close(200, "done".into()).await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_database_connections_roll_back_the_batch_and_counts_stay_exact() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(2, 10, 10));
    let mut ids = Vec::new();
    for n in 0..3 {
        let inputs = skus_with_prefix(&format!("P{n}-"), 1500);
        ids.push(env.submit(ImportSpec::json("skus", &inputs)).await.id);
    }
    let admin = imports_storage::db::pool(
        &format!("{}/postgres", imports_tests::postgres_server()),
        1,
        &imports_runtime::config::DEFAULT_POOL_SETTINGS,
    )
    .unwrap();
    let admin = admin.get().await.unwrap();
    let mut kills = 0;
    let deadline = Instant::now() + T;
    loop {
        let states: HashMap<String, Status> = {
            let mut m = HashMap::new();
            for id in &ids {
                m.insert(id.clone(), env.import(id).await.status);
            }
            m
        };
        if states.values().all(|s| s.is_final()) {
            break;
        }
        assert!(Instant::now() < deadline, "imports not final: {states:?}");
        let n: i64 = admin
            .query_one(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = $1 AND pid <> pg_backend_pid() AND query NOT ILIKE '%pg_stat_activity%'
                 AND application_name = '') t",
                &[&env.db_name],
            )
            .await
            .unwrap()
            .get(0);
        kills += n;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(kills > 0, "no connection was terminated");
    for id in &ids {
        assert_exact(&env, id, 1500).await;
    }
    assert_eq!(env.count("skus").await, 4500);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_import_holds_no_unacked_delivery_so_the_consumer_timeout_never_fires() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 5, 10));
    let inputs = skus(6000);
    let import = env.submit(ImportSpec::json("skus", &inputs)).await;
    env.wait_until(&import.id, T, |i| i.processed_count > 0)
        .await;
    // Mid-import, RabbitMQ holds no unacknowledged delivery for it: the delivery was acked
    // when the import was claimed, and Postgres holds the state from then on.
    let out = std::process::Command::new("rabbitmqctl")
        .args([
            "-q",
            "list_queues",
            "name",
            "messages_unacknowledged",
            "messages",
        ])
        .output()
        .expect("rabbitmqctl");
    let listing = String::from_utf8_lossy(&out.stdout);
    let line = listing
        .lines()
        .find(|l| l.split_whitespace().next() == Some(env.queue.as_str()))
        .unwrap_or_else(|| panic!("queue {} listed: {listing}", env.queue));
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        &fields[1..],
        &["0", "0"],
        "no unacked or ready message mid-import: {line}"
    );
    assert_eq!(env.import(&import.id).await.status, Status::InProgress);
    env.wait_final(&import.id, T).await;
    assert_exact(&env, &import.id, 6000).await;
    worker.stop().await;
}
