//! The real `imports-api` binary as a child process of a test, on a free port, with its
//! memory readable from `/proc`: for the tests that measure what a hostile client costs it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{amqp_url, binary, TestEnv};

/// A running `imports-api serve`, killed when dropped.
pub struct ApiProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// `127.0.0.1:<port>`.
    pub addr: String,
}

impl ApiProcess {
    /// Starts the API on `env`'s database and queue with `vars` set, and waits until it
    /// answers `/livez`.
    pub async fn spawn(env: &TestEnv, vars: &[(&str, &str)]) -> ApiProcess {
        Self::spawn_binary(&binary("imports-api"), env, vars).await
    }

    /// Like [`ApiProcess::spawn`], with another build of the binary (an earlier version, to
    /// measure before and after with one script).
    pub async fn spawn_binary(
        program: &std::path::Path,
        env: &TestEnv,
        vars: &[(&str, &str)],
    ) -> ApiProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut command = Command::new(program);
        command
            .arg("serve")
            .env("API_ADDR", &addr)
            .env("DATABASE_URL", &env.database_url)
            .env("AMQP_URL", amqp_url())
            .env("IMPORTS_QUEUE", &env.queue)
            .env("RUST_LOG", "warn")
            .env_remove("LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in vars {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start imports-api");
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("imports-api: {line}");
            }
        });
        let process = ApiProcess {
            child,
            base_url: format!("http://{addr}"),
            addr,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let http = reqwest::Client::new();
        loop {
            let url = format!("{}/livez", process.base_url);
            if let Ok(r) = http.get(url).send().await {
                if r.status().is_success() {
                    return process;
                }
            }
            assert!(Instant::now() < deadline, "imports-api did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process's resident memory now and at its peak, in bytes (`VmRSS`, `VmHWM`).
    pub fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/<pid>/status");
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc/<pid>/status"))
                * 1024
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
