//! Running the real `importctl` binary as its users do: against an API URL with a token (or
//! none), with nothing of the developer's environment or credentials file.

use std::time::Duration;

use serde_json::Value;

use crate::binary;

/// What a run of `importctl` gave.
pub struct Run {
    /// Its exit status (-1 when it was killed).
    pub code: i32,
    /// What it printed.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

impl Run {
    /// Its stdout as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }

    /// Checks its exit status, showing what it printed otherwise.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit status\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

impl From<std::process::Output> for Run {
    fn from(o: std::process::Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs `importctl` with `args` against `url` with `token` (none when `None`), failing the
/// test past `limit`.
pub async fn run(url: &str, token: Option<&str>, args: &[&str], limit: Duration) -> Run {
    let mut cmd = tokio::process::Command::new(binary("importctl"));
    cmd.args(args)
        .env("IMPORTS_API_URL", url)
        .env_remove("IMPORTS_TOKEN")
        // Neither the developer's client credentials nor the file `importctl login` kept.
        .env_remove("IMPORTS_CLIENT_ID")
        .env_remove("IMPORTS_CLIENT_SECRET")
        .env_remove("IMPORTS_AUTH_URL")
        .env_remove("IMPORTS_CA_FILE")
        .env(
            "IMPORTS_CONFIG",
            std::env::temp_dir().join("importctl-no-credentials.json"),
        )
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(t) = token {
        cmd.env("IMPORTS_TOKEN", t);
    }
    let out = tokio::time::timeout(limit, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("importctl {args:?} did not end within {limit:?}"))
        .unwrap();
    out.into()
}
