//! `importctl` driven as a real process against an API and a worker in this process, and
//! `GET /api/resource_types`.

use std::path::PathBuf;
use std::time::Duration;

use imports_common::model::{Mode, Status};
use imports_tests::importctl::Run;
use imports_tests::{binary, InProcessApi, TestEnv};
use serde_json::{json, Value};

/// A directory of input files, removed at the end of the test.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("importctl-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str, content: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, content).unwrap();
        path.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The output of a run, read as text.
/// Runs `importctl` with `args` against `url` with `token` (none when `None`).
async fn run_with(url: &str, token: Option<&str>, args: &[&str]) -> Run {
    imports_tests::importctl::run(url, token, args, Duration::from_secs(180)).await
}

async fn run(api: &InProcessApi, token: &str, args: &[&str]) -> Run {
    run_with(&api.base_url, Some(token), args).await
}

/// The attributes of resource type `name` as `GET /api/resource_types/{name}` gives them.
async fn type_doc(http: &reqwest::Client, api: &InProcessApi, token: &str, name: &str) -> Value {
    let r = http
        .get(format!("{}/api/resource_types/{name}", api.base_url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let doc: Value = r.json().await.unwrap();
    doc["data"]["attributes"].clone()
}

/// The entry called `name` of a list of attributes or relationships.
fn named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|x| x["name"] == name))
        .unwrap_or_else(|| panic!("{name} in {list}"))
}

/// The import ids of `created <id> <reference>: ...` lines.
fn created_ids(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("created "))
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect()
}

fn sku_csv(range: std::ops::Range<usize>, bad: &[usize]) -> String {
    let mut text = String::from("code,name,description,pieces_per_pack,do_not_ship\n");
    for i in range {
        let name = if bad.contains(&i) {
            String::new()
        } else {
            format!("Ärmel «{i}» 日本")
        };
        text.push_str(&format!(
            "SKU-{i:04},{name},\"line one, with a comma\nline \"\"two\"\" of {i}\",{},true\n",
            i % 12 + 1
        ));
    }
    text
}

