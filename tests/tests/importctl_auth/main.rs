//! `importctl` authenticating as Commerce Layer's clients do, driven as a real process
//! against an API in this process: client credentials from flags, the environment or the
//! file `importctl login` keeps; access tokens renewed as they expire or are revoked, once;
//! and `--ca-file` trusted for an API behind HTTPS.
//!
//! An HTTP proxy in front of the API counts the token requests and the 401 answers, and
//! sees the bearer tokens importctl sends; a TLS proxy serves the API over HTTPS with a CA
//! made in the test.

mod login;
mod renewal;
mod support;
mod tls;

use imports_common::model::Mode;
use imports_tests::TestEnv;

use support::{application, builds, created_ids, run, HttpProxy, TempDir, INVALID_CLIENT, SKUS};

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
