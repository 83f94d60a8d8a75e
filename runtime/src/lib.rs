//! What the imports binaries run on, above storage: configuration, telemetry, the RabbitMQ
//! queue, health endpoints, signals
//! and the retry policy.
//!
//! - [`config`]: settings from the environment, checked at start.
//! - [`telemetry`]: traces, metrics and logs (OpenTelemetry, Prometheus, JSON lines).
//! - [`queue`]: the RabbitMQ topology and import messages.
//! - [`health`]: `/livez`, `/readyz` and `/metrics` answers.
//! - [`signals`]: SIGTERM and SIGINT as a cancellation.
//! - [`retry`]: the one retry policy, and the named policies of every retried call.
//! - [`startup`]: waiting for Postgres, and the `migrate` subcommand.
//! - [`stored_inputs`]: an import's stored inputs as one blocking `Read`, chunk by chunk.
//! - [`attachment_urls`]: signing and checking an import's `attachment_url`.
//! - [`callback_urls`]: which webhook callback URLs may be called (no private networks).

pub mod attachment_urls;
pub mod callback_urls;
pub mod config;
pub mod health;
pub mod queue;
pub mod retry;
pub mod signals;
pub mod startup;
pub mod stored_inputs;
pub mod telemetry;
