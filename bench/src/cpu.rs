//! Where the machine's CPU went over a stretch of time: the API process, this bench (the load
//! generator), Postgres's processes, pgbench, and everything else, read from `/proc`.

use std::time::Instant;

/// CPU time used so far, in clock ticks, by each party.
#[derive(Clone, Copy)]
pub struct Sample {
    at: Instant,
    api: u64,
    bench: u64,
    postgres: u64,
    pgbench: u64,
    busy: u64,
}

/// Cores used on average between two samples.
pub struct Usage {
    /// The API process.
    pub api: f64,
    /// This process: the load generator.
    pub bench: f64,
    /// Every `postgres` process (the server's backends).
    pub postgres: f64,
    /// Every `pgbench` process.
    pub pgbench: f64,
    /// The rest of the machine's busy time (the kernel's own work, other programs).
    pub other: f64,
    /// The seconds between the two samples.
    pub seconds: f64,
}

impl Usage {
    /// CPU microseconds per item of `n` items done over the stretch, for `cores` used.
    pub fn us_per(&self, cores: f64, n: usize) -> f64 {
        cores * self.seconds * 1e6 / n.max(1) as f64
    }
}

/// A process's command name, its user + system ticks, and those of its children it has
/// waited for, from `/proc/{pid}/stat`.
fn process_ticks(pid: &str) -> Option<(String, u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name is in brackets and may hold spaces: the fields after the last `)` are the
    // third onwards: utime, stime, cutime and cstime (14th to 17th) are the 12th to 15th.
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_owned();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    Some((name, field(11)? + field(12)?, field(13)? + field(14)?))
}

/// The machine's busy ticks, summed over its CPUs, from the first line of `/proc/stat`.
fn machine_busy() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or_default();
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
    [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| v.get(i)).sum()
}

/// Clock ticks per second (`getconf CLK_TCK`, nearly always 100).
fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

impl Sample {
    /// The CPU used so far by the API process `api_pid` (if any), this process, Postgres,
    /// pgbench, and the whole machine.
    pub fn take(api_pid: Option<u32>) -> Sample {
        let mut sample = Sample {
            at: Instant::now(),
            api: 0,
            bench: 0,
            postgres: 0,
            pgbench: 0,
            busy: machine_busy(),
        };
        let (me, api) = (
            std::process::id().to_string(),
            api_pid.map(|p| p.to_string()),
        );
        let entries = std::fs::read_dir("/proc").into_iter().flatten().flatten();
        for entry in entries {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Some((name, ticks, children)) = process_ticks(&pid) else {
                continue;
            };
            match name.as_str() {
                _ if pid == me => sample.bench += ticks,
                _ if Some(&pid) == api.as_ref() => sample.api += ticks,
                // The postmaster's children are the backends: those that ended are counted
                // there once it has reaped them.
                "postgres" => sample.postgres += ticks + children,
                "pgbench" => sample.pgbench += ticks,
                _ => {}
            }
        }
        sample
    }

    /// The cores each party used on average from `self` to `later`. A pgbench that ended in
    /// between is not counted: take both samples while it runs.
    pub fn until(&self, later: &Sample) -> Usage {
        let elapsed = later.at.duration_since(self.at).as_secs_f64().max(1e-3);
        let seconds = elapsed * ticks_per_second();
        let cores = |a: u64, b: u64| b.saturating_sub(a) as f64 / seconds;
        let (api, bench) = (cores(self.api, later.api), cores(self.bench, later.bench));
        let postgres = cores(self.postgres, later.postgres);
        let pgbench = cores(self.pgbench, later.pgbench);
        let busy = cores(self.busy, later.busy);
        Usage {
            api,
            bench,
            postgres,
            pgbench,
            other: (busy - api - bench - postgres - pgbench).max(0.0),
            seconds: elapsed,
        }
    }
}
