//! The HTTP client of the imports API: bearer token, JSON:API bodies, errors read from the
//! JSON:API error documents, and `429`/`503` answers waited out as their `Retry-After` says.

use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The media type of JSON:API documents.
pub const JSONAPI: &str = "application/vnd.api+json";

/// How many times a `503` is retried before it is an error (a `429` is always waited out:
/// it says the API is busy or the organization has too many imports running, both of which
/// pass).
const UNAVAILABLE_RETRIES: u32 = 5;

/// An error answer of the API, with the JSON:API errors it gave.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// `errors[]` of the answer (empty when the body was not a JSON:API error document).
    pub errors: Vec<Value>,
    /// The start of the body, when it was not a JSON:API error document.
    pub body: String,
}

impl ApiError {
    /// The `detail` of the first error.
    pub fn detail(&self) -> Option<&str> {
        self.errors.first().and_then(|e| e["detail"].as_str())
    }
}

/// Where an error is: the attribute of a pointer (`/data/attributes/inputs` -> `inputs`), the
/// rest of another pointer, or the query parameter.
fn location(error: &Value) -> Option<String> {
    let source = error.get("source")?;
    if let Some(p) = source.get("pointer").and_then(Value::as_str) {
        let p = p
            .strip_prefix("/data/attributes/")
            .unwrap_or_else(|| p.trim_start_matches('/'));
        return Some(p.to_owned());
    }
    source
        .get("parameter")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = self.status.as_u16();
        if self.errors.is_empty() {
            let reason = self.status.canonical_reason().unwrap_or("error");
            write!(f, "{code} {reason}")?;
            if !self.body.trim().is_empty() {
                write!(f, ": {}", self.body.trim())?;
            }
        } else {
            for (i, e) in self.errors.iter().enumerate() {
                if i > 0 {
                    f.write_str("; ")?;
                }
                let title = e["title"].as_str().unwrap_or("error");
                let detail = e["detail"].as_str().unwrap_or(title);
                match location(e) {
                    Some(at) => write!(f, "{code} {at}: {detail}")?,
                    None => write!(f, "{code} {title}: {detail}")?,
                }
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            f.write_str(" (check --token or IMPORTS_TOKEN)")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// Told about a wait for a `Retry-After`: what is waited for, and how long.
pub type WaitNotice = Box<dyn Fn(&str, Duration)>;

/// A connection to the API.
pub struct Api {
    base: String,
    token: String,
    http: Client,
    /// Told about every wait for a `Retry-After` (what is waited for, and how long).
    pub on_wait: WaitNotice,
}

impl Api {
    /// A client of the API at `base` (`http://127.0.0.1:8080`) with `token`.
    pub fn new(base: &str, token: &str) -> Result<Api> {
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .user_agent(concat!("importctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Api {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http,
            on_wait: Box::new(|what, wait| eprintln!("waiting {}s: {what}", wait.as_secs())),
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request built by `build` (again on each retry) and returns the successful
    /// answer; an error answer is an [`ApiError`].
    pub fn send(&self, build: impl Fn(&Client) -> RequestBuilder) -> Result<Response> {
        let mut unavailable = 0;
        loop {
            let request = build(&self.http)
                .header(AUTHORIZATION, format!("Bearer {}", self.token))
                .header(ACCEPT, JSONAPI);
            let response = request.send().map_err(|e| {
                anyhow::Error::new(e).context(format!("cannot reach the API at {}", self.base))
            })?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let error = read_error(response);
            let retry = match (status, retry_after) {
                (StatusCode::TOO_MANY_REQUESTS, Some(s)) => Some(s),
                (StatusCode::TOO_MANY_REQUESTS, None) => Some(1),
                (StatusCode::SERVICE_UNAVAILABLE, s) if unavailable < UNAVAILABLE_RETRIES => {
                    unavailable += 1;
                    Some(s.unwrap_or(2))
                }
                _ => None,
            };
            match retry {
                Some(seconds) => {
                    let wait = Duration::from_secs(seconds.clamp(1, 300));
                    let what = error
                        .detail()
                        .map(str::to_owned)
                        .unwrap_or_else(|| error.to_string());
                    (self.on_wait)(&what, wait);
                    std::thread::sleep(wait);
                }
                None => return Err(error.into()),
            }
        }
    }

    /// `GET path?query` as JSON.
    pub fn get(&self, path: &str, query: &[(String, String)]) -> Result<Value> {
        let url = self.url(path);
        let response = self.send(|c| c.get(&url).query(query))?;
        read_json(response)
    }

    /// `GET path` as text (the failed-inputs CSV).
    pub fn get_text(&self, path: &str) -> Result<String> {
        let url = self.url(path);
        let response = self.send(|c| c.get(&url))?;
        response.text().context("cannot read the API's answer")
    }

    /// A request with a JSON:API body, answered with a document.
    pub fn send_document(&self, method: Method, path: &str, body: String) -> Result<Value> {
        let url = self.url(path);
        // Cheap to clone for a retry, however large the chunk.
        let body = bytes::Bytes::from(body);
        let response = self.send(|c| {
            c.request(method.clone(), &url)
                .header(CONTENT_TYPE, JSONAPI)
                .body(body.clone())
        })?;
        read_json(response)
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Result<()> {
        let url = self.url(path);
        self.send(|c| c.delete(&url))?;
        Ok(())
    }
}

fn read_json(response: Response) -> Result<Value> {
    let text = response.text().context("cannot read the API's answer")?;
    serde_json::from_str(&text).context("the API's answer is not JSON")
}

fn read_error(response: Response) -> ApiError {
    let status = response.status();
    let text = response.text().unwrap_or_default();
    let errors = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("errors").and_then(Value::as_array).cloned())
        .unwrap_or_default();
    let body = if errors.is_empty() {
        text.chars().take(300).collect()
    } else {
        String::new()
    };
    ApiError {
        status,
        errors,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_read_as_status_place_and_detail() {
        let e = ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            errors: vec![
                json!({"title": "Validation error", "detail": "inputs can't be empty",
                "source": {"pointer": "/data/attributes/inputs"}}),
            ],
            body: String::new(),
        };
        assert_eq!(e.to_string(), "422 inputs: inputs can't be empty");
        let e = ApiError {
            status: StatusCode::BAD_REQUEST,
            errors: vec![json!({"title": "Bad request", "detail": "bad sort",
                "source": {"parameter": "sort"}})],
            body: String::new(),
        };
        assert_eq!(e.to_string(), "400 sort: bad sort");
        let e = ApiError {
            status: StatusCode::UNAUTHORIZED,
            errors: vec![
                json!({"title": "Invalid token", "detail": "a valid API token is required"}),
            ],
            body: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "401 Invalid token: a valid API token is required (check --token or IMPORTS_TOKEN)"
        );
        let e = ApiError {
            status: StatusCode::BAD_GATEWAY,
            errors: vec![],
            body: "upstream down\n".into(),
        };
        assert_eq!(e.to_string(), "502 Bad Gateway: upstream down");
    }
}
