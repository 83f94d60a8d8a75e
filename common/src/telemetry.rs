//! Logging and tracing set-up shared by the binaries.
//!
//! Spans are emitted with `tracing` (one per import, one per batch); this module installs the
//! subscriber that prints them. `RUST_LOG` sets the level (default `info`); `LOG_FORMAT=json`
//! switches to one JSON object per line for log collectors.

use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// Installs the global subscriber for a binary. Safe to call more than once (later calls are
/// ignored), so tests can call it freely.
pub fn init(service: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("LOG_FORMAT")
        .map(|v| v == "json")
        .unwrap_or(false);
    let registry = tracing_subscriber::registry();
    let result = if json {
        registry
            .with(fmt::layer().json().with_filter(filter))
            .try_init()
    } else {
        registry
            .with(fmt::layer().with_target(false).with_filter(filter))
            .try_init()
    };
    if result.is_ok() {
        tracing::debug!(service, "telemetry initialised");
    }
}
