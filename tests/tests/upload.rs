//! A create's body is streamed (api/src/upload/): the inputs are stored while they arrive,
//! whatever the order of the attributes, and a body that turns out bad is refused with nothing
//! left behind. Bodies are sent over a raw connection so that chunked uploads without a
//! Content-Length, and uploads cut short, can be tested too.

use std::time::{Duration, Instant};

use imports_common::model::Mode;
use imports_tests::TestEnv;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `body` in HTTP/1.1 chunks of `piece` bytes (no Content-Length); returns the status
/// and the JSON answer. `cut` stops the upload after that many bytes and closes the sending
/// side, as a client that dies mid-upload would.
async fn post_chunked(
    base: &str,
    token: &str,
    body: &[u8],
    piece: usize,
    cut: Option<usize>,
) -> (u16, Value) {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/imports HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/vnd.api+json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let end = cut.unwrap_or(body.len()).min(body.len());
    for part in body[..end].chunks(piece) {
        let framed = [
            format!("{:x}\r\n", part.len()).as_bytes(),
            part,
            b"\r\n".as_slice(),
        ]
        .concat();
        if stream.write_all(&framed).await.is_err() {
            break; // the server answered early and closed
        }
    }
    if cut.is_none() {
        let _ = stream.write_all(b"0\r\n\r\n").await;
    } else {
        let _ = stream.shutdown().await;
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body_text = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    // The answer may itself be chunked: take the JSON object inside.
    let json = match (body_text.find('{'), body_text.rfind('}')) {
        (Some(a), Some(b)) => serde_json::from_str(&body_text[a..=b]).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, json)
}

fn document(attributes: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"data": {"type": "imports", "attributes": attributes}})).unwrap()
}

