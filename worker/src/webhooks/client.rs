//! The HTTP client deliveries are sent with: redirects are not followed, every address it
//! connects to is checked again (unless private networks are allowed), the whole call has a
//! deadline, and only the start of an answer is read.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use imports_runtime::callback_urls::is_public;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// How much of an answer's body is read (kept as the callback's `response_message`).
pub const MAX_RESPONSE_BYTES: usize = 1024;

/// Resolves hosts as the system does, refusing a host with any non-public address.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(a) = addrs.iter().find(|a| !is_public(a.ip())) {
                let why = format!(
                    "{host} resolves to {}, a loopback, private or link-local address",
                    a.ip()
                );
                return Err(why.into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The client: no redirects, `timeout` to connect, and the public-only resolver unless
/// `allow_private`.
pub fn build(timeout: Duration, allow_private: bool) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        .user_agent(concat!("imports-webhooks/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(8);
    if !allow_private {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    Ok(builder.build()?)
}

/// What a receiver answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Whether it answered 2xx within the deadline.
    pub ok: bool,
    /// The status it answered, if it answered.
    pub code: Option<u16>,
    /// The start of its body, or why there was no answer.
    pub message: String,
}

/// POSTs `body` to `url` with `headers`, all within `deadline`, reading at most
/// [`MAX_RESPONSE_BYTES`] of the answer.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&'static str, String)],
    body: String,
    deadline: Duration,
    allow_private: bool,
) -> Answer {
    let failed = |message: String| Answer {
        ok: false,
        code: None,
        message,
    };
    // An address written in the URL is never resolved: check it here.
    if !allow_private {
        if let Some(ip) = literal_ip(url) {
            if !is_public(ip) {
                return failed(format!(
                    "refused: {ip} is a loopback, private or link-local address"
                ));
            }
        }
    }
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/vnd.api+json")
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let call = async {
        let mut response = request.send().await?;
        let code = response.status();
        let mut read = Vec::new();
        while read.len() < MAX_RESPONSE_BYTES {
            match response.chunk().await? {
                Some(chunk) => read.extend_from_slice(&chunk),
                None => break,
            }
        }
        read.truncate(MAX_RESPONSE_BYTES);
        Ok::<_, reqwest::Error>((code, String::from_utf8_lossy(&read).into_owned()))
    };
    match tokio::time::timeout(deadline, call).await {
        Ok(Ok((code, text))) => Answer {
            ok: code.is_success(),
            code: Some(code.as_u16()),
            message: match text.is_empty() {
                true => code.canonical_reason().unwrap_or_default().to_owned(),
                false => text,
            },
        },
        Ok(Err(e)) => failed(imports_runtime::telemetry::traces::error_chain(&e)),
        Err(_) => failed(format!("no answer within {} s", deadline.as_secs_f64())),
    }
}

/// The address of a URL whose host is an IP address.
fn literal_ip(url: &str) -> Option<std::net::IpAddr> {
    let parsed = url::Url::parse(url).ok()?;
    match parsed.host()? {
        url::Host::Ipv4(ip) => Some(ip.into()),
        url::Host::Ipv6(ip) => Some(ip.into()),
        url::Host::Domain(_) => None,
    }
}
