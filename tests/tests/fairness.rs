//! Fairness between tenants: a large import yields its slot, at a batch boundary after a time
//! slice, to another organization's waiting import (or its own organization's in the other
//! mode), and resumes afterwards with nothing lost or counted twice.

use std::time::Duration;

use imports_common::model::{Mode, Status, Tenant};
use imports_tests::{skus, ImportSpec, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_import_yields_to_another_organizations_small_one() {
    let env = TestEnv::new().await;
    let mut config = env.worker_config(1, 100, 10);
    config.time_slice = Duration::from_millis(500);
    let worker = env.spawn_worker(config);

    let big = skus(60_000);
    let a = env.submit(ImportSpec::json("skus", &big)).await;
    env.wait_until(&a.id, Duration::from_secs(30), |i| i.processed_count > 0)
        .await;

    let other = Tenant {
        organization_id: "org-b".into(),
        mode: Mode::Test,
    };
    // Three small imports of organization B: each waits at most about a slice, the large
    // import taking its turn between them.
    let small = skus(10);
    let mut smalls = Vec::new();
    for _ in 0..3 {
        let mut spec = ImportSpec::json("skus", &small);
        spec.tenant = Some(&other);
        smalls.push(env.submit(spec).await.id);
    }
    let first = env.wait_final(&smalls[0], Duration::from_secs(30)).await;
    assert_eq!(
        env.import(&a.id).await.status,
        Status::InProgress,
        "the small import finished while the large one was still running"
    );
    for (n, id) in smalls.iter().enumerate() {
        let done = if n == 0 {
            first.clone()
        } else {
            env.wait_final(id, Duration::from_secs(30)).await
        };
        assert_eq!(done.status, Status::Completed);
        let waited = done.completed_at.unwrap() - done.created_at;
        assert!(
            waited < chrono::Duration::seconds(5),
            "small import {n} waited {waited}"
        );
    }

    // The large one resumes where it yielded: every input once, one start, one completion,
    // and the yield was not counted as a failed attempt.
    let a_done = env.wait_final(&a.id, Duration::from_secs(120)).await;
    assert_eq!(
        (a_done.status, a_done.processed_count, a_done.errors_count),
        (Status::Completed, 60_000, 0)
    );
    env.assert_started_and_completed_once(&a.id).await;
    let attempts: i32 = env
        .query(&format!(
            "SELECT attempts FROM imports WHERE id = '{}'",
            a.id
        ))
        .await[0]
        .get(0);
    assert_eq!(attempts, 1);
    assert_eq!(
        env.count("skus").await,
        60_010,
        "B's three imports share their ten codes"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_s_live_import_does_not_wait_behind_its_test_import() {
    let env = TestEnv::new().await;
    let mut config = env.worker_config(1, 100, 10);
    config.time_slice = Duration::from_millis(500);
    let worker = env.spawn_worker(config);
    let big = skus(60_000);
    let test = env.submit(ImportSpec::json("skus", &big)).await;
    env.wait_until(&test.id, Duration::from_secs(30), |i| i.processed_count > 0)
        .await;
    // The same organization in the other mode: another environment, another tenant.
    let live = Tenant {
        organization_id: env.tenant.organization_id.clone(),
        mode: match env.tenant.mode {
            Mode::Test => Mode::Live,
            Mode::Live => Mode::Test,
        },
    };
    let small = skus(10);
    let mut spec = ImportSpec::json("skus", &small);
    spec.tenant = Some(&live);
    let small_id = env.submit(spec).await.id;
    let done = env.wait_final(&small_id, Duration::from_secs(30)).await;
    assert_eq!(done.status, Status::Completed);
    assert_eq!(
        env.import(&test.id).await.status,
        Status::InProgress,
        "the live import finished while the test one still ran"
    );
    let done = env.wait_final(&test.id, Duration::from_secs(120)).await;
    assert_eq!(
        (done.status, done.processed_count),
        (Status::Completed, 60_000)
    );
    worker.stop().await;
}
