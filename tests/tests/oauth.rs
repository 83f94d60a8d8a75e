//! OAuth2 as Commerce Layer's clients use it: applications, `POST /oauth/token`, JWT access
//! tokens checked on every request, revocation across replicas, the key set, and every way a
//! token or a token request can be wrong.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use imports_common::model::Mode;
use imports_tests::{binary, TestEnv};
use reqwest::{Client, StatusCode};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{json, Value};
use sha2::Sha512;

const JSONAPI: &str = "application/vnd.api+json";

/// Makes an application; returns (client id, client secret, application id).
async fn application(env: &TestEnv, slug: &str, mode: Mode) -> (String, String, String) {
    let client = env.pool.get().await.unwrap();
    let created = imports_api::applications::create(&**client, slug, mode, "integration tests")
        .await
        .unwrap();
    (
        created.application.client_id.clone(),
        created.client_secret,
        created.application.id,
    )
}

async fn token_request(http: &Client, base: &str, body: Value) -> (StatusCode, Value) {
    let r = http
        .post(format!("{base}/oauth/token"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

async fn access_token(http: &Client, base: &str, id: &str, secret: &str) -> String {
    let (status, body) = token_request(
        http,
        base,
        json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn get(http: &Client, base: &str, path: &str, token: &str) -> (StatusCode, Value) {
    let r = http
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn create_import(http: &Client, base: &str, token: &str) -> (StatusCode, Value) {
    let r = http
        .post(format!("{base}/api/imports"))
        .bearer_auth(token)
        .header("content-type", JSONAPI)
        .body(
            json!({"data": {"type": "imports", "attributes": {
                "resource_type": "skus", "inputs": [{"code": "A", "name": "a", "do_not_ship": true}]}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Signs `claims` under `header` with the PEM key, as a forger holding it would.
fn sign(header: &Value, claims: &Value, pem: &str) -> String {
    let key = SigningKey::<Sha512>::new(rsa::RsaPrivateKey::from_pkcs8_pem(pem).unwrap());
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key.sign(input.as_bytes()).to_bytes();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_give_a_commerce_layer_token_that_reaches_only_its_tenant() {
    let env = TestEnv::new().await;
    let server = env.spawn_api(env.api_config()).await;
    let base = &server.base_url;
    let http = Client::new();
    let (id, secret, app_id) = application(&env, "acme", Mode::Test).await;

    // JSON and form bodies alike; the answer has Commerce Layer's fields.
    let (status, body) = token_request(
        &http,
        base,
        json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 7200);
    assert_eq!(body["scope"], "market:all");
    assert!(body["created_at"].as_i64().unwrap() > 1_700_000_000);
    let token = body["access_token"].as_str().unwrap().to_owned();
    let form = http
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", "market:code:europe"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    assert_eq!(form.headers()["cache-control"], "no-store");
    let form: Value = form.json().await.unwrap();
    assert_eq!(form["scope"], "market:code:europe");

    // The JWT: RS512 with a 64-hex kid; Commerce Layer's claims.
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = decode_part(parts[0]);
    assert_eq!(header["alg"], "RS512");
    assert_eq!(header["kid"].as_str().unwrap().len(), 64);
    let claims = decode_part(parts[1]);
    assert_eq!(claims["organization"]["slug"], "acme");
    assert_eq!(claims["organization"]["enterprise"], false);
    assert!(claims["organization"]["region"].is_string());
    assert_eq!(claims["application"]["id"], app_id.as_str());
    assert_eq!(claims["application"]["client_id"], id.as_str());
    assert_eq!(claims["application"]["kind"], "integration");
    assert_eq!(claims["application"]["public"], false);
    assert_eq!(claims["test"], true);
    assert_eq!(claims["scope"], "market:all");
    assert!(claims["rand"].is_number());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        7200
    );
    assert_eq!(claims["iss"], server.config.oauth.auth_url.as_str());
    assert!(claims["iss"].as_str().unwrap().starts_with("https://auth."));
    assert!(
        !parts[1].contains(['-', '_']),
        "the SDK reads the payload with atob"
    );

    // The token works on the imports API, and the application and organization answer.
    let (status, created) = create_import(&http, base, &token).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, list) = get(&http, base, "/api/imports", &token).await;
    assert_eq!(
        (status, list["meta"]["record_count"].as_i64()),
        (StatusCode::OK, Some(1))
    );
    let (status, app) = get(&http, base, "/api/application", &token).await;
    assert_eq!(status, StatusCode::OK, "{app}");
    assert_eq!(app["data"]["type"], "applications");
    assert_eq!(app["data"]["id"], app_id.as_str());
    assert_eq!(app["data"]["attributes"]["kind"], "integration");
    assert_eq!(app["data"]["attributes"]["name"], "integration tests");
    let (status, org) = get(&http, base, "/api/organization", &token).await;
    assert_eq!(status, StatusCode::OK, "{org}");
    assert_eq!(org["data"]["type"], "organizations");
    assert_eq!(org["data"]["attributes"]["slug"], "acme");
    assert_eq!(org["data"]["id"], claims["organization"]["id"]);

    // The same data through an imp_ token of the organization; another mode or
    // organization sees none of it.
    let imp = env.token("acme", Mode::Test).await;
    let (_, list) = get(&http, base, "/api/imports", &imp).await;
    assert_eq!(list["meta"]["record_count"], 1);
    let (status, _) = get(&http, base, "/api/application", &imp).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let import_path = format!("/api/imports/{}", created["data"]["id"].as_str().unwrap());
    for (slug, mode) in [("acme", Mode::Live), ("other", Mode::Test)] {
        let (id, secret, _) = application(&env, slug, mode).await;
        let theirs = access_token(&http, base, &id, &secret).await;
        let (_, list) = get(&http, base, "/api/imports", &theirs).await;
        assert_eq!(list["meta"]["record_count"], 0, "{slug} {mode:?}");
        let (status, _) = get(&http, base, &import_path, &theirs).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{slug} {mode:?}");
        let (_, org) = get(&http, base, "/api/organization", &theirs).await;
        assert_eq!(org["data"]["attributes"]["slug"], slug);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_and_bad_bodies_are_refused_in_commerce_layers_shape() {
    let env = TestEnv::new().await;
    let mut config = env.api_config();
    config.oauth.token_requests_per_minute = 8;
    let server = env.spawn_api(config).await;
    let base = &server.base_url;
    let http = Client::new();
    let (id, secret, app_id) = application(&env, "acme", Mode::Test).await;
    let (other_id, other_secret, _) = application(&env, "acme", Mode::Live).await;

    let cc = |id: &str, secret: &str| json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret});
    for body in [
        cc(&id, "wrong"),
        cc(&id, &other_secret),
        cc("unknown", &secret),
        cc(&"x".repeat(5000), &secret),
        json!({"grant_type": "client_credentials", "client_id": id}),
        json!({"grant_type": "client_credentials"}),
    ] {
        let (status, error) = token_request(&http, base, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}: {error}");
        let e = &error["errors"][0];
        assert_eq!(e["code"], "UNAUTHORIZED");
        assert_eq!(e["title"], "invalid_client");
        assert_eq!(e["status"], 401);
        assert!(e["detail"]
            .as_str()
            .unwrap()
            .starts_with("Client authentication failed"));
    }
    let raw = |content_type: &'static str, body: &'static str| {
        http.post(format!("{base}/oauth/token"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    for (content_type, body, title) in [
        ("application/json", "{not json", "invalid_request"),
        ("application/json", "[1, 2]", "invalid_request"),
        (
            "application/json",
            r#"{"client_id": "x"}"#,
            "invalid_request",
        ),
        (
            "application/json",
            r#"{"grant_type": 7}"#,
            "invalid_request",
        ),
        (
            "application/json",
            r#"{"grant_type": "password"}"#,
            "unsupported_grant_type",
        ),
        (
            "application/x-www-form-urlencoded",
            "client_id=x",
            "invalid_request",
        ),
        (
            "application/x-www-form-urlencoded",
            "grant_type=refresh_token",
            "unsupported_grant_type",
        ),
    ] {
        let r = raw(content_type, body).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = r.json().await.unwrap();
        assert_eq!(error["errors"][0]["title"], title, "{body}: {error}");
        assert_eq!(error["errors"][0]["status"], 400);
    }
    let (status, error) = token_request(
        &http,
        base,
        json!({"grant_type": "client_credentials", "client_id": other_id, "client_secret": other_secret, "scope": "market:all; DROP"}),
    )
    .await;
    assert_eq!(
        (status, &error["errors"][0]["title"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_scope"))
    );
    let big = http
        .post(format!("{base}/oauth/token"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"grant_type": "{}"}}"#, "x".repeat(20_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error: Value = big.json().await.unwrap();
    assert_eq!(error["errors"][0]["status"], 413);
    let wrong_method = http
        .get(format!("{base}/oauth/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    let error: Value = wrong_method.json().await.unwrap();
    assert_eq!(error["errors"][0]["status"], 405, "{error}");

    // A revoked application gets no token, and its tokens stop working.
    let token = access_token(&http, base, &id, &secret).await;
    assert_eq!(
        get(&http, base, "/api/imports", &token).await.0,
        StatusCode::OK
    );
    {
        let client = env.pool.get().await.unwrap();
        assert!(
            imports_api::applications::revoke(&**client, &app_id, Duration::from_secs(7200))
                .await
                .unwrap()
        );
    }
    let (status, _) = token_request(&http, base, cc(&id, &secret)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let deadline = Instant::now() + Duration::from_millis(1500);
    while get(&http, base, "/api/imports", &token).await.0 == StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "the revoked application's token still works"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Past its rate, a client waits: 429 with Retry-After.
    let mut limited = None;
    for _ in 0..10 {
        let r = http
            .post(format!("{base}/oauth/token"))
            .json(&cc(&other_id, &other_secret))
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
    }
    let limited = limited.expect("the token endpoint is rate-limited per client");
    assert!(limited.headers().contains_key("retry-after"));
    let error: Value = limited.json().await.unwrap();
    assert_eq!(error["errors"][0]["status"], 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_expired_and_foreign_tokens_are_401() {
    let env = TestEnv::new().await;
    let server = env.spawn_api(env.api_config()).await;
    let base = &server.base_url;
    let http = Client::new();
    let (id, secret, _) = application(&env, "acme", Mode::Test).await;
    let token = access_token(&http, base, &id, &secret).await;
    let parts: Vec<&str> = token.split('.').collect();
    let (header, claims) = (decode_part(parts[0]), decode_part(parts[1]));
    let pem: String = env.query("SELECT private_key_pem FROM signing_keys").await[0].get(0);
    let other_pem = {
        use rsa::pkcs8::EncodePrivateKey;
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap()
            .to_string()
    };
    // Our own key signs what we choose here, to show each check on its own.
    assert_eq!(
        get(&http, base, "/api/imports", &sign(&header, &claims, &pem))
            .await
            .0,
        StatusCode::OK
    );

    let mut live = claims.clone();
    live["test"] = json!(false);
    let mut expired = claims.clone();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 1);
    let mut foreign = claims.clone();
    foreign["iss"] = json!("https://auth.elsewhere.test");
    let mut unknown_kid = header.clone();
    unknown_kid["kid"] = json!("0".repeat(64));
    let mut hs512 = header.clone();
    hs512["alg"] = json!("HS512");
    let edited = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(live.to_string()),
        parts[2]
    );
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string()),
        parts[1]
    );
    let cases = [
        ("claims edited, signature kept", edited),
        ("alg none", none),
        (
            "another key under our kid",
            sign(&header, &claims, &other_pem),
        ),
        ("expired", sign(&header, &expired, &pem)),
        ("another issuer", sign(&header, &foreign, &pem)),
        ("unknown kid", sign(&unknown_kid, &claims, &pem)),
        ("HS512 header", sign(&hs512, &claims, &pem)),
        ("signature cut", format!("{}.{}.", parts[0], parts[1])),
        ("garbage", "a.b.c".to_owned()),
        ("not a token", "nonsense".to_owned()),
    ];
    for (what, bad) in cases {
        let (status, body) = get(&http, base, "/api/imports", &bad).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert_eq!(body["errors"][0]["code"], "INVALID_TOKEN", "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_stops_working_on_every_replica_within_a_second() {
    let env = TestEnv::new().await;
    let a = env.spawn_api(env.api_config()).await;
    let mut config_b = env.api_config();
    // Both replicas issue as the same auth server.
    config_b.oauth.auth_url = a.config.oauth.auth_url.clone();
    let b = env.spawn_api(config_b).await;
    let http = Client::new();
    let (id, secret, _) = application(&env, "acme", Mode::Test).await;
    let token = access_token(&http, &a.base_url, &id, &secret).await;
    let keep = access_token(&http, &a.base_url, &id, &secret).await;
    for base in [&a.base_url, &b.base_url] {
        assert_eq!(
            get(&http, base, "/api/imports", &token).await.0,
            StatusCode::OK
        );
    }
    // Both replicas share one key set.
    let jwks_a: Value = http
        .get(format!("{}/.well-known/jwks.json", a.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwks_b: Value = http
        .get(format!("{}/.well-known/jwks.json", b.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks_a, jwks_b);

    // Another client cannot revoke it; its own can, at once on the replica it asked.
    let (other_id, other_secret, _) = application(&env, "acme", Mode::Test).await;
    let r = http
        .post(format!("{}/oauth/revoke", a.base_url))
        .json(&json!({"client_id": other_id, "client_secret": other_secret, "token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = http
        .post(format!("{}/oauth/revoke", a.base_url))
        .json(&json!({"client_id": id, "client_secret": "wrong", "token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let revoked_at = Instant::now();
    let r = http
        .post(format!("{}/oauth/revoke", a.base_url))
        .json(&json!({"client_id": id, "client_secret": secret, "token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({}));
    assert_eq!(
        get(&http, &a.base_url, "/api/imports", &token).await.0,
        StatusCode::UNAUTHORIZED
    );
    while get(&http, &b.base_url, "/api/imports", &token).await.0 == StatusCode::OK {
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "replica b still accepts the revoked token"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Only that token: another of the same application still works; revoking twice is fine.
    for base in [&a.base_url, &b.base_url] {
        assert_eq!(
            get(&http, base, "/api/imports", &keep).await.0,
            StatusCode::OK
        );
    }
    let again = http
        .post(format!("{}/oauth/revoke", b.base_url))
        .form(&[
            ("client_id", id.as_str()),
            ("client_secret", &secret),
            ("token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_verify_with_an_independent_jwt_library_and_survive_a_key_rotation() {
    let env = TestEnv::new().await;
    let server = env.spawn_api(env.api_config()).await;
    let base = &server.base_url;
    let http = Client::new();
    let (id, secret, _) = application(&env, "acme", Mode::Live).await;
    let token = access_token(&http, base, &id, &secret).await;

    let verify = |token: &str, jwks: &Value| -> Value {
        let header = jsonwebtoken::decode_header(token).unwrap();
        let kid = header.kid.unwrap();
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).unwrap();
        let jwk = set.find(&kid).expect("the token's kid is published");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS512);
        validation.set_issuer(&[server.config.oauth.auth_url.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .unwrap()
            .claims
    };
    let jwks = |http: Client| async move {
        let r = http
            .get(format!("{base}/.well-known/jwks.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json::<Value>().await.unwrap()
    };
    let before = jwks(http.clone()).await;
    let key = &before["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["alg"].as_str(),
            key["use"].as_str()
        ),
        (Some("RSA"), Some("RS512"), Some("sig"))
    );
    let claims = verify(&token, &before);
    assert_eq!(claims["test"], false);
    assert_eq!(claims["organization"]["slug"], "acme");

    // Rotation (the CLI command): the new key is published at once and signs a few seconds
    // later; the old one keeps verifying its tokens.
    let out = std::process::Command::new(binary("imports-api"))
        .args(["keys", "rotate"])
        .env("DATABASE_URL", &env.database_url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let old_kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let rotated = loop {
        let fresh = access_token(&http, base, &id, &secret).await;
        if jsonwebtoken::decode_header(&fresh).unwrap().kid.unwrap() != old_kid {
            break fresh;
        }
        assert!(Instant::now() < deadline, "the new key never signed");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let after = jwks(http.clone()).await;
    assert_eq!(after["keys"].as_array().unwrap().len(), 2, "{after}");
    verify(&rotated, &after);
    verify(&token, &after);
    assert_eq!(
        get(&http, base, "/api/imports", &token).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&http, base, "/api/imports", &rotated).await.0,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_are_made_listed_and_revoked_from_the_command_line() {
    let env = TestEnv::new().await;
    let api = |args: &[&str]| {
        std::process::Command::new(binary("imports-api"))
            .args(args)
            .env("DATABASE_URL", &env.database_url)
            .output()
            .unwrap()
    };
    let out = api(&[
        "applications",
        "create",
        "--organization",
        "acme-eu",
        "--mode",
        "test",
        "--name",
        "ERP sync",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    for field in ["client_id", "client_secret", "id", "organization", "mode"] {
        assert!(!created[field].is_null(), "{field}: {created}");
    }
    assert_eq!(created["organization"]["slug"], "acme-eu");
    assert_eq!(created["mode"], "test");
    assert_eq!(created["kind"], "integration");
    let secret = created["client_secret"].as_str().unwrap();
    let stored: Vec<u8> = env
        .query("SELECT client_secret_hash FROM applications")
        .await[0]
        .get(0);
    assert_ne!(stored, secret.as_bytes(), "stored hashed");

    // A second application of the same organization reuses it.
    let out = api(&[
        "applications",
        "create",
        "--organization",
        "acme-eu",
        "--mode",
        "live",
        "--name",
        "other",
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("client secret:"));
    assert_eq!(
        env.query("SELECT count(*) FROM organizations").await[0].get::<_, i64>(0),
        1
    );

    let out = api(&["applications", "list", "--json"]);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(secret),
        "never the secret"
    );

    let id = created["id"].as_str().unwrap();
    let out = api(&["applications", "revoke", id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = api(&["applications", "revoke", id]);
    assert!(!out.status.success(), "revoking twice says so");
    let out = api(&["applications", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked"));

    // Bad arguments are one-line errors.
    for (slug, mode, name, kind) in [
        ("Bad Slug", "test", "x", "integration"),
        ("ok", "test", " ", "integration"),
        ("ok", "prod", "x", "integration"),
        ("ok", "test", "x", "sales_channel"),
    ] {
        let args = [
            "applications",
            "create",
            "--organization",
            slug,
            "--mode",
            mode,
            "--name",
            name,
            "--kind",
            kind,
        ];
        let out = api(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("panicked"),
            "{args:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_signs_when_given_and_a_bad_one_stops_the_start() {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let env = TestEnv::new().await;
    let dir = std::env::temp_dir().join(format!("imports-jwt-{}", env.db_name));
    std::fs::create_dir_all(&dir).unwrap();
    // A PKCS#1 file, as `openssl genrsa -traditional` writes.
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let path = dir.join("jwt.pem");
    std::fs::write(
        &path,
        key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    let mut config = env.api_config();
    config.oauth.jwt_private_key = Some(path.clone());
    let server = env.spawn_api(config).await;
    let http = Client::new();
    let (id, secret, _) = application(&env, "acme", Mode::Test).await;
    let token = access_token(&http, &server.base_url, &id, &secret).await;
    let kid = decode_part(token.split('.').next().unwrap())["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(kid, imports_api::oauth::keys::kid_of(&key.to_public_key()));
    let jwks: Value = http
        .get(format!("{}/.well-known/jwks.json", server.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kid"] == kid.as_str()));
    assert_eq!(
        get(&http, &server.base_url, "/api/imports", &token).await.0,
        StatusCode::OK
    );

    // A missing or garbled file: the API does not start, and says which setting is wrong.
    let garbled = dir.join("garbled.pem");
    std::fs::write(
        &garbled,
        "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    for file in [dir.join("missing.pem"), garbled] {
        let out = std::process::Command::new(binary("imports-api"))
            .arg("serve")
            .env("DATABASE_URL", &env.database_url)
            .env("API_ADDR", "127.0.0.1:0")
            .env("API_JWT_PRIVATE_KEY", &file)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("API_JWT_PRIVATE_KEY="), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_checked_before_still_expires_and_its_signature_vouches_for_it_alone() {
    let env = TestEnv::new().await;
    let mut config = env.api_config();
    config.oauth.token_lifetime = Duration::from_secs(2);
    let server = env.spawn_api(config).await;
    let base = &server.base_url;
    let http = Client::new();
    let (id, secret, _) = application(&env, "acme", Mode::Test).await;
    let token = access_token(&http, base, &id, &secret).await;
    // Checked once, then remembered as checked.
    for _ in 0..2 {
        assert_eq!(
            get(&http, base, "/api/imports", &token).await.0,
            StatusCode::OK
        );
    }
    // Its signature under other claims is no token.
    let parts: Vec<&str> = token.split('.').collect();
    let mut live = decode_part(parts[1]);
    live["test"] = json!(false);
    let edited = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(live.to_string()),
        parts[2]
    );
    assert_eq!(
        get(&http, base, "/api/imports", &edited).await.0,
        StatusCode::UNAUTHORIZED
    );
    let exp = decode_part(parts[1])["exp"].as_i64().unwrap();
    while chrono::Utc::now().timestamp() < exp {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = get(&http, base, "/api/imports", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_checked_before_is_refused_once_its_key_leaves_the_set() {
    let env = TestEnv::new().await;
    let server = env.spawn_api(env.api_config()).await;
    let base = &server.base_url;
    let http = Client::new();
    let (id, secret, _) = application(&env, "acme", Mode::Test).await;
    let token = access_token(&http, base, &id, &secret).await;
    assert_eq!(
        get(&http, base, "/api/imports", &token).await.0,
        StatusCode::OK
    );
    // A second key signs, then the first is retired long enough ago to leave the set.
    let out = std::process::Command::new(binary("imports-api"))
        .args(["keys", "rotate"])
        .env("DATABASE_URL", &env.database_url)
        .output()
        .unwrap();
    assert!(out.status.success());
    let old_kid = decode_part(token.split('.').next().unwrap())["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let fresh = access_token(&http, base, &id, &secret).await;
        if decode_part(fresh.split('.').next().unwrap())["kid"] != json!(old_kid) {
            break;
        }
        assert!(Instant::now() < deadline, "the new key never signed");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let client = env.pool.get().await.unwrap();
    client
        .execute(
            "UPDATE signing_keys SET retired_at = now() - interval '2 days' WHERE kid = $1",
            &[&old_kid],
        )
        .await
        .unwrap();
    let retired = Instant::now();
    while get(&http, base, "/api/imports", &token).await.0 == StatusCode::OK {
        assert!(
            retired.elapsed() < Duration::from_secs(2),
            "a token of a key gone from the set is still accepted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
