//! The active-imports limit: the per-tenant count the `active_imports` trigger keeps follows
//! every write of `imports`, and creates sent at once never pass the limit.

use imports_common::model::{Mode, Status, Tenant};
use imports_storage::imports;
use imports_tests::{skus, ImportSpec, TestEnv};
use reqwest::{Client, StatusCode};
use serde_json::json;

/// The counts the trigger keeps, beside the counts of the imports themselves, per tenant.
async fn counts(env: &TestEnv) -> (Vec<(String, String, i64)>, Vec<(String, String, i64)>) {
    let read = |sql: &'static str| async move {
        env.query(sql)
            .await
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect::<Vec<(String, String, i64)>>()
    };
    let kept = read(
        "SELECT organization_id, mode, count FROM active_imports WHERE count > 0 ORDER BY 1, 2",
    )
    .await;
    let actual = read(
        "SELECT organization_id, mode, count(*) FROM imports
          WHERE status IN ('pending', 'in_progress') GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .await;
    (kept, actual)
}

async fn assert_counts(env: &TestEnv, expected: &[(&str, &str, i64)]) {
    let (kept, actual) = counts(env).await;
    assert_eq!(kept, actual, "the kept counts differ from the imports");
    let expected: Vec<(String, String, i64)> = expected
        .iter()
        .map(|(o, m, n)| (o.to_string(), m.to_string(), *n))
        .collect();
    assert_eq!(kept, expected);
}

async fn move_to(env: &TestEnv, id: &str, to: Status) {
    let mut client = env.pool.get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    assert!(imports::transition(&*tx, id, to, None, None).await.unwrap());
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn the_active_count_follows_every_change_of_status_and_every_delete() {
    let env = TestEnv::new().await;
    let org = env.tenant.organization_id.clone();
    let other = Tenant {
        organization_id: org.clone(),
        mode: Mode::Live,
    };
    let inputs = skus(2);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            env.create_import(ImportSpec::json("skus", &inputs))
                .await
                .id,
        );
    }
    let mut live = ImportSpec::json("skus", &inputs);
    live.tenant = Some(&other);
    let live = env.create_import(live).await.id;
    assert_counts(&env, &[(&org, "live", 1), (&org, "test", 3)]).await;

    // Pending to in progress is still active; counts written by the worker change nothing.
    move_to(&env, &ids[0], Status::InProgress).await;
    env.query(&format!(
        "UPDATE imports SET processed_count = 2 WHERE id = '{}'",
        ids[0]
    ))
    .await;
    assert_counts(&env, &[(&org, "live", 1), (&org, "test", 3)]).await;
    move_to(&env, &ids[0], Status::Completed).await;
    move_to(&env, &ids[1], Status::Interrupted).await;
    assert_counts(&env, &[(&org, "live", 1), (&org, "test", 1)]).await;
    // Deleting a finished import frees nothing; deleting an active one does.
    let mut client = env.pool.get().await.unwrap();
    imports::delete_import(&mut client, &ids[0]).await.unwrap();
    imports::delete_import(&mut client, &live).await.unwrap();
    assert_counts(&env, &[(&org, "test", 1)]).await;
    imports::delete_import(&mut client, &ids[2]).await.unwrap();
    assert_counts(&env, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_sent_at_once_never_pass_the_active_limit() {
    let env = TestEnv::new().await;
    let mut config = env.api_config();
    config.max_active = 5;
    let api = env.spawn_api(config).await;
    let token = env
        .token(&env.tenant.organization_id, env.tenant.mode)
        .await;
    let http = Client::new();
    let body = json!({"data": {"type": "imports", "attributes": {
        "resource_type": "skus", "inputs": skus(1)}}})
    .to_string();
    let create = || {
        http.post(format!("{}/api/imports", api.base_url))
            .bearer_auth(&token)
            .header("content-type", "application/vnd.api+json")
            .body(body.clone())
            .send()
    };
    let answers = futures::future::join_all((0..30).map(|_| create())).await;
    let mut statuses: Vec<u16> = answers
        .into_iter()
        .map(|a| a.unwrap().status().as_u16())
        .collect();
    statuses.sort();
    let created = statuses.iter().filter(|s| **s == 201).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((created, refused), (5, 25), "{statuses:?}");
    let org = env.tenant.organization_id.clone();
    assert_counts(&env, &[(&org, "test", 5)]).await;
    assert_eq!(env.query("SELECT 1 FROM imports").await.len(), 5);

    // A refused create leaves nothing: no import, no inputs.
    let stored = env
        .query("SELECT DISTINCT import_id FROM import_inputs")
        .await;
    assert_eq!(stored.len(), 5);
    // An import that ends frees its place.
    let id: String = env.query("SELECT id FROM imports LIMIT 1").await[0].get(0);
    move_to(&env, &id, Status::Interrupted).await;
    let resp = create().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = create().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let doc: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        doc["errors"][0]["detail"],
        "5 imports are pending or in progress; at most 5 at once"
    );
    api.stop().await;
}

/// A new import of the test tenant, written in `tx` as a create does (without its inputs).
async fn insert_in(tx: &deadpool_postgres::Transaction<'_>, env: &TestEnv) -> String {
    let id = imports_common::ids::new_id();
    let new = imports::NewImport {
        tenant: env.tenant.clone(),
        resource_type: "skus".into(),
        format: imports_common::model::Format::Json,
        csv_delimiter: None,
        parent_resource_id: None,
        inputs_size: 1,
        skip_errors: false,
        dry_run: false,
        reference: None,
        reference_origin: None,
        metadata: json!({}),
        trace_context: json!({}),
    };
    imports::insert_announced_import(tx, &id, &new)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn the_count_moves_at_commit_and_the_limit_applies_where_it_is_set() {
    let env = TestEnv::new().await;
    let org = env.tenant.organization_id.clone();
    // Created and ended in one transaction: counted in and out, in order, at the commit.
    let mut client = env.pool.get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    let id = insert_in(&tx, &env).await;
    assert!(
        imports::transition(&tx, &id, Status::Interrupted, None, None)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert_counts(&env, &[]).await;

    // Without a limit set (the worker's and the tests' writes), nothing is refused.
    for _ in 0..2 {
        let tx = client.transaction().await.unwrap();
        insert_in(&tx, &env).await;
        tx.commit().await.unwrap();
    }
    assert_counts(&env, &[(&org, "test", 2)]).await;

    // With a limit of 2, the third create's commit is refused, naming the count before it,
    // and leaves nothing behind; the limit ends with its transaction.
    let tx = client.transaction().await.unwrap();
    imports::limit_active(&tx, 2).await.unwrap();
    insert_in(&tx, &env).await;
    let refused = tx.commit().await.unwrap_err();
    assert_eq!(imports::over_active_limit(&refused), Some(2), "{refused}");
    assert_counts(&env, &[(&org, "test", 2)]).await;
    assert_eq!(env.query("SELECT 1 FROM imports").await.len(), 3);
    let tx = client.transaction().await.unwrap();
    insert_in(&tx, &env).await;
    tx.commit().await.unwrap();
    assert_counts(&env, &[(&org, "test", 3)]).await;
    // Any other failure is not taken for the limit.
    let other = client.query("SELECT 1/0", &[]).await.unwrap_err();
    assert_eq!(imports::over_active_limit(&other), None);
}
