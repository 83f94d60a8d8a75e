//! Bounded reads (issue 15, item 7): the failed-inputs report streams in bounded memory (the
//! real API binary, its VmHWM read from /proc) and a failure once it has started cuts the
//! connection; a list page is one statement (counted on the wire between the API and
//! Postgres) rendered as the retrieve renders; pending imports show a few inputs on a list
//! page and all of them on a retrieve; events go with their import.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imports_common::model::Mode;
use imports_storage::logs::{insert_log_entries, LogEntry, Severity};
use imports_tests::proxy::TcpProxy;
use imports_tests::{binary, skus, ImportSpec, TestEnv};
use reqwest::Client;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Inputs (and errors) of the large report.
const FAILED: usize = 100_000;

/// A failing input of about 400 bytes.
fn failing(i: usize) -> Value {
    json!({"code": format!("BAD{i:06}"), "name": format!("Item {i}"), "description": "d".repeat(330)})
}

/// One error for each of `n` inputs, at their positions.
async fn log_errors(env: &TestEnv, id: &str, n: usize) {
    let entries: Vec<LogEntry> = (0..n)
        .map(|i| LogEntry {
            position: i as i64,
            severity: Severity::Error,
            key: format!("BAD{i:06}"),
            attribute: Some("name".into()),
            message: format!("is not valid ({i})"),
        })
        .collect();
    log_entries(env, id, &entries).await;
}

