//! Request rate limiting: token buckets per key, in this process. The keys are API tokens
//! (or an application's JWTs), OAuth2 client ids, and client addresses.
//!
//! Each token may make `API_RATE_LIMIT_BURST` requests at once and
//! `API_RATE_LIMIT_PER_SECOND` sustained; past that a request is a 429 with `Retry-After`.
//! Each client address may make `API_UNAUTHENTICATED_PER_MINUTE` requests that reach the
//! database before they are authenticated (token requests, failed authentications): once
//! they are spent, such requests are refused before any query.
//! The buckets live in each API replica's memory, so with N replicas a token's ceiling is
//! N times the setting (the limit protects each process; a shared limit would need Redis or
//! Postgres on every request).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use imports_runtime::config::HttpLimits;

use crate::server::ClientAddr;
use crate::AppState;

/// The buckets of every token seen by this process.
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter allowing `burst` requests at once and `per_second` sustained.
    pub fn new(per_second: u64, burst: u64) -> Self {
        RateLimiter {
            per_second: per_second as f64,
            burst: burst as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// A limiter allowing `per_minute` requests a minute, all of them at once if need be.
    pub fn per_minute(per_minute: u64) -> Self {
        RateLimiter {
            per_second: per_minute as f64 / 60.0,
            burst: per_minute as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds)` to wait when `key`'s bucket holds less than one request, taking
    /// nothing from it.
    pub fn exhausted(&self, key: &str) -> Option<u64> {
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, at) = buckets.get(key)?;
        let now = (*tokens + at.elapsed().as_secs_f64() * self.per_second).min(self.burst);
        (now < 1.0).then(|| ((1.0 - now) / self.per_second).ceil().max(1.0) as u64)
    }

    /// Takes one request from `key`'s bucket; `Err(seconds)` says when to retry.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Forget full buckets of idle tokens so memory stays bounded.
            let (burst, rate) = (self.burst, self.per_second);
            buckets.retain(|_, (tokens, at)| *tokens + at.elapsed().as_secs_f64() * rate < burst);
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

/// The address a request comes from, for the per-address limit: the last address in the
/// header `API_CLIENT_ADDRESS_HEADER` names (set by a trusted proxy), else the connection's
/// peer.
pub fn client_address(parts: &Parts, limits: &HttpLimits) -> String {
    let forwarded = limits.client_address_header.as_deref().and_then(|name| {
        let value = parts.headers.get(name)?.to_str().ok()?;
        let last = value.rsplit(',').next()?.trim();
        (!last.is_empty() && last.len() <= 64).then(|| last.to_owned())
    });
    forwarded.unwrap_or_else(|| match parts.extensions.get::<ClientAddr>() {
        Some(ClientAddr(ip)) => ip.to_string(),
        None => "unknown".into(),
    })
}

/// The request's [`client_address`], as an extractor.
pub struct ClientAddress(pub String);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(parts, &state.config.http)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let limiter = RateLimiter::new(1, 3);
        for _ in 0..3 {
            assert!(limiter.check("a").is_ok());
        }
        assert_eq!(limiter.check("a"), Err(1));
        assert!(limiter.check("b").is_ok(), "buckets are per token");
        assert_eq!(limiter.exhausted("a"), Some(1));
        assert_eq!(limiter.exhausted("b"), None, "two left");
        assert_eq!(limiter.exhausted("c"), None, "never seen");
    }

    #[test]
    fn the_client_address_is_the_peer_s_or_the_last_one_a_trusted_proxy_gives() {
        let request = |forwarded: Option<&str>| {
            let mut builder = axum::http::Request::builder();
            if let Some(f) = forwarded {
                builder = builder.header("x-forwarded-for", f);
            }
            let (mut parts, ()) = builder.body(()).unwrap().into_parts();
            parts.extensions.insert(ClientAddr([10, 0, 0, 9].into()));
            parts
        };
        let mut limits = HttpLimits::default();
        let spoofed = request(Some("6.6.6.6"));
        assert_eq!(
            client_address(&spoofed, &limits),
            "10.0.0.9",
            "no header trusted"
        );
        limits.client_address_header = Some("x-forwarded-for".into());
        let proxied = request(Some("6.6.6.6, 203.0.113.7"));
        assert_eq!(client_address(&proxied, &limits), "203.0.113.7");
        assert_eq!(client_address(&request(None), &limits), "10.0.0.9");
    }
}
