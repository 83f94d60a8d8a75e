//! Postgres's own `pgbench`, select-only: the rate at which this Postgres answers one
//! primary-key read per transaction, the yardstick of the API's reads.

use std::process::Command;
use std::time::Duration;

/// Fills the database at `url` (which must exist) with pgbench's tables at scale 10
/// (1,000,000 accounts): `pgbench -i -s 10 -q`.
pub fn init(url: &str) -> anyhow::Result<()> {
    let out = Command::new("pgbench")
        .args(["-i", "-s", "10", "-q", url])
        .output()
        .map_err(|e| {
            anyhow::anyhow!("cannot run pgbench (is postgresql-client installed?): {e}")
        })?;
    anyhow::ensure!(
        out.status.success(),
        "pgbench -i failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Runs `pgbench -S -c CLIENTS -j 2 -T SECONDS -n` against `url`; returns its transactions per
/// second without the initial connection time.
pub fn select_only(url: &str, clients: usize, time: Duration) -> anyhow::Result<f64> {
    let out = Command::new("pgbench")
        .args(["-S", "-c", &clients.to_string(), "-j", "2"])
        .args(["-T", &time.as_secs().max(1).to_string(), "-n", url])
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "pgbench -S failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    tps(&stdout).ok_or_else(|| anyhow::anyhow!("no tps in pgbench's output: {stdout}"))
}

/// The N of pgbench's `tps = N (without initial connection time)` line.
fn tps(output: &str) -> Option<f64> {
    output
        .lines()
        .find(|l| l.starts_with("tps = ") && l.contains("without initial connection time"))
        .and_then(|l| l["tps = ".len()..].split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_tps_without_connection_time() {
        let output = "number of failed transactions: 0 (0.000%)\n\
            latency average = 2.310 ms\n\
            initial connection time = 61.224 ms\n\
            tps = 27702.415203 (without initial connection time)\n";
        assert_eq!(super::tps(output), Some(27702.415203));
        assert_eq!(
            super::tps("tps = 5 (including connections establishing)\n"),
            None
        );
    }
}
