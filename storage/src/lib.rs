//! Storage: every SQL statement of imports, and the connection pool and migrations they run
//! on. The binaries call these functions; none of them writes SQL of its own.
//!
//! - [`db`]: the Postgres pool, and waiting for Postgres.
//! - [`migrate`]: applies `migrations/` once each, under an advisory lock.
//! - [`store`]: imports, their inputs, logs, leases and events.
//! - [`stored_inputs`]: an import's stored inputs as one `Read`, fetched chunk by chunk.

pub mod db;
pub mod migrate;
pub mod store;
pub mod stored_inputs;
