//! Access tokens renewed before they expire, once after a revocation, and not in a loop
//! once the application is revoked.

use std::time::Duration;

use imports_tests::TestEnv;
use serde_json::json;

use crate::support::{
    application, builds, created_ids, run, wait_seen, HttpProxy, Run, TempDir, INVALID_CLIENT, SKUS,
};

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
