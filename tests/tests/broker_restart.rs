//! RabbitMQ stopped while imports are created, then started again: every import completes.
//!
//! This stops the machine's RabbitMQ application (`rabbitmqctl stop_app`), so it is the only
//! test of its binary: `cargo test` runs test binaries one after another, so no other test
//! is running meanwhile. A guard starts RabbitMQ again whatever happens.

use std::process::Command;
use std::time::{Duration, Instant};

use imports_common::model::{Mode, Status};
use imports_tests::TestEnv;
use serde_json::json;

struct StartAgainOnDrop;

impl Drop for StartAgainOnDrop {
    fn drop(&mut self) {
        rabbitmqctl(&["start_app"]);
        rabbitmqctl(&["await_startup"]);
    }
}

fn rabbitmqctl(args: &[&str]) {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl runs");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_created_while_rabbitmq_is_stopped_complete_once_it_is_back() {
    let env = TestEnv::new().await;
    let server = env.spawn_api(env.api_config()).await;
    let token = env.token("acme", Mode::Test).await;
    // A 30 s lease: the sweeper would pick pending imports up only after a minute, so
    // completing sooner proves that the outbox announced them.
    let worker = env.spawn_worker(env.worker_config(1, 10, 30));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let guard = StartAgainOnDrop;
    rabbitmqctl(&["stop_app"]);
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for i in 0..3 {
        let body = json!({"data": {"type": "imports", "attributes": {"resource_type": "skus", "inputs": [{"code": format!("B{i}"), "name": "b", "do_not_ship": true}]}}});
        let resp = http
            .post(format!("{}/api/imports", server.base_url))
            .bearer_auth(&token)
            .header("content-type", "application/vnd.api+json")
            .body(serde_json::to_vec(&body).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            reqwest::StatusCode::CREATED,
            "creates succeed while RabbitMQ is down"
        );
        let doc: serde_json::Value = resp.json().await.unwrap();
        ids.push(doc["data"]["id"].as_str().unwrap().to_owned());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(env.import(&ids[0]).await.status, Status::Pending);
    drop(guard);

    let started = Instant::now();
    for id in &ids {
        let done = env.wait_final(id, Duration::from_secs(45)).await;
        assert_eq!((done.status, done.processed_count), (Status::Completed, 1));
    }
    assert!(started.elapsed() < Duration::from_secs(45));
    eprintln!(
        "all imports completed {:?} after RabbitMQ came back",
        started.elapsed()
    );

    // RabbitMQ restarted in the middle of a long import: the import, already claimed in
    // Postgres, goes on; the worker reconnects and takes new imports afterwards.
    let long = env
        .submit(imports_tests::ImportSpec::json(
            "skus",
            &imports_tests::skus(4000),
        ))
        .await;
    env.wait_until(&long.id, Duration::from_secs(60), |i| i.processed_count > 0)
        .await;
    let guard = StartAgainOnDrop;
    rabbitmqctl(&["stop_app"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(guard);
    let done = env.wait_final(&long.id, Duration::from_secs(60)).await;
    assert_eq!(
        (done.status, done.processed_count),
        (Status::Completed, 4000)
    );
    let emails = json!([{"email": "after@restart.io"}]);
    let after = env
        .submit(imports_tests::ImportSpec::json("customers", &emails))
        .await;
    let done = env.wait_final(&after.id, Duration::from_secs(30)).await;
    assert_eq!((done.status, done.processed_count), (Status::Completed, 1));
    worker.stop().await;
    server.stop().await;
}
