//! A webhook receiver for the tests: an HTTP server on loopback that records every request
//! (headers and raw body) and answers as it is told: a status, a status after a delay, or
//! a script of answers before its default one.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How the receiver answers a request.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    /// At once, with this status.
    Status(u16),
    /// With this status, after this long.
    Slow(Duration, u16),
    /// A redirect (this status) to `/elsewhere` on the same receiver.
    Redirect(u16),
    /// 200 with a body of this many bytes.
    Large(usize),
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its path.
    pub path: String,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its raw body.
    pub body: String,
    /// When it arrived.
    pub at: Instant,
}

impl Received {
    /// A header's value, or "".
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Option<Reply>>,
    arrived: Notify,
}

/// A running receiver.
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl Receiver {
    /// A receiver on a free loopback port, answering 200.
    pub async fn start() -> Receiver {
        Receiver::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    /// A receiver on `addr` (to bring one back on the port of one that was stopped).
    pub async fn start_on(addr: SocketAddr) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let stop = CancellationToken::new();
        let app = axum::Router::new()
            .fallback(record)
            .with_state(shared.clone());
        let token = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { token.cancelled().await })
                .await;
        });
        Receiver { addr, shared, stop }
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers every request (after the scripted ones) with `reply`.
    pub fn answer(&self, reply: Reply) {
        *self.shared.default.lock().unwrap() = Some(reply);
    }

    /// Answers the next requests with `replies`, in order.
    pub fn script(&self, replies: &[Reply]) {
        self.shared.script.lock().unwrap().extend(replies);
    }

    /// What it got so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits until it got at least `n` requests (on any path), failing after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let arrived = self.shared.arrived.notified();
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{} requests of {n} within {timeout:?}",
                got.len()
            );
            let _ = tokio::time::timeout(left, arrived).await;
        }
    }

    /// Stops listening (requests in flight are answered).
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    shared.received.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
    });
    shared.arrived.notify_waiters();
    let scripted = shared.script.lock().unwrap().pop_front();
    let reply = scripted
        .or(*shared.default.lock().unwrap())
        .unwrap_or(Reply::Status(200));
    let code = |s: u16| StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match reply {
        Reply::Status(s) => (code(s), "received").into_response(),
        Reply::Slow(delay, s) => {
            tokio::time::sleep(delay).await;
            (code(s), "received").into_response()
        }
        Reply::Redirect(s) => (code(s), [("location", "/elsewhere")], "moved").into_response(),
        Reply::Large(n) => (StatusCode::OK, "x".repeat(n)).into_response(),
    }
}

/// A loopback port nothing listens on (bound, then let go).
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}
