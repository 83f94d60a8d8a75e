//! CSV as users write it, the warnings of an import, and the failed-inputs report, end to
//! end: the API and a worker in process, real Postgres and RabbitMQ.

use std::time::{Duration, Instant};

use imports_common::model::{Import, Mode};
use imports_tests::{ImportSpec, TestEnv};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

const JSONAPI: &str = "application/vnd.api+json";
const WAIT: Duration = Duration::from_secs(60);

struct Api {
    http: Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req
                .header("content-type", JSONAPI)
                .body(serde_json::to_vec(&b).unwrap());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn create(&self, attributes: Value) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/api/imports",
            Some(json!({"data": {"type": "imports", "attributes": attributes}})),
        )
        .await
    }

    /// Creates an import that must be accepted, and returns its id.
    async fn create_ok(&self, attributes: Value) -> String {
        let (status, doc) = self.create(attributes).await;
        assert_eq!(status, StatusCode::CREATED, "{doc}");
        doc["data"]["id"].as_str().unwrap().to_owned()
    }

    async fn wait_final(&self, id: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, doc) = self
                .call(Method::GET, &format!("/api/imports/{id}"), None)
                .await;
            assert_eq!(status, StatusCode::OK, "{doc}");
            let s = doc["data"]["attributes"]["status"].as_str().unwrap();
            if s == "completed" || s == "interrupted" {
                return doc["data"]["attributes"].clone();
            }
            assert!(Instant::now() < deadline, "not final: {doc}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET /api/imports/{id}/failed_inputs` with a query and an Accept header.
    async fn report(&self, id: &str, query: &str, accept: Option<&str>) -> (String, String) {
        let mut req = self
            .http
            .get(format!(
                "{}/api/imports/{id}/failed_inputs{query}",
                self.base
            ))
            .bearer_auth(&self.token);
        if let Some(accept) = accept {
            req = req.header("accept", accept);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
        (content_type, resp.text().await.unwrap())
    }
}

async fn setup(env: &TestEnv) -> (Api, imports_tests::InProcessApi) {
    let server = env.spawn_api(env.api_config()).await;
    let token = env.token("acme", Mode::Test).await;
    (
        Api {
            http: Client::new(),
            base: server.base_url.clone(),
            token,
        },
        server,
    )
}

/// The SKUs of organisation `acme` by code: (name, description, metadata, pieces_per_pack,
/// do_not_ship, weight).
type Sku = (
    String,
    Option<String>,
    Value,
    Option<i64>,
    bool,
    Option<f64>,
);

async fn skus_of(env: &TestEnv, organization: &str) -> std::collections::BTreeMap<String, Sku> {
    env.query(&format!(
        "SELECT code, name, description, metadata, pieces_per_pack, do_not_ship, weight \
         FROM skus WHERE organization_id = '{organization}' ORDER BY code"
    ))
    .await
    .iter()
    .map(|r| {
        (
            r.get(0),
            (r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6)),
        )
    })
    .collect()
}

async fn run_import(env: &TestEnv, spec: ImportSpec<'_>) -> Import {
    let import = env.submit(spec).await;
    env.wait_final(&import.id, WAIT).await
}

fn warnings(import: &Import) -> Value {
    serde_json::to_value(&import.warnings_log).unwrap()
}

