//! Postgres restarted in the middle of an import: the batch in flight rolls back and is
//! retried, and the counts stay exact.
//!
//! This restarts the machine's PostgreSQL, so it is the only test of its binary (`cargo test`
//! runs test binaries one after another).

use std::process::Command;
use std::time::{Duration, Instant};

use imports_common::model::Status;
use imports_tests::{skus, ImportSpec, TestEnv};

fn pg_ctlcluster(action: &str) {
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("/etc/postgresql lists the clusters")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .max()
        .expect("a PostgreSQL cluster");
    let out = Command::new("pg_ctlcluster")
        .args([
            "--skip-systemctl-redirect",
            &version,
            "main",
            action,
            "-m",
            "fast",
        ])
        .output()
        .expect("pg_ctlcluster runs");
    assert!(
        out.status.success(),
        "pg_ctlcluster {action}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn wait_for_postgres(env: &TestEnv) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while env.pool.get().await.is_err() {
        assert!(Instant::now() < deadline, "Postgres did not come back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_mid_import_loses_and_doubles_nothing() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 20, 3));
    let inputs = skus(6000);
    let import = env.submit(ImportSpec::json("skus", &inputs)).await;
    env.wait_until(&import.id, Duration::from_secs(60), |i| {
        i.processed_count >= 200
    })
    .await;
    pg_ctlcluster("restart");
    wait_for_postgres(&env).await;
    let done = env.wait_final(&import.id, Duration::from_secs(120)).await;
    assert_eq!(done.status, Status::Completed, "{done:?}");
    assert_eq!((done.processed_count, done.errors_count), (6000, 0));
    assert_eq!(env.count("skus").await, 6000);
    worker.stop().await;
}
