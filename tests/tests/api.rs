//! The /api/imports HTTP API end to end: the API and a worker in process, real Postgres and
//! RabbitMQ, requests over HTTP.

use std::io::Read;
use std::time::{Duration, Instant};

use imports_common::model::Mode;
use imports_tests::{skus, TestEnv};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

const JSONAPI: &str = "application/vnd.api+json";

struct Api {
    http: Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(
        &self,
        method: Method,
        path: impl Into<String>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(&self.token, method, path, body).await
    }

    async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: impl Into<String>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let path = path.into();
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
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
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            },
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

    async fn wait_final(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, doc) = self
                .call(Method::GET, &format!("/api/imports/{id}"), None)
                .await;
            assert_eq!(status, StatusCode::OK, "{doc}");
            let s = doc["data"]["attributes"]["status"]
                .as_str()
                .unwrap()
                .to_owned();
            if s == "completed" || s == "interrupted" {
                return doc;
            }
            assert!(Instant::now() < deadline, "not final: {doc}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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

fn error_of(doc: &Value) -> &Value {
    &doc["errors"][0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_then_complete_as_json_and_csv() {
    let env = TestEnv::new().await;
    let (api, server) = setup(&env).await;
    // No worker yet: the import stays pending and shows its inputs.
    let (status, doc) = api
        .create(json!({"resource_type": "skus", "inputs": skus(25), "reference": "batch-1"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    let a = &doc["data"]["attributes"];
    assert_eq!(
        (
            a["status"].as_str(),
            a["inputs_size"].as_i64(),
            a["format"].as_str()
        ),
        (Some("pending"), Some(25), Some("json"))
    );
    assert_eq!(a["inputs"].as_array().unwrap().len(), 25);
    assert_eq!(a["attachment_url"], Value::Null);
    assert_eq!(doc["data"]["meta"]["mode"], "test");
    let id = doc["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        doc["data"]["links"]["self"],
        format!("{}/api/imports/{id}", api.base)
    );

    let worker = env.spawn_worker(env.worker_config(2, 10, 10));
    let done = api.wait_final(&id).await;
    let a = &done["data"]["attributes"];
    assert_eq!(
        (a["status"].as_str(), a["processed_count"].as_i64()),
        (Some("completed"), Some(25))
    );
    assert_eq!(
        a["inputs"],
        Value::Null,
        "inputs are not shown once started"
    );
    assert!(a["attachment_url"]
        .as_str()
        .unwrap()
        .contains("/attachment?expires="));

    let csv = "code,name,metadata.color,do_not_ship\nC1,\"Shirt, red\",red,true\nC2,Hat,,true\n";
    let (status, doc) = api
        .create(json!({"resource_type": "skus", "format": "csv", "inputs": csv}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    assert_eq!(doc["data"]["attributes"]["inputs_size"], 2);
    let done = api.wait_final(doc["data"]["id"].as_str().unwrap()).await;
    assert_eq!(done["data"]["attributes"]["processed_count"], 2);
    assert_eq!(env.count("skus").await, 27);

    // Events of the first import.
    let (status, events) = api
        .call(Method::GET, &format!("/api/imports/{id}/events"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["attributes"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["imports.create", "imports.start", "imports.complete"]
    );
    assert_eq!(events["data"][0]["type"], "events");
    worker.stop().await;
    server.stop().await;
}

/// Revokes the token made last, as `imports-api tokens revoke` does.
async fn revoke_newest_token(env: &TestEnv) {
    let client = env.pool.get().await.unwrap();
    let id: String = client
        .query_one(
            "SELECT id FROM api_tokens ORDER BY created_at DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(imports_api::tokens::revoke(&**client, &id).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_has_its_status_and_names_the_field() {
    let env = TestEnv::new().await;
    let mut config = env.api_config();
    config.max_inputs = 5;
    config.max_active = 2;
    config.max_body_bytes = 64 * 1024;
    let server = env.spawn_api(config).await;
    let token = env.token("acme", Mode::Test).await;
    let api = Api {
        http: Client::new(),
        base: server.base_url.clone(),
        token,
    };

    // 401: no token, a wrong one, a revoked one.
    let resp = api
        .http
        .get(format!("{}/api/imports", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["content-type"], JSONAPI);
    let (status, doc) = api
        .call_as("imp_test_nope", Method::GET, "/api/imports", None)
        .await;
    assert_eq!(
        (status, error_of(&doc)["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("INVALID_TOKEN"))
    );
    let revoked = env.token("acme", Mode::Test).await;
    revoke_newest_token(&env).await;
    assert_eq!(
        api.call_as(&revoked, Method::GET, "/api/imports", None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // A token the API has just found is trusted for a second without a lookup: revoked
    // then, it is refused within that second.
    let used = env.token("acme", Mode::Test).await;
    let list = |token: String| {
        let api = &api;
        async move {
            api.call_as(&token, Method::GET, "/api/imports", None)
                .await
                .0
        }
    };
    assert_eq!(list(used.clone()).await, StatusCode::OK);
    revoke_newest_token(&env).await;
    let revoked_at = Instant::now();
    while list(used.clone()).await == StatusCode::OK {
        assert!(
            revoked_at.elapsed() < Duration::from_secs(3),
            "still accepted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        revoked_at.elapsed()
            <= imports_api::known_tokens::RECHECK_AFTER + Duration::from_millis(500),
        "refused after {:?}",
        revoked_at.elapsed()
    );

    // 415 and 400.
    let resp = api
        .http
        .post(format!("{}/api/imports", api.base))
        .bearer_auth(&api.token)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let resp = api
        .http
        .post(format!("{}/api/imports", api.base))
        .bearer_auth(&api.token)
        .header("content-type", JSONAPI)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let doc: Value = resp.json().await.unwrap();
    assert!(error_of(&doc)["detail"]
        .as_str()
        .unwrap()
        .starts_with("the body is not valid JSON"));

    // 422 with the pointer of the field; 409 for the wrong type.
    let cases = [
        (
            json!({"inputs": [{"code": "A"}]}),
            "/data/attributes/resource_type",
        ),
        (
            json!({"resource_type": "unicorns", "inputs": [{}]}),
            "/data/attributes/resource_type",
        ),
        (
            json!({"resource_type": "skus", "format": "xml", "inputs": [{}]}),
            "/data/attributes/format",
        ),
        (
            json!({"resource_type": "skus", "format": "csv", "inputs": [{"code": "A"}]}),
            "/data/attributes/inputs",
        ),
        (
            json!({"resource_type": "skus", "inputs": "code,name\nA,a\n"}),
            "/data/attributes/inputs",
        ),
        (
            json!({"resource_type": "skus", "inputs": []}),
            "/data/attributes/inputs",
        ),
        (
            json!({"resource_type": "skus", "format": "csv", "inputs": "code,name\n"}),
            "/data/attributes/inputs",
        ),
        (
            json!({"resource_type": "skus", "format": "csv", "inputs": ""}),
            "/data/attributes/inputs",
        ),
        (json!({"resource_type": "skus"}), "/data/attributes/inputs"),
        (
            json!({"resource_type": "skus", "inputs": skus(6)}),
            "/data/attributes/inputs",
        ),
        (
            json!({"resource_type": "skus", "inputs": [{}], "status": "completed"}),
            "/data/attributes/status",
        ),
        (
            json!({"resource_type": "skus", "inputs": [{}], "processed_count": 3}),
            "/data/attributes/processed_count",
        ),
        (
            json!({"resource_type": "skus", "inputs": [{}], "colour": "red"}),
            "/data/attributes/colour",
        ),
        (
            json!({"resource_type": "skus", "inputs": [{}], "_interrupt": true}),
            "/data/attributes/_interrupt",
        ),
        (
            json!({"resource_type": "skus", "inputs": [{}], "skip_errors": "yes"}),
            "/data/attributes/skip_errors",
        ),
        (
            json!({"resource_type": "skus", "inputs": [{}], "metadata": [1]}),
            "/data/attributes/metadata",
        ),
        (
            json!({"resource_type": "skus", "inputs": [{}], "parent_resource_id": "x"}),
            "/data/attributes/parent_resource_id",
        ),
        (
            json!({"resource_type": "prices", "inputs": [{}], "parent_resource_id": "nope"}),
            "/data/attributes/parent_resource_id",
        ),
    ];
    for (attributes, pointer) in cases {
        let (status, doc) = api.create(attributes.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{attributes}: {doc}"
        );
        assert_eq!(
            error_of(&doc)["source"]["pointer"],
            pointer,
            "{attributes}: {doc}"
        );
        assert_eq!(error_of(&doc)["status"], "422");
    }
    // Each refused attribute says why: read-only, update-only, or unknown.
    for (name, value, why) in [
        ("status", json!("completed"), "status is read-only"),
        (
            "_interrupt",
            json!(true),
            "_interrupt can only be sent to update an import",
        ),
        (
            "colour",
            json!("red"),
            "colour is not an attribute of imports",
        ),
    ] {
        let mut attributes = json!({"resource_type": "skus", "inputs": [{}]});
        attributes[name] = value;
        let (_, doc) = api.create(attributes).await;
        assert_eq!(error_of(&doc)["detail"], why, "{doc}");
    }
    let (status, _) = api
        .call(
            Method::POST,
            "/api/imports",
            Some(json!({"data": {"type": "skus", "attributes": {}}})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // 413: larger than the body limit.
    let big = json!({"data": {"type": "imports", "attributes": {"resource_type": "skus", "inputs": [{"code": "x".repeat(100_000)}]}}});
    let (status, doc) = api.call(Method::POST, "/api/imports", Some(big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{doc}");
    assert_eq!(error_of(&doc)["code"], "PAYLOAD_TOO_LARGE");

    // 429: more than max_active pending imports (no worker is running).
    for _ in 0..2 {
        assert_eq!(
            api.create(json!({"resource_type": "skus", "inputs": skus(1)}))
                .await
                .0,
            StatusCode::CREATED
        );
    }
    let resp = api
        .http
        .post(format!("{}/api/imports", api.base))
        .bearer_auth(&api.token)
        .header("content-type", JSONAPI)
        .body(serde_json::to_vec(&json!({"data": {"type": "imports", "attributes": {"resource_type": "skus", "inputs": skus(1)}}})).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));

    // 404: unknown import, unknown route; bad query parameters are 400s naming them.
    assert_eq!(
        api.call(Method::GET, "/api/imports/nope", None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.call(Method::GET, "/api/nothing", None).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, doc) = api
        .call(Method::GET, "/api/imports?page[size]=100", None)
        .await;
    assert_eq!(
        (status, error_of(&doc)["source"]["parameter"].as_str()),
        (StatusCode::BAD_REQUEST, Some("page[size]"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_sorts_pages_and_picks_fields() {
    let env = TestEnv::new().await;
    let mut config = env.api_config();
    config.max_active = 100;
    let server = env.spawn_api(config).await;
    let token = env.token("acme", Mode::Test).await;
    let api = Api {
        http: Client::new(),
        base: server.base_url.clone(),
        token,
    };
    let mut ids = Vec::new();
    for i in 0..12 {
        let rt = if i % 3 == 0 { "customers" } else { "skus" };
        let inputs = if rt == "customers" {
            json!([{"email": format!("c{i}@x.io")}])
        } else {
            skus(1 + i)
        };
        let (status, doc) = api.create(json!({"resource_type": rt, "inputs": inputs, "reference": format!("grp-{}", i % 2)})).await;
        assert_eq!(status, StatusCode::CREATED, "{doc}");
        ids.push(doc["data"]["id"].as_str().unwrap().to_owned());
    }
    // Interrupt two so that statuses differ.
    for id in &ids[..2] {
        let (status, doc) = api
            .call(Method::PATCH, &format!("/api/imports/{id}"), Some(json!({"data": {"type": "imports", "id": id, "attributes": {"_interrupt": true}}})))
            .await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        assert_eq!(doc["data"]["attributes"]["status"], "interrupted");
    }
    let get = |q: &str| api.call(Method::GET, format!("/api/imports?{q}"), None);
    let (_, doc) = get("").await;
    assert_eq!(doc["meta"]["record_count"], 12);
    assert_eq!(doc["meta"]["page_count"], 2);
    assert_eq!(doc["data"].as_array().unwrap().len(), 10);
    assert!(doc["links"]["next"]
        .as_str()
        .unwrap()
        .contains("page%5Bnumber%5D=2"));
    assert!(doc["links"].get("prev").is_none());
    let (_, page2) = api
        .http
        .get(doc["links"]["next"].as_str().unwrap())
        .bearer_auth(&api.token)
        .send()
        .await
        .map(|r| (0, r))
        .unwrap();
    let page2: Value = page2.json().await.unwrap();
    assert_eq!(page2["data"].as_array().unwrap().len(), 2);

    let count = |doc: &Value| doc["meta"]["record_count"].as_i64().unwrap();
    assert_eq!(count(&get("filter[q][status_eq]=interrupted").await.1), 2);
    assert_eq!(
        count(&get("filter[q][status_in]=pending,in_progress").await.1),
        10
    );
    assert_eq!(
        count(&get("filter[q][resource_type_eq]=customers").await.1),
        4
    );
    assert_eq!(count(&get("filter[q][reference_start]=grp-1").await.1), 6);
    assert_eq!(count(&get("filter[q][reference_cont]=RP-").await.1), 12);
    // inputs_size of the 12: 1, 2, 3, 1, 5, 6, 1, 8, 9, 1, 11, 12.
    assert_eq!(count(&get("filter[q][inputs_size_gt]=5").await.1), 5);
    assert_eq!(
        count(
            &get("filter[q][inputs_size_gteq]=5&filter[q][inputs_size_lteq]=6")
                .await
                .1
        ),
        2
    );
    assert_eq!(count(&get("filter[q][inputs_size_lt]=2").await.1), 4);
    assert_eq!(
        count(
            &get("filter[q][created_at_gteq]=2020-01-01T00:00:00Z")
                .await
                .1
        ),
        12
    );
    assert_eq!(
        count(&get("filter[q][created_at_lt]=2020-01-01T00:00:00Z").await.1),
        0
    );
    assert_eq!(
        count(&get(&format!("filter[ids]={},{}", ids[3], ids[4])).await.1),
        2
    );
    let (_, doc) = get("sort=-inputs_size&page[size]=3").await;
    let sizes: Vec<i64> = doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["attributes"]["inputs_size"].as_i64().unwrap())
        .collect();
    assert_eq!(sizes, vec![12, 11, 9]);
    let (_, doc) = get("fields[imports]=status,processed_count&page[size]=1").await;
    let attrs = doc["data"][0]["attributes"].as_object().unwrap();
    assert_eq!(
        attrs.keys().collect::<Vec<_>>(),
        vec!["status", "processed_count"]
    );
    let (_, doc) = api
        .call(
            Method::GET,
            &format!("/api/imports/{}?fields[imports]=status", ids[0]),
            None,
        )
        .await;
    assert_eq!(doc["data"]["attributes"], json!({"status": "interrupted"}));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_interrupt_delete_and_attachments() {
    let env = TestEnv::new().await;
    let (api, server) = setup(&env).await;
    let (_, doc) = api
        .create(json!({"resource_type": "skus", "inputs": skus(3), "metadata": {"a": 1}}))
        .await;
    let id = doc["data"]["id"].as_str().unwrap().to_owned();
    let patch = |attrs: Value| {
        api.call(
            Method::PATCH,
            format!("/api/imports/{id}"),
            Some(json!({"data": {"type": "imports", "id": id, "attributes": attrs}})),
        )
    };
    let (status, doc) =
        patch(json!({"reference": "r-2", "reference_origin": "erp", "metadata": {"b": 2}})).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let a = &doc["data"]["attributes"];
    assert_eq!(
        (
            a["reference"].as_str(),
            a["reference_origin"].as_str(),
            &a["metadata"]
        ),
        (Some("r-2"), Some("erp"), &json!({"b": 2}))
    );
    for (attrs, pointer, why) in [
        (
            json!({"status": "completed"}),
            "/data/attributes/status",
            Some("status is read-only"),
        ),
        (
            json!({"resource_type": "customers"}),
            "/data/attributes/resource_type",
            Some("resource_type can only be set when the import is created"),
        ),
        (
            json!({"colour": "red"}),
            "/data/attributes/colour",
            Some("colour is not an attribute of imports"),
        ),
        (
            json!({"_interrupt": "yes"}),
            "/data/attributes/_interrupt",
            None,
        ),
    ] {
        let (status, doc) = patch(attrs).await;
        assert_eq!(
            (status, error_of(&doc)["source"]["pointer"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(pointer))
        );
        if let Some(why) = why {
            assert_eq!(error_of(&doc)["detail"], why, "{doc}");
        }
    }

    // Complete it, then download the raw inputs through the signed URL, without a token.
    let worker = env.spawn_worker(env.worker_config(1, 10, 10));
    let done = api.wait_final(&id).await;
    let url = done["data"]["attributes"]["attachment_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = Client::new().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/gzip");
    let gz = resp.bytes().await.unwrap();
    let mut raw = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut raw)
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(&raw).unwrap(), skus(3));
    let tampered = url.replace("signature=", "signature=00");
    assert_eq!(
        Client::new().get(&tampered).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let other = url.replace(&id, "someoneelse");
    assert_eq!(
        Client::new().get(&other).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let expired = imports_api::attachments::url_expiring_at(
        &api.base,
        &server.config.signing_secret,
        &id,
        chrono::Utc::now().timestamp() - 1,
    );
    let resp = Client::new().get(&expired).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let doc: Value = resp.json().await.unwrap();
    assert!(error_of(&doc)["detail"]
        .as_str()
        .unwrap()
        .contains("expired"));

    // Delete: 204, then 404; the records imported stay.
    let (status, _) = api
        .call(Method::DELETE, &format!("/api/imports/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.call(Method::GET, &format!("/api/imports/{id}"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.call(Method::DELETE, &format!("/api/imports/{id}"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(env.count("skus").await, 3);
    // Its events went with it.
    assert!(env.event_names(&id).await.is_empty());

    // Deleting a running import interrupts it first; what was written stays.
    let (_, doc) = api
        .create(json!({"resource_type": "skus", "inputs": imports_tests::skus(3000)}))
        .await;
    let big = doc["data"]["id"].as_str().unwrap().to_owned();
    env.wait_until(&big, Duration::from_secs(30), |i| i.processed_count > 0)
        .await;
    assert_eq!(
        api.call(Method::DELETE, &format!("/api/imports/{big}"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let written = env.count("skus").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        env.count("skus").await,
        written,
        "nothing is written after the delete"
    );
    worker.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_never_reaches_another_tenants_imports() {
    let env = TestEnv::new().await;
    let (api, server) = setup(&env).await;
    let other_org = env.token("globex", Mode::Test).await;
    let same_org_live = env.token("acme", Mode::Live).await;
    let (_, doc) = api
        .create(json!({"resource_type": "skus", "inputs": skus(1)}))
        .await;
    let id = doc["data"]["id"].as_str().unwrap().to_owned();
    let patch = json!({"data": {"type": "imports", "id": id, "attributes": {"_interrupt": true}}});
    for token in [&other_org, &same_org_live] {
        for (method, path, body) in [
            (Method::GET, format!("/api/imports/{id}"), None),
            (
                Method::PATCH,
                format!("/api/imports/{id}"),
                Some(patch.clone()),
            ),
            (Method::DELETE, format!("/api/imports/{id}"), None),
            (Method::GET, format!("/api/imports/{id}/events"), None),
        ] {
            let (status, _) = api.call_as(token, method.clone(), &path, body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        }
        let (_, list) = api.call_as(token, Method::GET, "/api/imports", None).await;
        assert_eq!(list["meta"]["record_count"], 0);
    }
    // A parent of another tenant does not exist for you.
    {
        let client = env.pool.get().await.unwrap();
        client
            .execute("INSERT INTO price_lists (id, organization_id, mode, code, name, currency_code) VALUES ('pl-globex', 'globex', 'test', 'EU', 'EU', 'EUR')", &[])
            .await
            .unwrap();
    }
    let (status, doc) = api.create(json!({"resource_type": "prices", "parent_resource_id": "pl-globex", "inputs": [{"sku_code": "A", "amount_cents": 1}]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{doc}");
    assert_eq!(
        env.import(&id).await.status,
        imports_common::model::Status::Pending
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_created_while_rabbitmq_is_unreachable_are_announced_once_it_is_back() {
    let env = TestEnv::new().await;
    // An API whose RabbitMQ is unreachable: creates still succeed (the outbox keeps them).
    let mut config = env.api_config();
    config.services.amqp_url = "amqp://guest:guest@127.0.0.1:1/%2f".into();
    let down = env.spawn_api(config).await;
    let token = env.token("acme", Mode::Test).await;
    let api = Api {
        http: Client::new(),
        base: down.base_url.clone(),
        token: token.clone(),
    };
    let mut ids = Vec::new();
    for i in 0..3 {
        let (status, doc) = api.create(json!({"resource_type": "skus", "inputs": [{"code": format!("R{i}"), "name": "r", "do_not_ship": true}]})).await;
        assert_eq!(status, StatusCode::CREATED, "{doc}");
        ids.push(doc["data"]["id"].as_str().unwrap().to_owned());
    }
    // A worker with a long lease: its sweeper would not pick pending imports up for a minute.
    let worker = env.spawn_worker(env.worker_config(1, 10, 30));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        env.import(&ids[0]).await.status,
        imports_common::model::Status::Pending
    );
    let outbox: i64 = env.query("SELECT count(*) FROM import_outbox").await[0].get(0);
    assert_eq!(outbox, 3);
    down.stop().await;
    // RabbitMQ "comes back": the restarted API publishes what the outbox holds.
    let up = env.spawn_api(env.api_config()).await;
    let api = Api {
        http: Client::new(),
        base: up.base_url.clone(),
        token,
    };
    for id in &ids {
        let done = api.wait_final(id).await;
        assert_eq!(done["data"]["attributes"]["status"], "completed");
    }
    let outbox: i64 = env.query("SELECT count(*) FROM import_outbox").await[0].get(0);
    assert_eq!(outbox, 0);
    worker.stop().await;
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framework_rejections_are_jsonapi_errors_too() {
    let env = TestEnv::new().await;
    let (api, server) = setup(&env).await;
    let resp = api
        .http
        .put(format!("{}/api/imports", api.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["content-type"], JSONAPI);
    let resp = api
        .http
        .get(format!("{}/api/imports?page%5Bsize%5D=%FF%FE", api.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
    assert_eq!(resp.headers()["content-type"], JSONAPI);
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let resp = api
        .http
        .post(format!("{}/api/imports", api.base))
        .bearer_auth(&api.token)
        .header("content-type", JSONAPI)
        .body(deep)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_trace_context_travels_in_the_message_headers() {
    use futures::StreamExt;
    let env = TestEnv::new().await;
    let (api, server) = setup(&env).await;
    let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let resp = api
        .http
        .post(format!("{}/api/imports", api.base))
        .bearer_auth(&api.token)
        .header("content-type", JSONAPI)
        .header("traceparent", traceparent)
        .body(serde_json::to_vec(&json!({"data": {"type": "imports", "attributes": {"resource_type": "skus", "inputs": skus(1)}}})).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let doc: Value = resp.json().await.unwrap();
    // Read the announcement straight off the queue.
    let conn =
        imports_runtime::queue::connect(&imports_tests::amqp_url(), Some(Duration::from_secs(5)))
            .await
            .unwrap();
    let channel = conn.create_channel().await.unwrap();
    imports_runtime::queue::declare(&channel, &env.queue)
        .await
        .unwrap();
    let mut consumer = channel
        .basic_consume(
            env.queue.as_str().into(),
            "trace-test".into(),
            Default::default(),
            Default::default(),
        )
        .await
        .unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(10), consumer.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let message =
        imports_runtime::queue::ImportMessage::decode(&delivery.data, &delivery.properties)
            .unwrap();
    assert_eq!(message.import_id, doc["data"]["id"].as_str().unwrap());
    // The trace goes on (same trace id) from the API's own spans (another span id).
    let sent = message
        .trace_context
        .get("traceparent")
        .expect("a traceparent header");
    let parts: Vec<&str> = sent.split('-').collect();
    assert_eq!(parts.len(), 4, "{sent}");
    assert_eq!(parts[1], "0af7651916cd43dd8448eb211c80319c", "{sent}");
    assert_ne!(parts[2], "b7ad6b7169203331", "{sent}");
    assert_eq!(parts[3], "01", "sampled: {sent}");
    assert_eq!(delivery.properties.delivery_mode(), &Some(2), "persistent");
    let _ = conn.close(200, "done".into()).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failed_inputs_report_gives_each_failed_row_with_its_errors_and_neutralises_formulas() {
    let env = TestEnv::new().await;
    let (api, server) = setup(&env).await;
    let worker = env.spawn_worker(env.worker_config(1, 2, 10));
    let csv = "code,name,pieces_per_pack,do_not_ship\nOK1,Fine,1,true\n=HYPERLINK(\"http://evil\"),,2,true\nBAD2,Bad,abc,true\n@SUM(A1),+1,-3,true\n";
    let (status, doc) = api
        .create(
            json!({"resource_type": "skus", "format": "csv", "inputs": csv, "skip_errors": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
    let id = doc["data"]["id"].as_str().unwrap().to_owned();
    let done = api.wait_final(&id).await;
    assert_eq!(done["data"]["attributes"]["errors_count"], 3);
    let resp = api
        .http
        .get(format!("{}/api/imports/{id}/failed_inputs", api.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = resp.text().await.unwrap();
    let mut reader = ::csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec![
            "_row",
            "_key",
            "_errors",
            "code",
            "name",
            "pieces_per_pack",
            "do_not_ship"
        ]
    );
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), 3, "{text}");
    let evil = "'=HYPERLINK(\"http://evil\")";
    assert_eq!(
        rows[0],
        ["2", evil, "name: can't be blank", evil, "", "2", "true"]
    );
    assert_eq!(
        rows[1],
        [
            "3",
            "BAD2",
            "pieces_per_pack: 'abc' is not an integer",
            "BAD2",
            "Bad",
            "abc",
            "true"
        ]
    );
    assert_eq!(
        rows[2],
        [
            "4",
            "'@SUM(A1)",
            "pieces_per_pack: must be greater than or equal to 1",
            "'@SUM(A1)",
            "+1",
            "-3",
            "true"
        ]
    );
    for row in &rows {
        for cell in row {
            let number = cell.parse::<f64>().is_ok();
            assert!(
                !cell.starts_with(['=', '@', '\t', '\r'])
                    && (number || !cell.starts_with(['+', '-'])),
                "cell {cell:?} is neutralised"
            );
        }
    }
    // Another tenant cannot read it.
    let other = env.token("globex", Mode::Test).await;
    let resp = api
        .http
        .get(format!("{}/api/imports/{id}/failed_inputs", api.base))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    worker.stop().await;
    server.stop().await;
}
