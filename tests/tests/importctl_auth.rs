//! `importctl` authenticating as Commerce Layer's clients do, driven as a real process
//! against an API in this process: client credentials from flags, the environment or the
//! file `importctl login` keeps; access tokens renewed as they expire or are revoked, once;
//! and `--ca-file` trusted for an API behind HTTPS.
//!
//! An HTTP proxy in front of the API counts the token requests and the 401 answers, and
//! sees the bearer tokens importctl sends; a TLS proxy serves the API over HTTPS with a CA
//! made in the test.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use imports_common::model::Mode;
use imports_tests::{binary, TestEnv};
use serde_json::{json, Value};

/// The environment variables importctl reads, removed from every run so that the
/// developer's own do not leak in.
const VARS: &[&str] = &[
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
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("importctl-auth-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str, content: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, content).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// `importctl args`, with this directory as `HOME` and none of importctl's variables.
    fn ctl(&self, args: &[&str]) -> tokio::process::Command {
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
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit status\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }

    /// The one line of an error, checked to be one line and no panic.
    fn error_line(&self) -> &str {
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

async fn run(mut cmd: tokio::process::Command) -> Run {
    tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .expect("importctl ends within 180 s")
        .unwrap()
        .into()
}

fn builds() {
    // Built once per test process, before any runtime thread waits on it.
    binary("importctl");
}

/// Makes an application; returns (client id, client secret, application id).
async fn application(env: &TestEnv, slug: &str) -> (String, String, String) {
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
struct Seen {
    /// `POST /oauth/token` requests answered.
    token_requests: usize,
    /// 401 answers of the API (not of the token endpoint).
    refused: usize,
    /// The bearer tokens of the API requests, in order.
    bearers: Vec<String>,
}

struct ProxyState {
    target: String,
    http: reqwest::Client,
    seen: Mutex<Seen>,
}

/// An HTTP proxy to the API that counts what passes.
struct HttpProxy {
    url: String,
    state: Arc<ProxyState>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpProxy {
    async fn start(target: &str) -> HttpProxy {
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

    fn seen(&self) -> Seen {
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
async fn wait_seen(proxy: &HttpProxy, what: &str, check: impl Fn(&Seen) -> bool) -> Seen {
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
fn created_ids(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("created "))
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect()
}

const SKUS: &str = "code,name\nAUTH-1,one\nAUTH-2,two\n";

/// The Commerce Layer detail of refused client credentials.
const INVALID_CLIENT: &str = "401 invalid_client: Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_from_flags_or_the_environment_create_and_list_imports() {
    builds();
    let env = TestEnv::new().await;
    let api = env.spawn_api(env.api_config()).await;
    let base = api.base_url.as_str();
    let (id, secret, _) = application(&env, "acme").await;
    let dir = TempDir::new();
    let csv = dir.file("skus.csv", SKUS);

    let flags = [
        "--api-url",
        base,
        "--client-id",
        &id,
        "--client-secret",
        &secret,
    ];
    let mut args = flags.to_vec();
    args.extend([
        "create",
        "--type",
        "skus",
        "--reference-group",
        "flags",
        &csv,
    ]);
    let out = run(dir.ctl(&args)).await.expect(0);
    assert_eq!(created_ids(&out.stdout).len(), 1, "{}", out.stdout);

    let with_env = |args: &[&str]| {
        let mut cmd = dir.ctl(args);
        cmd.env("IMPORTS_API_URL", base)
            .env("IMPORTS_CLIENT_ID", &id)
            .env("IMPORTS_CLIENT_SECRET", &secret);
        cmd
    };
    let out = run(with_env(&[
        "create",
        "--type",
        "skus",
        "--reference-group",
        "env",
        &csv,
    ]))
    .await
    .expect(0);
    assert_eq!(created_ids(&out.stdout).len(), 1, "{}", out.stdout);
    let list = run(with_env(&["list", "--json"])).await.expect(0).json();
    let mut references: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["attributes"]["reference"].as_str().unwrap())
        .collect();
    references.sort();
    assert_eq!(references, ["env-0001", "flags-0001"]);
    // The application's tenant: an imp_ token of acme sees the same imports.
    let token = env.token("acme", Mode::Test).await;
    let out = run(dir.ctl(&["--api-url", base, "--token", &token, "list", "--json"]))
        .await
        .expect(0);
    assert_eq!(out.json()["meta"]["record_count"], 2);

    // A wrong secret: the token endpoint's error on one line, the secret never shown.
    let out = run(dir.ctl(&[
        "--api-url",
        base,
        "--client-id",
        &id,
        "--client-secret",
        "not-the-secret",
        "list",
    ]))
    .await
    .expect(2);
    assert_eq!(
        out.error_line(),
        format!("error: cannot get an access token from {base}/oauth/token: {INVALID_CLIENT} (check --client-id and --client-secret, or IMPORTS_CLIENT_ID and IMPORTS_CLIENT_SECRET)")
    );
    assert!(!out.stderr.contains("not-the-secret"));

    // A token and client credentials together, or half of the credentials: usage errors.
    let mut cmd = with_env(&["list"]);
    cmd.env("IMPORTS_TOKEN", &token);
    let out = run(cmd).await.expect(2);
    assert_eq!(
        out.error_line(),
        "error: both a token (--token, IMPORTS_TOKEN) and client credentials (--client-id/--client-secret, IMPORTS_CLIENT_ID/IMPORTS_CLIENT_SECRET) are given: use one"
    );
    let out = run(dir.ctl(&["--api-url", base, "--client-id", &id, "list"]))
        .await
        .expect(2);
    assert_eq!(
        out.error_line(),
        "error: --client-id needs --client-secret (or IMPORTS_CLIENT_SECRET)"
    );

    // --auth-url sends the token request elsewhere (here a proxy that counts them), the
    // calls still to the API; one token serves every call of a run.
    let auth = HttpProxy::start(base).await;
    let mut args = flags.to_vec();
    args.extend(["--auth-url", &auth.url, "list", "--all"]);
    run(dir.ctl(&args)).await.expect(0);
    let mut args = flags.to_vec();
    args.extend(["--auth-url", &auth.url, "create", "--type", "skus", &csv]);
    run(dir.ctl(&args)).await.expect(0);
    let seen = auth.seen();
    assert_eq!(seen.token_requests, 2, "one per run: {seen:?}");
    assert!(seen.bearers.is_empty(), "{seen:?}");
    let mut args = flags.to_vec();
    args.extend(["--auth-url", "http://127.0.0.1:9", "list"]);
    let out = run(dir.ctl(&args)).await.expect(2);
    assert!(
        out.error_line()
            .starts_with("error: cannot reach the token endpoint http://127.0.0.1:9/oauth/token: "),
        "{}",
        out.stderr
    );

    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_outlives_its_access_tokens_by_renewing_them_before_they_expire() {
    builds();
    let env = TestEnv::new().await;
    let mut config = env.api_config();
    config.oauth.token_lifetime = Duration::from_secs(4);
    let api = env.spawn_api(config).await;
    let proxy = HttpProxy::start(&api.base_url).await;
    let (id, secret, _) = application(&env, "acme").await;
    let dir = TempDir::new();
    let csv = dir.file("skus.csv", SKUS);
    let flags = [
        "--api-url",
        proxy.url.as_str(),
        "--client-id",
        &id,
        "--client-secret",
        &secret,
    ];
    let mut args = flags.to_vec();
    args.extend(["create", "--type", "skus", &csv]);
    let out = run(dir.ctl(&args)).await.expect(0);
    let import = created_ids(&out.stdout).pop().unwrap();
    let before = proxy.seen();

    // No worker yet: the import waits, and the watch polls past two token lifetimes.
    let mut args = flags.to_vec();
    args.extend(["watch", &import, "--interval", "0.25"]);
    let watch = dir.ctl(&args).spawn().unwrap();
    tokio::time::sleep(Duration::from_secs(9)).await;
    let worker = env.spawn_worker(env.worker_config(1, 100, 10));
    let out: Run = tokio::time::timeout(Duration::from_secs(60), watch.wait_with_output())
        .await
        .expect("the watch ends once the import is done")
        .unwrap()
        .into();
    let out = out.expect(0);
    assert!(
        out.stdout.contains("1 import(s) completed without errors"),
        "{}",
        out.stdout
    );
    let seen = proxy.seen();
    let renewals = seen.token_requests - before.token_requests - 1;
    // Renewed when half a 4 s token is left: about every 2 s over 9 s.
    assert!((2..=8).contains(&renewals), "{renewals} renewals: {seen:?}");
    assert_eq!(seen.refused, 0, "renewed before the API refused one");
    let mut tokens = seen.bearers[before.bearers.len()..].to_vec();
    tokens.dedup();
    assert_eq!(tokens.len(), renewals + 1, "each token used until renewed");

    worker.stop().await;
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_renewed_once_and_a_revoked_application_ends_the_run() {
    builds();
    let env = TestEnv::new().await;
    let api = env.spawn_api(env.api_config()).await;
    let proxy = HttpProxy::start(&api.base_url).await;
    let (id, secret, app_id) = application(&env, "acme").await;
    let dir = TempDir::new();
    let csv = dir.file("skus.csv", SKUS);
    let flags = [
        "--api-url",
        proxy.url.as_str(),
        "--client-id",
        &id,
        "--client-secret",
        &secret,
    ];
    let create = |group: &'static str| {
        let mut args = flags.to_vec();
        args.extend(["create", "--type", "skus", "--reference-group", group, &csv]);
        dir.ctl(&args)
    };
    let watch = |import: &str| {
        let mut args = flags.to_vec();
        args.extend(["watch", import, "--interval", "0.2"]);
        dir.ctl(&args).spawn().unwrap()
    };
    let http = reqwest::Client::new();

    // The token a watch uses is revoked: the next poll is refused, the watch gets one new
    // token and goes on.
    let import = created_ids(&run(create("revoked")).await.expect(0).stdout).remove(0);
    let before = proxy.seen();
    let child = watch(&import);
    let seen = wait_seen(&proxy, "the watch polls", |s| {
        s.bearers.len() > before.bearers.len()
    })
    .await;
    let first = seen.bearers.last().unwrap().clone();
    let r = http
        .post(format!("{}/oauth/revoke", api.base_url))
        .json(&json!({"client_id": id, "client_secret": secret, "token": first}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    wait_seen(&proxy, "a poll with a new token", |s| {
        s.bearers.last().is_some_and(|b| *b != first)
    })
    .await;
    let worker = env.spawn_worker(env.worker_config(1, 100, 10));
    let out: Run = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the watch ends once the import is done")
        .unwrap()
        .into();
    out.expect(0);
    let seen = proxy.seen();
    assert_eq!(
        seen.token_requests - before.token_requests,
        2,
        "the first token and one renewal: {seen:?}"
    );
    assert_eq!(seen.refused - before.refused, 1, "{seen:?}");
    worker.stop().await;

    // The application is revoked while a watch runs: its token is refused, the one renewal
    // is refused too, and the watch stops with the token endpoint's error, not a loop.
    let import = created_ids(&run(create("app-revoked")).await.expect(0).stdout).remove(0);
    let before = proxy.seen();
    let child = watch(&import);
    wait_seen(&proxy, "the watch polls", |s| {
        s.bearers.len() > before.bearers.len()
    })
    .await;
    {
        let client = env.pool.get().await.unwrap();
        assert!(
            imports_api::applications::revoke(&**client, &app_id, Duration::from_secs(7200))
                .await
                .unwrap()
        );
    }
    let out: Run = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the watch stops once the application is revoked")
        .unwrap()
        .into();
    let out = out.expect(2);
    assert_eq!(
        out.error_line(),
        format!(
            "error: cannot get an access token from {}/oauth/token: {INVALID_CLIENT} (check --client-id and --client-secret, or IMPORTS_CLIENT_ID and IMPORTS_CLIENT_SECRET)",
            proxy.url
        )
    );
    let seen = proxy.seen();
    assert_eq!(
        seen.token_requests - before.token_requests,
        2,
        "the first token and one renewal: {seen:?}"
    );
    assert_eq!(seen.refused - before.refused, 1, "{seen:?}");

    api.stop().await;
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_keeps_the_credentials_for_later_commands_and_logout_forgets_them() {
    builds();
    let env = TestEnv::new().await;
    let api = env.spawn_api(env.api_config()).await;
    let base = api.base_url.as_str();
    let (id, secret, _) = application(&env, "acme").await;
    let dir = TempDir::new();
    let csv = dir.file("skus.csv", SKUS);
    let xdg = dir.0.join("xdg");
    let file = xdg.join("importctl").join("credentials.json");
    let ctl = |args: &[&str]| {
        let mut cmd = dir.ctl(args);
        cmd.env("XDG_CONFIG_HOME", &xdg);
        cmd
    };

    // The secret from the environment, the URL by --base-url.
    let mut login = ctl(&["login", "--client-id", &id, "--base-url", base]);
    login.env("IMPORTS_CLIENT_SECRET", &secret);
    let out = run(login).await.expect(0);
    assert_eq!(
        out.stdout.trim(),
        format!(
            "logged in to {base} as acme (test) with client id {id}; credentials kept in {}",
            file.display()
        )
    );
    assert!(!out.stdout.contains(&secret) && !out.stderr.contains(&secret));
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        kept,
        json!({"api_url": base, "client_id": id, "client_secret": secret})
    );

    // Later commands need neither the credentials nor the URL.
    let out = run(ctl(&["create", "--type", "skus", &csv]))
        .await
        .expect(0);
    let import = created_ids(&out.stdout).remove(0);
    let list = run(ctl(&["list", "--json"])).await.expect(0).json();
    assert_eq!(list["data"][0]["id"], import.as_str());

    // Flags and the environment win over the file.
    let mut cmd = ctl(&["list"]);
    cmd.env("IMPORTS_TOKEN", "imp_test_not_a_token");
    let out = run(cmd).await.expect(2);
    assert!(
        out.error_line()
            .ends_with("(check --token or IMPORTS_TOKEN)"),
        "{}",
        out.stderr
    );
    let out = run(ctl(&[
        "--client-id",
        &id,
        "--client-secret",
        "wrong",
        "list",
    ]))
    .await
    .expect(2);
    assert!(out.error_line().contains(INVALID_CLIENT), "{}", out.stderr);
    let out = run(ctl(&["--api-url", "http://127.0.0.1:9", "list"]))
        .await
        .expect(2);
    assert!(
        out.error_line()
            .starts_with("error: cannot reach the token endpoint http://127.0.0.1:9/oauth/token"),
        "{}",
        out.stderr
    );

    // A login that fails keeps nothing; kept credentials that fail say where they are.
    let out = run(ctl(&[
        "login",
        "--client-id",
        &id,
        "--client-secret",
        "wrong",
        "--base-url",
        base,
    ]))
    .await
    .expect(2);
    assert!(out.error_line().contains(INVALID_CLIENT), "{}", out.stderr);
    let unchanged: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(unchanged, kept);
    let mut stale = kept.clone();
    stale["client_secret"] = json!("stale");
    std::fs::write(&file, stale.to_string()).unwrap();
    let out = run(ctl(&["list"])).await.expect(2);
    assert!(
        out.error_line().ends_with(&format!(
            "(check the credentials kept in {}, or run importctl login again)",
            file.display()
        )),
        "{}",
        out.stderr
    );

    // A corrupt or unreadable file: one line naming it; a token needs no file.
    std::fs::write(&file, "{\"api_url\": ").unwrap();
    let out = run(ctl(&["list"])).await.expect(2);
    assert!(
        out.error_line().starts_with(&format!(
            "error: the credentials file {} is not valid (",
            file.display()
        )),
        "{}",
        out.stderr
    );
    let token = env.token("acme", Mode::Test).await;
    run(ctl(&["--api-url", base, "--token", &token, "list"]))
        .await
        .expect(0);
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let out = run(ctl(&["list"])).await.expect(2);
    assert!(
        out.error_line().starts_with(&format!(
            "error: cannot read the credentials file {}: ",
            file.display()
        )),
        "{}",
        out.stderr
    );
    std::fs::remove_dir(&file).unwrap();

    // Logout removes the file; without it a command says how to authenticate.
    let mut login = ctl(&["login", "--client-id", &id, "--base-url", base]);
    login.env("IMPORTS_CLIENT_SECRET", &secret);
    run(login).await.expect(0);
    let out = run(ctl(&["logout"])).await.expect(0);
    assert_eq!(
        out.stdout.trim(),
        format!("logged out: removed {}", file.display())
    );
    assert!(!file.exists());
    let out = run(ctl(&["list"])).await.expect(2);
    assert_eq!(
        out.error_line(),
        "error: no credentials: pass --token (IMPORTS_TOKEN), or --client-id and --client-secret (IMPORTS_CLIENT_ID, IMPORTS_CLIENT_SECRET), or run importctl login"
    );
    let out = run(ctl(&["logout"])).await.expect(0);
    assert!(out.stdout.starts_with("not logged in"), "{}", out.stdout);

    // IMPORTS_CONFIG names the file; without it nor XDG_CONFIG_HOME, it is under ~/.config.
    let custom = dir.0.join("custom").join("c.json");
    let mut login = dir.ctl(&[
        "login",
        "--client-id",
        &id,
        "--client-secret",
        &secret,
        "--base-url",
        base,
    ]);
    login.env("IMPORTS_CONFIG", &custom);
    run(login).await.expect(0);
    assert_eq!(mode(&custom), 0o600);
    let mut list = dir.ctl(&["list"]);
    list.env("IMPORTS_CONFIG", &custom);
    run(list).await.expect(0);
    run(dir.ctl(&[
        "login",
        "--client-id",
        &id,
        "--client-secret",
        &secret,
        "--base-url",
        base,
    ]))
    .await
    .expect(0);
    let home_file = dir.0.join(".config/importctl/credentials.json");
    assert_eq!(mode(&home_file), 0o600);
    run(dir.ctl(&["list"])).await.expect(0);
    assert!(!file.exists());

    api.stop().await;
}

/// A CA, and a certificate for 127.0.0.1 it signed: (the CA's PEM, the certificate, its key).
fn certificates() -> (
    String,
    tokio_rustls::rustls::pki_types::CertificateDer<'static>,
    Vec<u8>,
) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "importctl test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    (ca.pem(), server.der().clone(), key.serialize_der())
}

/// Serves `target` over TLS with the certificate; returns where.
async fn tls_proxy(
    target: SocketAddr,
    certificate: tokio_rustls::rustls::pki_types::CertificateDer<'static>,
    key: Vec<u8>,
) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio_rustls::rustls;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![certificate],
        rustls::pki_types::PrivatePkcs8KeyDer::from(key).into(),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that does not trust the certificate ends the handshake: nothing to do.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_file_is_trusted_for_an_api_behind_https() {
    builds();
    let env = TestEnv::new().await;
    let api = env.spawn_api(env.api_config()).await;
    let (id, secret, _) = application(&env, "acme").await;
    let token = env.token("acme", Mode::Test).await;
    let dir = TempDir::new();
    let csv = dir.file("skus.csv", SKUS);
    let (ca, certificate, key) = certificates();
    let ca_file = dir.file("ca.pem", &ca);
    let other_ca = dir.file("other-ca.pem", &certificates().0);
    let target: SocketAddr = api
        .base_url
        .strip_prefix("http://")
        .unwrap()
        .parse()
        .unwrap();
    let (addr, tls) = tls_proxy(target, certificate, key).await;
    let https = format!("https://{addr}");
    let flags = [
        "--api-url",
        https.as_str(),
        "--client-id",
        &id,
        "--client-secret",
        &secret,
    ];

    // With the CA: the token request and the calls go through TLS to the API.
    let mut args = flags.to_vec();
    args.extend(["--ca-file", &ca_file, "create", "--type", "skus", &csv]);
    let out = run(dir.ctl(&args)).await.expect(0);
    let import = created_ids(&out.stdout).remove(0);
    let mut cmd = dir.ctl(&["--api-url", &https, "--token", &token, "list", "--json"]);
    cmd.env("IMPORTS_CA_FILE", &ca_file);
    let list = run(cmd).await.expect(0).json();
    assert_eq!(list["data"][0]["id"], import.as_str());

    // Without it, or with another CA: a certificate error, and a hint.
    for extra in [&[][..], &["--ca-file", other_ca.as_str()][..]] {
        let mut args = flags.to_vec();
        args.extend(extra);
        args.push("list");
        let out = run(dir.ctl(&args)).await.expect(2);
        let line = out.error_line();
        assert!(
            line.starts_with(&format!(
                "error: cannot reach the token endpoint {https}/oauth/token (a server certificate of a private CA needs --ca-file): "
            )) && line.contains("certificate"),
            "{line}"
        );
        let out = run(dir.ctl(&["--api-url", &https, "--token", &token, "list"]))
            .await
            .expect(2);
        assert!(
            out.error_line().starts_with(&format!(
                "error: cannot reach the API at {https} (a server certificate of a private CA needs --ca-file): "
            )),
            "{}",
            out.stderr
        );
    }

    // login keeps the CA file with the credentials.
    let mut args = flags.to_vec();
    args.extend(["--ca-file", &ca_file, "login"]);
    let mut login = dir.ctl(&args);
    login.env("XDG_CONFIG_HOME", dir.0.join("xdg"));
    run(login).await.expect(0);
    let mut list = dir.ctl(&["list", "--json"]);
    list.env("XDG_CONFIG_HOME", dir.0.join("xdg"));
    assert_eq!(run(list).await.expect(0).json()["meta"]["record_count"], 1);

    // A CA file that is missing, or holds no certificate: one line naming it.
    let missing = dir.0.join("missing.pem");
    let missing = missing.to_str().unwrap();
    let out = run(dir.ctl(&["--token", &token, "--ca-file", missing, "list"]))
        .await
        .expect(2);
    assert!(
        out.error_line()
            .starts_with(&format!("error: cannot read the CA file {missing}: ")),
        "{}",
        out.stderr
    );
    let empty = dir.file("empty.pem", "not a certificate\n");
    let out = run(dir.ctl(&["--token", &token, "--ca-file", &empty, "list"]))
        .await
        .expect(2);
    assert_eq!(
        out.error_line(),
        format!("error: the CA file {empty} has no PEM certificate")
    );

    tls.abort();
    api.stop().await;
}
