//! What an input does: creates and updates, relationships, errors and warnings, the error
//! threshold, malformed inputs and duplicates.

use std::time::Duration;

use imports_common::model::Status;
use imports_tests::{ImportSpec, Inputs, TestEnv};
use serde_json::json;

const T: Duration = Duration::from_secs(60);

async fn import_and_wait(env: &TestEnv, spec: ImportSpec<'_>) -> imports_common::model::Import {
    let import = env.submit(spec).await;
    env.wait_final(&import.id, T).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_match_by_natural_key_then_by_id_and_keep_what_is_not_given() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    let first = json!([
        {"code": "A", "name": "Shirt", "description": "cotton", "pieces_per_pack": 2, "do_not_ship": true},
        {"code": "B", "name": "Hat", "do_not_ship": true}
    ]);
    let done = import_and_wait(&env, ImportSpec::json("skus", &first)).await;
    assert_eq!((done.status, done.processed_count), (Status::Completed, 2));
    let id_b: String = env.query("SELECT id FROM skus WHERE code = 'B'").await[0].get(0);
    let created_a: chrono::DateTime<chrono::Utc> = env
        .query("SELECT created_at FROM skus WHERE code = 'A'")
        .await[0]
        .get(0);

    let second = json!([
        {"code": "A", "name": "Shirt v2"},
        {"id": id_b, "code": "B2", "description": "renamed by id"},
        {"code": "C", "name": "New", "do_not_ship": true}
    ]);
    let done = import_and_wait(&env, ImportSpec::json("skus", &second)).await;
    assert_eq!(
        (done.status, done.processed_count, done.errors_count),
        (Status::Completed, 3, 0),
        "{:?}",
        done.errors_log
    );
    assert_eq!(env.count("skus").await, 3);
    let a = &env.query("SELECT name, description, pieces_per_pack, created_at, updated_at > created_at FROM skus WHERE code = 'A'").await[0];
    assert_eq!(a.get::<_, &str>(0), "Shirt v2");
    assert_eq!(
        a.get::<_, Option<&str>>(1),
        Some("cotton"),
        "attributes not given are kept"
    );
    assert_eq!(a.get::<_, Option<i64>>(2), Some(2));
    assert_eq!(a.get::<_, chrono::DateTime<chrono::Utc>>(3), created_a);
    assert!(a.get::<_, bool>(4));
    let b = &env
        .query(&format!(
            "SELECT code, name, description FROM skus WHERE id = '{id_b}'"
        ))
        .await[0];
    assert_eq!(
        (
            b.get::<_, &str>(0),
            b.get::<_, &str>(1),
            b.get::<_, &str>(2)
        ),
        ("B2", "Hat", "renamed by id")
    );

    // An unknown id is that input's error.
    let third = json!([{"id": "nope", "name": "x"}]);
    let done = import_and_wait(&env, ImportSpec::json("skus", &third).skip_errors()).await;
    assert_eq!(done.errors_log.0["nope"]["id"], vec!["not found"]);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relationships_by_id_and_by_code_and_missing_ones_are_logged() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 10, 10));
    import_and_wait(
        &env,
        ImportSpec::json(
            "shipping_categories",
            &json!([{"code": "STD", "name": "Standard"}]),
        ),
    )
    .await;
    import_and_wait(
        &env,
        ImportSpec::json(
            "price_lists",
            &json!([{"code": "EU", "name": "EU", "currency_code": "EUR"}]),
        ),
    )
    .await;
    let sc: String = env.query("SELECT id FROM shipping_categories").await[0].get(0);
    let pl: String = env.query("SELECT id FROM price_lists").await[0].get(0);

    let skus = json!([
        {"code": "S1", "name": "by id", "shipping_category_id": sc},
        {"code": "S2", "name": "by code", "shipping_category_code": "STD"},
        {"code": "S3", "name": "missing", "shipping_category_code": "NOPE"},
        {"code": "S4", "name": "missing id", "shipping_category_id": "nope"}
    ]);
    let done = import_and_wait(&env, ImportSpec::json("skus", &skus).skip_errors()).await;
    assert_eq!((done.processed_count, done.errors_count), (2, 2));
    assert_eq!(
        done.errors_log.0["S3"]["shipping_category"],
        vec!["must exist"]
    );
    assert_eq!(
        done.errors_log.0["S4"]["shipping_category"],
        vec!["must exist"]
    );
    let linked: i64 = env
        .query(&format!(
            "SELECT count(*) FROM skus WHERE shipping_category_id = '{sc}'"
        ))
        .await[0]
        .get(0);
    assert_eq!(linked, 2);

    // Prices: the parent fills price_list; an input's own relationship beats it.
    import_and_wait(
        &env,
        ImportSpec::json(
            "price_lists",
            &json!([{"code": "US", "name": "US", "currency_code": "USD"}]),
        ),
    )
    .await;
    let s1: String = env.query("SELECT id FROM skus WHERE code = 'S1'").await[0].get(0);
    let prices = json!([
        {"sku_code": "S1", "amount_cents": 100},
        {"sku_id": s1, "amount_cents": 200, "price_list_code": "US"},
        {"sku_code": "GHOST", "amount_cents": 1},
        {"sku_code": "S2"}
    ]);
    let done = import_and_wait(
        &env,
        ImportSpec::json("prices", &prices)
            .parent(&pl)
            .skip_errors(),
    )
    .await;
    assert_eq!(
        (done.processed_count, done.errors_count),
        (2, 2),
        "{:?}",
        done.errors_log
    );
    assert_eq!(done.errors_log.0["GHOST"]["sku"], vec!["must exist"]);
    assert_eq!(
        done.errors_log.0["S2"]["amount_cents"],
        vec!["can't be blank"]
    );
    let rows = env.query("SELECT p.sku_code, l.code, p.amount_cents FROM prices p JOIN price_lists l ON l.id = p.price_list_id ORDER BY 2").await;
    let got: Vec<(&str, &str, i64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        vec![("S1", "EU", 100), ("S1", "US", 200)],
        "sku_code is filled from sku_id"
    );

    // A parent that does not exist (or is another tenant's) fails every input.
    let done = import_and_wait(
        &env,
        ImportSpec::json("prices", &json!([{"sku_code": "S1", "amount_cents": 5}])).parent("nope"),
    )
    .await;
    assert_eq!(done.status, Status::Interrupted);
    assert_eq!(done.errors_log.0["S1"]["price_list"], vec!["must exist"]);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_values_are_logged_under_the_input_key_and_warnings_do_not_block() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 4, 10));
    let csv = "code,name,pieces_per_pack,weight,unit_of_weight,metadata.color,colour,do_not_ship\n\
               OK1,Fine,3,1.5,gr,red,blue,true\n\
               BAD1,,abc,-2,kg,,,true\n\
               ,Nameless,1,,,,,true\n\
               \"Q,1\",\"Quoted, name\",2,,,,,true\n";
    let done = import_and_wait(&env, ImportSpec::csv("skus", csv).skip_errors()).await;
    assert_eq!(done.status, Status::Completed);
    assert_eq!(
        (done.processed_count, done.errors_count, done.warnings_count),
        (2, 2, 1)
    );
    let bad = &done.errors_log.0["BAD1"];
    assert_eq!(bad["name"], vec!["can't be blank"]);
    assert_eq!(bad["pieces_per_pack"], vec!["'abc' is not an integer"]);
    assert_eq!(bad["weight"], vec!["must be greater than or equal to 0"]);
    assert_eq!(
        bad["unit_of_weight"],
        vec!["'kg' is not one of: gr, oz, lb"]
    );
    assert_eq!(done.errors_log.0["unknown"]["code"], vec!["can't be blank"]);
    // An unknown column is one warning for the import, on its first row.
    assert_eq!(
        done.warnings_log.0["OK1"],
        vec!["column colour was ignored: unknown attribute"]
    );
    let row = &env
        .query("SELECT metadata FROM skus WHERE code = 'OK1'")
        .await[0];
    assert_eq!(row.get::<_, serde_json::Value>(0), json!({"color": "red"}));
    assert_eq!(env.count("skus").await, 2);

    // Values Postgres itself refuses (a NUL byte in text) are that input's error too.
    let nul = json!([{"code": "N1", "name": "nul\u{0}byte", "do_not_ship": true}, {"code": "N2", "name": "fine", "do_not_ship": true}, {"code": "N3", "name": "ünïcødé ☃ 名前", "do_not_ship": true}]);
    let done = import_and_wait(&env, ImportSpec::json("skus", &nul).skip_errors()).await;
    assert_eq!(
        (done.processed_count, done.errors_count),
        (2, 1),
        "{:?}",
        done.errors_log
    );
    assert!(
        done.errors_log.0.contains_key("N1"),
        "{:?}",
        done.errors_log
    );
    let name: String = env.query("SELECT name FROM skus WHERE code = 'N3'").await[0].get(0);
    assert_eq!(name, "ünïcødé ☃ 名前");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_inputs_are_per_input_errors_and_unreadable_files_end_the_import() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    let mixed = json!([{"code": "A", "name": "a", "do_not_ship": true}, 42, "text", [1], null, {"code": "B", "name": "b", "do_not_ship": true}]);
    let done = import_and_wait(&env, ImportSpec::json("skus", &mixed).skip_errors()).await;
    assert_eq!(
        (done.status, done.processed_count, done.errors_count),
        (Status::Completed, 2, 4)
    );
    assert_eq!(done.errors_log.0["unknown"]["input"].len(), 4);

    let ragged = "code,name,do_not_ship\nA,a,true\nB\nC,c,true,extra\nD,d,true\n";
    let done = import_and_wait(&env, ImportSpec::csv("skus", ragged).skip_errors()).await;
    assert_eq!((done.processed_count, done.errors_count), (2, 2));
    assert!(done.errors_log.0["unknown"]["input"]
        .contains(&"the row has 1 fields but the header row has 3".to_string()));

    // A JSON file broken after two good inputs: those are written, then the import ends.
    let broken = r#"[{"code": "X1", "name": "x", "do_not_ship": true}, {"code": "X2", "name": "y", "do_not_ship": true}, {"code": "X3", "na"#;
    let spec = ImportSpec {
        inputs: Inputs::RawJson(broken),
        ..ImportSpec::json("skus", &json!(null))
    };
    let import = env.submit(spec).await;
    let done = env.wait_final(&import.id, T).await;
    assert_eq!(done.status, Status::Interrupted);
    let msg = &done.errors_log.0["unknown"]["inputs"][0];
    assert!(msg.starts_with("the JSON inputs end too early"), "{msg}");
    assert_eq!(
        env.query("SELECT count(*) FROM skus WHERE code LIKE 'X%'")
            .await[0]
            .get::<_, i64>(0),
        2
    );
    let reason: Option<String> = env
        .query(&format!(
            "SELECT failure_reason FROM imports WHERE id = '{}'",
            import.id
        ))
        .await[0]
        .get(0);
    assert_eq!(reason.as_deref(), Some(msg.as_str()));

    let spec = ImportSpec {
        inputs: Inputs::Csv(""),
        ..ImportSpec::json("skus", &json!(null))
    };
    let import = env.submit(spec).await;
    let done = env.wait_final(&import.id, T).await;
    assert_eq!(done.status, Status::Interrupted);
    assert_eq!(
        done.errors_log.0["unknown"]["inputs"],
        vec!["the CSV inputs have no header row"]
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_ten_percent_errors_the_import_is_interrupted_unless_skip_errors() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 10, 10));
    // 100 inputs, errors on 20 of them from position 40 on: the threshold (10) is crossed
    // in the batch at 50..59, after which nothing more is written.
    let inputs: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            if (40..60).contains(&i) {
                json!({"code": format!("E{i}"), "do_not_ship": true})
            } else {
                json!({"code": format!("K{i}"), "name": "ok", "do_not_ship": true})
            }
        })
        .collect();
    let inputs = serde_json::Value::Array(inputs);
    let done = import_and_wait(&env, ImportSpec::json("skus", &inputs)).await;
    assert_eq!(done.status, Status::Interrupted);
    assert_eq!((done.processed_count, done.errors_count), (40, 20));
    assert_eq!(env.count("skus").await, 40);

    let done = import_and_wait(&env, ImportSpec::json("skus", &inputs).skip_errors()).await;
    assert_eq!(done.status, Status::Completed);
    assert_eq!((done.processed_count, done.errors_count), (80, 20));
    // 10% exactly is not past the threshold.
    let inputs: Vec<serde_json::Value> = (0..20)
        .map(|i| {
            if i < 2 {
                json!({"code": format!("T{i}"), "do_not_ship": true})
            } else {
                json!({"code": format!("T{i}"), "name": "ok", "do_not_ship": true})
            }
        })
        .collect();
    let done = import_and_wait(
        &env,
        ImportSpec::json("skus", &serde_json::Value::Array(inputs)),
    )
    .await;
    assert_eq!((done.status, done.errors_count), (Status::Completed, 2));
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_in_one_file_are_applied_in_order() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 3, 10));
    // D appears in one batch twice and again in the next batch.
    let inputs = json!([
        {"code": "D", "name": "first", "description": "kept", "do_not_ship": true},
        {"code": "E", "name": "e", "do_not_ship": true},
        {"code": "D", "name": "second"},
        {"code": "D", "pieces_per_pack": 4}
    ]);
    let done = import_and_wait(&env, ImportSpec::json("skus", &inputs)).await;
    assert_eq!(
        (done.status, done.processed_count, done.errors_count),
        (Status::Completed, 4, 0),
        "{:?}",
        done.errors_log
    );
    assert_eq!(env.count("skus").await, 2);
    let row = &env
        .query("SELECT name, description, pieces_per_pack FROM skus WHERE code = 'D'")
        .await[0];
    assert_eq!(
        (
            row.get::<_, &str>(0),
            row.get::<_, &str>(1),
            row.get::<_, i64>(2)
        ),
        ("second", "kept", 4)
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_never_see_each_others_records() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(2, 10, 10));
    let other = imports_common::model::Tenant {
        organization_id: "org-b".into(),
        mode: imports_common::model::Mode::Test,
    };
    let live = imports_common::model::Tenant {
        organization_id: "org-a".into(),
        mode: imports_common::model::Mode::Live,
    };
    let inputs = json!([{"code": "SAME", "name": "a", "do_not_ship": true}]);
    for tenant in [None, Some(&other), Some(&live)] {
        let spec = ImportSpec {
            tenant,
            ..ImportSpec::json("skus", &inputs)
        };
        let done = import_and_wait(&env, spec).await;
        assert_eq!(done.processed_count, 1);
    }
    assert_eq!(
        env.count("skus").await,
        3,
        "the same code in three tenants is three records"
    );
    // org-b cannot link to org-a's shipping category, by id or by code.
    import_and_wait(
        &env,
        ImportSpec::json(
            "shipping_categories",
            &json!([{"code": "STD", "name": "s"}]),
        ),
    )
    .await;
    let sc: String = env.query("SELECT id FROM shipping_categories").await[0].get(0);
    let spec = ImportSpec {
        tenant: Some(&other),
        ..ImportSpec::json("skus", Box::leak(Box::new(json!([{"code": "X", "name": "x", "shipping_category_id": sc}, {"code": "Y", "name": "y", "shipping_category_code": "STD"}]))))
    }
    .skip_errors();
    let done = import_and_wait(&env, spec).await;
    assert_eq!(done.errors_count, 2);
    // Nor update org-a's record by id.
    let sku_a: String = env
        .query("SELECT id FROM skus WHERE organization_id = 'org-a' AND mode = 'test'")
        .await[0]
        .get(0);
    let spec = ImportSpec {
        tenant: Some(&other),
        ..ImportSpec::json(
            "skus",
            Box::leak(Box::new(json!([{"id": sku_a, "name": "hijacked"}]))),
        )
    }
    .skip_errors();
    let done = import_and_wait(&env, spec).await;
    assert_eq!(done.errors_count, 1);
    assert_eq!(
        env.query("SELECT count(*) FROM skus WHERE name = 'hijacked'")
            .await[0]
            .get::<_, i64>(0),
        0
    );
    worker.stop().await;
}