async fn stored_chunks(env: &TestEnv) -> i64 {
    env.query("SELECT count(*) FROM import_inputs").await[0].get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_are_stored_as_they_arrive_in_any_order_of_attributes() {
    let env = TestEnv::new().await;
    let api = env.spawn_api(env.api_config()).await;
    let token = env.token("acme", Mode::Test).await;
    let worker = env.spawn_worker(env.worker_config(1, 500, 10));

    // CSV text first, the attributes that say what it is after it; escapes, quoted
    // newlines and unicode, over more than one stored chunk (1 MiB).
    let mut csv = String::from("code,name,description,do_not_ship\n");
    for i in 0..6000 {
        csv.push_str(&format!(
            "UP{i:05},\"Été \"\"{i}\"\" 😀\",\"{}\nline two\",true\n",
            "d".repeat(200)
        ));
    }
    let body = format!(
        r#"{{"data": {{"attributes": {{"inputs": {}, "format": "csv", "resource_type": "skus", "reference": "streamed"}}, "type": "imports"}}}}"#,
        serde_json::to_string(&csv).unwrap()
    );
    let (status, doc) = post_chunked(&api.base_url, &token, body.as_bytes(), 4093, None).await;
    assert_eq!(status, 201, "{doc}");
    let id = doc["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(doc["data"]["attributes"]["inputs_size"], 6000);
    assert_eq!(doc["data"]["attributes"]["reference"], "streamed");
    assert_eq!(doc["data"]["attributes"]["dry_run"], false);
    assert!(stored_chunks(&env).await > 1);
    let import = env.wait_final(&id, Duration::from_secs(60)).await;
    assert_eq!(import.processed_count, 6000, "{:?}", import.errors_log);
    assert_eq!(import.errors_count, 0);
    let row = env
        .query("SELECT name, description FROM skus WHERE code = 'UP00042'")
        .await;
    assert_eq!(row[0].get::<_, String>(0), "Été \"42\" 😀");
    assert!(row[0].get::<_, String>(1).ends_with("\nline two"));

    // A JSON array between other attributes, sent in tiny pieces.
    let inputs: Vec<Value> = (0..50)
        .map(|i| json!({"code": format!("ARR{i}"), "name": format!("n{i}"), "do_not_ship": true}))
        .collect();
    let body = serde_json::to_vec(&json!({"data": {"type": "imports", "attributes": {
        "resource_type": "skus", "inputs": inputs, "metadata": {"after": "inputs"}}}}))
    .unwrap();
    let (status, doc) = post_chunked(&api.base_url, &token, &body, 7, None).await;
    assert_eq!(status, 201, "{doc}");
    let id = doc["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(doc["data"]["attributes"]["metadata"]["after"], "inputs");
    assert_eq!(
        env.wait_final(&id, Duration::from_secs(30))
            .await
            .processed_count,
        50
    );
    worker.stop().await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_body_is_refused_and_leaves_nothing_behind() {
    let env = TestEnv::new().await;
    let mut config = env.api_config();
    config.max_inputs = 100;
    config.max_body_bytes = 6 * 1024 * 1024;
    let api = env.spawn_api(config).await;
    let token = env.token("acme", Mode::Test).await;
    let base = api.base_url.clone();
    let many = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"code": format!("M{i}"), "name": "m", "do_not_ship": true}))
            .collect()
    };

    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "more inputs than the limit, the limit named",
            document(json!({"inputs": many(150), "resource_type": "skus"})),
            422,
            "limit of 100",
        ),
        (
            "a chunked body over the size limit",
            document(json!({"resource_type": "skus", "format": "csv",
                "inputs": format!("code,name\n{}", "A,b\n".repeat(1_800_000))})),
            413,
            "larger than",
        ),
        (
            "dry_run that is not a boolean",
            document(json!({"resource_type": "skus", "inputs": many(1), "dry_run": "yes"})),
            422,
            "dry_run must be true or false",
        ),
        (
            "inputs given twice",
            br#"{"data":{"type":"imports","attributes":{"resource_type":"skus","inputs":[{"code":"a","name":"b"}],"inputs":[]}}}"#.to_vec(),
            400,
            "given twice",
        ),
        (
            "the body ends inside the inputs",
            br#"{"data":{"type":"imports","attributes":{"resource_type":"skus","inputs":[{"code":"a","name":"b"},"#.to_vec(),
            400,
            "ends",
        ),
        (
            "an unknown attribute after the inputs",
            document(json!({"inputs": many(3), "resource_type": "skus", "colour": "red"})),
            422,
            "colour",
        ),
        (
            "a format that contradicts the inputs, given after them",
            document(json!({"inputs": many(3), "resource_type": "skus", "format": "csv"})),
            422,
            "with format csv",
        ),
        (
            "an unreadable element of the array",
            br#"{"data":{"type":"imports","attributes":{"resource_type":"skus","inputs":[{"code":"a","n":1e400}]}}}"#.to_vec(),
            400,
            "",
        ),
        (
            "a lone surrogate in CSV text",
            br#"{"data":{"type":"imports","attributes":{"resource_type":"skus","format":"csv","inputs":"code,name\n\ud800,x\n"}}}"#.to_vec(),
            400,
            "surrogate",
        ),
        (
            "a control character in CSV text",
            b"{\"data\":{\"type\":\"imports\",\"attributes\":{\"resource_type\":\"skus\",\"format\":\"csv\",\"inputs\":\"code,name\n\tA,x\"}}}".to_vec(),
            400,
            "control character",
        ),
        (
            "the attributes besides the inputs are over 4 MiB",
            document(json!({"resource_type": "skus", "inputs": many(1), "metadata": {"big": "x".repeat(5_000_000)}})),
            413,
            "larger than",
        ),
        (
            "large metadata within the limits is accepted",
            document(json!({"resource_type": "skus", "inputs": many(1), "metadata": {"big": "x".repeat(200_000)}})),
            201,
            "",
        ),
    ];
    for (what, body, expected, detail) in cases {
        let (status, doc) = post_chunked(&base, &token, &body, 8192, None).await;
        assert_eq!(status, expected, "{what}: {doc}");
        if expected != 201 {
            let error = doc["errors"][0]["detail"].as_str().unwrap_or_default();
            assert!(error.contains(detail), "{what}: {doc}");
        }
    }

    // A client that dies mid-upload: nothing is stored, and the API goes on serving.
    let body = document(json!({"resource_type": "skus", "inputs": many(90)}));
    let (status, _) = post_chunked(&base, &token, &body, 512, Some(body.len() / 2)).await;
    assert_ne!(status, 201);

    // Only the one accepted import left rows behind: the refused ones rolled back the
    // chunks they had stored.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let imports: i64 = env.query("SELECT count(*) FROM imports").await[0].get(0);
        let orphans: i64 = env
            .query("SELECT count(*) FROM import_inputs WHERE import_id NOT IN (SELECT id FROM imports)")
            .await[0]
            .get(0);
        if (imports, orphans) == (1, 0) && stored_chunks(&env).await == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "imports {imports}, orphan chunks {orphans}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    api.stop().await;
}
