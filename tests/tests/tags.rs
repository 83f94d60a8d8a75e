//! Tags of taggable records (skus, customers, orders...): an input's `tags` are its record's
//! whole set of tags, given as a list of names, as `tags.name` CSV columns or as a CSV cell of
//! comma-separated names. Tags not yet known are created.

use std::time::Duration;

use imports_common::model::{Import, Status};
use imports_tests::{ImportSpec, TestEnv};
use serde_json::json;

const T: Duration = Duration::from_secs(60);

async fn run(env: &TestEnv, spec: ImportSpec<'_>) -> Import {
    let import = env.submit(spec).await;
    env.wait_final(&import.id, T).await
}

/// The tag names of the record of `table` whose `column` is `value`, sorted.
async fn tags_of(env: &TestEnv, table: &str, column: &str, value: &str) -> Vec<String> {
    env.query(&format!(
        "SELECT t.name FROM taggings g JOIN tags t ON t.id = g.tag_id JOIN {table} r ON r.id = g.resource_id
         WHERE g.resource_type = '{table}' AND r.{column} = '{value}' ORDER BY 1"
    ))
    .await
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_the_records_whole_set_and_changing_them_is_an_update() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    let first = json!([
        {"code": "A", "name": "Apple", "tags": ["sale", " new ", "sale"], "do_not_ship": true},
        {"code": "B", "name": "Banana", "tags": [{"name": "sale"}], "do_not_ship": true},
        {"code": "C", "name": "Cherry", "do_not_ship": true}
    ]);
    let done = run(&env, ImportSpec::json("skus", &first)).await;
    assert_eq!(
        (done.status, done.processed_count, done.created_count),
        (Status::Completed, 3, 3),
        "{:?}",
        done.errors_log
    );
    assert_eq!(tags_of(&env, "skus", "code", "A").await, ["new", "sale"]);
    assert_eq!(tags_of(&env, "skus", "code", "B").await, ["sale"]);
    assert_eq!(env.count("tags").await, 2, "each tag is created once");

    // The same tags again: nothing changed.
    let done = run(
        &env,
        ImportSpec::json("skus", &json!([{"code": "A", "tags": ["new", "sale"]}])),
    )
    .await;
    assert_eq!((done.processed_count, done.updated_count), (1, 0));
    assert!(done.warnings_log.0["A"][0].starts_with("nothing changed"));

    // Fewer tags, none, and not given: only the first two change.
    let next = json!([
        {"code": "A", "tags": ["sale"]},
        {"code": "B", "tags": []},
        {"code": "C", "name": "Cherry"}
    ]);
    let done = run(&env, ImportSpec::json("skus", &next)).await;
    assert_eq!(
        (done.processed_count, done.updated_count),
        (3, 2),
        "{:?}",
        done.warnings_log
    );
    assert_eq!(tags_of(&env, "skus", "code", "A").await, ["sale"]);
    assert!(tags_of(&env, "skus", "code", "B").await.is_empty());
    assert_eq!(env.count("tags").await, 2, "tags outlive their links");

    // Customers carry tags too; the same tag names are the same tags.
    let done = run(
        &env,
        ImportSpec::json(
            "customers",
            &json!([{"email": "ann@example.com", "tags": ["vip", "sale"]}]),
        ),
    )
    .await;
    assert_eq!(done.processed_count, 1, "{:?}", done.errors_log);
    assert_eq!(
        tags_of(&env, "customers", "email", "ann@example.com").await,
        ["sale", "vip"]
    );
    assert_eq!(env.count("tags").await, 3);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_in_csv_are_a_cell_of_names_or_tags_name_columns() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    let done = run(
        &env,
        ImportSpec::csv(
            "skus",
            "code,name,do_not_ship,tags\nA,Apple,true,\"sale, new\"\nB,Banana,true,\nC,Cherry,true,\"x,,y\"\n",
        ),
    )
    .await;
    assert_eq!(done.processed_count, 3, "{:?}", done.errors_log);
    assert_eq!(tags_of(&env, "skus", "code", "A").await, ["new", "sale"]);
    assert!(
        tags_of(&env, "skus", "code", "B").await.is_empty(),
        "an empty cell gives no tags"
    );
    assert_eq!(tags_of(&env, "skus", "code", "C").await, ["x", "y"]);
    let done = run(
        &env,
        ImportSpec::csv(
            "customers",
            "email,tags.name\nann@example.com,\"vip,sale\"\n",
        ),
    )
    .await;
    assert_eq!(done.processed_count, 1, "{:?}", done.errors_log);
    assert_eq!(
        tags_of(&env, "customers", "email", "ann@example.com").await,
        ["sale", "vip"]
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tags_are_errors_and_tags_on_untaggable_types_are_ignored_with_a_warning() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
    let bad = json!([
        {"code": "A", "name": "Apple", "tags": "sale", "do_not_ship": true},
        {"code": "B", "name": "Banana", "tags": [1], "do_not_ship": true},
        {"code": "C", "name": "Cherry", "tags": eleven, "do_not_ship": true},
        {"code": "D", "name": "Date", "tags": [""], "do_not_ship": true},
        {"code": "E", "name": "Elder", "tags": ["ok"], "do_not_ship": true}
    ]);
    let done = run(&env, ImportSpec::json("skus", &bad).skip_errors()).await;
    assert_eq!(
        (done.processed_count, done.errors_count),
        (1, 4),
        "{:?}",
        done.errors_log
    );
    let errors = &done.errors_log.0;
    assert_eq!(
        errors["A"]["tags"],
        ["'sale' is not a list of tag names".to_owned()]
    );
    assert_eq!(errors["B"]["tags"], ["1 is not a tag name".to_owned()]);
    assert_eq!(
        errors["C"]["tags"],
        ["has 11 tags; a record may have at most 10".to_owned()]
    );
    assert_eq!(errors["D"]["tags"], ["'' is not a tag name".to_owned()]);
    assert_eq!(env.count("skus").await, 1);
    assert_eq!(env.count("tags").await, 1);

    let done = run(
        &env,
        ImportSpec::json(
            "shipping_categories",
            &json!([{"code": "S", "name": "Std", "tags": ["x"]}]),
        ),
    )
    .await;
    assert_eq!(done.processed_count, 1);
    assert_eq!(
        done.warnings_log.0["S"],
        ["tags was ignored: unknown attribute".to_owned()]
    );
    assert_eq!(env.count("tags").await, 1);
    worker.stop().await;
}
