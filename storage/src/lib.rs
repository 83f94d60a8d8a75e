//! Storage: every SQL statement of imports, grouped by what it stores, and the connection
//! pool and migrations they run on. The binaries call these functions; none of them writes
//! SQL of its own (the worker's writer builds its set-based batch statements per resource
//! type, in `worker/src/writer/sql.rs`).
//!
//! - [`client`]: [`client::Db`], what every function here runs its statements on: a pooled
//!   connection or a transaction, each statement prepared once per connection.
//! - [`db`]: the Postgres pool, its liveness probe, and redacting connection URLs.
//! - [`migrate`]: applies `migrations/` once each, under an advisory lock.
//! - [`imports`]: imports themselves: create, read, status transitions, interrupts.
//! - [`import_rows`]: reading an import back (its columns, with its logs).
//! - [`inputs`]: an import's raw inputs, in chunks.
//! - [`logs`]: an import's error and warning entries.
//! - [`events`]: an import's lifecycle events.
//! - [`lifecycle`]: recording an event with its webhook deliveries, in one transaction.
//! - [`leases`]: which worker holds an import, and the per-batch checkpoint fenced by it.
//! - [`outbox`]: imports created but not yet announced on RabbitMQ.
//! - [`webhooks`]: webhooks on the imports topics, per tenant.
//! - [`deliveries`]: each event's webhook deliveries, their claims, attempts and circuits,
//!   and the `event_callbacks` of each attempt.
//! - [`tokens`]: API tokens, stored as hashes.
//! - [`applications`]: organizations and their OAuth2 applications (secrets as hashes).
//! - [`signing_keys`]: the RSA keys access tokens are signed with, shared by the replicas.
//! - [`revocations`]: access tokens revoked before their expiry.
//! - [`listing`]: the import list's WHERE and ORDER BY, from a query the API checked.
//! - [`list_page`]: one page of the list, with what rendering needs, in one statement.
//! - [`statistics`]: a resource table's planner statistics, and refreshing them.
//! - [`batches`]: a batch transaction's planner settings and dry-run savepoint.

pub mod applications;
pub mod batches;
pub mod client;
pub mod db;
pub mod deliveries;
pub mod events;
pub mod import_rows;
pub mod imports;
pub mod inputs;
pub mod leases;
pub mod lifecycle;
pub mod list_page;
pub mod listing;
pub mod logs;
pub mod migrate;
pub mod outbox;
pub mod revocations;
pub mod signing_keys;
pub mod statistics;
pub mod tokens;
pub mod webhooks;

mod rows;
