//! `importctl webhooks` driven as a real process against an API (and, for the callbacks and
//! the circuit, a worker delivering) in this process, on real Postgres and RabbitMQ.

use std::time::{Duration, Instant};

use imports_common::model::Mode;
use imports_tests::importctl::Run;
use imports_tests::{binary, skus, InProcessApi, TestEnv};
use serde_json::{json, Value};

/// Nothing listens there: every call fails at once (the test API and worker allow loopback
/// callback URLs).
const CALLBACK_URL: &str = "http://127.0.0.1:9/hook";

/// The output of a run, read as text.
/// Runs `importctl webhooks <args>` against `api` with `token`.
async fn webhooks(api: &InProcessApi, token: &str, args: &[&str]) -> Run {
    let args: Vec<&str> = std::iter::once("webhooks")
        .chain(args.iter().copied())
        .collect();
    imports_tests::importctl::run(&api.base_url, Some(token), &args, Duration::from_secs(60)).await
}

/// The ids in the first column of a table's rows (its header left out).
fn listed_ids(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("page ") && !l.starts_with("no webhooks"))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// The value of an ATTRIBUTE/VALUE table's row.
fn attribute<'a>(stdout: &'a str, name: &str) -> Option<&'a str> {
    stdout.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        rest.starts_with(' ').then(|| rest.trim())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_created_listed_shown_reset_and_deleted() {
    binary("importctl");
    let env = TestEnv::new().await;
    let api = env.spawn_api(env.api_config()).await;
    let token = env.token("acme", Mode::Test).await;
    // Its circuit opens after two failed calls, so that `reset` has one to close.
    let mut config = env.worker_config(1, 100, 30);
    config.webhooks.circuit_threshold = 2;
    let worker = env.spawn_worker(config);

    // create: the webhook with its secret, shown once and said to be.
    let out = webhooks(
        &api,
        &token,
        &[
            "create",
            "--topic",
            "imports.create",
            "--url",
            CALLBACK_URL,
            "--name",
            "created imports",
            "--include",
            "events",
        ],
    )
    .await
    .expect(0);
    let first_line = out.stdout.lines().next().unwrap_or_default();
    let id = first_line
        .strip_prefix("created webhook ")
        .and_then(|l| l.strip_suffix(" on imports.create"))
        .unwrap_or_else(|| panic!("{}", out.stdout))
        .to_owned();
    let secret =
        attribute(&out.stdout, "shared_secret").unwrap_or_else(|| panic!("{}", out.stdout));
    assert_eq!(secret.len(), 32, "{}", out.stdout);
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()), "{secret}");
    assert!(
        out.stdout.contains("shown only this once"),
        "{}",
        out.stdout
    );
    assert_eq!(attribute(&out.stdout, "callback_url"), Some(CALLBACK_URL));
    assert_eq!(attribute(&out.stdout, "include_resources"), Some("events"));
    assert_eq!(attribute(&out.stdout, "name"), Some("created imports"));

    // --json: the API's document, secret included. (On imports.destroy, which nothing below
    // triggers: only the first webhook is called.)
    let doc = webhooks(
        &api,
        &token,
        &[
            "create",
            "--topic",
            "imports.destroy",
            "--url",
            CALLBACK_URL,
            "--json",
        ],
    )
    .await
    .expect(0)
    .json();
    let second = doc["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(doc["data"]["type"], "webhooks");
    assert_eq!(doc["data"]["attributes"]["topic"], "imports.destroy");
    assert_eq!(
        doc["data"]["attributes"]["shared_secret"]
            .as_str()
            .map(str::len),
        Some(32)
    );

    // list, and its filters.
    let out = webhooks(&api, &token, &["list"]).await.expect(0);
    assert_eq!(
        listed_ids(&out.stdout),
        [id.as_str(), second.as_str()],
        "{}",
        out.stdout
    );
    assert!(out.stdout.starts_with("ID "), "{}", out.stdout);
    assert!(out.stdout.contains("circuit closed"), "{}", out.stdout);
    assert!(
        out.stdout.contains("page 1 of 1 · 2 webhook(s)"),
        "{}",
        out.stdout
    );
    let out = webhooks(&api, &token, &["list", "--topic", "imports.destroy"])
        .await
        .expect(0);
    assert_eq!(listed_ids(&out.stdout), [second.as_str()], "{}", out.stdout);
    let doc = webhooks(
        &api,
        &token,
        &["list", "--topic", "imports.create", "--json"],
    )
    .await
    .expect(0)
    .json();
    assert_eq!(doc["meta"]["record_count"], 1);
    assert_eq!(doc["data"][0]["id"], id.as_str());
    let out = webhooks(&api, &token, &["list", "--page", "2", "--size", "1"])
        .await
        .expect(0);
    assert_eq!(listed_ids(&out.stdout), [second.as_str()], "{}", out.stdout);
    assert!(
        out.stdout.contains("page 2 of 2 · 2 webhook(s)"),
        "{}",
        out.stdout
    );
    let out = webhooks(&api, &token, &["list", "--circuit", "open"])
        .await
        .expect(0);
    assert!(out.stdout.starts_with("no webhooks\n"), "{}", out.stdout);
    // Another tenant sees none of them.
    let other = env.token("globex", Mode::Test).await;
    let out = webhooks(&api, &other, &["list"]).await.expect(0);
    assert!(out.stdout.contains("0 webhook(s)"), "{}", out.stdout);

    // show: no secret any more; no callback yet.
    let out = webhooks(&api, &token, &["show", &id]).await.expect(0);
    assert_eq!(attribute(&out.stdout, "id"), Some(id.as_str()));
    assert_eq!(attribute(&out.stdout, "mode"), Some("test"));
    assert_eq!(attribute(&out.stdout, "topic"), Some("imports.create"));
    assert_eq!(attribute(&out.stdout, "circuit_state"), Some("closed"));
    assert!(!out.stdout.contains("shared_secret"), "{}", out.stdout);
    assert!(!out.stdout.contains(secret), "{}", out.stdout);
    let doc = webhooks(&api, &token, &["show", &id, "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(doc["data"]["attributes"]["shared_secret"], Value::Null);
    let out = webhooks(&api, &token, &["show", &id, "--callbacks"])
        .await
        .expect(0);
    assert!(
        out.stdout
            .contains("last event callbacks (0 of 0, newest first):\n  none yet"),
        "{}",
        out.stdout
    );

    // An import created calls the imports.create webhook: each call fails (nothing listens),
    // and after two its circuit is open.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/imports", api.base_url))
        .bearer_auth(&token)
        .header("Content-Type", "application/vnd.api+json")
        .json(&json!({"data": {"type": "imports", "attributes": {
            "resource_type": "skus", "inputs": skus(2)}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let deadline = Instant::now() + Duration::from_secs(60);
    let listed = loop {
        let out = webhooks(&api, &token, &["list", "--circuit", "open"])
            .await
            .expect(0);
        if !listed_ids(&out.stdout).is_empty() {
            break out;
        }
        assert!(
            Instant::now() < deadline,
            "no circuit opened: {}",
            out.stdout
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        listed_ids(&listed.stdout),
        [id.as_str()],
        "{}",
        listed.stdout
    );
    assert!(listed.stdout.contains("circuit open"), "{}", listed.stdout);

    let out = webhooks(&api, &token, &["show", &id, "--callbacks"])
        .await
        .expect(0);
    assert_eq!(attribute(&out.stdout, "circuit_state"), Some("open"));
    assert_eq!(attribute(&out.stdout, "circuit_failure_count"), Some("2"));
    let calls = out
        .stdout
        .split("last event callbacks (")
        .nth(1)
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(
        calls.starts_with("2 of 2, newest first):\n"),
        "{}",
        out.stdout
    );
    let rows: Vec<&str> = calls.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "a header and two calls: {}", out.stdout);
    assert!(rows[0].trim_start().starts_with("TIME"), "{}", out.stdout);
    for row in &rows[1..] {
        // No answer: no code, and why in the message.
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert!(cells[0].starts_with("20"), "a time first: {row}");
        assert_eq!(cells[1], "-", "{row}");
        assert!(cells.len() > 2, "a message: {row}");
    }
    let doc = webhooks(&api, &token, &["show", &id, "--callbacks", "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(doc["webhook"]["data"]["id"], id.as_str());
    let calls = doc["last_event_callbacks"]["data"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["type"], "event_callbacks");
    assert_eq!(calls[0]["attributes"]["callback_url"], CALLBACK_URL);
    assert_eq!(calls[0]["attributes"]["response_code"], Value::Null);

    // reset: the circuit closed and the failures zeroed.
    let out = webhooks(&api, &token, &["reset", &id]).await.expect(0);
    assert_eq!(
        out.stdout.trim(),
        format!("reset the circuit of webhook {id}: closed, 0 failure(s)")
    );
    let out = webhooks(&api, &token, &["list", "--circuit", "open"])
        .await
        .expect(0);
    assert!(listed_ids(&out.stdout).is_empty(), "{}", out.stdout);
    // No import is created meanwhile, so nothing calls it again and opens it anew.
    let doc = webhooks(&api, &token, &["show", &id, "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(doc["data"]["attributes"]["circuit_state"], "closed");
    assert_eq!(doc["data"]["attributes"]["circuit_failure_count"], 0);

    // disable and enable.
    let out = webhooks(&api, &token, &["disable", &second])
        .await
        .expect(0);
    assert!(
        out.stdout
            .starts_with(&format!("disabled webhook {second} (since 20")),
        "{}",
        out.stdout
    );
    let out = webhooks(&api, &token, &["list", "--topic", "imports.destroy"])
        .await
        .expect(0);
    assert!(out.stdout.contains(" disabled "), "{}", out.stdout);
    let doc = webhooks(&api, &token, &["enable", &second, "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(doc["data"]["attributes"]["disabled_at"], Value::Null);

    // delete, then it is not found: exit 2 with the API's error.
    let out = webhooks(&api, &token, &["delete", &id]).await.expect(0);
    assert_eq!(out.stdout.trim(), format!("deleted webhook {id}"));
    let out = webhooks(&api, &token, &["show", &id]).await.expect(2);
    assert!(
        out.stderr
            .contains("error: 404 Record not found: webhook not found"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let out = webhooks(&api, &token, &["delete", &id, "--json"])
        .await
        .expect(2);
    assert!(out.stderr.contains("404"), "{}", out.stderr);
    webhooks(&api, &token, &["reset", &id]).await.expect(2);
    // Another tenant's webhook is not found either.
    webhooks(&api, &other, &["show", &second]).await.expect(2);
    let doc = webhooks(&api, &token, &["list", "--json"])
        .await
        .expect(0)
        .json();
    assert_eq!(doc["meta"]["record_count"], 1);

    worker.stop().await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_webhooks_show_the_api_s_error_and_exit_2() {
    binary("importctl");
    let env = TestEnv::new().await;
    let api = env.spawn_api(env.api_config()).await;
    let token = env.token("acme", Mode::Test).await;

    // A topic the API does not know: its 422, with the attribute its pointer names.
    let out = webhooks(
        &api,
        &token,
        &["create", "--topic", "imports.done", "--url", CALLBACK_URL],
    )
    .await
    .expect(2);
    assert!(
        out.stderr.contains(
            "error: 422 topic: topic must be one of imports.create, imports.start, imports.complete, imports.interrupt, imports.destroy"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let out = webhooks(
        &api,
        &token,
        &[
            "create",
            "--topic",
            "imports.complete",
            "--url",
            "ftp://example.com/hook",
        ],
    )
    .await
    .expect(2);
    assert!(
        out.stderr
            .contains("error: 422 callback_url: callback_url must be http or https, not ftp"),
        "{}",
        out.stderr
    );
    let out = webhooks(
        &api,
        &token,
        &[
            "create",
            "--topic",
            "imports.complete",
            "--url",
            CALLBACK_URL,
            "--include",
            "inputs",
        ],
    )
    .await
    .expect(2);
    assert!(
        out.stderr
            .contains("error: 422 include_resources: cannot include 'inputs'"),
        "{}",
        out.stderr
    );
    // A live token: http is refused.
    let live = env.token("acme", Mode::Live).await;
    let out = webhooks(
        &api,
        &live,
        &[
            "create",
            "--topic",
            "imports.complete",
            "--url",
            CALLBACK_URL,
        ],
    )
    .await
    .expect(2);
    assert!(
        out.stderr
            .contains("error: 422 callback_url: callback_url must be https in live mode"),
        "{}",
        out.stderr
    );
    // Nothing was created.
    let out = webhooks(&api, &token, &["list"]).await.expect(0);
    assert!(out.stdout.starts_with("no webhooks\n"), "{}", out.stdout);

    // A bad filter of list is told before any request; so is a missing option.
    let out = webhooks(&api, &token, &["list", "--topic", "imports.done"])
        .await
        .expect(2);
    assert!(
        out.stderr.contains("'imports.done' is not a topic"),
        "{}",
        out.stderr
    );
    let out = webhooks(&api, &token, &["list", "--circuit", "half"])
        .await
        .expect(2);
    assert!(out.stderr.contains("open or closed"), "{}", out.stderr);
    webhooks(&api, &token, &["create", "--topic", "imports.complete"])
        .await
        .expect(2);
    // A bad token: the API's 401 with the hint.
    let out = webhooks(&api, "imp_not-a-token", &["list"]).await.expect(2);
    assert!(out.stderr.contains("401"), "{}", out.stderr);

    api.stop().await;
}
