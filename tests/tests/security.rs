//! Security: per-token rate limits, and tenant isolation over every action as a generated
//! matrix of organizations and modes, including parent and relationship ids.

use std::time::Duration;

use imports_common::model::{Mode, Status, Tenant};
use imports_tests::{ImportSpec, TestEnv};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

const JSONAPI: &str = "application/vnd.api+json";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_over_its_rate_gets_429_with_retry_after() {
    let env = TestEnv::new().await;
    let mut config = env.api_config();
    config.rate_burst = 5;
    config.rate_per_second = 1;
    let server = env.spawn_api(config).await;
    let busy = env.token("acme", Mode::Test).await;
    let quiet = env.token("acme", Mode::Test).await;
    let http = Client::new();
    let get = |token: &str| {
        http.get(format!("{}/api/imports", server.base_url))
            .bearer_auth(token.to_owned())
            .send()
    };
    for _ in 0..5 {
        assert_eq!(get(&busy).await.unwrap().status(), StatusCode::OK);
    }
    let resp = get(&busy).await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["errors"][0]["code"], "TOO_MANY_REQUESTS");
    assert_eq!(
        get(&quiet).await.unwrap().status(),
        StatusCode::OK,
        "another token has its own bucket"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        get(&busy).await.unwrap().status(),
        StatusCode::OK,
        "the bucket refills"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tenant_reaches_another_in_any_action() {
    let env = TestEnv::new().await;
    let server = env.spawn_api(env.api_config()).await;
    let http = Client::new();
    let tenants: Vec<Tenant> = ["acme", "globex"]
        .iter()
        .flat_map(|org| {
            [Mode::Test, Mode::Live].map(|mode| Tenant {
                organization_id: org.to_string(),
                mode,
            })
        })
        .collect();

    // Each tenant: a token, a pending import, a price list, a SKU.
    struct Owned {
        token: String,
        import_id: String,
        price_list_id: String,
        sku_id: String,
    }
    let mut owned = Vec::new();
    for t in &tenants {
        let token = env.token(&t.organization_id, t.mode).await;
        let client = env.pool.get().await.unwrap();
        let pl = format!("pl-{}-{}", t.organization_id, t.mode.as_str());
        let sku = format!("sku-{}-{}", t.organization_id, t.mode.as_str());
        client
            .execute(
                "INSERT INTO price_lists (id, organization_id, mode, code, name, currency_code) VALUES ($1, $2, $3, 'EU', 'EU', 'EUR')",
                &[&pl, &t.organization_id, &t.mode.as_str()],
            )
            .await
            .unwrap();
        client
            .execute(
                "INSERT INTO skus (id, organization_id, mode, code, name) VALUES ($1, $2, $3, 'SHARED', 'x')",
                &[&sku, &t.organization_id, &t.mode.as_str()],
            )
            .await
            .unwrap();
        let body = json!({"data": {"type": "imports", "attributes": {"resource_type": "skus", "inputs": [{"code": "A", "name": "a", "do_not_ship": true}]}}});
        let resp = http
            .post(format!("{}/api/imports", server.base_url))
            .bearer_auth(&token)
            .header("content-type", JSONAPI)
            .body(serde_json::to_vec(&body).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let doc: Value = resp.json().await.unwrap();
        owned.push(Owned {
            token,
            import_id: doc["data"]["id"].as_str().unwrap().into(),
            price_list_id: pl,
            sku_id: sku,
        });
    }

    let mut checked = 0;
    for (a, actor) in owned.iter().enumerate() {
        for (o, owner) in owned.iter().enumerate() {
            if a == o {
                continue;
            }
            let url = format!("{}/api/imports/{}", server.base_url, owner.import_id);
            let patch = json!({"data": {"type": "imports", "id": owner.import_id, "attributes": {"_interrupt": true, "reference": "x"}}});
            let requests = [
                http.get(&url),
                http.get(format!("{url}/events")),
                http.patch(&url)
                    .header("content-type", JSONAPI)
                    .body(serde_json::to_vec(&patch).unwrap()),
                http.delete(&url),
            ];
            for req in requests {
                let resp = req.bearer_auth(&actor.token).send().await.unwrap();
                assert_eq!(
                    resp.status(),
                    StatusCode::NOT_FOUND,
                    "{} acting on {}'s import",
                    tenants[a].organization_id,
                    tenants[o].organization_id
                );
                checked += 1;
            }
            // Listing by the other tenant's id finds nothing.
            let resp = http
                .get(format!(
                    "{}/api/imports?filter[ids]={}",
                    server.base_url, owner.import_id
                ))
                .bearer_auth(&actor.token)
                .send()
                .await
                .unwrap();
            let doc: Value = resp.json().await.unwrap();
            assert_eq!(doc["meta"]["record_count"], 0);
            // The other tenant's parent does not exist for the actor.
            let body = json!({"data": {"type": "imports", "attributes": {"resource_type": "prices", "parent_resource_id": owner.price_list_id, "inputs": [{"sku_code": "SHARED", "amount_cents": 1}]}}});
            let resp = http
                .post(format!("{}/api/imports", server.base_url))
                .bearer_auth(&actor.token)
                .header("content-type", JSONAPI)
                .body(serde_json::to_vec(&body).unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
            checked += 2;
        }
    }
    assert_eq!(checked, 12 * 6);
    // Untouched: every import still pending, without the reference.
    for o in &owned {
        let i = env.import(&o.import_id).await;
        assert_eq!((i.status, i.reference), (Status::Pending, None));
    }

    // Relationship ids of another tenant, given inside inputs, do not exist either.
    let worker = env.spawn_worker(env.worker_config(2, 10, 10));
    for (a, actor_tenant) in tenants.iter().enumerate() {
        let others: Vec<&Owned> = owned
            .iter()
            .enumerate()
            .filter(|(o, _)| *o != a)
            .map(|(_, x)| x)
            .collect();
        let inputs: Value = others
            .iter()
            .map(|o| json!({"sku_id": o.sku_id, "price_list_id": o.price_list_id, "amount_cents": 5}))
            .collect();
        let spec = ImportSpec {
            tenant: Some(actor_tenant),
            ..ImportSpec::json("prices", &inputs)
        }
        .skip_errors();
        let import = env.submit(spec).await;
        let done = env.wait_final(&import.id, Duration::from_secs(60)).await;
        assert_eq!(
            (done.processed_count, done.errors_count),
            (0, 3),
            "{:?}",
            done.errors_log
        );
        for errors in done.errors_log.0.values() {
            assert_eq!(errors.get("sku").map(|v| v[0].as_str()), Some("must exist"));
            assert_eq!(
                errors.get("price_list").map(|v| v[0].as_str()),
                Some("must exist")
            );
        }
    }
    assert_eq!(env.count("prices").await, 0);
    worker.stop().await;
    server.stop().await;
}
