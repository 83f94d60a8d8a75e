//! How a batch is written (worker/src/writer.rs): upserts by natural key decided by Postgres in
//! the write itself, updates by id, records already as given left untouched with a warning,
//! and the created/updated counts that say which was which.

use imports_storage::logs;
use std::time::Duration;

use imports_common::model::{Import, Mode, Status, Tenant};
use imports_tests::{ImportSpec, TestEnv};
use serde_json::json;

const T: Duration = Duration::from_secs(60);
const UNCHANGED: &str = "nothing changed: the record already had these values";

async fn import_and_wait(env: &TestEnv, spec: ImportSpec<'_>) -> Import {
    let import = env.submit(spec).await;
    env.wait_final(&import.id, T).await
}

/// Every SKU's code and name, by code.
async fn sku_names(env: &TestEnv) -> Vec<(String, String)> {
    env.query("SELECT code, name FROM skus ORDER BY code")
        .await
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn counts(i: &Import) -> (Status, i64, i64, i64, i64, i64) {
    (
        i.status,
        i.processed_count,
        i.created_count,
        i.updated_count,
        i.errors_count,
        i.warnings_count,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_records_are_skipped_with_a_warning_and_counted_apart() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 3, 10));
    let inputs = json!([
        {"code": "A", "name": "Shirt", "pieces_per_pack": 2, "metadata": {"k": [1, 2]}, "do_not_ship": true},
        {"code": "B", "name": "Hat", "weight": 1.5, "do_not_ship": true},
        {"code": "C", "name": "Sock", "do_not_ship": true},
        {"code": "D", "name": "Belt", "do_not_ship": true}
    ]);
    let first = import_and_wait(&env, ImportSpec::json("skus", &inputs)).await;
    assert_eq!(counts(&first), (Status::Completed, 4, 4, 0, 0, 0));
    let before: Vec<(String, chrono::DateTime<chrono::Utc>)> = env
        .query("SELECT code, updated_at FROM skus ORDER BY code")
        .await
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();

    // The same file again: nothing is written, every input says so.
    let again = import_and_wait(&env, ImportSpec::json("skus", &inputs)).await;
    assert_eq!(counts(&again), (Status::Completed, 4, 0, 0, 0, 4));
    for code in ["A", "B", "C", "D"] {
        assert_eq!(json!(again.warnings_log)[code], json!([UNCHANGED]));
    }
    let after: Vec<(String, chrono::DateTime<chrono::Utc>)> = env
        .query("SELECT code, updated_at FROM skus ORDER BY code")
        .await
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(before, after, "no record was rewritten");

    // One changed value among identical ones; an attribute left out is not a change.
    let changed = json!([
        {"code": "A", "name": "Shirt"},
        {"code": "B", "name": "Hat", "weight": 2.5},
        {"code": "C", "name": "Sock", "do_not_ship": true},
        {"code": "E", "name": "New", "do_not_ship": true}
    ]);
    let third = import_and_wait(&env, ImportSpec::json("skus", &changed)).await;
    assert_eq!(counts(&third), (Status::Completed, 4, 1, 1, 0, 2));
    assert!(json!(third.warnings_log).get("B").is_none());
    let a = &env
        .query("SELECT pieces_per_pack, metadata FROM skus WHERE code = 'A'")
        .await[0];
    assert_eq!(a.get::<_, Option<i64>>(0), Some(2), "not given, kept");
    assert_eq!(a.get::<_, serde_json::Value>(1), json!({"k": [1, 2]}));
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_keys_and_incomplete_inputs_in_one_batch() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 100, 10));
    let seed = json!([{"code": "A", "name": "a", "do_not_ship": true}, {"code": "B", "name": "b", "do_not_ship": true}]);
    import_and_wait(&env, ImportSpec::json("skus", &seed)).await;
    let id_a: String = env.query("SELECT id FROM skus WHERE code = 'A'").await[0].get(0);

    let batch = json!([
        // By key, then by id, the same record: merged in file order, the id input wins.
        {"code": "A", "description": "by key"},
        {"id": id_a, "description": "by id"},
        // Lacks the required name: may only update, and B exists.
        {"code": "B", "pieces_per_pack": 3},
        // Lacks the required name and does not exist: can't be blank.
        {"code": "Z", "pieces_per_pack": 3, "do_not_ship": true},
        // A new record given in two inputs: created by the first, updated by the second.
        {"code": "N", "name": "n1", "do_not_ship": true},
        {"code": "N", "description": "n2"},
        // An id of nothing.
        {"id": "nope", "name": "x"}
    ]);
    let done = import_and_wait(&env, ImportSpec::json("skus", &batch).skip_errors()).await;
    assert_eq!(done.status, Status::Completed);
    assert_eq!(
        (
            done.processed_count,
            done.created_count,
            done.updated_count,
            done.errors_count
        ),
        (5, 1, 4, 2),
        "{:?}",
        done.errors_log
    );
    assert_eq!(
        json!(done.errors_log)["Z"]["name"],
        json!(["can't be blank"])
    );
    assert_eq!(
        json!(done.errors_log)["nope"]["id"],
        json!(["not found"]),
        "{}",
        json!(done.errors_log)
    );
    let rows = env
        .query("SELECT code, name, description, pieces_per_pack FROM skus ORDER BY code")
        .await;
    let rows: Vec<(String, String, Option<String>, Option<i64>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("A".into(), "a".into(), Some("by id".into()), None),
            ("B".into(), "b".into(), None, Some(3)),
            ("N".into(), "n1".into(), Some("n2".into()), None),
        ]
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_imports_of_the_same_keys_neither_fail_nor_duplicate() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(4, 50, 10));
    let a: Vec<serde_json::Value> = (0..400)
        .map(|i| json!({"code": format!("K{i}"), "name": format!("a{i}"), "do_not_ship": true}))
        .collect();
    let b: Vec<serde_json::Value> = (0..400)
        .rev()
        .map(|i| json!({"code": format!("K{i}"), "name": format!("b{i}"), "do_not_ship": true}))
        .collect();
    let (a, b) = (json!(a), json!(b));
    let other = Tenant {
        organization_id: "org-b".into(),
        mode: Mode::Test,
    };
    let mut spec_other = ImportSpec::json("skus", &a);
    spec_other.tenant = Some(&other);
    let ids = [
        env.submit(ImportSpec::json("skus", &a)).await.id,
        env.submit(ImportSpec::json("skus", &b)).await.id,
        env.submit(spec_other).await.id,
    ];
    let mut created = 0;
    for id in &ids {
        let done = env.wait_final(id, T).await;
        assert_eq!(
            (done.status, done.processed_count, done.errors_count),
            (Status::Completed, 400, 0),
            "{:?}",
            done.errors_log
        );
        created += done.created_count;
    }
    assert_eq!(created, 800, "each key created once per tenant");
    assert_eq!(env.count("skus").await, 800);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_batches_apply_in_file_order() {
    // Batches of 2 are written two at a time (one commits while the next is written); the
    // same record named again in the next batch, by key or by id, must still end as the
    // last input says, every input counted once.
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    let seed = json!([{"code": "R", "name": "r0", "do_not_ship": true}]);
    import_and_wait(&env, ImportSpec::json("skus", &seed)).await;
    let id_r: String = env.query("SELECT id FROM skus WHERE code = 'R'").await[0].get(0);

    let mut inputs = Vec::new();
    for round in 0..40 {
        inputs.push(json!({"code": format!("X{round}"), "name": "x", "do_not_ship": true}));
        if round % 2 == 0 {
            inputs.push(json!({"code": "R", "name": format!("r{round}")}));
        } else {
            inputs.push(json!({"id": id_r, "name": format!("r{round}")}));
        }
    }
    let inputs = json!(inputs);
    let done = import_and_wait(&env, ImportSpec::json("skus", &inputs)).await;
    assert_eq!(
        (
            done.status,
            done.processed_count,
            done.created_count,
            done.updated_count,
            done.errors_count
        ),
        // The first R input repeats the seed: unchanged, not updated.
        (Status::Completed, 80, 40, 39, 0),
        "{:?}",
        done.errors_log
    );
    let name: String = env.query("SELECT name FROM skus WHERE code = 'R'").await[0].get(0);
    assert_eq!(name, "r39");
    assert_eq!(env.count("skus").await, 41);
    env.assert_started_and_completed_once(&done.id).await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_looks_records_up_waits_for_the_one_before_it() {
    // Found in review: batch 1 looked up keys while batch 0, slowed by a lock held
    // elsewhere, had not committed its rename yet, and undid it. A batch whose writes
    // depend on lookups (ids, inputs lacking a required attribute) no longer overlaps.
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    let seed = json!([{"code": "K1", "name": "n", "description": "orig", "do_not_ship": true}, {"code": "ZLOCK", "name": "z", "do_not_ship": true}]);
    import_and_wait(&env, ImportSpec::json("skus", &seed)).await;
    let id_x: String = env.query("SELECT id FROM skus WHERE code = 'K1'").await[0].get(0);

    // Hold ZLOCK so that batch 0 stays uncommitted for a while.
    let mut blocker = env.pool.get().await.unwrap();
    let held = blocker.transaction().await.unwrap();
    held.query("SELECT 1 FROM skus WHERE code = 'ZLOCK' FOR UPDATE", &[])
        .await
        .unwrap();
    let inputs = json!([
        {"id": id_x, "code": "K2"},
        {"code": "ZLOCK", "name": "z2"},
        {"code": "K1", "description": "via-old-key", "do_not_ship": true},
        {"code": "K2", "description": "via-new-key"}
    ]);
    let import = env
        .submit(ImportSpec::json("skus", &inputs).skip_errors())
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    held.commit().await.unwrap();
    let done = env.wait_final(&import.id, T).await;
    assert_eq!(done.status, Status::Completed);
    let row = &env
        .query(&format!(
            "SELECT code, description FROM skus WHERE id = '{id_x}'"
        ))
        .await[0];
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, Option<String>>(1)),
        ("K2".to_owned(), Some("via-new-key".to_owned())),
        "applied in file order"
    );
    assert_eq!(
        json!(done.errors_log)["K1"]["name"],
        json!(["can't be blank"]),
        "K1 no longer exists once renamed"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_shows_its_first_thousand_warnings_and_counts_them_all() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 500, 10));
    let inputs = imports_tests::skus(1600);
    import_and_wait(&env, ImportSpec::json("skus", &inputs)).await;
    let again = import_and_wait(&env, ImportSpec::json("skus", &inputs)).await;
    assert_eq!(counts(&again), (Status::Completed, 1600, 0, 0, 0, 1600));
    let shown: usize = json!(again.warnings_log)
        .as_object()
        .unwrap()
        .values()
        .map(|messages| messages.as_array().unwrap().len())
        .sum();
    assert_eq!(shown, logs::LOG_ENTRIES_SHOWN as usize);
    // Batches of 500: the first two store theirs, the later ones' are only counted.
    let stored: i64 = env
        .query(&format!(
            "SELECT count(*) FROM import_log_entries WHERE import_id = '{}'",
            again.id
        ))
        .await[0]
        .get(0);
    assert_eq!(stored, 1000);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_says_what_it_would_do_and_writes_nothing() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    let seed = json!([{"code": "A", "name": "a", "do_not_ship": true}, {"code": "B", "name": "b", "do_not_ship": true}]);
    import_and_wait(&env, ImportSpec::json("skus", &seed)).await;
    let before = sku_names(&env).await;

    let inputs = json!([
        {"code": "A", "name": "a2"},
        {"code": "B", "name": "b"},
        {"code": "C", "name": "c", "do_not_ship": true},
        {"code": "D", "pieces_per_pack": 0, "do_not_ship": true},
        {"code": "E", "name": "e", "shipping_category_code": "nowhere"}
    ]);
    let done = import_and_wait(
        &env,
        ImportSpec::json("skus", &inputs).dry_run().skip_errors(),
    )
    .await;
    assert!(done.dry_run);
    // A would be updated, B is unchanged, C would be created; D and E fail as they would.
    assert_eq!(counts(&done), (Status::Completed, 3, 1, 1, 2, 1));
    assert!(json!(done.errors_log)["D"].get("pieces_per_pack").is_some());
    assert_eq!(
        json!(done.errors_log)["E"]["shipping_category"],
        json!(["must exist"])
    );
    let after = sku_names(&env).await;
    assert_eq!(before, after, "nothing was written");
    env.assert_started_and_completed_once(&done.id).await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_batch_of_unchanged_records_the_next_finds_them_by_reading_first() {
    // Batches of two: once a batch finds its records unchanged, the next batches look for
    // unchanged records with a plain read before their upsert. Mixed batches must come out
    // as they would without that read.
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    let seed: Vec<serde_json::Value> = (0..6)
        .map(|i| json!({"code": format!("K{i}"), "name": format!("n{i}"), "do_not_ship": true}))
        .collect();
    import_and_wait(&env, ImportSpec::json("skus", &json!(seed))).await;
    let again = json!([
        {"code": "K0", "name": "n0"}, {"code": "K1", "name": "n1"},
        {"code": "K2", "name": "n2"}, {"code": "K3", "name": "changed"},
        {"code": "NEW", "name": "new", "do_not_ship": true}, {"code": "K5", "name": "n5", "tags": ["t"]}
    ]);
    let done = import_and_wait(&env, ImportSpec::json("skus", &again)).await;
    assert_eq!(
        counts(&done),
        (Status::Completed, 6, 1, 2, 0, 3),
        "{:?}",
        done.warnings_log
    );
    let unchanged: Vec<&String> = done
        .warnings_log
        .0
        .iter()
        .filter(|(_, w)| w.iter().any(|m| m == UNCHANGED))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(unchanged, ["K0", "K1", "K2"]);
    let names = sku_names(&env).await;
    assert_eq!(names[3], ("K3".to_owned(), "changed".to_owned()));
    assert_eq!(names.len(), 7);
    let k5_tags = env
        .query("SELECT count(*) FROM taggings g JOIN skus s ON s.id = g.resource_id WHERE s.code = 'K5'")
        .await[0]
        .get::<_, i64>(0);
    assert_eq!(k5_tags, 1, "a record found unchanged still gets its tags");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_expected_new_that_meets_existing_records_is_upserted() {
    // Batches of three: after batches of new records only, the next is tried as a plain
    // INSERT. Existing records in it (one changed, one identical) make it an upsert again;
    // nothing is lost, doubled or miscounted either way.
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 3, 10));
    let seed = json!([{"code": "OLD", "name": "old", "do_not_ship": true}]);
    import_and_wait(&env, ImportSpec::json("skus", &seed)).await;
    let sku = |code: &str, name: &str| json!({"code": code, "name": name, "do_not_ship": true});
    let inputs = json!([
        sku("N1", "a"),
        sku("N2", "b"),
        sku("N3", "c"),
        sku("N4", "d"),
        sku("OLD", "renamed"),
        sku("N5", "e"),
        sku("N6", "f"),
        sku("N7", "g"),
        sku("N8", "h"),
        sku("N9", "i"),
        sku("OLD", "renamed"),
        sku("N10", "j"),
        sku("N11", "k"),
        sku("N12", "l"),
        sku("N11", "k2")
    ]);
    let done = import_and_wait(&env, ImportSpec::json("skus", &inputs)).await;
    // N11 twice in one batch: created by the first input, updated by the second. A key
    // given twice in the file is warned about, and OLD, given as it already is, too.
    assert_eq!(
        counts(&done),
        (Status::Completed, 15, 12, 2, 0, 3),
        "{:?} {:?}",
        done.errors_log,
        done.warnings_log
    );
    assert_eq!(json!(done.warnings_log)["OLD"][1], json!(UNCHANGED));
    let names = sku_names(&env).await;
    assert_eq!(names.len(), 13, "{names:?}");
    assert!(names.contains(&("OLD".to_owned(), "renamed".to_owned())));
    assert!(names.contains(&("N11".to_owned(), "k2".to_owned())));
    worker.stop().await;
}
