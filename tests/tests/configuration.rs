//! The binaries' configuration and start-up errors.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use imports_tests::{binary, worker_binary};

#[test]
fn an_invalid_setting_is_a_one_line_error_naming_the_variable() {
    let out = Command::new(worker_binary())
        .env("IMPORTS_BATCH_SIZE", "lots")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("IMPORTS_BATCH_SIZE=\"lots\" is invalid"),
        "{stderr}"
    );
    let out = Command::new(worker_binary())
        .env("IMPORTS_CONCURRENCY", "0")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("IMPORTS_CONCURRENCY=\"0\" is invalid: must be at least 1"));
}

#[test]
fn an_unreachable_database_is_named_and_retried_without_exiting() {
    let mut child = Command::new(worker_binary())
        .env(
            "DATABASE_URL",
            "postgres://postgres:secret@127.0.0.1:1/imports",
        )
        .env("WORKER_HTTP_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the worker exited instead of retrying"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(
        out.contains("cannot reach Postgres at postgres://postgres:***@127.0.0.1:1/imports"),
        "{out}"
    );
    assert!(!out.contains("secret"), "the password is not logged");
    assert!(out.matches("retrying in").count() >= 2, "{out}");
}

#[test]
fn migrate_reports_an_unreachable_database_and_fails() {
    let out = Command::new(worker_binary())
        .arg("migrate")
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/imports")
        .env("MIGRATE_WAIT_SECONDS", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
}

#[test]
fn help_lists_the_subcommands() {
    let out = Command::new(worker_binary())
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("migrate") && text.contains("run"), "{text}");
}

#[test]
fn a_placeholder_or_short_signing_secret_stops_the_api() {
    for (secret, says) in [
        ("CHANGE-ME", "holds the placeholder \"change-me\""),
        ("too-short", "is 9 bytes: at least 32 are needed"),
    ] {
        let out = Command::new(binary("imports-api"))
            .arg("serve")
            .env("API_SIGNING_SECRET", secret)
            .env("API_ADDR", "127.0.0.1:0")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{secret}: {stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(stderr.contains("openssl rand -base64 48"), "{stderr}");
        assert!(
            !stderr.contains(secret),
            "the secret is not shown: {stderr}"
        );
    }
}

#[test]
fn a_bad_client_limit_stops_the_api_naming_it() {
    for (name, value, says) in [
        ("API_MAX_CONNECTIONS", "0", "must be at least 1"),
        ("API_HEADER_TIMEOUT_SECONDS", "soon", "invalid digit"),
        ("API_MIN_BODY_BYTES_PER_SECOND", "-5", "invalid digit"),
    ] {
        let out = Command::new(binary("imports-api"))
            .arg("serve")
            .env(name, value)
            .env("API_ADDR", "127.0.0.1:0")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(name) && stderr.contains(says), "{stderr}");
    }
}