/// Writes `entries` as the worker does: counted on the import in the same transaction (an
/// import's logs are read only where its counts say it has some).
async fn log_entries(env: &TestEnv, id: &str, entries: &[LogEntry]) {
    let count = |severity| entries.iter().filter(|e| e.severity == severity).count() as i64;
    let mut client = env.pool.get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    insert_log_entries(&tx, id, entries).await.unwrap();
    tx.execute(
        "UPDATE imports SET errors_count = errors_count + $2, warnings_count = warnings_count + $3
         WHERE id = $1",
        &[&id, &count(Severity::Error), &count(Severity::Warning)],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// `VmHWM` and `VmRSS` of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// The API binary serving `env`, stopped when dropped.
struct ApiProcess {
    child: Child,
    base: String,
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn api_process(env: &TestEnv) -> ApiProcess {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(binary("imports-api"))
        .arg("serve")
        .env("DATABASE_URL", &env.database_url)
        .env("AMQP_URL", imports_tests::amqp_url())
        .env("IMPORTS_QUEUE", &env.queue)
        .env("API_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "API_SIGNING_SECRET",
            "bounded-reads-test-secret-of-32-bytes-or-more",
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let api = ApiProcess {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Client::new()
        .get(format!("{}/livez", api.base))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the API did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    api
}

/// Reads a whole body piece by piece (as a client saving it to a file would).
async fn body(resp: reqwest::Response) -> reqwest::Result<Vec<u8>> {
    let mut resp = resp;
    let mut all = Vec::new();
    while let Some(piece) = resp.chunk().await? {
        all.extend_from_slice(&piece);
    }
    Ok(all)
}

#[tokio::test]
async fn a_report_of_100_000_errors_streams_in_bounded_memory() {
    let env = TestEnv::new().await;
    let inputs = Value::Array((0..FAILED).map(failing).collect());
    let big = env.create_import(ImportSpec::json("skus", &inputs)).await;
    log_errors(&env, &big.id, FAILED).await;
    // A tenth of the size: it takes every buffer a report needs (a pool connection's read
    // buffer grows to a chunk of inputs, and the pages may go through each connection).
    let warm_inputs = Value::Array((0..FAILED / 10).map(failing).collect());
    let warm = env
        .create_import(ImportSpec::json("skus", &warm_inputs))
        .await;
    log_errors(&env, &warm.id, FAILED / 10).await;

    let api = api_process(&env).await;
    let token = env.token("org-a", Mode::Test).await;
    let http = Client::new();
    let report = |id: &str, format: &str| {
        http.get(format!(
            "{}/api/imports/{id}/failed_inputs?format={format}",
            api.base
        ))
        .bearer_auth(&token)
        .send()
    };
    // A smaller report first, so that what any report allocates is counted before.
    for format in ["json", "csv"] {
        let resp = report(&warm.id, format).await.unwrap();
        assert_eq!(resp.status(), 200);
        body(resp).await.unwrap();
    }
    let pid = api.child.id();
    let (hwm_before, rss_before) = memory_kib(pid);

    let resp = report(&big.id, "json").await.unwrap();
    assert_eq!(resp.status(), 200);
    let json = body(resp).await.unwrap();
    let (hwm_json, rss_json) = memory_kib(pid);
    let resp = report(&big.id, "csv").await.unwrap();
    assert_eq!(resp.status(), 200);
    let csv = body(resp).await.unwrap();
    let (hwm_after, rss_after) = memory_kib(pid);
    eprintln!(
        "report of {FAILED} errors: JSON {} MB, CSV {} MB; API VmHWM {hwm_before} -> {hwm_json} -> {hwm_after} KiB, VmRSS {rss_before} -> {rss_json} -> {rss_after} KiB",
        json.len() / 1_000_000,
        csv.len() / 1_000_000
    );
    // Each report is over 35 MB (the whole report in memory, once, would be more than
    // that; the report built in memory took several times it); the API's peak grew by a
    // small part of one, ten times the size of the report before.
    assert!(json.len() > 40_000_000 && csv.len() > 35_000_000);
    let grown = hwm_after.saturating_sub(hwm_before);
    assert!(
        grown < 16 * 1024,
        "the API's peak memory grew by {grown} KiB for reports of {} and {} bytes",
        json.len(),
        csv.len()
    );

    // The content: every error with its input, in input order.
    let items: Vec<Value> = serde_json::from_slice(&json).unwrap();
    assert_eq!(items.len(), FAILED);
    for i in [0, 1, 999, 1000, 1001, 54_321, FAILED - 1] {
        assert_eq!(
            items[i],
            json!({"position": i, "key": format!("BAD{i:06}"), "attribute": "name",
                   "message": format!("is not valid ({i})"), "input": failing(i)})
        );
    }
    let mut reader = csv::Reader::from_reader(&csv[..]);
    assert_eq!(
        reader.headers().unwrap(),
        vec!["_row", "_key", "_errors", "code", "name", "description"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), FAILED);
    for i in [0, 1000, FAILED - 1] {
        let row: Vec<&str> = rows[i].iter().collect();
        let description = "d".repeat(330);
        let (row_number, code, name, message) = (
            (i + 1).to_string(),
            format!("BAD{i:06}"),
            format!("Item {i}"),
            format!("name: is not valid ({i})"),
        );
        assert_eq!(
            row,
            vec![
                row_number.as_str(),
                code.as_str(),
                message.as_str(),
                code.as_str(),
                name.as_str(),
                description.as_str()
            ]
        );
    }
}

#[tokio::test]
async fn a_report_that_fails_once_started_cuts_the_connection() {
    let env = TestEnv::new().await;
    let n = 20_000;
    let inputs = Value::Array((0..n).map(failing).collect());
    let import = env.create_import(ImportSpec::json("skus", &inputs)).await;
    log_errors(&env, &import.id, n).await;
    let (proxy, url) = TcpProxy::for_url(&env.database_url, 5432).await;
    let mut config = env.api_config();
    config.services.database_url = url;
    let api = env.spawn_api(config).await;
    let token = env.token("org-a", Mode::Test).await;

    let mut resp = Client::new()
        .get(format!(
            "{}/api/imports/{}/failed_inputs?format=json",
            api.base_url, import.id
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let first = resp.chunk().await.unwrap().expect("a first piece");
    assert!(first.starts_with(b"[{\"position\":0"));
    // Postgres becomes unreachable while the report is sent: the next chunk of inputs cannot
    // be fetched (after the retries of INPUT_FETCH).
    proxy.cut();
    let mut received = first.len();
    let ended = tokio::time::timeout(Duration::from_secs(90), async {
        loop {
            match resp.chunk().await {
                Ok(Some(piece)) => received += piece.len(),
                Ok(None) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    })
    .await
    .expect("the report ends within 90 s");
    assert!(
        ended.is_err(),
        "a report cut short ended as if whole after {received} bytes"
    );
    proxy.restore();
    api.stop().await;
}

/// A proxy to Postgres that records the SQL text of every statement sent through it (the
/// `Query` messages of the frontend protocol, and the `Bind` of each prepared statement).
struct StatementLog {
    addr: SocketAddr,
    sql: Arc<Mutex<Vec<String>>>,
}

impl StatementLog {
    async fn start(target: &str) -> StatementLog {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sql: Arc<Mutex<Vec<String>>> = Arc::default();
        let (log, target) = (sql.clone(), target.to_owned());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&target).await.unwrap();
                tokio::spawn(relay(client, server, log.clone()));
            }
        });
        StatementLog { addr, sql }
    }

    /// The statements since the last call that read the imports' tables.
    fn take_import_reads(&self) -> Vec<String> {
        std::mem::take(&mut *self.sql.lock().unwrap())
            .into_iter()
            .filter(|s| {
                [
                    "imports",
                    "import_log_entries",
                    "import_inputs",
                    "import_events",
                ]
                .iter()
                .any(|t| s.contains(&format!("FROM {t}")))
                    && !s.contains("import_outbox")
            })
            .collect()
    }
}

async fn relay(client: TcpStream, server: TcpStream, log: Arc<Mutex<Vec<String>>>) {
    let (client_read, mut client_write) = client.into_split();
    let (mut server_read, server_write) = server.into_split();
    tokio::spawn(async move { tokio::io::copy(&mut server_read, &mut client_write).await });
    let _ = frontend(client_read, server_write, log).await;
}

/// Forwards what the API sends to Postgres, logging the SQL of each statement.
async fn frontend(
    mut client_read: tokio::net::tcp::OwnedReadHalf,
    mut server_write: tokio::net::tcp::OwnedWriteHalf,
    log: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    // The startup packets have no type byte (an SSL or GSS request may come first).
    loop {
        let len = client_read.read_i32().await? as usize;
        let mut rest = vec![0; len - 4];
        client_read.read_exact(&mut rest).await?;
        server_write.write_i32(len as i32).await?;
        server_write.write_all(&rest).await?;
        let code = i32::from_be_bytes(rest[..4].try_into().unwrap());
        if code != 80877103 && code != 80877104 {
            break;
        }
    }
    // A prepared statement is parsed once and bound at each execution: the SQL of each
    // statement name, from its Parse, is logged at every Bind.
    let mut prepared: HashMap<Vec<u8>, String> = HashMap::new();
    loop {
        let kind = client_read.read_u8().await?;
        let len = client_read.read_i32().await? as usize;
        let mut rest = vec![0; len - 4];
        client_read.read_exact(&mut rest).await?;
        let mut parts = rest.split(|b| *b == 0);
        let executed = match kind {
            b'Q' => parts
                .next()
                .map(|t| String::from_utf8_lossy(t).into_owned()),
            b'P' => {
                let name = parts.next().unwrap_or_default().to_vec();
                let text = String::from_utf8_lossy(parts.next().unwrap_or_default());
                prepared.insert(name, text.into_owned());
                None
            }
            b'B' => {
                let _portal = parts.next();
                parts.next().and_then(|name| prepared.get(name)).cloned()
            }
            _ => None,
        };
        if let Some(text) = executed {
            log.lock().unwrap().push(text);
        }
        server_write.write_u8(kind).await?;
        server_write.write_i32(len as i32).await?;
        server_write.write_all(&rest).await?;
    }
}

/// A resource without the signature of its attachment URL (a signature expires a fixed time
/// after it is made: two reads a second apart differ there).
fn unsigned(resource: &Value) -> Value {
    let mut resource = resource.clone();
    if let Some(url) = resource["attributes"]["attachment_url"].as_str() {
        let bare = url.split('?').next().unwrap_or_default().to_owned();
        resource["attributes"]["attachment_url"] = Value::String(bare);
    }
    resource
}

async fn get(http: &Client, url: &str, token: &str) -> Value {
    let resp = http.get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{url}");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn a_list_page_is_one_statement_rendered_as_each_retrieve() {
    let env = TestEnv::new().await;
    let log = StatementLog::start("127.0.0.1:5432").await;
    let server = imports_tests::postgres_server();
    let (_, rest) = server.rsplit_once('@').unwrap();
    let url = env.database_url.replace(rest, &log.addr.to_string());
    let mut config = env.api_config();
    config.services.database_url = url;
    let api = env.spawn_api(config).await;
    let token = env.token("org-a", Mode::Test).await;
    // Imports with errors and warnings, pending with their inputs, one started and ended.
    let mut ids = Vec::new();
    for k in 0..4 {
        let inputs = Value::Array((0..3 + k).map(failing).collect());
        let import = env.create_import(ImportSpec::json("skus", &inputs)).await;
        log_errors(&env, &import.id, k).await;
        ids.push(import.id);
    }
    let csv = env
        .create_import(ImportSpec::csv("skus", "code;name\nA;a\nB;b\n").delimiter(b';'))
        .await;
    ids.push(csv.id);
    let warning = LogEntry {
        position: 1,
        severity: Severity::Warning,
        key: "BAD000001".into(),
        attribute: None,
        message: "nothing changed".into(),
    };
    log_entries(&env, &ids[1], &[warning]).await;
    let http = Client::new();
    let interrupt =
        json!({"data": {"type": "imports", "id": ids[2], "attributes": {"_interrupt": true}}});
    let resp = http
        .patch(format!("{}/api/imports/{}", api.base_url, ids[2]))
        .bearer_auth(&token)
        .header("content-type", "application/vnd.api+json")
        .body(interrupt.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    for query in [
        "",
        "include=events",
        "include=events&fields[imports]=status,inputs,errors_log&fields[events]=name",
        "sort=-created_at&page[size]=2&page[number]=2",
        "fields[imports]=inputs_size,warnings_log",
        "page[number]=9",
    ] {
        let list_url = format!("{}/api/imports?{query}", api.base_url);
        get(&http, &list_url, &token).await; // connections opened, token checked
        log.take_import_reads();
        let page = get(&http, &list_url, &token).await;
        let reads = log.take_import_reads();
        assert_eq!(reads.len(), 1, "{query}: {reads:#?}");
        // Each import of the page is rendered as its retrieve renders it.
        let picked: Vec<&str> = query
            .split('&')
            .filter(|p| p.starts_with("fields[") || p.starts_with("include"))
            .collect();
        let mut included = Vec::new();
        for resource in page["data"].as_array().unwrap() {
            let id = resource["id"].as_str().unwrap();
            let one = get(
                &http,
                &format!("{}/api/imports/{id}?{}", api.base_url, picked.join("&")),
                &token,
            )
            .await;
            assert_eq!(unsigned(resource), unsigned(&one["data"]), "{query}: {id}");
            included.extend(one["included"].as_array().cloned().unwrap_or_default());
        }
        if query.contains("include") {
            included.sort_by_key(|e| e["id"].as_str().unwrap().parse::<i64>().unwrap());
            assert_eq!(page["included"], Value::Array(included), "{query}");
        }
    }
    let page = get(&http, &format!("{}/api/imports", api.base_url), &token).await;
    assert_eq!(page["meta"]["record_count"], 5);
    assert_eq!(
        page["data"][1]["attributes"]["errors_log"]["BAD000000"]["name"],
        json!(["is not valid (0)"])
    );
    assert_eq!(
        page["data"][1]["attributes"]["warnings_log"]["BAD000001"],
        json!(["nothing changed"])
    );
    assert_eq!(
        page["data"][4]["attributes"]["inputs"],
        "code;name\nA;a\nB;b\n"
    );
    let empty = get(
        &http,
        &format!("{}/api/imports?page[number]=9", api.base_url),
        &token,
    )
    .await;
    assert_eq!(empty["data"], json!([]));
    assert_eq!(empty["meta"]["record_count"], 5);
    api.stop().await;
}

#[tokio::test]
async fn pending_inputs_are_a_few_on_a_list_page_and_all_on_a_retrieve() {
    let env = TestEnv::new().await;
    let api = env.spawn_api(env.api_config()).await;
    let token = env.token("org-a", Mode::Test).await;
    let inputs = skus(10_000);
    let json_import = env.create_import(ImportSpec::json("skus", &inputs)).await;
    let rows: String = (0..10_000)
        .map(|i| format!("SKU{i:06};\"Item\n{i}\"\n"))
        .collect();
    let text = format!("code;name\n{rows}");
    let csv_import = env
        .create_import(ImportSpec::csv("skus", &text).delimiter(b';'))
        .await;
    let http = Client::new();
    let shown = imports_api::render::LIST_INPUTS_MAX;

    let page = get(&http, &format!("{}/api/imports", api.base_url), &token).await;
    let listed = |id: &str| {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["attributes"]
            .clone()
    };
    let a = listed(&json_import.id);
    assert_eq!(
        a["inputs"],
        Value::Array(inputs.as_array().unwrap()[..shown].to_vec())
    );
    assert_eq!(a["inputs_size"], 10_000);
    let a = listed(&csv_import.id);
    let first: String = (0..shown)
        .map(|i| format!("SKU{i:06};\"Item\n{i}\"\n"))
        .collect();
    assert_eq!(a["inputs"], format!("code;name\n{first}"));
    assert!(
        page.to_string().len() < 64 * 1024,
        "a page of two pending imports of 10,000 inputs is {} bytes",
        page.to_string().len()
    );

    let one = get(
        &http,
        &format!("{}/api/imports/{}", api.base_url, json_import.id),
        &token,
    )
    .await;
    assert_eq!(one["data"]["attributes"]["inputs"], inputs);
    let one = get(
        &http,
        &format!("{}/api/imports/{}", api.base_url, csv_import.id),
        &token,
    )
    .await;
    assert_eq!(one["data"]["attributes"]["inputs"], text);
    api.stop().await;
}

#[tokio::test]
async fn events_go_with_their_import() {
    let env = TestEnv::new().await;
    let api = env.spawn_api(env.api_config()).await;
    let token = env.token("org-a", Mode::Test).await;
    let inputs = skus(3);
    let kept = env.create_import(ImportSpec::json("skus", &inputs)).await;
    let deleted = env.create_import(ImportSpec::json("skus", &inputs)).await;
    {
        let mut client = env.pool.get().await.unwrap();
        imports_storage::imports::request_interrupt(&mut client, &deleted.id)
            .await
            .unwrap();
    }
    assert_eq!(
        env.event_names(&deleted.id).await,
        ["imports.create", "imports.interrupt"]
    );
    let resp = Client::new()
        .delete(format!("{}/api/imports/{}", api.base_url, deleted.id))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert!(env.event_names(&deleted.id).await.is_empty());
    assert_eq!(env.event_names(&kept.id).await, ["imports.create"]);
    // An event can only be about an import that exists.
    let client = env.pool.get().await.unwrap();
    let orphan = imports_storage::lifecycle::record_event(
        &**client,
        &deleted.id,
        "imports.start",
        json!({}),
    )
    .await;
    assert!(orphan.is_err(), "an event of a deleted import was stored");
    api.stop().await;
}
