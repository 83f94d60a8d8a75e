//! The API and worker processes a bench run starts, stopped with SIGTERM when dropped, and
//! what the bench reads of them (peak memory, readiness).

use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// An API process and its workers; dropping it stops them all.
pub struct Processes {
    /// The `imports-api` process.
    pub api: Child,
    /// The `imports-worker` processes.
    pub workers: Vec<Child>,
}

impl Processes {
    /// Stops every worker (SIGTERM, then waits), keeping the API.
    pub fn stop_workers(&mut self) {
        for child in &mut self.workers {
            terminate(child);
            let _ = child.wait();
        }
        self.workers.clear();
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.stop_workers();
        terminate(&self.api);
        let _ = self.api.wait();
    }
}

/// Sends SIGTERM to a child (its graceful shutdown), through `kill`: the workspace forbids
/// unsafe code, so no `libc::kill`.
fn terminate(child: &Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
}

/// Peak resident memory of a process, in MiB.
pub fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Waits up to 30 s for the API at `base` to answer `/health`.
pub async fn wait_for_api(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/health")).send().await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "the API at {base} did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
