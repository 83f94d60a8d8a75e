//! `importctl login` and `logout`: the credentials file, its mode, its place, and how it
//! yields to flags and the environment.

use std::path::Path;

use imports_common::model::Mode;
use imports_tests::TestEnv;
use serde_json::{json, Value};

use crate::support::{application, builds, created_ids, run, TempDir, INVALID_CLIENT, SKUS};

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
