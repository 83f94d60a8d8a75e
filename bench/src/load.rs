//! An HTTP load generator: a fixed number of connections, each a task sending one request
//! after another for a fixed time, every answer required to have the expected status.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

/// How a load is driven.
#[derive(Clone, Copy)]
pub struct Load {
    /// Requests in flight at once, each on its own connection.
    pub connections: usize,
    /// Time spent before counting: connections opened, caches warm.
    pub warm_up: Duration,
    /// Time over which requests are counted.
    pub measured: Duration,
}

/// What a load achieved over its measured time.
pub struct Outcome {
    /// Requests answered 200 that both started and ended within the measured time.
    pub requests: usize,
    /// `requests` per second of the measured time.
    pub per_second: f64,
    /// The median latency of those requests.
    pub p50: Duration,
    /// Their 99th percentile latency.
    pub p99: Duration,
}

/// Sends `GET url` with `token` as bearer from `load.connections` tasks at once, for the
/// warm-up then the measured time. Fails on the first answer that is not a 200 (a 429 too:
/// the caller raises the API's rate limit), or the first request that fails.
pub async fn drive(url: &str, token: &str, load: Load) -> anyhow::Result<Outcome> {
    let url: Arc<str> = url.into();
    let auth: Arc<str> = format!("Bearer {token}").into();
    let request = move |http: &reqwest::Client| {
        http.get(&*url)
            .header(reqwest::header::AUTHORIZATION, &*auth)
    };
    drive_requests(load, reqwest::StatusCode::OK, request).await
}

/// As [`drive`], for any request: `request` makes each one, and every answer must be
/// `expected`.
pub async fn drive_requests(
    load: Load,
    expected: reqwest::StatusCode,
    request: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> anyhow::Result<Outcome> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(load.connections)
        .tcp_nodelay(true)
        .build()?;
    let request = Arc::new(request);
    let begin = Instant::now();
    let (counted_from, end) = (begin + load.warm_up, begin + load.warm_up + load.measured);
    let mut tasks = JoinSet::new();
    for _ in 0..load.connections {
        let (http, request) = (http.clone(), request.clone());
        tasks.spawn(async move {
            // Microseconds of each counted request.
            let mut latencies: Vec<u32> = Vec::with_capacity(1 << 14);
            loop {
                let sent = Instant::now();
                if sent >= end {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let resp = request(&http).send().await?;
                let status = resp.status();
                // Kept only for the error: the load generator's CPU is measured too.
                let url = (status != expected).then(|| resp.url().clone());
                // The whole body is read, as a client would, and so the connection is reused.
                let body = resp.bytes().await?;
                if let Some(url) = url {
                    anyhow::bail!(
                        "{url} answered {status} under load: {:.500}",
                        String::from_utf8_lossy(&body)
                    );
                }
                let done = Instant::now();
                if sent >= counted_from && done <= end {
                    latencies
                        .push(done.duration_since(sent).as_micros().min(u32::MAX as u128) as u32);
                }
            }
        });
    }
    let mut all = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        // The first failure drops the set, which aborts the other tasks.
        all.extend(joined??);
    }
    all.sort_unstable();
    let at = |q: f64| {
        let i = ((all.len() as f64 * q).ceil() as usize).clamp(1, all.len().max(1)) - 1;
        Duration::from_micros(all.get(i).copied().unwrap_or_default().into())
    };
    Ok(Outcome {
        requests: all.len(),
        per_second: all.len() as f64 / load.measured.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    })
}
