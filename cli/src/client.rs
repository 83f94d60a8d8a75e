//! The HTTP client of the imports API: bearer token (an `imp_` token, or access tokens got
//! with client credentials and renewed as they expire), JSON:API bodies, errors read from the
//! JSON:API error documents, `429`/`503` answers waited out as their `Retry-After` says, and
//! extra CA certificates for HTTPS.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Certificate, Method, StatusCode};
use serde_json::{json, Value};

use crate::auth::{AccessToken, ClientCredentials, Credentials};

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
    /// What to check, told after the error (the credentials, for a 401).
    pub hint: Option<String>,
}

impl ApiError {
    /// The `detail` of the first error.
    pub fn detail(&self) -> Option<&str> {
        self.errors.first().and_then(|e| e["detail"].as_str())
    }

    /// The `code` of the first error (`INVALID_TOKEN` for a token the API refuses).
    pub fn code(&self) -> Option<&str> {
        self.errors.first().and_then(|e| e["code"].as_str())
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
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// Told about a wait for a `Retry-After`: what is waited for, and how long.
pub type WaitNotice = Box<dyn Fn(&str, Duration)>;

/// What the requests of a connection are authenticated with.
enum Auth {
    /// An `imp_` token, sent as it is.
    Token(String),
    /// Client credentials, and the access token they last got (for this run only).
    Client {
        credentials: ClientCredentials,
        cached: Mutex<Option<AccessToken>>,
    },
}

/// A connection to the API.
pub struct Api {
    base: String,
    auth: Auth,
    http: Client,
    ca_file: Option<PathBuf>,
    /// Told about every wait for a `Retry-After` (what is waited for, and how long).
    pub on_wait: WaitNotice,
}

/// The HTTP client: timeouts, the user agent, and the CA certificates of `ca_file` trusted
/// beside the system's roots.
pub fn http_client(ca_file: Option<&Path>) -> Result<Client> {
    let mut builder = Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(600))
        // The API closes a connection idle for API_HEADER_TIMEOUT_SECONDS (10 s by default):
        // reusing one it is closing fails the request ("connection closed before message
        // completed"), as a create sent after a 10-second Retry-After did. Idle connections
        // are let go sooner.
        .pool_idle_timeout(Duration::from_secs(4))
        .user_agent(concat!("importctl/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read the CA file {}", path.display()))?;
        let certificates = Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("the CA file {} is not PEM certificates", path.display()))?;
        if certificates.is_empty() {
            bail!("the CA file {} has no PEM certificate", path.display());
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().with_context(|| match ca_file {
        Some(path) => format!(
            "cannot build the HTTP client with the CA file {}",
            path.display()
        ),
        None => "cannot build the HTTP client".to_owned(),
    })
}

/// `cannot reach <what>`, with a hint when the cause is a certificate the client does not
/// trust (given `ca_file`, the CA file it was given).
fn unreachable(e: reqwest::Error, what: &str, ca_file: Option<&Path>) -> anyhow::Error {
    let mut certificate = false;
    let mut cause: Option<&dyn std::error::Error> = Some(&e);
    while let Some(c) = cause {
        certificate |= c.to_string().contains("certificate");
        cause = c.source();
    }
    let hint = match (certificate, ca_file) {
        (false, _) => String::new(),
        (true, None) => " (a server certificate of a private CA needs --ca-file)".into(),
        (true, Some(path)) => format!(
            " (neither the system's CAs nor those of {} accept the server's certificate)",
            path.display()
        ),
    };
    anyhow::Error::new(e).context(format!("cannot reach {what}{hint}"))
}

impl Api {
    /// A client of the API at `base` (`http://127.0.0.1:8080`) with `credentials`,
    /// trusting the CA certificates of `ca_file` too.
    pub fn new(base: &str, credentials: Credentials, ca_file: Option<&Path>) -> Result<Api> {
        let auth = match credentials {
            Credentials::Token(token) => Auth::Token(token),
            Credentials::Client(credentials) => Auth::Client {
                credentials,
                cached: Mutex::new(None),
            },
        };
        Ok(Api {
            base: base.trim_end_matches('/').to_owned(),
            auth,
            http: http_client(ca_file)?,
            ca_file: ca_file.map(Path::to_path_buf),
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

    /// Asks the token endpoint for a new access token (and keeps it for the next calls).
    /// With an `imp_` token, there is none to ask for: `None`.
    pub fn renew_token(&self) -> Result<Option<AccessToken>> {
        let Auth::Client {
            credentials,
            cached,
        } = &self.auth
        else {
            return Ok(None);
        };
        let body = json!({
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
        });
        let url = &credentials.token_url;
        let what = format!("the token endpoint {url}");
        let answer = self
            .exchange(&what, || self.http.post(url).json(&body))
            .map_err(|mut e| match e.downcast_mut::<ApiError>() {
                // Unreached, the error names the token endpoint already.
                None => e,
                Some(api) => {
                    if api.status == StatusCode::UNAUTHORIZED {
                        api.hint = Some(credentials.hint.clone());
                    }
                    e.context(format!("cannot get an access token from {url}"))
                }
            })?;
        let received = Instant::now();
        let answer = read_json(answer)
            .and_then(|v| AccessToken::from_answer(&v, received))
            .with_context(|| format!("cannot get an access token from {url}"))?;
        *cached.lock().unwrap_or_else(|e| e.into_inner()) = Some(answer.clone());
        Ok(Some(answer))
    }

    /// The bearer of the next request: the token, or the kept access token while it is
    /// fresh, else a new one.
    fn bearer(&self) -> Result<String> {
        match &self.auth {
            Auth::Token(token) => Ok(token.clone()),
            Auth::Client { cached, .. } => {
                let kept = cached
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .filter(|t| t.fresh(Instant::now()))
                    .map(|t| t.token.clone());
                match kept {
                    Some(token) => Ok(token),
                    None => Ok(self.renew_token()?.map(|t| t.token).unwrap_or_default()),
                }
            }
        }
    }

    /// Sends a request built by `build` (again on each retry) and returns the successful
    /// answer; an error answer is an [`ApiError`]. An access token the API refuses as
    /// invalid (expired or revoked) is renewed once and the request sent once more.
    pub fn send(&self, build: impl Fn(&Client) -> RequestBuilder) -> Result<Response> {
        let what = format!("the API at {}", self.base);
        let mut renewed = false;
        loop {
            let bearer = self.bearer()?;
            let result = self.exchange(&what, || {
                build(&self.http)
                    .header(AUTHORIZATION, format!("Bearer {bearer}"))
                    .header(ACCEPT, JSONAPI)
            });
            let Err(mut e) = result else {
                return result;
            };
            let Some(error) = e.downcast_mut::<ApiError>() else {
                return Err(e);
            };
            if error.status != StatusCode::UNAUTHORIZED {
                return Err(e);
            }
            match &self.auth {
                Auth::Token(_) => error.hint = Some("check --token or IMPORTS_TOKEN".into()),
                Auth::Client { cached, .. } => {
                    if !renewed && error.code() == Some("INVALID_TOKEN") {
                        renewed = true;
                        *cached.lock().unwrap_or_else(|e| e.into_inner()) = None;
                        continue;
                    }
                    error.hint = Some(
                        "the API refused a new access token too: do --api-url and --auth-url name the same API?"
                            .into(),
                    );
                }
            }
            return Err(e);
        }
    }

    /// Sends a request built by `build` (again on each retry), waiting out `429` and `503`
    /// answers as their `Retry-After` says; returns the successful answer, or the error
    /// answer as an [`ApiError`]. `what` names the server in the error when it is not reached.
    fn exchange(&self, what: &str, build: impl Fn() -> RequestBuilder) -> Result<Response> {
        let mut unavailable = 0;
        loop {
            let response = build()
                .send()
                .map_err(|e| unreachable(e, what, self.ca_file.as_deref()))?;
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
        hint: None,
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
            hint: None,
        };
        assert_eq!(e.to_string(), "422 inputs: inputs can't be empty");
        let e = ApiError {
            status: StatusCode::BAD_REQUEST,
            errors: vec![json!({"title": "Bad request", "detail": "bad sort",
                "source": {"parameter": "sort"}})],
            body: String::new(),
            hint: None,
        };
        assert_eq!(e.to_string(), "400 sort: bad sort");
        let e = ApiError {
            status: StatusCode::UNAUTHORIZED,
            errors: vec![
                json!({"title": "Invalid token", "detail": "a valid API token is required"}),
            ],
            body: String::new(),
            hint: Some("check --token or IMPORTS_TOKEN".into()),
        };
        assert_eq!(
            e.to_string(),
            "401 Invalid token: a valid API token is required (check --token or IMPORTS_TOKEN)"
        );
        let e = ApiError {
            status: StatusCode::BAD_GATEWAY,
            errors: vec![],
            body: "upstream down\n".into(),
            hint: None,
        };
        assert_eq!(e.to_string(), "502 Bad Gateway: upstream down");
    }
}
