//! The `/api/webhooks` resource end to end: the API in process, a real Postgres, requests
//! over HTTP. Create (the secret shown once), the validation of every attribute, callback
//! URLs refused when they lead to private networks or have the wrong form, updates and the
//! triggers `_disable`, `_enable` and `_reset_circuit`, the list parameters, tenants kept
//! apart, delete, `last_event_callbacks`, and the bound of webhooks per tenant.

use std::collections::BTreeSet;

use imports_common::model::Mode;
use imports_common::webhooks::MAX_WEBHOOKS_PER_TENANT;
use imports_tests::{InProcessApi, TestEnv};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

const JSONAPI: &str = "application/vnd.api+json";

/// A callback URL the test API accepts (`allow_private_networks`); nothing is called.
const HOOK: &str = "http://127.0.0.1:9/hook";

/// The attributes of Commerce Layer's webhooks, as its SDK types them.
const SDK_ATTRIBUTES: &[&str] = &[
    "name",
    "topic",
    "callback_url",
    "include_resources",
    "disabled_at",
    "circuit_state",
    "circuit_failure_count",
    "shared_secret",
    "created_at",
    "updated_at",
    "reference",
    "reference_origin",
    "metadata",
];

/// A client of one API as one tenant.
#[derive(Clone)]
struct Api {
    http: Client,
    base: String,
    token: String,
}

/// An answer: its status, its `Location`, its body (JSON, or the text when it is not).
struct Reply {
    status: StatusCode,
    location: Option<String>,
    doc: Value,
}

impl Api {
    async fn new(env: &TestEnv, server: &InProcessApi, organization: &str, mode: Mode) -> Api {
        Api {
            http: Client::new(),
            base: server.base_url.clone(),
            token: env.token(organization, mode).await,
        }
    }

    /// The same tenant on another API.
    fn on(&self, server: &InProcessApi) -> Api {
        Api {
            base: server.base_url.clone(),
            ..self.clone()
        }
    }

