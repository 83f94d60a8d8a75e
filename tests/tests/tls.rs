//! HTTPS (`API_TLS_CERT`, `API_TLS_KEY`): real TLS with a self-signed certificate made at
//! test time, the API in process and as the real `imports-api` binary, clients that trust
//! the certificate and clients that do not.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imports_common::model::Mode;
use imports_tests::{amqp_url, binary, signal, skus, TestEnv};
use reqwest::{Client, StatusCode, Version};
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;

const JSONAPI: &str = "application/vnd.api+json";

/// A certificate and its key written as PEM files in a directory of their own, removed on
/// drop.
struct Pem {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    cert_pem: String,
}

impl Pem {
    fn dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("imports-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A self-signed certificate for `localhost` and 127.0.0.1 (ECDSA P-256, PKCS#8 key).
    fn self_signed() -> Pem {
        let rcgen::CertifiedKey { cert, key_pair } =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap();
        let dir = Pem::dir();
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key_pair.serialize_pem()).unwrap();
        Pem {
            dir,
            cert: cert_path,
            key: key_path,
            cert_pem: cert.pem(),
        }
    }

    /// A file of this directory holding `text`.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A client that trusts this certificate (and nothing else).
    fn client(&self) -> Client {
        self.client_builder().build().unwrap()
    }

    fn client_builder(&self) -> reqwest::ClientBuilder {
        let root = reqwest::Certificate::from_pem(self.cert_pem.as_bytes()).unwrap();
        Client::builder()
            .add_root_certificate(root)
            .timeout(Duration::from_secs(30))
    }
}

