//! An import's events through the API: `include=events` (with `fields[events]`) on a
//! retrieve and a list, the events list a page at a time, the relationship's linkage, and
//! Commerce Layer's event attributes.

use std::time::{Duration, Instant};

use imports_common::model::Mode;
use imports_tests::{skus, TestEnv};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

struct Api {
    http: Client,
    base: String,
    token: String,
}

impl Api {
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let r = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap())
    }

    async fn create_and_complete(&self) -> String {
        let r = self
            .http
            .post(format!("{}/api/imports", self.base))
            .bearer_auth(&self.token)
            .header("content-type", "application/vnd.api+json")
            .body(
                json!({"data": {"type": "imports", "attributes": {"resource_type": "skus", "inputs": skus(2)}}})
                    .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let id = r.json::<Value>().await.unwrap()["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, doc) = self.get(&format!("/api/imports/{id}")).await;
            if doc["data"]["attributes"]["status"] == "completed" {
                return id;
            }
            assert!(Instant::now() < deadline, "not completed: {doc}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_included_paginated_and_linked() {
    let env = TestEnv::new().await;
    let server = env.spawn_api(env.api_config()).await;
    let worker = env.spawn_worker(env.worker_config(1, 10, 10));
    let api = Api {
        http: Client::new(),
        base: server.base_url.clone(),
        token: env.token("acme", Mode::Test).await,
    };
    let first = api.create_and_complete().await;
    let second = api.create_and_complete().await;

    // include=events on a retrieve: the linkage and the resources, Commerce Layer's attributes.
    let (status, doc) = api
        .get(&format!("/api/imports/{first}?include=events"))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let linkage = doc["data"]["relationships"]["events"]["data"]
        .as_array()
        .unwrap()
        .clone();
    let included = doc["included"].as_array().unwrap();
    let names: Vec<&str> = included
        .iter()
        .map(|e| e["attributes"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["imports.create", "imports.start", "imports.complete"],
        "{doc}"
    );
    assert_eq!(linkage.len(), included.len());
    for (link, event) in linkage.iter().zip(included) {
        assert_eq!((&link["type"], &link["id"]), (&event["type"], &event["id"]));
        assert_eq!(event["type"], "events");
        let a = &event["attributes"];
        for attribute in ["created_at", "updated_at"] {
            assert!(a[attribute].is_string(), "{attribute}: {event}");
        }
        assert_eq!(
            (&a["reference"], &a["reference_origin"], &a["metadata"]),
            (&Value::Null, &Value::Null, &json!({}))
        );
        assert!(a["payload"].is_object());
        assert_eq!(
            event["relationships"]["import"]["data"]["id"],
            first.as_str()
        );
    }
    let (_, doc) = api
        .get(&format!(
            "/api/imports/{first}?include=events&fields[events]=name,created_at"
        ))
        .await;
    let keys: Vec<&String> = doc["included"][0]["attributes"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, ["name", "created_at"]);
    let (_, plain) = api.get(&format!("/api/imports/{first}")).await;
    assert!(
        plain.get("included").is_none(),
        "nothing included unless asked"
    );

    // include=events on a list: each import's own events.
    let (status, list) = api.get("/api/imports?include=events&sort=created_at").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["included"].as_array().unwrap().len(), 6);
    for (resource, id) in list["data"]
        .as_array()
        .unwrap()
        .iter()
        .zip([&first, &second])
    {
        assert_eq!(resource["id"], id.as_str());
        let ids: Vec<&Value> = resource["relationships"]["events"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| &l["id"])
            .collect();
        assert_eq!(ids.len(), 3);
        for event_id in ids {
            let event = list["included"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| &e["id"] == event_id)
                .unwrap();
            assert_eq!(event["relationships"]["import"]["data"]["id"], id.as_str());
        }
    }

    // The events list, a page at a time, and the relationship's links answer.
    let (status, page) = api
        .get(&format!("/api/imports/{first}/events?page[size]=2"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        (&page["meta"]["record_count"], &page["meta"]["page_count"]),
        (&json!(3), &json!(2))
    );
    let next = page["links"]["next"].as_str().unwrap().to_owned();
    let (_, page2) = api.get(&next).await;
    assert_eq!(page2["data"].as_array().unwrap().len(), 1);
    assert_eq!(page2["data"][0]["attributes"]["name"], "imports.complete");
    assert!(page2["links"].get("next").is_none());
    let (_, import) = api.get(&format!("/api/imports/{first}")).await;
    let links = &import["data"]["relationships"]["events"]["links"];
    let (status, related) = api.get(links["related"].as_str().unwrap()).await;
    assert_eq!(
        (status, related["meta"]["record_count"].as_i64()),
        (StatusCode::OK, Some(3))
    );
    let (status, linkage) = api.get(links["self"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{linkage}");
    let data = linkage["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert!(data
        .iter()
        .all(|l| l["type"] == "events" && l.get("attributes").is_none()));

    // Bad parameters are 400s naming them; another tenant sees no events.
    for (path, parameter) in [
        (format!("/api/imports/{first}?include=logs"), "include"),
        (
            format!("/api/imports/{first}?include=events&fields[events]=colour"),
            "fields[events]",
        ),
        ("/api/imports?include=events,tags".to_owned(), "include"),
        (
            format!("/api/imports/{first}/events?page[size]=26"),
            "page[size]",
        ),
        (format!("/api/imports/{first}/events?sort=name"), "sort"),
    ] {
        let (status, doc) = api.get(&path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {doc}");
        assert_eq!(doc["errors"][0]["source"]["parameter"], parameter, "{path}");
    }
    let other = Api {
        token: env.token("other", Mode::Test).await,
        ..api
    };
    for path in [
        format!("/api/imports/{first}/events"),
        format!("/api/imports/{first}/relationships/events"),
    ] {
        assert_eq!(other.get(&path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    worker.stop().await;
}