    async fn send(
        &self,
        method: Method,
        path: impl AsRef<str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let path = path.as_ref();
        let url = match path.starts_with("http") {
            true => path.to_owned(),
            false => format!("{}{path}", self.base),
        };
        let mut req = self.http.request(method, url).bearer_auth(&self.token);
        if let Some((content_type, bytes)) = body {
            req = req.header("content-type", content_type).body(bytes);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let location = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = resp.text().await.unwrap();
        let doc = match text.is_empty() {
            true => Value::Null,
            false => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        };
        Reply {
            status,
            location,
            doc,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: impl AsRef<str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let body = body.map(|b| (JSONAPI, serde_json::to_vec(&b).unwrap()));
        let r = self.send(method, path, body).await;
        (r.status, r.doc)
    }

    async fn get(&self, path: impl AsRef<str>) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn create(&self, attributes: Value) -> (StatusCode, Value) {
        self.call(
            Method::POST,
            "/api/webhooks",
            Some(json!({"data": {"type": "webhooks", "attributes": attributes}})),
        )
        .await
    }

    /// Creates a webhook that must be accepted; its resource object.
    async fn created(&self, attributes: Value) -> Value {
        let (status, doc) = self.create(attributes).await;
        assert_eq!(status, StatusCode::CREATED, "{doc}");
        doc["data"].clone()
    }

    async fn update(&self, id: &str, attributes: Value) -> (StatusCode, Value) {
        self.call(
            Method::PATCH,
            &format!("/api/webhooks/{id}"),
            Some(json!({"data": {"type": "webhooks", "id": id, "attributes": attributes}})),
        )
        .await
    }

    /// Updates a webhook, which must be accepted; its attributes after.
    async fn updated(&self, id: &str, attributes: Value) -> Value {
        let (status, doc) = self.update(id, attributes).await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        doc["data"]["attributes"].clone()
    }

    /// The attributes of a webhook as a retrieve shows them.
    async fn attributes(&self, id: &str) -> Value {
        let (status, doc) = self.get(&format!("/api/webhooks/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        doc["data"]["attributes"].clone()
    }

    /// The ids of a list's page.
    async fn ids(&self, path: impl AsRef<str>) -> Vec<String> {
        let path = path.as_ref();
        let (status, doc) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {doc}");
        ids_of(&doc)
    }
}

fn ids_of(doc: &Value) -> Vec<String> {
    doc["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data: {doc}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn id_of(resource: &Value) -> String {
    resource["id"].as_str().unwrap().to_owned()
}

/// Asserts an error answer: its status, and where `errors[0].source` points (`pointer`
/// when it starts with `/`, `parameter` otherwise).
#[track_caller]
fn assert_error(reply: &(StatusCode, Value), status: StatusCode, source: &str, case: &str) {
    let (got, doc) = reply;
    assert_eq!(*got, status, "{case}: {doc}");
    let error = &doc["errors"][0];
    assert_eq!(
        error["status"],
        status.as_u16().to_string(),
        "{case}: {doc}"
    );
    let key = if source.starts_with('/') {
        "pointer"
    } else {
        "parameter"
    };
    assert_eq!(error["source"][key], source, "{case}: {doc}");
}

async fn setup() -> (TestEnv, InProcessApi, Api) {
    let env = TestEnv::new().await;
    let server = env.spawn_api(env.api_config()).await;
    let api = Api::new(&env, &server, "acme", Mode::Test).await;
    (env, server, api)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_shows_the_secret_once_and_retrieve_the_rest() {
    let (env, server, api) = setup().await;
    let r = api
        .send(
            Method::POST,
            "/api/webhooks",
            Some((
                JSONAPI,
                serde_json::to_vec(&json!({"data": {"type": "webhooks", "attributes": {
                    "name": "imports done",
                    "topic": "imports.complete",
                    "callback_url": HOOK,
                    "include_resources": ["events"],
                    "reference": "hook-1",
                    "reference_origin": "tests",
                    "metadata": {"team": "ops"},
                }}}))
                .unwrap(),
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.doc);
    let data = &r.doc["data"];
    let id = id_of(data);
    let url = format!("{}/api/webhooks/{id}", api.base);
    assert_eq!(r.location.as_deref(), Some(url.as_str()));
    assert_eq!(data["type"], "webhooks");
    assert_eq!(data["links"]["self"], url);
    assert_eq!(data["meta"]["mode"], "test");
    let links = &data["relationships"]["last_event_callbacks"]["links"];
    assert_eq!(links["related"], format!("{url}/last_event_callbacks"));
    assert_eq!(
        links["self"],
        format!("{url}/relationships/last_event_callbacks")
    );
    let a = &data["attributes"];
    let keys: BTreeSet<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, SDK_ATTRIBUTES.iter().copied().collect(), "{a}");
    let secret = a["shared_secret"].as_str().expect("the secret is shown");
    assert_eq!(secret.len(), 32, "{secret}");
    assert!(secret.chars().all(|c| c.is_ascii_hexdigit()), "{secret}");
    assert_eq!(
        (
            &a["name"],
            &a["topic"],
            &a["callback_url"],
            &a["include_resources"]
        ),
        (
            &json!("imports done"),
            &json!("imports.complete"),
            &json!(HOOK),
            &json!(["events"])
        )
    );
    assert_eq!(
        (
            &a["circuit_state"],
            &a["circuit_failure_count"],
            &a["disabled_at"]
        ),
        (&json!("closed"), &json!(0), &Value::Null)
    );
    assert_eq!(
        (&a["reference"], &a["reference_origin"], &a["metadata"]),
        (&json!("hook-1"), &json!("tests"), &json!({"team": "ops"}))
    );
    assert!(a["created_at"].as_str().unwrap().ends_with('Z'), "{a}");
    assert_eq!(a["created_at"], a["updated_at"]);
    let stored: String = env
        .query(&format!(
            "SELECT shared_secret FROM webhooks WHERE id = '{id}'"
        ))
        .await[0]
        .get(0);
    assert_eq!(stored, secret, "the secret shown is the one stored");

    // A retrieve shows the same, but the secret.
    let (status, doc) = api.get(&format!("/api/webhooks/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["meta"]["mode"], "test");
    assert_eq!(doc["data"]["links"], data["links"]);
    assert_eq!(doc["data"]["relationships"], data["relationships"]);
    let shown = &doc["data"]["attributes"];
    assert_eq!(shown["shared_secret"], Value::Null, "{shown}");
    for name in SDK_ATTRIBUTES.iter().filter(|n| **n != "shared_secret") {
        assert_eq!(shown[name], a[name], "{name}");
    }

    // include_resources left out or null is null; _disable on a create makes it disabled;
    // each webhook has a secret of its own.
    let plain = api
        .created(json!({"topic": "imports.create", "callback_url": HOOK}))
        .await;
    let nulled = api
        .created(json!({"topic": "imports.start", "callback_url": HOOK, "include_resources": null, "name": null, "_disable": true}))
        .await;
    for w in [&plain, &nulled] {
        assert_eq!(w["attributes"]["include_resources"], Value::Null, "{w}");
        assert_eq!(w["attributes"]["name"], Value::Null, "{w}");
        assert_eq!(w["attributes"]["metadata"], json!({}), "{w}");
        assert_ne!(w["attributes"]["shared_secret"], secret);
    }
    assert_eq!(plain["attributes"]["disabled_at"], Value::Null);
    assert!(nulled["attributes"]["disabled_at"].is_string(), "{nulled}");
    assert_ne!(
        plain["attributes"]["shared_secret"],
        nulled["attributes"]["shared_secret"]
    );

    // In live mode (https; the test API allows loopback hosts) the mode is live.
    let live = Api::new(&env, &server, "acme", Mode::Live).await;
    let w = live
        .created(json!({"topic": "imports.create", "callback_url": "https://127.0.0.1:9/hook"}))
        .await;
    assert_eq!(w["meta"]["mode"], "live");
    let (_, doc) = live.get(&format!("/api/webhooks/{}", id_of(&w))).await;
    assert_eq!(doc["data"]["meta"]["mode"], "live");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_refuses_what_is_missing_unknown_or_malformed() {
    let (env, _server, api) = setup().await;
    let valid = |extra: Value| {
        let mut a = json!({"topic": "imports.create", "callback_url": HOOK});
        for (k, v) in extra.as_object().unwrap() {
            match v {
                Value::String(s) if s == "<absent>" => {
                    a.as_object_mut().unwrap().remove(k);
                }
                _ => a[k] = v.clone(),
            }
        }
        a
    };
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let topic = "/data/attributes/topic";
    let url = "/data/attributes/callback_url";
    let include = "/data/attributes/include_resources";
    let name = "/data/attributes/name";
    for (extra, pointer, case) in [
        (json!({"topic": "<absent>"}), topic, "no topic"),
        (json!({"topic": null}), topic, "null topic"),
        (json!({"callback_url": "<absent>"}), url, "no callback_url"),
        (json!({"callback_url": null}), url, "null callback_url"),
        (json!({"topic": "orders.place"}), topic, "unknown topic"),
        (json!({"topic": "imports"}), topic, "a topic's prefix"),
        (json!({"topic": 5}), topic, "a number for topic"),
        (json!({"callback_url": 5}), url, "a number for callback_url"),
        (json!({"callback_url": "not a url"}), url, "not a URL"),
        (
            json!({"callback_url": format!("http://127.0.0.1/{}", "a".repeat(2048))}),
            url,
            "callback_url too long",
        ),
        (
            json!({"colour": "blue"}),
            "/data/attributes/colour",
            "unknown attribute",
        ),
        (
            json!({"circuit_state": "open"}),
            "/data/attributes/circuit_state",
            "read-only circuit_state",
        ),
        (
            json!({"circuit_failure_count": 0}),
            "/data/attributes/circuit_failure_count",
            "read-only circuit_failure_count",
        ),
        (
            json!({"shared_secret": "00112233445566778899aabbccddeeff"}),
            "/data/attributes/shared_secret",
            "read-only shared_secret",
        ),
        (
            json!({"disabled_at": "2026-01-01T00:00:00Z"}),
            "/data/attributes/disabled_at",
            "read-only disabled_at",
        ),
        (
            json!({"_reset_circuit": true}),
            "/data/attributes/_reset_circuit",
            "_reset_circuit on a create",
        ),
        (
            json!({"_disable": "yes"}),
            "/data/attributes/_disable",
            "_disable not a boolean",
        ),
        (
            json!({"_disable": true, "_enable": true}),
            "/data/attributes/_enable",
            "_disable with _enable",
        ),
        (
            json!({"include_resources": ["customer"]}),
            include,
            "not includable",
        ),
        (
            json!({"include_resources": "events"}),
            include,
            "not an array",
        ),
        (json!({"include_resources": [1]}), include, "not strings"),
        (
            json!({"include_resources": {"events": true}}),
            include,
            "an object",
        ),
        (json!({"name": "n".repeat(256)}), name, "name too long"),
        (json!({"name": 42}), name, "name a number"),
        (json!({"name": ["a"]}), name, "name an array"),
        (json!({"name": "a\u{0}b"}), name, "name with NUL"),
        (
            json!({"reference": 1}),
            "/data/attributes/reference",
            "reference a number",
        ),
        (
            json!({"metadata": "x"}),
            "/data/attributes/metadata",
            "metadata a string",
        ),
    ] {
        let reply = api.create(valid(extra)).await;
        assert_error(&reply, unprocessable, pointer, case);
    }
    let reply = api.create(valid(json!({"_reset_circuit": true}))).await;
    assert!(
        reply.1["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("update"),
        "{}",
        reply.1
    );
    let reply = api.create(valid(json!({"circuit_state": "open"}))).await;
    assert!(
        reply.1["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("read-only"),
        "{}",
        reply.1
    );

    // The document itself.
    let post = |doc: Value| api.call(Method::POST, "/api/webhooks", Some(doc));
    let attributes = valid(json!({}));
    assert_error(
        &post(json!({"data": {"type": "imports", "attributes": attributes}})).await,
        StatusCode::CONFLICT,
        "/data/type",
        "wrong type",
    );
    assert_error(
        &post(json!({"data": {"attributes": attributes}})).await,
        unprocessable,
        "/data/type",
        "no type",
    );
    assert_error(
        &post(json!({"data": {"type": "webhooks", "attributes": "x"}})).await,
        unprocessable,
        "/data/attributes",
        "attributes not an object",
    );
    assert_error(
        &post(json!({"attributes": attributes})).await,
        unprocessable,
        "/data",
        "no data",
    );
    let raw = |content_type: &'static str, body: &'static [u8]| {
        api.send(
            Method::POST,
            "/api/webhooks",
            Some((content_type, body.to_vec())),
        )
    };
    let r = raw(JSONAPI, b"{\"data\": {").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "not JSON: {}", r.doc);
    assert_eq!(r.doc["errors"][0]["status"], "400");
    let body = br#"{"data": {"type": "webhooks", "attributes": {"topic": "imports.create", "callback_url": "http://127.0.0.1:9/hook"}}}"#;
    let r = raw("text/plain", body).await;
    assert_eq!(
        r.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "text/plain: {}",
        r.doc
    );
    assert_eq!(r.doc["errors"][0]["status"], "415");

    // Names are counted in characters; plain JSON is accepted as JSON:API.
    let long = "é".repeat(255);
    let w = api.created(valid(json!({"name": long}))).await;
    assert_eq!(w["attributes"]["name"], long);
    let r = raw("application/json", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.doc);
    assert_eq!(
        env.count("webhooks").await,
        2,
        "no refused create left a webhook"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_urls_to_private_networks_or_of_other_forms_are_refused() {
    let (env, server, api) = setup().await;
    let mut config = env.api_config();
    config.allow_private_networks = false;
    let strict_server = env.spawn_api(config).await;
    let strict = api.on(&strict_server);
    let pointer = "/data/attributes/callback_url";
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    // Each with (a part of) the reason it is refused for.
    let private = "a loopback, private or link-local address";
    let unresolved = "cannot be resolved";
    let scheme = "must be http or https";
    let credentials = "must not hold credentials";
    let not_url = "is not a URL";
    for (url, why) in [
        ("http://127.0.0.1/hook", private),
        ("http://127.0.0.1:9/hook", private),
        ("http://127.1/hook", private),
        ("http://2130706433/hook", private),
        ("http://0x7f.0.0.1/hook", private),
        ("http://localhost/hook", private),
        ("http://10.0.0.1/hook", private),
        ("http://172.16.0.1/hook", private),
        ("http://192.168.1.1/hook", private),
        ("http://100.64.0.1/hook", private),
        (
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254",
        ),
        ("http://0.0.0.0/hook", private),
        ("http://[::1]/hook", private),
        ("http://[::ffff:127.0.0.1]/hook", private),
        ("http://[fd00::1]/hook", private),
        ("http://[fe80::1]/hook", private),
        ("https://127.0.0.1/hook", private),
        ("http://nonexistent.invalid/hook", unresolved),
        ("ftp://example.com/hook", scheme),
        ("file:///etc/passwd", scheme),
        ("gopher://example.com/", scheme),
        ("http://user:secret@example.com/hook", credentials),
        ("http://user@example.com/hook", credentials),
        ("//example.com/hook", not_url),
        ("", not_url),
    ] {
        let reply = strict
            .create(json!({"topic": "imports.create", "callback_url": url}))
            .await;
        assert_error(&reply, unprocessable, pointer, url);
        let detail = reply.1["errors"][0]["detail"].as_str().unwrap();
        assert!(detail.contains(why), "{url}: {detail}");
    }
    assert_eq!(env.count("webhooks").await, 0);

    // An update is checked the same way, and leaves the webhook as it was.
    let w = api
        .created(json!({"topic": "imports.create", "callback_url": HOOK}))
        .await;
    let id = id_of(&w);
    for url in [
        "http://127.0.0.1:9/other",
        "http://[::1]/hook",
        "ftp://example.com/",
    ] {
        let reply = strict.update(&id, json!({"callback_url": url})).await;
        assert_error(&reply, unprocessable, pointer, url);
    }
    assert_error(
        &strict.update(&id, json!({"callback_url": null})).await,
        unprocessable,
        pointer,
        "null callback_url",
    );
    assert_eq!(api.attributes(&id).await["callback_url"], HOOK);

    // In live mode a callback URL must be https, even where private networks are allowed.
    let live = Api::new(&env, &server, "acme", Mode::Live).await;
    let reply = live
        .create(json!({"topic": "imports.create", "callback_url": HOOK}))
        .await;
    assert_error(&reply, unprocessable, pointer, "http in live mode");
    let detail = reply.1["errors"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("must be https"), "{detail}");
    let w = live
        .created(json!({"topic": "imports.create", "callback_url": "https://127.0.0.1:9/hook"}))
        .await;
    let reply = live.update(&id_of(&w), json!({"callback_url": HOOK})).await;
    assert_error(
        &reply,
        unprocessable,
        pointer,
        "update to http in live mode",
    );
    let reply = live
        .on(&strict_server)
        .create(json!({"topic": "imports.create", "callback_url": "https://127.0.0.1:9/hook"}))
        .await;
    assert_error(
        &reply,
        unprocessable,
        pointer,
        "https to loopback in live mode",
    );
    // (https to a public host in live mode needs a resolver and the internet: not tested.)
    strict_server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_change_attributes_and_triggers_act() {
    let (env, _server, api) = setup().await;
    let w = api
        .created(json!({"name": "first", "topic": "imports.create", "callback_url": HOOK, "include_resources": ["events"]}))
        .await;
    let id = id_of(&w);
    let created_at = w["attributes"]["created_at"].as_str().unwrap().to_owned();

    let (status, doc) = api
        .update(
            &id,
            json!({"name": "second", "topic": "imports.complete", "callback_url": "http://127.0.0.1:9/other", "include_resources": null, "reference": "r-2", "metadata": {"a": 1}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["id"], id.as_str());
    let a = &doc["data"]["attributes"];
    assert_eq!(
        (
            &a["name"],
            &a["topic"],
            &a["callback_url"],
            &a["include_resources"]
        ),
        (
            &json!("second"),
            &json!("imports.complete"),
            &json!("http://127.0.0.1:9/other"),
            &Value::Null
        )
    );
    assert_eq!(
        (&a["reference"], &a["metadata"]),
        (&json!("r-2"), &json!({"a": 1}))
    );
    assert_eq!(
        a["shared_secret"],
        Value::Null,
        "the secret is not shown again"
    );
    assert_eq!(a["created_at"], created_at.as_str());
    assert!(
        a["updated_at"].as_str().unwrap() >= created_at.as_str(),
        "{a}"
    );
    assert_eq!(&api.attributes(&id).await, a, "a retrieve shows the update");

    // What is not sent stays; null clears the name and the reference; repeated includes
    // are one.
    let a = api
        .updated(&id, json!({"include_resources": ["events", "events"]}))
        .await;
    assert_eq!(
        (&a["include_resources"], &a["name"], &a["topic"]),
        (
            &json!(["events"]),
            &json!("second"),
            &json!("imports.complete")
        )
    );
    let a = api
        .updated(&id, json!({"name": null, "reference": null}))
        .await;
    assert_eq!((&a["name"], &a["reference"]), (&Value::Null, &Value::Null));
    assert_eq!(a["include_resources"], json!(["events"]));
    // data.id may be left out.
    let (status, doc) = api
        .call(
            Method::PATCH,
            &format!("/api/webhooks/{id}"),
            Some(json!({"data": {"type": "webhooks", "attributes": {"name": "third"}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"]["attributes"]["name"], "third");

    // _disable sets disabled_at (once), _enable clears it, both together are refused.
    let a = api.updated(&id, json!({"_disable": true})).await;
    let disabled_at = a["disabled_at"].as_str().expect("disabled").to_owned();
    let a = api.updated(&id, json!({"_disable": true})).await;
    assert_eq!(
        a["disabled_at"],
        disabled_at.as_str(),
        "disabled since then"
    );
    let a = api.updated(&id, json!({"_disable": false})).await;
    assert_eq!(a["disabled_at"], disabled_at.as_str(), "false does nothing");
    let a = api.updated(&id, json!({"_enable": true})).await;
    assert_eq!(a["disabled_at"], Value::Null);
    assert_error(
        &api.update(&id, json!({"_disable": true, "_enable": true}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/data/attributes/_enable",
        "_disable with _enable",
    );
    assert_eq!(api.attributes(&id).await["disabled_at"], Value::Null);

    // _reset_circuit closes an open circuit and zeroes its failures.
    env.query("UPDATE webhooks SET circuit_state = 'open', circuit_failure_count = 30")
        .await;
    let a = api.attributes(&id).await;
    assert_eq!(
        (&a["circuit_state"], &a["circuit_failure_count"]),
        (&json!("open"), &json!(30))
    );
    let a = api.updated(&id, json!({"_reset_circuit": false})).await;
    assert_eq!(a["circuit_state"], "open", "false does nothing");
    let a = api.updated(&id, json!({"_reset_circuit": true})).await;
    assert_eq!(
        (&a["circuit_state"], &a["circuit_failure_count"]),
        (&json!("closed"), &json!(0))
    );
    assert_eq!(api.attributes(&id).await["circuit_state"], "closed");

    // Refusals, each leaving the webhook as it was.
    let before = api.attributes(&id).await;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    for (attributes, pointer, case) in [
        (
            json!({"topic": null}),
            "/data/attributes/topic",
            "null topic",
        ),
        (
            json!({"topic": "orders.place"}),
            "/data/attributes/topic",
            "unknown topic",
        ),
        (
            json!({"callback_url": null}),
            "/data/attributes/callback_url",
            "null callback_url",
        ),
        (
            json!({"circuit_state": "closed"}),
            "/data/attributes/circuit_state",
            "read-only circuit_state",
        ),
        (
            json!({"shared_secret": "x"}),
            "/data/attributes/shared_secret",
            "read-only shared_secret",
        ),
        (
            json!({"colour": "blue"}),
            "/data/attributes/colour",
            "unknown attribute",
        ),
        (
            json!({"include_resources": ["customer"]}),
            "/data/attributes/include_resources",
            "not includable",
        ),
        (
            json!({"name": "n".repeat(256)}),
            "/data/attributes/name",
            "name too long",
        ),
        (
            json!({"_reset_circuit": "yes"}),
            "/data/attributes/_reset_circuit",
            "_reset_circuit not a boolean",
        ),
    ] {
        let reply = api.update(&id, attributes).await;
        assert_error(&reply, unprocessable, pointer, case);
    }
    let patch = |doc: Value| api.call(Method::PATCH, format!("/api/webhooks/{id}"), Some(doc));
    assert_error(
        &patch(json!({"data": {"type": "webhooks", "id": "other", "attributes": {"name": "x"}}}))
            .await,
        StatusCode::CONFLICT,
        "/data/id",
        "data.id mismatch",
    );
    assert_error(
        &patch(json!({"data": {"type": "imports", "id": id, "attributes": {"name": "x"}}})).await,
        StatusCode::CONFLICT,
        "/data/type",
        "wrong type",
    );
    assert_eq!(api.attributes(&id).await, before);
    let (status, doc) = api.update("nonexistent", json!({"name": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_sort_filter_and_choose_fields() {
    let (env, _server, api) = setup().await;
    let topics = ["imports.create", "imports.start", "imports.complete"];
    let mut created = Vec::new();
    for i in 0..12 {
        let prefix = if i % 2 == 0 { "alpha" } else { "beta" };
        let w = api
            .created(json!({
                "name": format!("{prefix}-{i:02}"),
                "topic": topics[i % 3],
                "callback_url": HOOK,
                "metadata": {"n": i},
            }))
            .await;
        created.push(id_of(&w));
    }

    // Pages: ten by default, in the order of creation.
    let (status, doc) = api.get("/api/webhooks").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(ids_of(&doc), created[..10]);
    assert_eq!(
        (&doc["meta"]["record_count"], &doc["meta"]["page_count"]),
        (&json!(12), &json!(2))
    );
    let links = &doc["links"];
    let base = format!("{}/api/webhooks", api.base);
    assert_eq!(links["first"], format!("{base}?page%5Bnumber%5D=1"));
    assert_eq!(links["last"], format!("{base}?page%5Bnumber%5D=2"));
    assert!(links.get("prev").is_none(), "{links}");
    assert_eq!(
        api.ids(links["next"].as_str().unwrap()).await,
        created[10..]
    );
    assert!(doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|w| w["attributes"]["shared_secret"].is_null() && w["type"] == "webhooks"));

    let (_, doc) = api.get("/api/webhooks?page[size]=5&page[number]=2").await;
    assert_eq!(ids_of(&doc), created[5..10]);
    assert_eq!(doc["meta"]["page_count"], 3);
    let prev = doc["links"]["prev"].as_str().unwrap();
    assert!(prev.contains("page%5Bsize%5D=5"), "{prev}");
    assert_eq!(api.ids(prev).await, created[..5]);
    assert_eq!(
        api.ids(doc["links"]["next"].as_str().unwrap()).await,
        created[10..]
    );
    let (_, doc) = api.get("/api/webhooks?page[size]=5&page[number]=3").await;
    assert_eq!(ids_of(&doc), created[10..]);
    assert!(doc["links"].get("next").is_none(), "{doc}");
    let (_, doc) = api.get("/api/webhooks?page[number]=9").await;
    assert_eq!(
        (ids_of(&doc).len(), &doc["meta"]["record_count"]),
        (0, &json!(12))
    );

    // Sorts.
    let mut newest_first = created.clone();
    newest_first.reverse();
    assert_eq!(
        api.ids("/api/webhooks?sort=-created_at&page[size]=25")
            .await,
        newest_first
    );
    let (_, doc) = api.get("/api/webhooks?sort=-name&page[size]=25").await;
    let names: Vec<&str> = doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["attributes"]["name"].as_str().unwrap())
        .collect();
    let mut expected = names.clone();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(names, expected);
    assert_eq!(names[0], "beta-11");

    // Filters.
    let pick = |which: &dyn Fn(usize) -> bool| -> Vec<String> {
        created
            .iter()
            .enumerate()
            .filter(|(i, _)| which(*i))
            .map(|(_, id)| id.clone())
            .collect()
    };
    let list = |query: &str| api.ids(format!("/api/webhooks?page[size]=25&{query}"));
    assert_eq!(
        list("filter[q][topic_eq]=imports.start").await,
        pick(&|i| i % 3 == 1)
    );
    assert_eq!(
        list("filter[q][topic_in]=imports.create,imports.complete").await,
        pick(&|i| i % 3 != 1)
    );
    assert_eq!(
        list("filter[q][name_start]=alpha").await,
        pick(&|i| i % 2 == 0)
    );
    assert_eq!(
        list("filter[q][name_start]=alpha&filter[q][topic_eq]=imports.create").await,
        pick(&|i| i % 6 == 0)
    );
    assert_eq!(list("filter[q][name_cont]=%25").await, Vec::<String>::new());
    assert_eq!(
        list("filter[q][metadata_jcont]={\"n\": 7}").await,
        pick(&|i| i == 7)
    );
    let ids = format!("{},{}", created[3], created[8]);
    assert_eq!(
        list(&format!("filter[ids]={ids}")).await,
        pick(&|i| i == 3 || i == 8)
    );
    assert_eq!(
        list("filter[q][circuit_state_eq]=open").await,
        Vec::<String>::new()
    );
    env.query(&format!(
        "UPDATE webhooks SET circuit_state = 'open', circuit_failure_count = 30 WHERE id IN ('{}', '{}')",
        created[2], created[9]
    ))
    .await;
    assert_eq!(
        list("filter[q][circuit_state_eq]=open").await,
        pick(&|i| i == 2 || i == 9)
    );
    assert_eq!(
        list("filter[q][circuit_failure_count_gt]=0").await,
        pick(&|i| i == 2 || i == 9)
    );
    assert_eq!(list("filter[q][circuit_state_eq]=closed").await.len(), 10);
    assert_eq!(
        list("filter[q][circuit_failure_count_in]=30,31").await,
        pick(&|i| i == 2 || i == 9)
    );
    assert_eq!(
        list("sort=-circuit_failure_count,created_at&page[size]=2").await,
        pick(&|i| i == 2 || i == 9)
    );
    api.updated(&created[4], json!({"_disable": true})).await;
    assert_eq!(
        list("filter[q][disabled_at_null]=false").await,
        pick(&|i| i == 4)
    );
    let (_, doc) = api
        .get("/api/webhooks?filter[q][topic_eq]=imports.start&page[size]=2")
        .await;
    assert_eq!(
        (&doc["meta"]["record_count"], &doc["meta"]["page_count"]),
        (&json!(4), &json!(2))
    );
    let next = doc["links"]["next"].as_str().unwrap();
    assert!(
        next.contains("filter%5Bq%5D%5Btopic_eq%5D=imports.start"),
        "{next}"
    );
    assert_eq!(api.ids(next).await, pick(&|i| i % 3 == 1)[2..]);

    // Sparse fieldsets.
    let (status, doc) = api.get("/api/webhooks?fields[webhooks]=name,topic").await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    for w in doc["data"].as_array().unwrap() {
        let keys: BTreeSet<&str> = w["attributes"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, BTreeSet::from(["name", "topic"]), "{w}");
    }

    // Bad parameters are 400s naming them.
    let bad = StatusCode::BAD_REQUEST;
    for (query, parameter) in [
        ("sort=colour", "sort"),
        ("sort=shared_secret", "sort"),
        ("sort=metadata", "sort"),
        ("sort=include_resources", "sort"),
        ("filter[q][colour_eq]=x", "filter[q][colour_eq]"),
        (
            "filter[q][shared_secret_eq]=x",
            "filter[q][shared_secret_eq]",
        ),
        (
            "filter[q][shared_secret_start]=a",
            "filter[q][shared_secret_start]",
        ),
        ("filter[q][topic_like]=x", "filter[q][topic_like]"),
        (
            "filter[q][circuit_failure_count_gt]=many",
            "filter[q][circuit_failure_count_gt]",
        ),
        (
            "filter[q][created_at_gteq]=yesterday",
            "filter[q][created_at_gteq]",
        ),
        ("filter[q][metadata_eq]=x", "filter[q][metadata_eq]"),
        ("fields[webhooks]=colour", "fields[webhooks]"),
        ("fields[webhooks]=_disable", "fields[webhooks]"),
        ("fields[imports]=status", "fields[imports]"),
        ("include=events", "include"),
        ("colour=blue", "colour"),
        ("page[size]=26", "page[size]"),
        ("page[size]=0", "page[size]"),
        ("page[number]=0", "page[number]"),
        ("page[number]=x", "page[number]"),
    ] {
        let reply = api.get(&format!("/api/webhooks?{query}")).await;
        assert_error(&reply, bad, parameter, query);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_sees_none_of_a_tenants_webhooks() {
    let (env, server, a_test) = setup().await;
    let a_live = Api::new(&env, &server, "acme", Mode::Live).await;
    let b_test = Api::new(&env, &server, "other", Mode::Test).await;
    let w = a_test
        .created(json!({"name": "mine", "topic": "imports.create", "callback_url": HOOK}))
        .await;
    let id = id_of(&w);
    let theirs = b_test
        .created(json!({"name": "theirs", "topic": "imports.create", "callback_url": HOOK}))
        .await;

    for (who, api) in [("acme live", &a_live), ("other test", &b_test)] {
        for path in [
            format!("/api/webhooks/{id}"),
            format!("/api/webhooks/{id}/last_event_callbacks"),
            format!("/api/webhooks/{id}/relationships/last_event_callbacks"),
        ] {
            let (status, doc) = api.get(&path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{who} {path}: {doc}");
        }
        let (status, doc) = api
            .update(&id, json!({"name": "taken", "_disable": true}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{who} update: {doc}");
        let (status, doc) = api
            .call(Method::DELETE, &format!("/api/webhooks/{id}"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{who} delete: {doc}");
        let listed = api.ids("/api/webhooks").await;
        assert!(!listed.contains(&id), "{who} lists it: {listed:?}");
        let (_, doc) = api.get(&format!("/api/webhooks?filter[ids]={id}")).await;
        assert_eq!(doc["meta"]["record_count"], 0, "{who}: {doc}");
    }
    let a = a_test.attributes(&id).await;
    assert_eq!(
        (&a["name"], &a["disabled_at"]),
        (&json!("mine"), &Value::Null),
        "untouched by the others"
    );
    assert_eq!(a_test.ids("/api/webhooks").await, [id.as_str()]);
    assert_eq!(b_test.ids("/api/webhooks").await, [id_of(&theirs)]);
    assert_eq!(a_live.ids("/api/webhooks").await, Vec::<String>::new());
    let (status, _) = a_test
        .get(&format!("/api/webhooks/{}", id_of(&theirs)))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_and_last_event_callbacks() {
    let (env, _server, api) = setup().await;
    let w = api
        .created(json!({"topic": "imports.complete", "callback_url": HOOK}))
        .await;
    let id = id_of(&w);
    let links = w["relationships"]["last_event_callbacks"]["links"].clone();

    // No call yet: an empty list, with its meta and links.
    let related = links["related"].as_str().unwrap();
    let (status, doc) = api.get(related).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["data"], json!([]));
    assert_eq!(
        (&doc["meta"]["record_count"], &doc["meta"]["page_count"]),
        (&json!(0), &json!(0))
    );
    assert_eq!(doc["links"]["self"], related);
    assert!(doc["links"]["first"].is_string(), "{doc}");
    let (status, doc) = api.get(links["self"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(
        (&doc["data"], &doc["meta"]["record_count"]),
        (&json!([]), &json!(0))
    );
    let bad = StatusCode::BAD_REQUEST;
    for path in ["last_event_callbacks", "relationships/last_event_callbacks"] {
        for (query, parameter) in [
            ("page[size]=26", "page[size]"),
            ("page[number]=0", "page[number]"),
            ("colour=blue", "colour"),
            ("sort=created_at", "sort"),
            (
                "filter[q][response_code_eq]=200",
                "filter[q][response_code_eq]",
            ),
        ] {
            let reply = api.get(&format!("/api/webhooks/{id}/{path}?{query}")).await;
            assert_error(&reply, bad, parameter, &format!("{path}?{query}"));
        }
    }

    // Calls, as the deliverer records them: newest first, a page at a time, Commerce Layer's
    // event_callbacks attributes (response_code a string).
    env.query(&format!(
        "INSERT INTO webhook_callbacks (id, webhook_id, delivery_id, callback_url, payload, \
            response_code, response_message) VALUES \
         ('cb-1', '{id}', gen_random_uuid(), '{HOOK}', '{{\"n\": 1}}', NULL, 'connection refused'), \
         ('cb-2', '{id}', gen_random_uuid(), '{HOOK}', '{{\"n\": 2}}', '500', 'oops'), \
         ('cb-3', '{id}', gen_random_uuid(), '{HOOK}', '{{\"n\": 3}}', '200', 'ok')"
    ))
    .await;
    let (status, doc) = api.get(&format!("{related}?page[size]=2")).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(ids_of(&doc), ["cb-3", "cb-2"]);
    assert_eq!(
        (&doc["meta"]["record_count"], &doc["meta"]["page_count"]),
        (&json!(3), &json!(2))
    );
    let c = &doc["data"][1];
    assert_eq!(c["type"], "event_callbacks");
    assert_eq!(
        (
            &c["attributes"]["callback_url"],
            &c["attributes"]["payload"],
            &c["attributes"]["response_code"],
            &c["attributes"]["response_message"]
        ),
        (
            &json!(HOOK),
            &json!({"n": 2}),
            &json!("500"),
            &json!("oops")
        )
    );
    assert_eq!(c["relationships"]["webhook"]["data"]["id"], id.as_str());
    let next = doc["links"]["next"].as_str().unwrap();
    let (_, doc) = api.get(next).await;
    assert_eq!(ids_of(&doc), ["cb-1"]);
    assert_eq!(doc["data"][0]["attributes"]["response_code"], Value::Null);
    assert!(doc["links"].get("next").is_none(), "{doc}");
    let (_, doc) = api.get(links["self"].as_str().unwrap()).await;
    assert_eq!(ids_of(&doc), ["cb-3", "cb-2", "cb-1"]);
    assert!(doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["type"] == "event_callbacks" && l.get("attributes").is_none()));

    // Delete: 204, then 404 everywhere, its callbacks gone with it.
    let other = api
        .created(json!({"topic": "imports.create", "callback_url": HOOK}))
        .await;
    let r = api
        .send(Method::DELETE, &format!("/api/webhooks/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.doc);
    assert_eq!(r.doc, Value::Null, "no body");
    for path in [
        format!("/api/webhooks/{id}"),
        format!("/api/webhooks/{id}/last_event_callbacks"),
        format!("/api/webhooks/{id}/relationships/last_event_callbacks"),
    ] {
        let (status, doc) = api.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {doc}");
        assert_eq!(doc["errors"][0]["status"], "404");
    }
    let (status, _) = api
        .call(Method::DELETE, &format!("/api/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a second delete");
    let (status, _) = api.update(&id, json!({"name": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an update after the delete");
    assert_eq!(env.count("webhook_callbacks").await, 0);
    assert_eq!(api.ids("/api/webhooks").await, [id_of(&other)]);
    let (status, _) = api.get("/api/webhooks/a%00b").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a NUL in the id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_has_at_most_max_webhooks() {
    let (env, server, api) = setup().await;
    let max = MAX_WEBHOOKS_PER_TENANT as usize;
    assert_eq!(max, 100);
    // A few more than the bound at once: the count and the insert are serialised per tenant.
    let replies = futures::future::join_all((0..max + 5).map(|i| {
        let api = api.clone();
        async move {
            api.create(json!({"name": format!("hook {i}"), "topic": "imports.create", "callback_url": HOOK}))
                .await
        }
    }))
    .await;
    let accepted = replies
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(accepted, max);
    for reply in replies.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_error(
            reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            "/data",
            "past the bound",
        );
    }
    assert_eq!(env.count("webhooks").await, max as i64);
    let (_, doc) = api.get("/api/webhooks").await;
    assert_eq!(doc["meta"]["record_count"], max);

    let one_more = json!({"topic": "imports.create", "callback_url": HOOK});
    let reply = api.create(one_more.clone()).await;
    assert_error(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/data",
        "the 101st",
    );
    let detail = reply.1["errors"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("100"), "{detail}");

    // Another organization, and the same one in live mode, are not bound by these.
    let other = Api::new(&env, &server, "other", Mode::Test).await;
    other.created(one_more.clone()).await;
    let live = Api::new(&env, &server, "acme", Mode::Live).await;
    live.created(json!({"topic": "imports.create", "callback_url": "https://127.0.0.1:9/hook"}))
        .await;

    // A delete makes room for one.
    let id = api.ids("/api/webhooks?page[size]=1").await.remove(0);
    let (status, _) = api
        .call(Method::DELETE, &format!("/api/webhooks/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    api.created(one_more.clone()).await;
    let reply = api.create(one_more).await;
    assert_error(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "/data",
        "full again",
    );
}
