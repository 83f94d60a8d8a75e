//! Commerce Layer's own npm clients, unchanged, against the API over HTTPS, as their users
//! run them: `@commercelayer/js-auth` (token, `jwtVerify` against our key set,
//! `getCoreApiBaseEndpoint`, revoke), `@commercelayer/sdk` (application, organization,
//! imports, webhooks) and `@commercelayer/cli-plugin-imports` (`imports:create`). The
//! versions are pinned in tests/node/package-lock.json and installed from the npm registry
//! per run.
//!
//! The clients build `https://auth.<domain>` and `https://<slug>.<domain>`: the domain here is
//! `imports.test:<port>`, its names resolved to 127.0.0.1 by tests/node/resolve-local.cjs,
//! and the test's self-signed certificate trusted through `NODE_EXTRA_CA_CERTS`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use imports_common::model::Mode;
use imports_tests::TestEnv;
use serde_json::Value;

const DOMAIN_HOST: &str = "imports.test";
const SLUG: &str = "acme";

/// A directory of its own, removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The pinned clients installed into a fresh directory with `npm ci`.
fn install_clients() -> TempDir {
    let dir = TempDir(std::env::temp_dir().join(format!("imports-cl-{}", uuid::Uuid::new_v4())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("node");
    for file in [
        "package.json",
        "package-lock.json",
        "clients.mjs",
        "resolve-local.cjs",
    ] {
        std::fs::copy(source.join(file), dir.0.join(file)).unwrap();
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir.0)
        .env("HOME", &dir.0)
        .output()
        .expect("npm runs");
    assert!(
        out.status.success(),
        "npm ci failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// `node --require resolve-local.cjs <args>` in `dir`, trusting `ca`.
fn node(dir: &Path, ca: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new("node");
    command
        .arg("--require")
        .arg(dir.join("resolve-local.cjs"))
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("RESOLVE_LOCAL_SUFFIX", DOMAIN_HOST)
        .env("NODE_EXTRA_CA_CERTS", ca)
        .env("NO_UPDATE_NOTIFIER", "1");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("node runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commerce_layers_js_auth_sdk_and_cli_plugin_work_unchanged() {
    let env = TestEnv::new().await;
    let clients = tokio::task::spawn_blocking(install_clients).await.unwrap();
    let dir = clients.0.clone();

    // A certificate for the names the clients build, and the API on its port.
    let names = vec![
        format!("auth.{DOMAIN_HOST}"),
        format!("{SLUG}.{DOMAIN_HOST}"),
    ];
    let rcgen::CertifiedKey { cert, key_pair } = rcgen::generate_simple_self_signed(names).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key_pair.serialize_pem()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let domain = format!("{DOMAIN_HOST}:{port}");
    let mut config = env.api_config();
    config.tls_cert = Some(cert_path.clone());
    config.tls_key = Some(key_path);
    config.oauth.auth_url = format!("https://auth.{domain}");
    let _api = env.spawn_api_on(listener, config).await;
    let worker = env.spawn_worker(env.worker_config(1, 10, 10));

    let (client_id, client_secret) = {
        let db = env.pool.get().await.unwrap();
        let created = imports_api::applications::create(&**db, SLUG, Mode::Test, "npm clients")
            .await
            .unwrap();
        (created.application.client_id.clone(), created.client_secret)
    };

    // js-auth and the SDK.
    let out = {
        let (dir, ca, domain) = (dir.clone(), cert_path.clone(), domain.clone());
        let (id, secret) = (client_id.clone(), client_secret.clone());
        tokio::task::spawn_blocking(move || {
            node(
                &dir,
                &ca,
                &["clients.mjs"],
                &[
                    ("DOMAIN", &domain),
                    ("ORGANIZATION", SLUG),
                    ("CLIENT_ID", &id),
                    ("CLIENT_SECRET", &secret),
                ],
            )
        })
        .await
        .unwrap()
    };
    assert!(
        out.status.success(),
        "clients.mjs failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let seen: Value = serde_json::from_slice(out.stdout.trim_ascii())
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(seen["token"]["tokenType"], "bearer", "{seen}");
    assert_eq!(seen["token"]["expiresIn"], 7200, "{seen}");
    assert_eq!(seen["token"]["expires"], true, "{seen}");
    assert_eq!(seen["verified"]["alg"], "RS512", "{seen}");
    assert_eq!(seen["verified"]["slug"], SLUG);
    assert_eq!(seen["verified"]["kind"], "integration");
    assert_eq!(seen["verified"]["test"], true);
    assert_eq!(seen["decoded_slug"], SLUG);
    assert_eq!(seen["core_api"], format!("https://{SLUG}.{domain}"));
    assert_eq!(seen["application"]["type"], "applications", "{seen}");
    assert_eq!(seen["application"]["kind"], "integration");
    assert_eq!(seen["organization"]["slug"], SLUG);
    assert_eq!(seen["created"]["type"], "imports");
    assert_eq!(seen["created"]["status"], "pending");
    assert_eq!(seen["created"]["inputs_size"], 2);
    assert_eq!(seen["final"]["status"], "completed", "{seen}");
    assert_eq!(seen["final"]["processed_count"], 2);
    assert_eq!(seen["list"]["recordCount"], 1);
    assert_eq!(
        seen["derived_count"], 1,
        "the SDK configured from the token alone"
    );
    assert_eq!(seen["bad_secret"]["title"], "invalid_client", "{seen}");
    assert_eq!(seen["bad_secret"]["status"], 401);
    assert_eq!(seen["after_revoke"], 401, "{seen}");

    // The CLI imports plugin, with a fresh token, as `commercelayer imports:create` runs it.
    let token = {
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(cert.pem().as_bytes()).unwrap())
            .resolve(
                &format!("auth.{DOMAIN_HOST}"),
                ([127, 0, 0, 1], port).into(),
            )
            .build()
            .unwrap();
        let body: Value = http
            .post(format!("https://auth.{domain}/oauth/token"))
            .json(&serde_json::json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    };
    let inputs = dir.join("skus.json");
    std::fs::write(
        &inputs,
        serde_json::json!([{"code": "PLUGIN-1", "name": "one", "do_not_ship": true}, {"code": "PLUGIN-2", "name": "two", "do_not_ship": true}, {"code": "PLUGIN-3", "name": "three", "do_not_ship": true}]).to_string(),
    )
    .unwrap();
    let out = {
        let (dir, ca, domain, token) = (
            dir.clone(),
            cert_path.clone(),
            domain.clone(),
            token.clone(),
        );
        let inputs = inputs.display().to_string();
        tokio::task::spawn_blocking(move || {
            let run = dir.join("node_modules/@commercelayer/cli-plugin-imports/bin/run.js");
            node(
                &dir,
                &ca,
                &[
                    run.to_str().unwrap(),
                    "imports:create",
                    "-o",
                    SLUG,
                    "-d",
                    &domain,
                    "--accessToken",
                    &token,
                    "-t",
                    "skus",
                    "-i",
                    &inputs,
                    "-b",
                ],
                &[],
            )
        })
        .await
        .unwrap()
    };
    assert!(
        out.status.success(),
        "imports:create failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = env
            .query("SELECT status, processed_count, reference_origin, metadata FROM imports WHERE reference_origin = 'cli-plugin-imports'")
            .await;
        if let Some(row) = rows.first() {
            let status: String = row.get(0);
            if status == "completed" {
                assert_eq!(row.get::<_, i64>(1), 3);
                let metadata: Value = row.get(3);
                assert_eq!(metadata["chunk_number"], "1/1", "{metadata}");
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the plugin's import never completed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The SDK's webhooks: create, list, retrieve; then, the circuit opened in the database,
    // _reset_circuit, _disable, last_event_callbacks and delete.
    let run = |step: &'static str, id: String| {
        let (dir, ca, domain, token) = (
            dir.clone(),
            cert_path.clone(),
            domain.clone(),
            token.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let env = [
                ("DOMAIN", domain.as_str()),
                ("ORGANIZATION", SLUG),
                ("TOKEN", &token),
                ("STEP", step),
                ("ID", &id),
            ];
            let out = node(
                &dir,
                &ca,
                &["--input-type=module", "-e", WEBHOOKS_MJS],
                &env,
            );
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "{step}: {}\n{stdout}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_str::<Value>(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
        })
    };
    let seen = run("create", String::new()).await.unwrap();
    let id = seen["id"].as_str().unwrap().to_owned();
    let created = serde_json::json!({"type": "webhooks", "secret_length": 32, "circuit_state": "closed", "include_resources": ["events"]});
    assert_eq!(seen["created"], created, "{seen}");
    let list = serde_json::json!({"length": 1, "recordCount": 1, "first": id});
    assert_eq!(seen["list"], list, "{seen}");
    let retrieved = serde_json::json!({"name": "sdk", "secret": null});
    assert_eq!(seen["retrieved"], retrieved, "{seen}");
    env.query("UPDATE webhooks SET circuit_state = 'open', circuit_failure_count = 30")
        .await;
    let seen = run("reset", id).await.unwrap();
    let reset = serde_json::json!({"circuit_state": "closed", "circuit_failure_count": 0});
    let expected =
        serde_json::json!({"reset": reset, "disabled": true, "callbacks": 0, "after_delete": 404});
    assert_eq!(seen, expected);
    worker.stop().await;
}

/// Commerce Layer's SDK on webhooks, one `STEP` a run (`create`, then `reset` of webhook
/// `ID`); prints what it saw as JSON.
const WEBHOOKS_MJS: &str = r#"
import { CommerceLayer } from '@commercelayer/sdk/bundle'
const { DOMAIN, ORGANIZATION, TOKEN, STEP, ID } = process.env
const cl = CommerceLayer({ organization: ORGANIZATION, domain: DOMAIN, accessToken: TOKEN })
const out = {}
if (STEP === 'create') {
  const w = await cl.webhooks.create({ name: 'sdk', topic: 'imports.complete', callback_url: 'http://127.0.0.1:9/hook', include_resources: ['events'] })
  out.id = w.id
  out.created = { type: w.type, secret_length: w.shared_secret?.length, circuit_state: w.circuit_state, include_resources: w.include_resources }
  const list = await cl.webhooks.list({ filters: { topic_eq: 'imports.complete' }, pageSize: 5 })
  out.list = { length: list.length, recordCount: list.meta.recordCount, first: list[0]?.id }
  const r = await cl.webhooks.retrieve(w.id)
  out.retrieved = { name: r.name, secret: r.shared_secret ?? null }
} else {
  const w = await cl.webhooks._reset_circuit(ID)
  out.reset = { circuit_state: w.circuit_state, circuit_failure_count: w.circuit_failure_count }
  out.disabled = typeof (await cl.webhooks._disable(ID)).disabled_at === 'string'
  out.callbacks = (await cl.webhooks.last_event_callbacks(ID)).meta.recordCount
  await cl.webhooks.delete(ID)
  try { await cl.webhooks.retrieve(ID); out.after_delete = 'found' } catch (e) { out.after_delete = e.status ?? String(e) }
}
console.log(JSON.stringify(out))
"#;
