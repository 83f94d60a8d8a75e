//! Fairness between organizations: a large import yields its slot, at a batch boundary after
//! a time slice, to another organization's waiting import, and resumes afterwards with nothing
//! lost or counted twice.

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
    let small = skus(10);
    let mut spec = ImportSpec::json("skus", &small);
    spec.tenant = Some(&other);
    let b = env.submit(spec).await;
    let b_done = env.wait_final(&b.id, Duration::from_secs(30)).await;
    assert_eq!(b_done.status, Status::Completed);
    let a_then = env.import(&a.id).await;
    assert_eq!(
        a_then.status,
        Status::InProgress,
        "the small import finished while the large one was still running"
    );
    let waited = b_done.completed_at.unwrap() - b_done.created_at;
    assert!(
        waited < chrono::Duration::seconds(5),
        "the small import waited {waited}"
    );

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
    assert_eq!(env.count("skus").await, 60_010);
    worker.stop().await;
}