fn errors(import: &Import) -> Value {
    serde_json::to_value(&import.errors_log).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixed_columns_and_every_delimiter_through_the_api() {
    let env = TestEnv::new().await;
    let (api, server) = setup(&env).await;
    let worker = env.spawn_worker(env.worker_config(2, 10, 10));

    let semicolons = "code;name;metadata.color;metadata.size;description;do_not_ship\n\
                      S1;Shirt;red;L;\"a; b, c\";true\n\
                      S2;Hat;;M;;true\n";
    let id = api
        .create_ok(json!({"resource_type": "skus", "format": "csv", "csv_delimiter": ";", "inputs": semicolons}))
        .await;
    let done = api.wait_final(&id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["csv_delimiter"], ";");
    assert_eq!(
        (
            &done["processed_count"],
            &done["errors_count"],
            &done["warnings_count"]
        ),
        (&json!(2), &json!(0), &json!(0)),
        "{done}"
    );

    let tabs = "code\tname\tmetadata.color\tdo_not_ship\n\
                T1\tTee\tblue\ttrue\n\
                T2\t\"Tank, top\"\tgreen\ttrue\n";
    let id = api
        .create_ok(json!({"resource_type": "skus", "format": "csv", "csv_delimiter": "\t", "inputs": tabs}))
        .await;
    let done = api.wait_final(&id).await;
    assert_eq!(done["csv_delimiter"], "\t");
    assert_eq!(done["processed_count"], 2, "{done}");
    // The two characters `\t` are a tab too.
    let id = api
        .create_ok(json!({"resource_type": "skus", "format": "csv", "csv_delimiter": "\\t", "inputs": "code\tname\tdo_not_ship\nT3\tThree\ttrue\n"}))
        .await;
    assert_eq!(api.wait_final(&id).await["processed_count"], 1);

    let skus = skus_of(&env, "acme").await;
    assert_eq!(skus["S1"].2, json!({"color": "red", "size": "L"}));
    assert_eq!(skus["S1"].1.as_deref(), Some("a; b, c"));
    assert_eq!(
        skus["S2"].2,
        json!({"size": "M"}),
        "an empty cell is no key"
    );
    assert_eq!(skus["T1"].2, json!({"color": "blue"}));
    assert_eq!(skus["T2"].0, "Tank, top");
    assert_eq!(skus["T3"].0, "Three");

    // A CSV import without a delimiter shows the default; a JSON import shows none.
    let id = api
        .create_ok(json!({"resource_type": "skus", "format": "csv", "inputs": "code,name,do_not_ship\nC1,c,true\n"}))
        .await;
    assert_eq!(api.wait_final(&id).await["csv_delimiter"], ",");
    let id = api
        .create_ok(json!({"resource_type": "skus", "inputs": [{"code": "J1", "name": "j", "do_not_ship": true}]}))
        .await;
    assert_eq!(api.wait_final(&id).await["csv_delimiter"], Value::Null);

    // The delimiter after the inputs in the document: counted again with it. Read with ','
    // this text would be 3 records (the quoted newline is not a quote at a field's start).
    let text = "code;name;description;do_not_ship\nQ1;q;\"x\ny\";true\nQ2;q;z;true\n";
    let id = api
        .create_ok(
            json!({"resource_type": "skus", "inputs": text, "format": "csv", "csv_delimiter": ";"}),
        )
        .await;
    let done = api.wait_final(&id).await;
    assert_eq!(
        (
            &done["inputs_size"],
            &done["processed_count"],
            &done["errors_count"]
        ),
        (&json!(2), &json!(2), &json!(0)),
        "{done}"
    );
    assert_eq!(skus_of(&env, "acme").await["Q1"].1.as_deref(), Some("x\ny"));

    worker.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_delimiter_is_checked_and_named_in_its_errors() {
    let env = TestEnv::new().await;
    let (api, server) = setup(&env).await;
    let csv = "code,name\nA,a\n";
    for (attributes, detail) in [
        (
            json!({"resource_type": "skus", "format": "csv", "csv_delimiter": "|", "inputs": csv}),
            "csv_delimiter must be \",\", \";\" or a tab (\"\\t\")",
        ),
        (
            json!({"resource_type": "skus", "format": "csv", "csv_delimiter": ";;", "inputs": csv}),
            "csv_delimiter must be \",\", \";\" or a tab (\"\\t\")",
        ),
        (
            json!({"resource_type": "skus", "format": "csv", "csv_delimiter": 44, "inputs": csv}),
            "csv_delimiter must be \",\", \";\" or a tab (\"\\t\")",
        ),
        (
            json!({"resource_type": "skus", "csv_delimiter": ",", "inputs": [{"code": "A", "name": "a"}]}),
            "csv_delimiter can only be given with format csv",
        ),
    ] {
        let (status, doc) = api.create(attributes.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{attributes}: {doc}"
        );
        let error = &doc["errors"][0];
        assert_eq!(
            error["source"]["pointer"], "/data/attributes/csv_delimiter",
            "{doc}"
        );
        assert_eq!(error["detail"], detail, "{doc}");
    }
    // Given after inputs that the default delimiter cannot read (the header names a column
    // twice when split on ','), so that they were not even stored whole: the document must
    // give it first. (The inputs are some ten times what the API buffers for its counting
    // thread, so that the count has surely failed before they end.)
    let mut text = String::from("code;name,code;name\n");
    for i in 0..2000 {
        text.push_str(&format!("C{i};{};n\n", "x".repeat(300)));
    }
    let (status, doc) = api
        .create(
            json!({"resource_type": "skus", "format": "csv", "inputs": text, "csv_delimiter": ";"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{doc}");
    assert_eq!(
        doc["errors"][0]["source"]["pointer"],
        "/data/attributes/csv_delimiter"
    );
    assert!(
        doc["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("give csv_delimiter before inputs"),
        "{doc}"
    );
    let (status, doc) = api
        .create(
            json!({"resource_type": "skus", "format": "csv", "csv_delimiter": ";", "inputs": text}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    assert_eq!(doc["data"]["attributes"]["inputs_size"], 2000);

    // Create-only.
    let id = api
        .create_ok(json!({"resource_type": "skus", "format": "csv", "inputs": csv}))
        .await;
    let (status, doc) = api
        .call(
            Method::PATCH,
            &format!("/api/imports/{id}"),
            Some(json!({"data": {"type": "imports", "id": id, "attributes": {"csv_delimiter": ";"}}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{doc}");
    assert_eq!(
        doc["errors"][0]["source"]["pointer"],
        "/data/attributes/csv_delimiter"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_cells_are_not_given_so_an_update_keeps_those_columns() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 10, 10));
    let first = run_import(
        &env,
        ImportSpec::csv(
            "skus",
            "code,name,description,pieces_per_pack,do_not_ship,weight,metadata.color\n\
             E1,First,kept,6,yes,1.5,red\n",
        ),
    )
    .await;
    assert_eq!(first.processed_count, 1, "{:?}", first.errors_log);
    let update = run_import(
        &env,
        ImportSpec::csv(
            "skus",
            "code,name,description,pieces_per_pack,do_not_ship,weight,metadata.color\n\
             E1,Renamed,,  ,,,\n",
        ),
    )
    .await;
    assert_eq!(
        (
            update.processed_count,
            update.errors_count,
            update.warnings_count
        ),
        (1, 0, 0),
        "{:?}",
        update.errors_log
    );
    let skus = skus_of(&env, "org-a").await;
    assert_eq!(
        skus["E1"],
        (
            "Renamed".to_string(),
            Some("kept".to_string()),
            json!({"color": "red"}),
            Some(6),
            true,
            Some(1.5)
        )
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_of_the_wrong_type_are_errors_naming_the_attribute_and_the_value() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 10, 10));
    // A shipping category, so that SKUs that ship (or whose do_not_ship is not read) lack
    // nothing else.
    let category = run_import(
        &env,
        ImportSpec::json(
            "shipping_categories",
            &json!([{"code": "STD", "name": "Standard"}]),
        ),
    )
    .await;
    assert_eq!(category.processed_count, 1, "{:?}", category.errors_log);
    let done = run_import(
        &env,
        ImportSpec::csv(
            "skus",
            "code,name,pieces_per_pack,do_not_ship,do_not_track,weight,shipping_category_code\n\
             B1,ok,2,Yes,0,2.5,STD\n\
             B2,bad int,abc,no,1,1,STD\n\
             B3,bad bool,1,maybe,FALSE,1,STD\n\
             B4,bad float,1,TRUE,n,heavy,STD\n\
             B5,two bad,1.5,,,-1,STD\n",
        )
        .skip_errors(),
    )
    .await;
    assert_eq!((done.processed_count, done.errors_count), (1, 4));
    assert_eq!(
        errors(&done),
        json!({
            "B2": {"pieces_per_pack": ["'abc' is not an integer"]},
            "B3": {"do_not_ship": ["'maybe' is not a boolean (true/false, yes/no or 1/0)"]},
            "B4": {"weight": ["'heavy' is not a number"]},
            "B5": {
                "pieces_per_pack": ["'1.5' is not an integer"],
                "weight": ["must be greater than or equal to 0"]
            },
        })
    );
    let skus = skus_of(&env, "org-a").await;
    assert_eq!(
        (skus["B1"].3, skus["B1"].4, skus["B1"].5),
        (Some(2), true, Some(2.5))
    );
    // JSON values of the wrong type, in the same words.
    let done = run_import(
        &env,
        ImportSpec::json(
            "skus",
            &json!([{"code": "J1", "name": true, "pieces_per_pack": "x", "do_not_ship": "maybe", "shipping_category_code": "STD"}]),
        )
        .skip_errors(),
    )
    .await;
    assert_eq!(
        errors(&done),
        json!({"J1": {
            "name": ["true is not a string"],
            "pieces_per_pack": ["'x' is not an integer"],
            "do_not_ship": ["'maybe' is not a boolean (true/false, yes/no or 1/0)"],
        }})
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_column_is_one_warning_for_the_whole_import() {
    let env = TestEnv::new().await;
    // Batches of 10: the 35 rows span four of them.
    let worker = env.spawn_worker(env.worker_config(1, 10, 10));
    let mut csv = String::from("code,name,colour,_note,foo.bar,metadata.size,do_not_ship\n");
    for i in 0..35 {
        csv.push_str(&format!("U{i:02},n,red,ignored,x,{i},true\n"));
    }
    let done = run_import(&env, ImportSpec::csv("skus", &csv)).await;
    assert_eq!(done.processed_count, 35);
    assert_eq!(done.warnings_count, 2, "{:?}", done.warnings_log);
    assert_eq!(
        warnings(&done),
        json!({"U00": [
            "column colour was ignored: unknown attribute",
            "column foo.bar was ignored: unknown attribute"
        ]})
    );
    assert_eq!(skus_of(&env, "org-a").await["U07"].2, json!({"size": "7"}));
    // A JSON input's unknown attribute is its own warning.
    let done = run_import(
        &env,
        ImportSpec::json(
            "skus",
            &json!([{"code": "V1", "name": "n", "colour": "red", "do_not_ship": true}, {"code": "V2", "name": "n", "colour": "blue", "do_not_ship": true}]),
        ),
    )
    .await;
    assert_eq!(done.warnings_count, 2);
    assert_eq!(
        warnings(&done),
        json!({
            "V1": ["colour was ignored: unknown attribute"],
            "V2": ["colour was ignored: unknown attribute"]
        })
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_stored_otherwise_than_given_are_warned_about() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(1, 10, 10));
    let done = run_import(
        &env,
        ImportSpec::csv(
            "skus",
            "code,name,unit_of_weight,do_not_ship\n\" N1 \",Kept as given ,OZ,true\nN2,plain,gr,true\n",
        ),
    )
    .await;
    assert_eq!(done.processed_count, 2);
    assert_eq!(done.warnings_count, 2);
    assert_eq!(
        warnings(&done),
        json!({"N1": [
            "code was trimmed: ' N1 ' became 'N1'",
            "unit_of_weight was normalised: 'OZ' became 'oz'"
        ]})
    );
    let rows = env
        .query("SELECT code, name, unit_of_weight FROM skus ORDER BY code")
        .await;
    let got: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("N1".into(), "Kept as given ".into(), "oz".into()),
            ("N2".into(), "plain".into(), "gr".into())
        ]
    );
    let done = run_import(
        &env,
        ImportSpec::json(
            "customers",
            &json!([{"email": "Ann@Example.COM"}, {"email": "bob@example.com"}]),
        ),
    )
    .await;
    assert_eq!(done.warnings_count, 1);
    assert_eq!(
        warnings(&done),
        json!({"Ann@Example.COM": ["email was normalised: 'Ann@Example.COM' became 'ann@example.com'"]})
    );
    let emails: Vec<String> = env
        .query("SELECT email FROM customers ORDER BY email")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(emails, vec!["ann@example.com", "bob@example.com"]);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_input_with_the_same_key_wins_with_a_warning() {
    let env = TestEnv::new().await;
    // Batches of 3: positions 0-2, 3-5, 6-7.
    let worker = env.spawn_worker(env.worker_config(1, 3, 10));
    let done = run_import(
        &env,
        ImportSpec::csv(
            "skus",
            "code,name,pieces_per_pack,do_not_ship\n\
             D1,first,,true\n\
             D2,only,,true\n\
             D1,second,,true\n\
             D3,three,,true\n\
             D2,invalid,abc,true\n\
             D1,third,,true\n\
             D3,,,\n\
             D1, fourth,,true\n",
        )
        .skip_errors(),
    )
    .await;
    assert_eq!(
        (done.processed_count, done.errors_count),
        (7, 1),
        "{:?}",
        done.errors_log
    );
    // An input with errors overrides nothing and is overridden by nothing.
    assert_eq!(
        warnings(&done),
        json!({"D1": [
            "overrides an earlier input with the same code (position 0)",
            "overrides an earlier input with the same code (position 2)",
            "overrides an earlier input with the same code (position 5)",
        ], "D3": [
            "overrides an earlier input with the same code (position 3)",
            // It gives nothing but the key: the record stays as it was.
            "nothing changed: the record already had these values",
        ]})
    );
    assert_eq!(done.warnings_count, 5);
    let skus = skus_of(&env, "org-a").await;
    assert_eq!(skus["D1"].0, " fourth", "the last input wins");
    assert_eq!(skus["D2"].0, "only");
    assert_eq!(skus["D3"].0, "three", "an empty cell is not given");
    // Prices: the same SKU in the same price list (the import's parent, or its own).
    let lists = run_import(
        &env,
        ImportSpec::json(
            "price_lists",
            &json!([{"code": "EU", "name": "eu", "currency_code": "EUR"}, {"code": "US", "name": "us", "currency_code": "USD"}]),
        ),
    )
    .await;
    assert_eq!(lists.processed_count, 2);
    let eu: String = env
        .query("SELECT id FROM price_lists WHERE code = 'EU'")
        .await[0]
        .get(0);
    let csv = "sku_code,amount_cents,price_list_code\nD1,100,\nD1,200,US\nD1,300,\n";
    let done = run_import(&env, ImportSpec::csv("prices", csv).parent(&eu)).await;
    assert_eq!(done.processed_count, 3, "{:?}", done.errors_log);
    assert_eq!(
        warnings(&done),
        json!({"D1": ["overrides an earlier input with the same sku_code and price_list (position 0)"]})
    );
    let amounts: Vec<i64> = env
        .query("SELECT amount_cents FROM prices ORDER BY amount_cents")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(amounts, vec![200, 300]);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_remembers_the_inputs_handled_before_it() {
    let env = TestEnv::new().await;
    let csv = "code,name,colour,do_not_ship\nR1,first,x,true\nR2,b,x,true\nR3,c,x,true\nR1,again,x,true\nR4,d,x,true\n";
    let import = env.create_import(ImportSpec::csv("skus", csv)).await;
    // As if a worker had committed the batch of positions 0-2, then died.
    env.query(&format!(
        "UPDATE imports SET status = 'in_progress', started_at = now(), attempts = 1, \
         cursor = 3, processed_count = 3, warnings_count = 1, \
         lease_owner = gen_random_uuid(), lease_expires_at = now() - interval '1 second' \
         WHERE id = '{}'",
        import.id
    ))
    .await;
    let worker = env.spawn_worker(env.worker_config(1, 3, 10));
    env.publish(&import.id).await;
    let done = env.wait_final(&import.id, WAIT).await;
    assert_eq!(done.processed_count, 5);
    // The unknown column was warned about by the first run (not logged here, as it was
    // faked), and is not warned about again; the duplicate of position 0 is noticed.
    assert_eq!(
        warnings(&done),
        json!({"R1": ["overrides an earlier input with the same code (position 0)"]})
    );
    assert_eq!(done.warnings_count, 2);
    let names: Vec<String> = env
        .query("SELECT code FROM skus ORDER BY code")
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        names,
        vec!["R1", "R4"],
        "only positions 3 and 4 were written by this run"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failed_inputs_report_as_json_and_as_csv_to_fix_and_import_again() {
    let env = TestEnv::new().await;
    let (api, server) = setup(&env).await;
    let worker = env.spawn_worker(env.worker_config(1, 10, 10));
    let csv = "code;name;pieces_per_pack;metadata.color;do_not_ship\n\
               F1;fine;1;red;true\n\
               F2;;abc;blue;true\n\
               F3;\"three; ok\";0;;true\n\
               F4;four\n";
    let id = api
        .create_ok(json!({"resource_type": "skus", "format": "csv", "csv_delimiter": ";", "inputs": csv, "skip_errors": true}))
        .await;
    let done = api.wait_final(&id).await;
    assert_eq!(done["errors_count"], 3, "{done}");

    // JSON, by parameter or by Accept: one element per error.
    let (content_type, text) = api.report(&id, "?format=json", None).await;
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        report,
        json!([
            {"position": 1, "key": "F2", "attribute": "pieces_per_pack", "message": "'abc' is not an integer",
             "input": {"code": "F2", "name": "", "pieces_per_pack": "abc", "metadata.color": "blue", "do_not_ship": "true"}},
            {"position": 1, "key": "F2", "attribute": "name", "message": "can't be blank",
             "input": {"code": "F2", "name": "", "pieces_per_pack": "abc", "metadata.color": "blue", "do_not_ship": "true"}},
            {"position": 2, "key": "F3", "attribute": "pieces_per_pack", "message": "must be greater than or equal to 1",
             "input": {"code": "F3", "name": "three; ok", "pieces_per_pack": "0", "metadata.color": "", "do_not_ship": "true"}},
            {"position": 3, "key": "unknown", "attribute": "input", "message": "the row has 2 fields but the header row has 5",
             "input": null},
        ])
    );
    let (_, by_accept) = api
        .report(&id, "", Some("text/html, application/json;q=0.9"))
        .await;
    assert_eq!(serde_json::from_str::<Value>(&by_accept).unwrap(), report);

    // CSV, in the import's delimiter: the failed rows, errors first.
    let (content_type, text) = api.report(&id, "", None).await;
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert_eq!(
        text,
        "_row;_key;_errors;code;name;pieces_per_pack;metadata.color;do_not_ship\n\
         2;F2;\"pieces_per_pack: 'abc' is not an integer\nname: can't be blank\";F2;;abc;blue;true\n\
         3;F3;pieces_per_pack: must be greater than or equal to 1;F3;three; ok;0;;true\n\
         4;unknown;input: the row has 2 fields but the header row has 5;;;;;\n"
            .replace("three; ok", "\"three; ok\"")
    );
    let (_, same) = api
        .report(&id, "?format=csv", Some("application/json"))
        .await;
    assert_eq!(same, text, "the parameter beats Accept");

    // Fixed and imported again as it is: the report's own columns are ignored silently.
    let fixed = text
        .replace(";;abc;", ";two;2;")
        .replace(";0;", ";3;")
        .replace(
            "4;unknown;input: the row has 2 fields but the header row has 5;;;;;",
            "4;;;F4;four;;;true",
        );
    let again = api
        .create_ok(json!({"resource_type": "skus", "format": "csv", "csv_delimiter": ";", "inputs": fixed}))
        .await;
    let done = api.wait_final(&again).await;
    assert_eq!(
        (
            &done["processed_count"],
            &done["errors_count"],
            &done["warnings_count"]
        ),
        (&json!(3), &json!(0), &json!(0)),
        "{done}"
    );
    let skus = skus_of(&env, "acme").await;
    assert_eq!(skus["F2"].0, "two");
    assert_eq!(skus["F2"].2, json!({"color": "blue"}));
    assert_eq!(skus["F3"].3, Some(3));
    assert_eq!(skus["F4"].0, "four");

    // A JSON import's CSV report has a column per attribute of its failed inputs.
    let id = api
        .create_ok(
            json!({"resource_type": "skus", "skip_errors": true, "inputs": [
                {"code": "G1", "name": "ok", "do_not_ship": true},
                {"code": "G2", "pieces_per_pack": 0, "metadata": {"a": 1}, "do_not_ship": true},
            ]}),
        )
        .await;
    api.wait_final(&id).await;
    let (_, text) = api.report(&id, "", None).await;
    assert_eq!(
        text,
        "_row,_key,_errors,code,pieces_per_pack,metadata,do_not_ship\n\
         2,G2,\"pieces_per_pack: must be greater than or equal to 1\nname: can't be blank\",G2,0,\"{\"\"a\"\":1}\",true\n"
    );
    let fixed = text.replace(",G2,0,", ",G2,2,");
    let fixed = fixed.replace(
        "_errors,code,pieces_per_pack,metadata",
        "_errors,code,pieces_per_pack,metadata,name",
    );
    let fixed = fixed.replace("\"{\"\"a\"\":1}\",true\n", "\"{\"\"a\"\":1}\",two,true\n");
    let again = api
        .create_ok(json!({"resource_type": "skus", "format": "csv", "inputs": fixed}))
        .await;
    let done = api.wait_final(&again).await;
    assert_eq!(done["processed_count"], 1, "{done}");
    assert_eq!(skus_of(&env, "acme").await["G2"].2, json!({"a": 1}));

    // A bad format parameter names itself.
    let resp = api
        .http
        .get(format!(
            "{}/api/imports/{id}/failed_inputs?format=xml",
            api.base
        ))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["errors"][0]["source"]["parameter"], "format", "{doc}");

    worker.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_order_with_nested_records_comes_back_in_the_report_and_imports_again() {
    let env = TestEnv::new().await;
    let (api, server) = setup(&env).await;
    let worker = env.spawn_worker(env.worker_config(1, 10, 10));
    for (resource_type, inputs) in [
        (
            "skus",
            json!([{"code": "A", "name": "Apple", "do_not_ship": true}]),
        ),
        (
            "price_lists",
            json!([{"code": "EU", "name": "Europe", "currency_code": "EUR"}]),
        ),
        (
            "markets",
            json!([{"code": "M1", "name": "Market", "price_list_code": "EU"}]),
        ),
    ] {
        let made = api
            .create_ok(json!({"resource_type": resource_type, "inputs": inputs}))
            .await;
        api.wait_final(&made).await;
    }
    let id = api
        .create_ok(
            json!({"resource_type": "orders", "skip_errors": true, "inputs": [
                {"number": "N1", "market_code": "M1", "line_items": [{"sku_code": "NOPE", "quantity": 2}],
                 "shipping_address": {"first_name": "Ann", "last_name": "Lee", "phone": "+39 06 1",
                                      "line_1": "1 Via Roma", "city": "Rome", "country_code": "IT"},
                 "tags": ["gift"]},
                {"number": "N2", "market_code": "M1", "line_items": [{"sku_code": "A", "quantity": 1}]}
            ]}),
        )
        .await;
    let done = api.wait_final(&id).await;
    assert_eq!(done["errors_count"], 1, "{done}");
    // Children, related records and tags come back as JSON cells, which an import reads.
    let (_, text) = api.report(&id, "", None).await;
    assert!(text.contains("line_items[0].sku: must exist"), "{text}");
    let fixed = text.replace("NOPE", "A");
    let again = api
        .create_ok(json!({"resource_type": "orders", "format": "csv", "inputs": fixed}))
        .await;
    let done = api.wait_final(&again).await;
    assert_eq!(
        (&done["processed_count"], &done["errors_count"]),
        (&json!(1), &json!(0)),
        "{done}"
    );
    let row = &env
        .query(
            "SELECT l.sku_code, l.quantity, a.city, t.name FROM orders o
             JOIN line_items l ON l.order_id = o.id
             JOIN addresses a ON a.id = o.shipping_address_id
             JOIN taggings g ON g.resource_id = o.id JOIN tags t ON t.id = g.tag_id
             WHERE o.number = 'N1'",
        )
        .await[0];
    assert_eq!(
        (
            row.get::<_, String>(0),
            row.get::<_, i64>(1),
            row.get::<_, String>(2),
            row.get::<_, String>(3)
        ),
        ("A".to_owned(), 2, "Rome".to_owned(), "gift".to_owned())
    );
    worker.stop().await;
    server.stop().await;
}
