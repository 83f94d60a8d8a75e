//! Webhook deliveries end to end: the API, a worker and a local receiver, on real Postgres
//! and RabbitMQ. Signatures checked as a receiver would; a receiver that fails, is down, is
//! slow, or recovers; circuits, `_disable`, tenants, private addresses at delivery, and a
//! delivery process killed in the middle of a call.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use imports_common::model::Mode;
use imports_runtime::config::WorkerConfig;
use imports_tests::receiver::{closed_port, Received, Receiver, Reply};
use imports_tests::{skus, InProcessApi, InProcessWorker, TestEnv};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

/// A client of the API for one tenant.
struct Api {
    http: Client,
    base: String,
    token: String,
}

impl Api {
    async fn new(env: &TestEnv, api: &InProcessApi, organization: &str, mode: Mode) -> Api {
        Api {
            http: Client::new(),
            base: api.base_url.clone(),
            token: env.token(organization, mode).await,
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/vnd.api+json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Creates a webhook; its id and shared secret.
    async fn webhook(&self, topic: &str, url: &str, extra: Value) -> (String, String) {
        let mut attributes = json!({"topic": topic, "callback_url": url});
        if let Value::Object(more) = extra {
            attributes.as_object_mut().unwrap().extend(more);
        }
        let (status, doc) = self
            .send(
                reqwest::Method::POST,
                "/api/webhooks",
                Some(json!({"data": {"type": "webhooks", "attributes": attributes}})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{doc}");
        let a = &doc["data"]["attributes"];
        (
            doc["data"]["id"].as_str().unwrap().to_owned(),
            a["shared_secret"].as_str().unwrap().to_owned(),
        )
    }

    async fn patch_webhook(&self, id: &str, attributes: Value) -> Value {
        let (status, doc) = self
            .send(
                reqwest::Method::PATCH,
                &format!("/api/webhooks/{id}"),
                Some(json!({"data": {"type": "webhooks", "id": id, "attributes": attributes}})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        doc
    }

    async fn get(&self, path: &str) -> Value {
        let (status, doc) = self.send(reqwest::Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {doc}");
        doc
    }

    /// Creates an import of `n` SKUs; its id.
    async fn import(&self, n: usize) -> String {
        let body = json!({"data": {"type": "imports", "attributes": {"resource_type": "skus", "inputs": skus(n)}}});
        let (status, doc) = self
            .send(reqwest::Method::POST, "/api/imports", Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{doc}");
        doc["data"]["id"].as_str().unwrap().to_owned()
    }

    async fn callbacks(&self, webhook_id: &str) -> Vec<Value> {
        let doc = self
            .get(&format!(
                "/api/webhooks/{webhook_id}/last_event_callbacks?page[size]=25"
            ))
            .await;
        doc["data"].as_array().unwrap().clone()
    }

    /// Waits until `check` holds of the webhook's attributes.
    async fn wait_webhook(
        &self,
        id: &str,
        timeout: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let doc = self.get(&format!("/api/webhooks/{id}")).await;
            if check(&doc["data"]["attributes"]) {
                return doc;
            }
            assert!(Instant::now() < deadline, "webhook never got there: {doc}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A test's API, worker and client (of `acme` in test mode).
struct Setup {
    env: TestEnv,
    server: InProcessApi,
    worker: InProcessWorker,
    api: Api,
}

/// A fresh environment with an API, a worker of `concurrency` slots (its delivery settings
/// changed by `configure`) and a client.
async fn setup(concurrency: usize, configure: impl FnOnce(&mut WorkerConfig)) -> Setup {
    let env = TestEnv::new().await;
    let server = env.spawn_api(env.api_config()).await;
    let mut config = env.worker_config(concurrency, 100, 10);
    configure(&mut config);
    let worker = env.spawn_worker(config);
    let api = Api::new(&env, &server, "acme", Mode::Test).await;
    Setup {
        env,
        server,
        worker,
        api,
    }
}

/// A child process killed when the test lets go of it, even when the test fails (a leaked
/// process would hold the test's output open).
struct Killed(std::process::Child);

impl Killed {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Checks a delivery's signature as a receiver would: base64 HMAC-SHA256 of the raw body.
fn signed_with(r: &Received, secret: &str) -> bool {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(r.body.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    r.header("x-commercelayer-signature") == expected
}

async fn wait_import_final(api: &Api, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let doc = api.get(&format!("/api/imports/{id}")).await;
        let status = doc["data"]["attributes"]["status"].clone();
        if status == "completed" || status == "interrupted" {
            return doc;
        }
        assert!(Instant::now() < deadline, "import not final: {doc}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_topic_is_delivered_signed_with_the_import_as_it_was() {
    let Setup {
        env: _env,
        server,
        worker,
        api,
    } = setup(2, |_| {}).await;
    let receiver = Receiver::start().await;
    let mut secrets = HashMap::new();
    for topic in [
        "imports.create",
        "imports.start",
        "imports.complete",
        "imports.destroy",
    ] {
        let extra = match topic {
            "imports.complete" => json!({"include_resources": ["events"]}),
            _ => json!({}),
        };
        let (id, secret) = api
            .webhook(topic, &receiver.url(&format!("/{topic}")), extra)
            .await;
        secrets.insert(format!("/{topic}"), (id, secret));
    }
    let import_id = api.import(3).await;
    wait_import_final(&api, &import_id).await;
    let (status, _) = api
        .send(
            reqwest::Method::DELETE,
            &format!("/api/imports/{import_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let got = receiver.wait_for(4, Duration::from_secs(30)).await;
    let by_path: HashMap<String, &Received> = got.iter().map(|r| (r.path.clone(), r)).collect();
    assert_eq!(by_path.len(), 4, "one delivery per topic: {got:?}");
    for (path, r) in &by_path {
        let (_, secret) = &secrets[path];
        assert!(signed_with(r, secret), "{path}: bad signature");
        assert_eq!(r.header("x-commercelayer-topic"), path[1..]);
        assert!(uuid::Uuid::parse_str(&r.header("x-imports-delivery-id")).is_ok());
        assert_eq!(r.header("content-type"), "application/vnd.api+json");
        let doc = r.json();
        assert_eq!(doc["data"]["id"], import_id.as_str());
        assert_eq!(doc["data"]["type"], "imports");
        assert_eq!(doc["data"]["meta"]["mode"], "test");
        assert_eq!(doc["data"]["attributes"]["resource_type"], "skus");
    }
    // Each payload holds the import as it was at its event.
    let status_of = |path: &str| by_path[path].json()["data"]["attributes"]["status"].clone();
    assert_eq!(status_of("/imports.create"), "pending");
    assert_eq!(status_of("/imports.start"), "in_progress");
    assert_eq!(status_of("/imports.complete"), "completed");
    assert_eq!(status_of("/imports.destroy"), "completed");
    let complete = by_path["/imports.complete"].json();
    assert_eq!(complete["data"]["attributes"]["processed_count"], 3);
    let included = complete["included"].as_array().expect("included events");
    let names: Vec<&str> = included
        .iter()
        .map(|e| e["attributes"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["imports.create", "imports.start", "imports.complete"]
    );
    assert!(by_path["/imports.create"].json().get("included").is_none());

    // Each attempt is an event callback of its webhook.
    let (complete_id, _) = &secrets["/imports.complete"];
    let callbacks = api.callbacks(complete_id).await;
    assert_eq!(callbacks.len(), 1, "{callbacks:?}");
    let a = &callbacks[0]["attributes"];
    assert_eq!(a["response_code"], "200");
    assert_eq!(a["callback_url"], receiver.url("/imports.complete"));
    assert_eq!(a["payload"], complete);
    // And the worker counts them.
    let metrics = reqwest::get(format!("{}/metrics", worker.http_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("imports_webhook_deliveries_total{")
            && metrics.contains("outcome=\"delivered\""),
        "{metrics}"
    );
    worker.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_is_retried_with_the_same_delivery_id_until_it_recovers() {
    let Setup {
        env: _env,
        server,
        worker,
        api,
    } = setup(1, |_| {}).await;
    let receiver = Receiver::start().await;
    receiver.script(&[Reply::Status(500), Reply::Status(503)]);
    let (webhook, secret) = api
        .webhook("imports.create", &receiver.url("/hook"), json!({}))
        .await;
    api.import(1).await;
    let got = receiver.wait_for(3, Duration::from_secs(30)).await;
    let ids: HashSet<String> = got
        .iter()
        .map(|r| r.header("x-imports-delivery-id"))
        .collect();
    assert_eq!(ids.len(), 1, "one delivery, retried: {ids:?}");
    // The same bytes each time, each signed.
    assert!(got
        .iter()
        .all(|r| r.body == got[0].body && signed_with(r, &secret)));
    // The waits between attempts grow (base 0.2 s in the tests: 0.1-0.2 s, then 0.2-0.4 s).
    assert!(got[1].at - got[0].at >= Duration::from_millis(100));
    assert!(got[2].at - got[1].at >= Duration::from_millis(200));
    let doc = api
        .wait_webhook(&webhook, Duration::from_secs(5), |a| {
            a["circuit_failure_count"] == 0
        })
        .await;
    assert_eq!(doc["data"]["attributes"]["circuit_state"], "closed");
    let callbacks = api.callbacks(&webhook).await;
    let codes: Vec<&str> = callbacks
        .iter()
        .map(|c| c["attributes"]["response_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["200", "503", "500"], "newest first");
    // Nothing more is sent once it was delivered.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.received().len(), 3);
    worker.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_is_down_gets_the_delivery_once_it_is_back() {
    let Setup {
        env: _env,
        server,
        worker,
        api,
    } = setup(1, |_| {}).await;
    let addr = closed_port();
    let (webhook, secret) = api
        .webhook("imports.create", &format!("http://{addr}/hook"), json!({}))
        .await;
    api.import(1).await;
    let doc = api
        .wait_webhook(&webhook, Duration::from_secs(20), |a| {
            a["circuit_failure_count"].as_i64().unwrap_or(0) >= 2
        })
        .await;
    assert_eq!(doc["data"]["attributes"]["circuit_state"], "closed");
    let callbacks = api.callbacks(&webhook).await;
    let failed = &callbacks[0]["attributes"];
    assert_eq!(failed["response_code"], Value::Null, "{failed}");
    assert!(!failed["response_message"].as_str().unwrap().is_empty());
    let receiver = Receiver::start_on(addr).await;
    let got = receiver.wait_for(1, Duration::from_secs(20)).await;
    assert!(signed_with(&got[0], &secret));
    api.wait_webhook(&webhook, Duration::from_secs(5), |a| {
        a["circuit_failure_count"] == 0
    })
    .await;
    worker.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_fails_after_five_seconds_and_holds_up_no_one() {
    let Setup {
        env: _env,
        server,
        worker,
        api,
    } = setup(2, |_| {}).await;
    let slow = Receiver::start().await;
    slow.answer(Reply::Slow(Duration::from_secs(8), 200));
    let fast = Receiver::start().await;
    let (slow_hook, _) = api
        .webhook("imports.complete", &slow.url("/slow"), json!({}))
        .await;
    api.webhook("imports.complete", &fast.url("/fast"), json!({}))
        .await;
    // Several imports, so that the slow webhook has more deliveries than its share.
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(api.import(2).await);
    }
    let started = Instant::now();
    for id in &ids {
        wait_import_final(&api, id).await;
    }
    let completed_in = started.elapsed();
    // The fast receiver has every delivery soon after the imports completed.
    fast.wait_for(6, Duration::from_secs(10)).await;
    let fast_in = started.elapsed();
    assert!(
        completed_in < Duration::from_secs(15),
        "imports took {completed_in:?}"
    );
    assert!(
        fast_in < completed_in + Duration::from_secs(3),
        "fast deliveries took {fast_in:?}"
    );
    // The slow one's calls end at the 5-second limit, as failures.
    let doc = api
        .wait_webhook(&slow_hook, Duration::from_secs(20), |a| {
            a["circuit_failure_count"].as_i64().unwrap_or(0) >= 1
        })
        .await;
    assert_eq!(doc["data"]["attributes"]["circuit_state"], "closed");
    let callbacks = api.callbacks(&slow_hook).await;
    let message = callbacks[0]["attributes"]["response_message"]
        .as_str()
        .unwrap();
    assert!(message.contains("within 5"), "{message}");
    assert_eq!(callbacks[0]["attributes"]["response_code"], Value::Null);
    // At most its share (4) of calls to it were in flight at once.
    let calls = slow.received();
    let first_round = calls
        .iter()
        .filter(|r| r.at - calls[0].at < Duration::from_secs(4))
        .count();
    assert!(
        first_round <= 4,
        "{first_round} calls at once to one webhook"
    );
    worker.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_circuit_opens_after_the_threshold_and_reset_closes_it() {
    let Setup {
        env,
        server,
        worker,
        api,
    } = setup(1, |c| {
        c.webhooks.circuit_threshold = 3;
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.answer(Reply::Status(500));
    let (webhook, _) = api
        .webhook("imports.create", &receiver.url("/hook"), json!({}))
        .await;
    api.import(1).await;
    let doc = api
        .wait_webhook(&webhook, Duration::from_secs(20), |a| {
            a["circuit_state"] == "open"
        })
        .await;
    assert_eq!(doc["data"]["attributes"]["circuit_failure_count"], 3);
    let calls = receiver.received().len();
    assert_eq!(calls, 3);
    // The worker's gauge counts it.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let metrics = reqwest::get(format!("{}/metrics", worker.http_url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("imports_webhook_open_circuits 1") {
            break;
        }
        assert!(Instant::now() < deadline, "no open circuit in {metrics}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // While open, nothing is sent, and new events make no delivery.
    api.import(1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), calls);
    let client = env.pool.get().await.unwrap();
    let deliveries = imports_storage::deliveries::deliveries_of(&**client, &webhook)
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0].status, "abandoned");
    // _reset_circuit closes it; the next event is delivered.
    receiver.answer(Reply::Status(204));
    let doc = api
        .patch_webhook(&webhook, json!({"_reset_circuit": true}))
        .await;
    assert_eq!(doc["data"]["attributes"]["circuit_state"], "closed");
    assert_eq!(doc["data"]["attributes"]["circuit_failure_count"], 0);
    let import = api.import(1).await;
    let got = receiver.wait_for(calls + 1, Duration::from_secs(10)).await;
    assert_eq!(got.last().unwrap().json()["data"]["id"], import.as_str());
    worker.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_webhook_gets_nothing_until_it_is_enabled() {
    let Setup {
        env: _env,
        server,
        worker,
        api,
    } = setup(1, |_| {}).await;
    let receiver = Receiver::start().await;
    let (webhook, _) = api
        .webhook("imports.create", &receiver.url("/hook"), json!({}))
        .await;
    let doc = api.patch_webhook(&webhook, json!({"_disable": true})).await;
    assert!(doc["data"]["attributes"]["disabled_at"].is_string());
    api.import(1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(receiver.received().is_empty());
    api.patch_webhook(&webhook, json!({"_enable": true})).await;
    let import = api.import(1).await;
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["data"]["id"], import.as_str());
    worker.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_hears_only_its_own_organization_and_mode() {
    let env = TestEnv::new().await;
    let server = env.spawn_api(env.api_config()).await;
    let worker = env.spawn_worker(env.worker_config(1, 100, 10));
    let receiver = Receiver::start().await;
    let acme_test = Api::new(&env, &server, "acme", Mode::Test).await;
    let acme_live = Api::new(&env, &server, "acme", Mode::Live).await;
    let other = Api::new(&env, &server, "other", Mode::Test).await;
    acme_test
        .webhook("imports.create", &receiver.url("/acme-test"), json!({}))
        .await;
    // Live mode needs https; the check of the URL itself is the API's (tested apart), so
    // this one is written straight into the table.
    let client = env.pool.get().await.unwrap();
    client
        .execute(
            "INSERT INTO webhooks (id, organization_id, mode, topic, callback_url, shared_secret) \
             VALUES ('live-hook', 'acme', 'live', 'imports.create', $1, 'secret')",
            &[&receiver.url("/acme-live")],
        )
        .await
        .unwrap();
    other
        .webhook("imports.create", &receiver.url("/other"), json!({}))
        .await;
    let import = acme_test.import(1).await;
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got_all = receiver.received();
    assert_eq!(got_all.len(), 1, "{got_all:?}");
    assert_eq!(got[0].path, "/acme-test");
    assert_eq!(got[0].json()["data"]["id"], import.as_str());
    // Each tenant's import reaches its own webhook only.
    acme_live.import(1).await;
    other.import(1).await;
    let got = receiver.wait_for(3, Duration::from_secs(10)).await;
    let paths: HashSet<&str> = got.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, HashSet::from(["/acme-test", "/acme-live", "/other"]));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.received().len(), 3);
    worker.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_are_refused_at_delivery_too() {
    let Setup {
        env,
        server,
        worker,
        api,
    } = setup(1, |c| {
        c.webhooks.allow_private_networks = false;
        c.webhooks.max_attempts = 2;
    })
    .await;
    let receiver = Receiver::start().await;
    let port = receiver.addr.port();
    let (by_address, _) = api
        .webhook("imports.create", &receiver.url("/ip"), json!({}))
        .await;
    let (by_name, _) = api
        .webhook(
            "imports.create",
            &format!("http://localhost:{port}/name"),
            json!({}),
        )
        .await;
    api.import(1).await;
    for webhook in [&by_address, &by_name] {
        api.wait_webhook(webhook, Duration::from_secs(20), |a| {
            a["circuit_failure_count"] == 2
        })
        .await;
        let callbacks = api.callbacks(webhook).await;
        let message = callbacks[0]["attributes"]["response_message"]
            .as_str()
            .unwrap();
        assert!(message.contains("private"), "{message}");
    }
    assert!(
        receiver.received().is_empty(),
        "a private address was called"
    );
    // Out of attempts, the deliveries are failed, not retried for ever.
    let client = env.pool.get().await.unwrap();
    for webhook in [&by_address, &by_name] {
        let d = imports_storage::deliveries::deliveries_of(&**client, webhook)
            .await
            .unwrap();
        assert_eq!((d[0].status.as_str(), d[0].attempts), ("failed", 2));
    }
    worker.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_and_answers_are_read_only_in_part() {
    let Setup {
        env: _env,
        server,
        worker,
        api,
    } = setup(1, |c| {
        c.webhooks.max_attempts = 1;
    })
    .await;
    let redirecting = Receiver::start().await;
    redirecting.answer(Reply::Redirect(307));
    let large = Receiver::start().await;
    large.answer(Reply::Large(10 * 1024 * 1024));
    let (moved, _) = api
        .webhook("imports.create", &redirecting.url("/hook"), json!({}))
        .await;
    let (big, _) = api
        .webhook("imports.create", &large.url("/hook"), json!({}))
        .await;
    api.import(1).await;
    // A redirect is a failure, and where it points is never called.
    api.wait_webhook(&moved, Duration::from_secs(10), |a| {
        a["circuit_failure_count"] == 1
    })
    .await;
    let callback = &api.callbacks(&moved).await[0]["attributes"];
    assert_eq!(callback["response_code"], "307");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let paths: Vec<String> = redirecting
        .received()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(paths, ["/hook"]);
    // A 10 MiB answer is a success of which only the first KiB is kept.
    large.wait_for(1, Duration::from_secs(10)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let callback = loop {
        if let Some(c) = api.callbacks(&big).await.first() {
            break c["attributes"].clone();
        }
        assert!(Instant::now() < deadline, "no callback");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(callback["response_code"], "200");
    assert_eq!(callback["response_message"].as_str().unwrap().len(), 1024);
    worker.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_process_killed_mid_call_loses_nothing() {
    let env = TestEnv::new().await;
    let server = env.spawn_api(env.api_config()).await;
    let api = Api::new(&env, &server, "acme", Mode::Test).await;
    let receiver = Receiver::start().await;
    receiver.answer(Reply::Slow(Duration::from_millis(1500), 200));
    let (webhook, secret) = api
        .webhook("imports.create", &receiver.url("/hook"), json!({}))
        .await;
    let mut imports = HashSet::new();
    for _ in 0..8 {
        imports.insert(api.import(1).await);
    }
    let deliver = || {
        std::process::Command::new(imports_tests::worker_binary())
            .arg("deliver")
            .env("DATABASE_URL", &env.database_url)
            .env("AMQP_URL", imports_tests::amqp_url())
            .env("IMPORTS_QUEUE", &env.queue)
            .env("WORKER_HTTP_ADDR", "127.0.0.1:0")
            .env("WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "true")
            .env("WEBHOOKS_RETRY_BASE_SECONDS", "0.2")
            .env(
                "RUST_LOG",
                std::env::var("TEST_WORKER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(std::process::Stdio::null())
            .spawn()
            .map(Killed)
            .expect("start imports-worker deliver")
    };
    let mut first = deliver();
    // Killed while its first calls are in flight.
    receiver.wait_for(1, Duration::from_secs(30)).await;
    first.kill();
    let before_restart = receiver.received().len();
    let mut second = deliver();
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = env.pool.get().await.unwrap();
    loop {
        let d = imports_storage::deliveries::deliveries_of(&**client, &webhook)
            .await
            .unwrap();
        if d.len() == 8 && d.iter().all(|d| d.status == "delivered") {
            break;
        }
        assert!(Instant::now() < deadline, "not all delivered: {d:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    second.kill();
    let got = receiver.received();
    assert!(before_restart >= 1);
    // Every import's event arrived at least once; a call cut by the kill came again with
    // the same delivery id and the same import.
    let mut by_delivery: HashMap<String, HashSet<String>> = HashMap::new();
    for r in &got {
        assert!(signed_with(r, &secret));
        by_delivery
            .entry(r.header("x-imports-delivery-id"))
            .or_default()
            .insert(r.json()["data"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        by_delivery.len(),
        8,
        "{} calls for {} deliveries",
        got.len(),
        by_delivery.len()
    );
    assert!(by_delivery.values().all(|imports| imports.len() == 1));
    let delivered: HashSet<String> = by_delivery.into_values().flatten().collect();
    assert_eq!(delivered, imports);
    server.stop().await;
}
