//! What the tests of importctl's authentication share: runs of the binary kept from the
//! developer's own variables and files, and an HTTP proxy that counts what passes.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use imports_common::model::Mode;
use imports_tests::{binary, TestEnv};
use serde_json::Value;

/// The environment variables importctl reads, removed from every run so that the
/// developer's own do not leak in.
pub(crate) const VARS: &[&str] = &[
    "IMPORTS_API_URL",
    "IMPORTS_TOKEN",
    "IMPORTS_CLIENT_ID",
    "IMPORTS_CLIENT_SECRET",
    "IMPORTS_AUTH_URL",
    "IMPORTS_CA_FILE",
    "IMPORTS_CONFIG",
    "XDG_CONFIG_HOME",
];

/// A directory for files and a `HOME`, removed at the end of the test.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("importctl-auth-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub(crate) fn file(&self, name: &str, content: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, content).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// `importctl args`, with this directory as `HOME` and none of importctl's variables.
    pub(crate) fn ctl(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(binary("importctl"));
        cmd.args(args)
            .env("HOME", &self.0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for v in VARS {
            cmd.env_remove(v);
        }
        cmd
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The output of a run, read as text.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit status\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }

    /// The one line of an error, checked to be one line and no panic.
    pub(crate) fn error_line(&self) -> &str {
        assert_eq!(self.stderr.trim().lines().count(), 1, "{}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self.stderr.trim()
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

pub(crate) async fn run(mut cmd: tokio::process::Command) -> Run {
    tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .expect("importctl ends within 180 s")
        .unwrap()
        .into()
}

pub(crate) fn builds() {
    // Built once per test process, before any runtime thread waits on it.
    binary("importctl");
}

/// Makes an application; returns (client id, client secret, application id).
pub(crate) async fn application(env: &TestEnv, slug: &str) -> (String, String, String) {
    let client = env.pool.get().await.unwrap();
    let created = imports_api::applications::create(&**client, slug, Mode::Test, "importctl")
        .await
        .unwrap();
    (
        created.application.client_id.clone(),
        created.client_secret,
        created.application.id,
    )
}

/// What the HTTP proxy has seen.
#[derive(Debug, Default, Clone)]
pub(crate) struct Seen {
    /// `POST /oauth/token` requests answered.
    pub(crate) token_requests: usize,
    /// 401 answers of the API (not of the token endpoint).
    pub(crate) refused: usize,
    /// The bearer tokens of the API requests, in order.
    pub(crate) bearers: Vec<String>,
}

struct ProxyState {
    target: String,
    http: reqwest::Client,
    seen: Mutex<Seen>,
}

/// An HTTP proxy to the API that counts what passes.
pub(crate) struct HttpProxy {
    pub(crate) url: String,
    state: Arc<ProxyState>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpProxy {
    pub(crate) async fn start(target: &str) -> HttpProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(ProxyState {
            target: target.to_owned(),
            http: reqwest::Client::new(),
            seen: Mutex::new(Seen::default()),
        });
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        HttpProxy { url, state, task }
    }

    pub(crate) fn seen(&self) -> Seen {
        self.state.seen.lock().unwrap().clone()
    }
}

impl Drop for HttpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    State(state): State<Arc<ProxyState>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let is_token = parts.uri.path() == "/oauth/token";
    let bearer = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = state
        .http
        .request(parts.method.clone(), format!("{}{path}", state.target))
        .body(body);
    for (name, value) in &parts.headers {
        if name != HOST && name != CONTENT_LENGTH {
            upstream = upstream.header(name, value);
        }
    }
    let answer = upstream.send().await.unwrap();
    let status = answer.status();
    {
        let mut seen = state.seen.lock().unwrap();
        if is_token {
            seen.token_requests += 1;
        } else if status == reqwest::StatusCode::UNAUTHORIZED {
            seen.refused += 1;
        }
        seen.bearers.extend(bearer);
    }
    let mut response = axum::response::Response::builder().status(status);
    for (name, value) in answer.headers() {
        if name != TRANSFER_ENCODING && name != CONTENT_LENGTH {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap();
    response.body(axum::body::Body::from(bytes)).unwrap()
}

/// Waits until `check` holds for what the proxy saw.
pub(crate) async fn wait_seen(
    proxy: &HttpProxy,
    what: &str,
    check: impl Fn(&Seen) -> bool,
) -> Seen {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = proxy.seen();
        if check(&seen) {
            return seen;
        }
        assert!(Instant::now() < deadline, "{what}: {seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The import ids of `created <id> <reference>: ...` lines.
pub(crate) fn created_ids(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("created "))
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect()
}

pub(crate) const SKUS: &str = "code,name,do_not_ship\nAUTH-1,one,true\nAUTH-2,two,true\n";

/// The Commerce Layer detail of refused client credentials.
pub(crate) const INVALID_CLIENT: &str = "401 invalid_client: Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.";
