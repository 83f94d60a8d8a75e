//! The API calls the bench makes to create imports and wait for them.

use std::time::Duration;

use serde_json::{json, Value};

/// Creates an import through the API; returns its id.
pub async fn create(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    format: &str,
    inputs: Value,
) -> anyhow::Result<String> {
    post_create(http, base, token, create_body(format, &inputs)?).await
}

/// The document creating an import of SKUs from `inputs`.
pub fn create_body(format: &str, inputs: &Value) -> anyhow::Result<Vec<u8>> {
    Ok(serde_json::to_vec(
        &json!({"data": {"type": "imports", "attributes": {
        "resource_type": "skus", "format": format, "inputs": inputs}}}),
    )?)
}

/// POSTs a document of [`create_body`]; returns the import's id.
pub async fn post_create(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    body: Vec<u8>,
) -> anyhow::Result<String> {
    let resp = http
        .post(format!("{base}/api/imports"))
        .bearer_auth(token)
        .header("content-type", "application/vnd.api+json")
        .body(body)
        .send()
        .await?;
    anyhow::ensure!(
        resp.status().as_u16() == 201,
        "create failed: {}",
        resp.text().await?
    );
    let doc: Value = resp.json().await?;
    Ok(doc["data"]["id"].as_str().unwrap_or_default().to_owned())
}

/// Waits for an import to complete; returns its attributes.
pub async fn wait_done(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    id: &str,
) -> anyhow::Result<Value> {
    loop {
        let doc: Value = http
            .get(format!("{base}/api/imports/{id}?fields[imports]=status,processed_count,errors_count,errors_log,created_at,started_at,completed_at"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        let a = doc["data"]["attributes"].clone();
        match a["status"].as_str() {
            Some("completed") => return Ok(a),
            Some("interrupted") => anyhow::bail!(
                "import {id} was interrupted after {} errors: {:.500}",
                a["errors_count"],
                a["errors_log"].to_string()
            ),
            // Polling is light on purpose: on 2 cores a busy poller takes CPU from the import.
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// A timestamp attribute of an import.
pub fn time(a: &Value, name: &str) -> anyhow::Result<chrono::DateTime<chrono::FixedOffset>> {
    Ok(chrono::DateTime::parse_from_rfc3339(
        a[name].as_str().unwrap_or_default(),
    )?)
}