fn builds() {
    // Built once per test process, before any runtime thread waits on it.
    binary("importctl");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_csv_is_chunked_and_every_record_arrives() {
    builds();
    let env = TestEnv::new().await;
    let api = env.spawn_api(env.api_config()).await;
    let worker = env.spawn_worker(env.worker_config(2, 7, 10));
    let token = env.token("acme", Mode::Test).await;
    let dir = TempDir::new();
    let csv = dir.file("catalogue.csv", &sku_csv(0..95, &[]));

    let out = run(
        &api,
        &token,
        &[
            "create",
            "--type",
            "skus",
            "--chunk-records",
            "20",
            "--reference-group",
            "cat",
            &csv,
            "--watch",
            "--interval",
            "0.2",
        ],
    )
    .await
    .expect(0);
    let ids = created_ids(&out.stdout);
    assert_eq!(ids.len(), 5, "{}", out.stdout);
    assert!(
        out.stdout.contains("95 inputs in 5 chunk(s)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("cat-0001: inputs 1-20 (20)")
            && out.stdout.contains("cat-0005: inputs 81-95 (15)"),
        "{}",
        out.stdout
    );
    // Not a terminal: plain progress lines, then the summary table.
    assert!(
        out.stdout.contains("total 5/5 done 95/95"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("TOTAL (5)"), "{}", out.stdout);
    assert!(
        out.stdout.contains("5 import(s) completed without errors"),
        "{}",
        out.stdout
    );

    assert_eq!(env.count("skus").await, 95);
    let rows = env
        .query("SELECT name, description, pieces_per_pack FROM skus WHERE code = 'SKU-0042'")
        .await;
    assert_eq!(rows[0].get::<_, &str>(0), "Ärmel «42» 日本");
    assert_eq!(
        rows[0].get::<_, &str>(1),
        "line one, with a comma\nline \"two\" of 42"
    );
    assert_eq!(rows[0].get::<_, i64>(2), 42 % 12 + 1);
    for id in &ids {
        let import = env.import(id).await;
        assert_eq!(import.status, Status::Completed);
        assert_eq!(import.format.as_str(), "csv");
        assert!(import.reference.as_deref().unwrap().starts_with("cat-000"));
        assert_eq!(import.reference_origin.as_deref(), Some("importctl"));
        assert_eq!(import.metadata["importctl"]["chunks"], 5);
        // The keys Commerce Layer's CLI imports plugin writes, so either groups the other's.
        let chunk = import.reference.as_deref().unwrap()[4..]
            .parse::<u64>()
            .unwrap();
        assert_eq!(import.metadata["chunk_number"], format!("{chunk}/5"));
        assert_eq!(import.metadata["group_id"], "cat");
        let items = import.metadata["chunk_items"].as_str().unwrap();
        let (first, last) = items.split_once('-').unwrap();
        let (first, last): (u64, u64) = (first.parse().unwrap(), last.parse().unwrap());
        assert_eq!(last - first + 1, import.inputs_size as u64, "{items}");
        assert_eq!(
            first,
            import.metadata["importctl"]["first_input"]
                .as_u64()
                .unwrap()
        );
    }

    // The group again: a summary and exit 0, as a table and as JSON.
    let out = run(
        &api,
        &token,
        &["watch", "--group", "cat", "--interval", "0.1"],
    )
    .await
    .expect(0);
    assert!(out.stdout.contains("TOTAL (5)"), "{}", out.stdout);
    for id in &ids {
        assert!(out.stdout.contains(id.as_str()), "{}", out.stdout);
    }
    let summary = run(&api, &token, &["watch", "--group", "cat", "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["group"], "cat");
    assert_eq!(summary["totals"]["imports"], 5);
    assert_eq!(summary["totals"]["processed_count"], 95);
    assert_eq!(summary["imports"][0]["reference"], "cat-0001");
    assert_eq!(summary["missing_chunks"], serde_json::json!([]));

    // A group is not submitted twice by mistake; --resume submits only what is missing.
    let out = run(
        &api,
        &token,
        &[
            "create",
            "--type",
            "skus",
            "--chunk-records",
            "20",
            "--reference-group",
            "cat",
            &csv,
        ],
    )
    .await
    .expect(2);
    assert!(
        out.stderr.contains("group cat already has 5 import(s)"),
        "{}",
        out.stderr
    );
    let out = run(
        &api,
        &token,
        &[
            "create",
            "--type",
            "skus",
            "--chunk-records",
            "20",
            "--reference-group",
            "cat",
            "--resume",
            &csv,
        ],
    )
    .await
    .expect(0);
    assert_eq!(
        out.stdout.matches("skipped cat-").count(),
        5,
        "{}",
        out.stdout
    );
    assert!(created_ids(&out.stdout).is_empty());

    // A JSON file, streamed into chunks, with the default group.
    let inputs: Vec<Value> = (0..40)
        .map(|i| serde_json::json!({"code": format!("J-{i}"), "name": format!("Jé {i}\n"), "colour": "red", "do_not_ship": true}))
        .collect();
    let json = dir.file(
        "more skus.json",
        &serde_json::to_string_pretty(&inputs).unwrap(),
    );
    let out = run(
        &api,
        &token,
        &[
            "create",
            "--type",
            "skus",
            "--chunk-records",
            "30",
            &json,
            "--watch",
            "--json",
        ],
    )
    .await
    .expect(0)
    .json();
    let group = out["group"].as_str().unwrap();
    assert!(group.starts_with("more_skus-"), "{group}");
    assert_eq!(out["imports"].as_array().unwrap().len(), 2);
    assert_eq!(out["totals"]["processed_count"], 40);
    assert_eq!(out["totals"]["warnings_count"], 40, "colour is unknown");
    assert_eq!(env.count("skus").await, 135);
    let name: String = env.query("SELECT name FROM skus WHERE code = 'J-33'").await[0].get(0);
    assert_eq!(name, "Jé 33\n");

    // list: a table by default, JSON:API with --json, filters.
    let out = run(&api, &token, &["list", "--group", "cat"])
        .await
        .expect(0);
    assert_eq!(
        out.stdout.matches(" completed ").count(),
        5,
        "{}",
        out.stdout
    );
    assert!(out.stdout.starts_with("ID "), "{}", out.stdout);
    let doc = run(&api, &token, &["list", "--json", "--reference", "cat-0002"])
        .await
        .expect(0)
        .json();
    assert_eq!(doc["meta"]["record_count"], 1);
    assert_eq!(doc["data"][0]["id"], ids[1].as_str());
    let doc = run(
        &api,
        &token,
        &[
            "list",
            "--json",
            "--all",
            "--size",
            "2",
            "--status",
            "completed",
            "--type",
            "skus",
        ],
    )
    .await
    .expect(0)
    .json();
    assert_eq!(doc["data"].as_array().unwrap().len(), 7, "every page");
    let out = run(
        &api,
        &token,
        &["list", "--size", "2", "--page", "2", "--sort", "reference"],
    )
    .await
    .expect(0);
    assert!(
        out.stdout.contains("page 2 of 4 · 7 import(s)"),
        "{}",
        out.stdout
    );
    let out = run(&api, &token, &["list", "--size", "30"]).await.expect(2);
    assert!(
        out.stderr
            .contains("error: 400 page[size]: page[size] must be a whole number from 1 to 25"),
        "{}",
        out.stderr
    );

    worker.stop().await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_rows_exit_1_and_their_report_lists_them() {
    builds();
    let env = TestEnv::new().await;
    let api = env.spawn_api(env.api_config()).await;
    let worker = env.spawn_worker(env.worker_config(2, 10, 10));
    let token = env.token("acme", Mode::Test).await;
    let dir = TempDir::new();
    // 2 errors in 30 inputs: under the 10% threshold, so the import completes, with errors.
    let csv = dir.file("bad.csv", &sku_csv(0..30, &[4, 17]));

    let out = run(
        &api,
        &token,
        &[
            "create",
            "--type",
            "skus",
            &csv,
            "--watch",
            "--interval",
            "0.2",
            "--json",
        ],
    )
    .await
    .expect(1);
    let summary = out.json();
    assert_eq!(summary["ok"], false);
    let import = &summary["imports"][0];
    assert_eq!(import["status"], "completed");
    assert_eq!(import["errors_count"], 2);
    assert_eq!(import["processed_count"], 28);
    let id = import["id"].as_str().unwrap().to_owned();

    let out = run(&api, &token, &["watch", &id]).await.expect(1);
    assert!(
        out.stdout.contains(&format!(
            "{id} completed with 2 error(s): importctl errors {id}"
        )),
        "{}",
        out.stdout
    );

    let report = run(&api, &token, &["errors", &id, "--csv"]).await.expect(0);
    let mut rdr = csv::Reader::from_reader(report.stdout.as_bytes());
    assert_eq!(
        rdr.headers().unwrap(),
        vec![
            "_row",
            "_key",
            "_errors",
            "code",
            "name",
            "description",
            "pieces_per_pack",
            "do_not_ship"
        ]
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "{}", report.stdout);
    assert_eq!(&rows[0][0], "5");
    assert_eq!(&rows[0][1], "SKU-0004");
    assert_eq!(&rows[0][2], "name: can't be blank");
    assert_eq!(&rows[0][3], "SKU-0004");
    assert_eq!(&rows[0][5], "line one, with a comma\nline \"two\" of 4");
    assert_eq!(&rows[1][1], "SKU-0017");

    let out = run(&api, &token, &["errors", &id]).await.expect(0);
    assert!(out.stdout.contains("SKU-0017") && out.stdout.contains("can't be blank"));
    assert!(out.stdout.contains("2 error(s)"), "{}", out.stdout);
    let doc = run(&api, &token, &["errors", &id, "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(doc["errors"][1]["row"], 18);
    assert_eq!(doc["errors"][1]["position"], 17);
    assert_eq!(doc["errors"][1]["attribute"], "name");
    assert_eq!(doc["errors"][1]["input"]["code"], "SKU-0017");

    let out = run(&api, &token, &["show", &id]).await.expect(0);
    assert!(
        out.stdout.contains("errors_log (2 input(s)):"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("SKU-0004  name       can't be blank"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("status"), "{}", out.stdout);
    let doc = run(&api, &token, &["show", &id, "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(doc["data"]["attributes"]["errors_count"], 2);
    assert_eq!(
        doc["data"]["attributes"]["errors_log"]["SKU-0017"]["name"][0],
        "can't be blank"
    );

    worker.stop().await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_import_is_interrupted_then_deleted() {
    builds();
    let env = TestEnv::new().await;
    let mut config = env.api_config();
    config.max_inputs = 100_000;
    let api = env.spawn_api(config).await;
    let token = env.token("acme", Mode::Test).await;
    let dir = TempDir::new();
    let mut text = String::from("code,name,do_not_ship\n");
    for i in 0..60_000 {
        text.push_str(&format!("BIG{i:06},Item {i},true\n"));
    }
    let csv = dir.file("big.csv", &text);

    let out = run(&api, &token, &["create", "--type", "skus", &csv])
        .await
        .expect(0);
    let ids = created_ids(&out.stdout);
    assert_eq!(ids.len(), 1, "one chunk: the API takes 100,000 inputs");
    let id = ids[0].clone();
    assert!(
        out.stdout.contains("importctl watch --group big-"),
        "{}",
        out.stdout
    );

    // Small batches, so that the import runs long enough to be interrupted.
    let worker = env.spawn_worker(env.worker_config(1, 100, 10));
    env.wait_until(&id, Duration::from_secs(60), |i| i.processed_count > 0)
        .await;
    let out = run(&api, &token, &["interrupt", &id]).await.expect(0);
    assert!(
        out.stdout
            .contains(&format!("interrupt requested: {id} is in_progress")),
        "{}",
        out.stdout
    );
    let out = run(&api, &token, &["watch", &id, "--interval", "0.2"])
        .await
        .expect(1);
    assert!(out.stdout.contains("interrupted"), "{}", out.stdout);
    let doc = run(&api, &token, &["show", &id, "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(doc["data"]["attributes"]["status"], "interrupted");
    let processed = doc["data"]["attributes"]["processed_count"]
        .as_i64()
        .unwrap();
    assert!(processed > 0 && processed < 60_000, "{processed}");
    // Interrupting a final import changes nothing.
    let doc = run(&api, &token, &["interrupt", &id, "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(doc["data"]["attributes"]["status"], "interrupted");

    let out = run(&api, &token, &["delete", &id]).await.expect(0);
    assert_eq!(out.stdout.trim(), format!("deleted {id}"));
    let out = run(&api, &token, &["show", &id]).await.expect(2);
    assert!(
        out.stderr
            .contains("error: 404 Record not found: import not found"),
        "{}",
        out.stderr
    );
    let out = run(&api, &token, &["delete", &id, "--json"])
        .await
        .expect(2);
    assert!(out.stderr.contains("404"), "{}", out.stderr);
    let out = run(&api, &token, &["watch", &id]).await.expect(2);
    assert!(
        out.stderr.contains(&format!("import {id} not found")),
        "{}",
        out.stderr
    );

    worker.stop().await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_wait_for_the_active_imports_limit() {
    builds();
    let env = TestEnv::new().await;
    let mut config = env.api_config();
    config.max_active = 2;
    let api = env.spawn_api(config).await;
    let token = env.token("acme", Mode::Test).await;
    let dir = TempDir::new();
    let csv = dir.file("five.csv", &sku_csv(0..25, &[]));

    // The worker starts a moment after the create, so the first two chunks are still pending
    // when the third is sent: the 429 happens however fast the worker would have been.
    let args = [
        "create",
        "--type",
        "skus",
        "--chunk-records",
        "5",
        &csv,
        "--watch",
        "--interval",
        "0.2",
    ];
    let (out, worker) = tokio::join!(run(&api, &token, &args), async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let config = env.worker_config(2, 50, 10);
        env.spawn_worker(config)
    });
    let out = out.expect(0);
    assert_eq!(created_ids(&out.stdout).len(), 5, "{}", out.stdout);
    assert!(
        out.stderr.contains("waiting") && out.stderr.contains("at most 2 at once"),
        "the 429 was waited out: {}",
        out.stderr
    );
    assert_eq!(env.count("skus").await, 25);

    worker.stop().await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_types_come_from_the_catalogue() {
    builds();
    let env = TestEnv::new().await;
    let api = env.spawn_api(env.api_config()).await;
    let token = env.token("acme", Mode::Test).await;
    let http = reqwest::Client::new();
    let names: Vec<&str> = imports_common::catalogue::CATALOGUE
        .iter()
        .map(|t| t.name)
        .collect();

    let r = http
        .get(format!("{}/api/resource_types", api.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "authenticated like every route");
    let r = http
        .get(format!("{}/api/resource_types", api.base_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/vnd.api+json"
    );
    let doc: Value = r.json().await.unwrap();
    let listed: Vec<&str> = doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, names);
    assert_eq!(doc["meta"]["record_count"], names.len());
    assert_eq!(doc["meta"]["limits"]["max_inputs_per_import"], 10_000);
    assert_eq!(doc["meta"]["limits"]["max_active_imports"], 10);
    assert_eq!(doc["data"][0]["type"], "resource_types");

    let a = &type_doc(&http, &api, &token, "stock_items").await;
    assert_eq!(
        a["natural_key"],
        serde_json::json!(["sku_code", "stock_location_id"])
    );
    assert_eq!(a["parent"]["resource_type"], "stock_locations");
    assert!(a["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["name"] == "quantity" && x["type"] == "integer" && x["required"] == true));
    // What a create needs, with Commerce Layer's names: required, conditional, generated.
    let skus = type_doc(&http, &api, &token, "skus").await;
    let category = named(&skus["relationships"], "shipping_category");
    assert_eq!(
        (&category["requirement"], &category["condition"]),
        (&json!("conditional"), &json!("unless do_not_ship is true"))
    );
    assert_eq!(skus["matches_on"], "id when given, else code");
    let gift_cards = type_doc(&http, &api, &token, "gift_cards").await;
    let code = named(&gift_cards["attributes"], "code");
    assert_eq!(
        (&code["requirement"], &code["generated"]),
        (&json!("optional"), &json!(true))
    );
    assert_eq!(
        named(&gift_cards["attributes"], "rechargeable")["default"],
        true
    );
    let r = http
        .get(format!("{}/api/resource_types/unicorns", api.base_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["errors"][0]["detail"], "resource type not found");

    // importctl types: a table, one type in detail, JSON.
    let out = run(&api, &token, &["types"]).await.expect(0);
    for name in &names {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with(&format!("{name} "))),
            "{name}: {}",
            out.stdout
        );
    }
    assert!(
        out.stdout
            .contains("shipping_category (shipping_categories)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.lines().any(|l| l.starts_with("skus ")
            && l.contains("shipping_category (shipping_categories)")
            && l.contains("code, name")),
        "{}",
        out.stdout
    );
    for (name, shown) in [
        (
            "skus",
            [
                "matches on: id when given, else code",
                "required unless do_not_ship is true",
            ],
        ),
        (
            "gift_cards",
            ["generated when missing", "required unless market is given"],
        ),
    ] {
        let out = run(&api, &token, &["types", name]).await.expect(0);
        for text in shown {
            assert!(out.stdout.contains(text), "{text}: {}", out.stdout);
        }
    }
    let out = run(&api, &token, &["types", "prices"]).await.expect(0);
    assert!(
        out.stdout
            .starts_with("prices: natural key sku_code + price_list_id; parent price_lists"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("amount_cents"), "{}", out.stdout);
    assert!(out.stdout.contains("price_list_code"), "{}", out.stdout);
    assert!(
        out.stdout.contains("children given inline: price_tiers"),
        "{}",
        out.stdout
    );
    let out = run(&api, &token, &["types", "orders"]).await.expect(0);
    assert!(
        out.stdout
            .contains("shipping_address or shipping_address.*")
            && out.stdout.contains("tags: a list of tag names"),
        "{}",
        out.stdout
    );
    let doc = run(&api, &token, &["types", "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(doc["data"].as_array().unwrap().len(), names.len());
    let doc = run(&api, &token, &["types", "skus", "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(doc["data"]["id"], "skus");
    let out = run(&api, &token, &["types", "unicorns"]).await.expect(2);
    assert!(
        out.stderr
            .contains("error: 404 Record not found: resource type not found"),
        "{}",
        out.stderr
    );

    // An empty list, both ways.
    let out = run(&api, &token, &["list"]).await.expect(0);
    assert!(out.stdout.starts_with("no imports"), "{}", out.stdout);
    let doc = run(&api, &token, &["list", "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(doc["meta"]["record_count"], 0);

    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_clear_and_exit_2() {
    builds();
    let env = TestEnv::new().await;
    let api = env.spawn_api(env.api_config()).await;
    let token = env.token("acme", Mode::Test).await;
    let dir = TempDir::new();
    let csv = dir.file("ok.csv", &sku_csv(0..3, &[]));

    let out = run(&api, "imp_test_not_a_token", &["list"]).await.expect(2);
    assert_eq!(
        out.stderr.trim(),
        "error: 401 Invalid token: a valid API token is required: Authorization: Bearer <token> (check --token or IMPORTS_TOKEN)"
    );
    let out = run(&api, "nope", &["create", "--type", "skus", &csv])
        .await
        .expect(2);
    assert!(out.stderr.contains("401"), "{}", out.stderr);
    let out = run_with(&api.base_url, None, &["list"]).await.expect(2);
    assert_eq!(
        out.stderr.trim(),
        "error: no credentials: pass --token (IMPORTS_TOKEN), or --client-id and --client-secret (IMPORTS_CLIENT_ID, IMPORTS_CLIENT_SECRET), or run importctl login"
    );
    // --token beats the environment.
    let out = run(&api, "nope", &["list", "--token", &token])
        .await
        .expect(0);
    assert!(out.stdout.contains("no imports"), "{}", out.stdout);

    let missing = dir.0.join("missing.csv");
    let out = run(
        &api,
        &token,
        &["create", "--type", "skus", missing.to_str().unwrap()],
    )
    .await
    .expect(2);
    assert!(
        out.stderr
            .starts_with(&format!("error: cannot read {}: ", missing.display())),
        "{}",
        out.stderr
    );
    let sheet = dir.file("prices.xlsx", "not a spreadsheet");
    let out = run(&api, &token, &["create", "--type", "skus", &sheet])
        .await
        .expect(2);
    assert!(
        out.stderr.contains("cannot tell the format of") && out.stderr.contains(".csv or .json"),
        "{}",
        out.stderr
    );
    let empty = dir.file("empty.csv", "code,name\n");
    let out = run(&api, &token, &["create", "--type", "skus", &empty])
        .await
        .expect(2);
    assert!(out.stderr.contains("has no inputs"), "{}", out.stderr);
    let broken = dir.file(
        "broken.json",
        "[{\"code\": \"A\", \"name\": \"a\"}, {\"code\": ",
    );
    let out = run(&api, &token, &["create", "--type", "skus", &broken])
        .await
        .expect(2);
    assert!(
        out.stderr.contains("the JSON cannot be read"),
        "{}",
        out.stderr
    );
    let out = run(&api, &token, &["create", "--type", "unicorns", &csv])
        .await
        .expect(2);
    assert!(
        out.stderr.contains("'unicorns' is not an importable resource type; the API knows: customer_groups, tax_calculators,")
            && out.stderr.contains(" skus,"),
        "{}",
        out.stderr
    );
    let out = run(
        &api,
        &token,
        &["create", "--type", "skus", "--chunk-records", "20000", &csv],
    )
    .await
    .expect(2);
    assert!(
        out.stderr.contains("more than the API's limit of 10,000")
            || out.stderr.contains("more than the API's limit of 10000"),
        "{}",
        out.stderr
    );
    // The API's own validation, shown with the attribute it names.
    let out = run(
        &api,
        &token,
        &["create", "--type", "prices", "--parent", "nope", &csv],
    )
    .await
    .expect(2);
    assert!(
        out.stderr.contains("error: chunk 1 of 1 (ok-")
            && out
                .stderr
                .contains("422 parent_resource_id: no price_lists has id 'nope'"),
        "{}",
        out.stderr
    );
    assert_eq!(
        env.count("imports").await,
        0,
        "a refused file creates nothing"
    );
    // A broken file creates nothing either: it is read to the end before any chunk is sent.
    let half = dir.file(
        "half.json",
        "[{\"code\": \"A\", \"name\": \"a\"}, {\"code\": \"B\", \"name\": \"b\"}, oops]",
    );
    let out = run(
        &api,
        &token,
        &["create", "--type", "skus", "--chunk-records", "1", &half],
    )
    .await
    .expect(2);
    assert!(out.stderr.contains("cannot read"), "{}", out.stderr);
    assert_eq!(env.count("imports").await, 0);

    // Usage errors are clap's: exit 2.
    let out = run(&api, &token, &["create", &csv]).await.expect(2);
    assert!(out.stderr.contains("--type"), "{}", out.stderr);
    let out = run(&api, &token, &["watch"]).await.expect(2);
    assert!(out.stderr.contains("required"), "{}", out.stderr);

    // An API nobody serves.
    let out = run_with("http://127.0.0.1:9", Some(&token), &["list"])
        .await
        .expect(2);
    assert!(
        out.stderr
            .starts_with("error: cannot reach the API at http://127.0.0.1:9"),
        "{}",
        out.stderr
    );

    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_semicolon_csv_is_chunked_and_imported_with_its_delimiter() {
    builds();
    let env = TestEnv::new().await;
    let api = env.spawn_api(env.api_config()).await;
    let worker = env.spawn_worker(env.worker_config(1, 10, 10));
    let token = env.token("acme", Mode::Test).await;
    let dir = TempDir::new();
    let mut text = String::from("code;name;description;metadata.color;do_not_ship\n");
    for i in 0..7 {
        text.push_str(&format!("S-{i};Name {i};\"a; b, c\nline {i}\";red;true\n"));
    }
    let csv = dir.file("semicolons.csv", &text);
    let out = run(
        &api,
        &token,
        &[
            "create",
            "--type",
            "skus",
            "--csv-delimiter",
            ";",
            "--chunk-records",
            "3",
            &csv,
            "--watch",
            "--interval",
            "0.2",
        ],
    )
    .await
    .expect(0);
    assert!(
        out.stdout.contains("7 inputs in 3 chunk(s)"),
        "{}",
        out.stdout
    );
    assert_eq!(env.count("skus").await, 7);
    let rows = env
        .query("SELECT description, metadata FROM skus WHERE code = 'S-5'")
        .await;
    assert_eq!(rows[0].get::<_, &str>(0), "a; b, c\nline 5");
    assert_eq!(
        rows[0].get::<_, Value>(1),
        serde_json::json!({"color": "red"})
    );
    let delimiters: Vec<String> = env
        .query("SELECT DISTINCT csv_delimiter FROM imports")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(delimiters, vec![";"]);

    // Usage errors: a delimiter the API does not know, or one for a JSON file.
    let out = run(
        &api,
        &token,
        &["create", "--type", "skus", "--csv-delimiter", "|", &csv],
    )
    .await
    .expect(2);
    assert!(out.stderr.contains("not a CSV delimiter"), "{}", out.stderr);
    let json = dir.file("skus.json", "[]");
    let out = run(
        &api,
        &token,
        &["create", "--type", "skus", "--csv-delimiter", ";", &json],
    )
    .await
    .expect(2);
    assert!(out.stderr.contains("for CSV files only"), "{}", out.stderr);
    worker.stop().await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_rate_limit_is_waited_out() {
    builds();
    let env = TestEnv::new().await;
    let mut config = env.api_config();
    config.rate_per_second = 2;
    config.rate_burst = 2;
    let api = env.spawn_api(config).await;
    let token = env.token("acme", Mode::Test).await;
    let dir = TempDir::new();
    let csv = dir.file("six.csv", &sku_csv(0..6, &[]));

    // One request for the API's limits, one per chunk: past the burst, 429s with Retry-After.
    let out = run(
        &api,
        &token,
        &["create", "--type", "skus", "--chunk-records", "1", &csv],
    )
    .await
    .expect(0);
    assert_eq!(created_ids(&out.stdout).len(), 6, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("waiting 1s: this token is over its request rate; slow down"),
        "{}",
        out.stderr
    );
    assert_eq!(env.count("imports").await, 6);
    let out = run(&api, &token, &["list", "--status", "pending,bogus"])
        .await
        .expect(2);
    assert!(
        out.stderr.contains("'bogus' is not a status"),
        "{}",
        out.stderr
    );

    api.stop().await;
}