impl Drop for Pem {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An error and its sources, in one string.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Creates an import of 3 SKUs and reads it back, returning the created document.
async fn create_and_retrieve(client: &Client, base: &str, token: &str) -> Value {
    let body = json!({"data": {"type": "imports", "attributes": {"resource_type": "skus", "inputs": skus(3)}}});
    let resp = client
        .post(format!("{base}/api/imports"))
        .bearer_auth(token)
        .header("content-type", JSONAPI)
        .body(serde_json::to_vec(&body).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created: Value = resp.json().await.unwrap();
    let id = created["data"]["id"].as_str().unwrap();
    let resp = client
        .get(format!("{base}/api/imports/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let read: Value = resp.json().await.unwrap();
    assert_eq!(read["data"]["id"], id);
    assert_eq!(read["data"]["attributes"]["inputs_size"], 3);
    created
}

/// The API in this process over TLS with `pem`.
async fn spawn_tls_api(env: &TestEnv, pem: &Pem) -> imports_tests::InProcessApi {
    let mut config = env.api_config();
    config.tls_cert = Some(pem.cert.clone());
    config.tls_key = Some(pem.key.clone());
    env.spawn_api(config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_are_created_and_read_over_https_with_links_on_the_public_url() {
    let env = TestEnv::new().await;
    let pem = Pem::self_signed();
    let api = spawn_tls_api(&env, &pem).await;
    assert!(api.base_url.starts_with("https://127.0.0.1:"));
    let token = env.token("acme", Mode::Test).await;
    let created = create_and_retrieve(&pem.client(), &api.base_url, &token).await;
    let id = created["data"]["id"].as_str().unwrap();
    assert_eq!(
        created["data"]["links"]["self"],
        format!("{}/api/imports/{id}", api.config.public_url)
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_and_http1_are_both_served_over_tls() {
    let env = TestEnv::new().await;
    let pem = Pem::self_signed();
    let api = spawn_tls_api(&env, &pem).await;
    let url = format!("{}/livez", api.base_url);
    // ALPN offers h2 first: a client that speaks it gets it.
    let resp = pem.client().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.version(), Version::HTTP_2);
    // A client that offers only http/1.1 is served HTTP/1.1, on the whole API.
    let http1 = pem.client_builder().http1_only().build().unwrap();
    let resp = http1.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.version(), Version::HTTP_11);
    let token = env.token("acme", Mode::Test).await;
    create_and_retrieve(&http1, &api.base_url, &token).await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_trust_the_certificate_is_refused() {
    let env = TestEnv::new().await;
    let pem = Pem::self_signed();
    let api = spawn_tls_api(&env, &pem).await;
    // No root added: this client trusts no certificate at all.
    let untrusting = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let e = untrusting
        .get(format!("{}/livez", api.base_url))
        .send()
        .await
        .expect_err("an untrusted certificate is refused");
    let text = chain(&e);
    assert!(text.contains("certificate"), "{text}");
    // The server shrugs it off.
    let resp = pem
        .client()
        .get(format!("{}/livez", api.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_and_stalled_handshakes_neither_get_an_answer_nor_stop_the_server() {
    let env = TestEnv::new().await;
    let pem = Pem::self_signed();
    let api = spawn_tls_api(&env, &pem).await;
    let addr = api.base_url.trim_start_matches("https://").to_owned();
    let plain = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    for _ in 0..3 {
        let e = plain
            .get(format!("http://{addr}/livez"))
            .send()
            .await
            .expect_err("plain HTTP on the TLS port gets no HTTP answer");
        assert!(!e.is_timeout(), "refused at once, not left hanging: {e}");
    }
    // A client that connects and never starts its handshake holds only its own task: the
    // accept loop goes on serving others meanwhile.
    let mut stalled = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    let client = pem.client();
    for _ in 0..5 {
        let resp = client
            .get(format!("{}/livez", api.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let token = env.token("acme", Mode::Test).await;
    create_and_retrieve(&client, &api.base_url, &token).await;
    // ... until the handshake timeout closes it.
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(30), stalled.read(&mut buf))
        .await
        .expect("the stalled connection is closed by the handshake timeout");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "closed without an answer: {read:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= imports_api::tls::HANDSHAKE_TIMEOUT - Duration::from_secs(1),
        "closed after the timeout, not before: {waited:?}"
    );
    api.stop().await;
}

#[test]
fn pkcs1_and_sec1_keys_are_accepted_and_a_mismatched_key_is_refused() {
    let dir = Pem::dir();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&["genrsa", "-traditional", "-out", "rsa.pem", "2048"]);
    openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "ec.pem",
    ]);
    for key in ["rsa.pem", "ec.pem"] {
        let cert = format!("{key}.crt");
        openssl(&[
            "req",
            "-x509",
            "-new",
            "-key",
            key,
            "-out",
            &cert,
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ]);
    }
    let head = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert!(head("rsa.pem").starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert!(head("ec.pem").starts_with("-----BEGIN EC PRIVATE KEY-----"));
    let acceptor = |cert: &str, key: &str| {
        let mut config = imports_runtime::config::ApiConfig::from_env().unwrap();
        config.tls_cert = Some(dir.join(cert));
        config.tls_key = Some(dir.join(key));
        imports_api::tls::acceptor(&config).map(|a| a.is_some())
    };
    assert!(acceptor("rsa.pem.crt", "rsa.pem").unwrap(), "PKCS#1");
    assert!(acceptor("ec.pem.crt", "ec.pem").unwrap(), "SEC1");
    let e = acceptor("rsa.pem.crt", "ec.pem").unwrap_err().to_string();
    assert!(
        e.contains("API_TLS_CERT=") && e.contains("API_TLS_KEY=") && !e.contains('\n'),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `imports-api serve` with `vars` set and the rest of the environment cleared of TLS
/// settings: its exit status and standard error.
fn serve_fails(vars: &[(&str, &Path)]) -> (Option<i32>, String) {
    let mut command = Command::new(binary("imports-api"));
    command
        .arg("serve")
        .env_remove("API_TLS_CERT")
        .env_remove("API_TLS_KEY")
        .env("API_ADDR", "127.0.0.1:0")
        // Nothing to reach: the TLS files are checked before anything is connected.
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/imports")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    for (name, value) in vars {
        command.env(name, value);
    }
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("imports-api serve with {vars:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn bad_tls_settings_are_a_one_line_startup_error_naming_the_variable() {
    let pem = Pem::self_signed();
    let garbage = pem.file("garbage.pem", "this is not PEM\n");
    let missing = pem.dir.join("missing.pem");
    // Each case: the variables set, and what the one line of the error must say.
    let cases: Vec<(Vec<(&str, &Path)>, String)> = vec![
        (vec![("API_TLS_CERT", &pem.cert)], "API_TLS_KEY".into()),
        (vec![("API_TLS_KEY", &pem.key)], "API_TLS_CERT".into()),
        (
            vec![("API_TLS_CERT", &missing), ("API_TLS_KEY", &pem.key)],
            format!("API_TLS_CERT={}", missing.display()),
        ),
        (
            vec![("API_TLS_CERT", &pem.cert), ("API_TLS_KEY", &missing)],
            format!("API_TLS_KEY={}", missing.display()),
        ),
        (
            vec![("API_TLS_CERT", &garbage), ("API_TLS_KEY", &pem.key)],
            format!("API_TLS_CERT={}", garbage.display()),
        ),
        (
            vec![("API_TLS_CERT", &pem.cert), ("API_TLS_KEY", &garbage)],
            format!("API_TLS_KEY={}", garbage.display()),
        ),
        // The key given as the certificate, and the other way round.
        (
            vec![("API_TLS_CERT", &pem.key), ("API_TLS_KEY", &pem.cert)],
            format!("API_TLS_CERT={}", pem.key.display()),
        ),
    ];
    for (vars, expected) in cases {
        let (code, stderr) = serve_fails(&vars);
        assert_eq!(code, Some(1), "{vars:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{vars:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{vars:?}: {stderr}");
        assert!(
            stderr.contains(&expected),
            "{vars:?}: {expected} not in {stderr}"
        );
    }
}

/// The lines a child prints, collected as they come, without their colours.
fn lines_of(out: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(without_ansi(&line));
        }
    });
    lines
}

/// `text` without its ANSI escape sequences (`ESC [ ... letter`).
fn without_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A child process, killed when the test ends without stopping it (a failed assertion), so
/// that no API outlives its test.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Waits for a line of the child's output that holds `needle`.
fn wait_for_line(lines: &Mutex<Vec<String>>, needle: &str, child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(line) = lines.lock().unwrap().iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "imports-api exited: {:?}",
            lines.lock().unwrap()
        );
        assert!(
            Instant::now() < deadline,
            "no {needle:?} line: {:?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_https_from_its_environment_and_stops_gracefully_on_sigterm() {
    let env = TestEnv::new().await;
    let pem = Pem::self_signed();
    let child = Command::new(binary("imports-api"))
        .arg("serve")
        .env("API_ADDR", "127.0.0.1:0")
        .env("API_PUBLIC_URL", "https://imports.example.test")
        .env("API_TLS_CERT", &pem.cert)
        .env("API_TLS_KEY", &pem.key)
        .env("DATABASE_URL", &env.database_url)
        .env("AMQP_URL", amqp_url())
        .env("IMPORTS_QUEUE", &env.queue)
        .env("RUST_LOG", "info,imports_api::tls=debug")
        .env_remove("LOG_FORMAT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Running(child);
    let child = &mut child.0;
    let stdout = lines_of(child.stdout.take().unwrap());
    let stderr = lines_of(child.stderr.take().unwrap());
    let serving = wait_for_line(&stdout, "serving the imports API", child);
    assert!(serving.contains("tls=true"), "{serving}");
    let addr = serving
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))
        .unwrap_or_else(|| panic!("no addr= in {serving}"))
        .to_owned();
    let base = format!("https://{addr}");
    let client = pem.client();
    let token = env.token("acme", Mode::Test).await;

    let created = create_and_retrieve(&client, &base, &token).await;
    let id = created["data"]["id"].as_str().unwrap();
    assert_eq!(
        created["data"]["links"]["self"],
        format!("https://imports.example.test/api/imports/{id}"),
        "links follow API_PUBLIC_URL"
    );
    let resp = client.get(format!("{base}/livez")).send().await.unwrap();
    assert_eq!(resp.version(), Version::HTTP_2);

    // A failed handshake is logged at debug level and the server goes on.
    let plain = Client::new()
        .get(format!("http://{addr}/livez"))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP on the TLS port: {plain:?}");
    wait_for_line(&stdout, "TLS handshake failed", child);
    let resp = client.get(format!("{base}/livez")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // A create still sending its body when SIGTERM comes is answered before the exit.
    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = serde_json::to_vec(&json!({"data": {"type": "imports", "attributes": {"resource_type": "skus", "inputs": skus(50)}}})).unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    let (first, rest) = (first.to_vec(), rest.to_vec());
    let in_flight = tokio::spawn({
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        async move {
            client
                .post(format!("{base}/api/imports"))
                .bearer_auth(token)
                .header("content-type", JSONAPI)
                .body(reqwest::Body::wrap_stream(rx))
                .send()
                .await
        }
    });
    use futures::SinkExt;
    tx.send(Ok(first)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(child, libc::SIGTERM);
    wait_for_line(&stdout, "shutdown signal received", child);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the API waits for the request in flight"
    );
    tx.send(Ok(rest)).await.unwrap();
    drop(tx);
    let resp = in_flight.await.unwrap().expect("answered despite SIGTERM");
    assert_eq!(resp.status(), StatusCode::CREATED);
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["data"]["attributes"]["inputs_size"], 50);

    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(10),
            "imports-api still running 10 s after its last request"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}: {:?}", stderr.lock().unwrap());
    let out = stdout.lock().unwrap().join("\n");
    assert!(!out.contains("panicked") && !out.contains("ERROR"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importctl_reaches_the_https_api_with_client_credentials_and_its_ca_file() {
    let env = TestEnv::new().await;
    let pem = Pem::self_signed();
    let api = spawn_tls_api(&env, &pem).await;
    let (id, secret) = {
        let db = env.pool.get().await.unwrap();
        let created = imports_api::applications::create(&**db, "acme", Mode::Test, "importctl")
            .await
            .unwrap();
        (created.application.client_id.clone(), created.client_secret)
    };
    let inputs = pem.file(
        "skus.json",
        r#"[{"code": "A", "name": "a", "do_not_ship": true}]"#,
    );
    let ctl = |args: &[&str], ca: bool| {
        let mut cmd = Command::new(binary("importctl"));
        cmd.args(["--api-url", &api.base_url, "--client-id", &id])
            .env("IMPORTS_CLIENT_SECRET", &secret)
            .env("HOME", &pem.dir)
            .env_remove("IMPORTS_TOKEN")
            .env_remove("IMPORTS_CONFIG")
            .env_remove("XDG_CONFIG_HOME");
        if ca {
            cmd.arg("--ca-file").arg(&pem.cert);
        } else {
            cmd.env_remove("IMPORTS_CA_FILE");
        }
        cmd.args(args).output().unwrap()
    };
    // Token from /oauth/token and the import, both over the API's own TLS.
    let out = ctl(
        &["create", "--type", "skus", inputs.to_str().unwrap()],
        true,
    );
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ctl(&["list"], true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 import"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Without the CA file the certificate is not trusted: a one-line error, no panic.
    let out = ctl(&["list"], false);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--ca-file"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    api.stop().await;
}
