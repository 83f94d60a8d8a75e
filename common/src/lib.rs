//! What every `imports` binary shares: the import model and its JSON:API form, the resource
//! catalogue, input parsing and validation, storage in Postgres, migrations, queue messages,
//! configuration and telemetry.
//!
//! The flow these modules serve: an import is created with its raw inputs ([`store`]) and
//! announced on RabbitMQ ([`queue`]); a worker claims it ([`store::claim`]), reads its inputs
//! in batches ([`inputs`]), checks each against the [`catalogue`] ([`validate`]) and writes
//! each batch with its counters in one transaction ([`store::checkpoint`]).

pub mod catalogue;
pub mod config;
pub mod db;
pub mod failed_inputs;
pub mod health;
pub mod ids;
pub mod inputs;
pub mod jsonapi;
pub mod migrate;
pub mod model;
pub mod queue;
pub mod seen_keys;
pub mod signals;
pub mod store;
pub mod stored_inputs;
pub mod telemetry;
pub mod validate;
