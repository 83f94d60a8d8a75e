//! The `imports-api` binary's subcommands: migrate and tokens.

use std::process::Command;

use imports_tests::{binary, TestEnv};

fn api(env: &TestEnv, args: &[&str]) -> std::process::Output {
    Command::new(binary("imports-api"))
        .args(args)
        .env("DATABASE_URL", &env.database_url)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_created_listed_and_revoked() {
    let env = TestEnv::new().await;
    let out = api(&env, &["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("migrations applied: []"),
        "already migrated: nothing to do"
    );

    let out = api(
        &env,
        &[
            "tokens",
            "create",
            "--organization",
            "acme",
            "--mode",
            "live",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let token = stdout.lines().last().unwrap().to_owned();
    assert!(
        token.starts_with("imp_live_") && token.len() > 40,
        "{stdout}"
    );
    let stored: Vec<u8> = env.query("SELECT token_hash FROM api_tokens").await[0].get(0);
    assert_ne!(stored, token.as_bytes(), "stored hashed");
    {
        let client = env.pool.get().await.unwrap();
        let tenant = imports_api::tokens::authenticate(&**client, &token)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (tenant.organization_id.as_str(), tenant.mode.as_str()),
            ("acme", "live")
        );
    }

    let out = api(&env, &["tokens", "list"]);
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        listing.contains("acme\tlive") && listing.contains("active"),
        "{listing}"
    );
    assert!(!listing.contains(&token), "the secret is never listed");
    let id = listing.split('\t').next().unwrap().to_owned();

    let out = api(&env, &["tokens", "revoke", &id]);
    assert!(out.status.success());
    let client = env.pool.get().await.unwrap();
    assert!(
        imports_api::tokens::authenticate(&**client, &token)
            .await
            .unwrap()
            .is_none(),
        "revoked at once"
    );
    let out = api(&env, &["tokens", "revoke", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no active token"));

    let out = api(
        &env,
        &[
            "tokens",
            "create",
            "--organization",
            "acme",
            "--mode",
            "prod",
        ],
    );
    assert!(!out.status.success());
}
