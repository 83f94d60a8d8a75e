//! The import model: what an import is, what it imports and how its inputs are read and
//! checked. No network or database dependency, so every binary (the CLI included) shares it.
//!
//! - [`model`]: the import, its statuses, modes, formats and logs; [`ids`]: time-ordered ids.
//! - [`accounts`]: organizations and their OAuth2 applications.
//! - [`jsonapi`]: the import's JSON:API form, from one attribute table; [`events`]: its
//!   lifecycle events; [`webhooks`]: webhooks on the imports topics.
//! - [`catalogue`]: the resource types an import can create: `catalogue::types` (attributes,
//!   relationships, resource types, columns) and `catalogue::declarations` (the 29 types, one
//!   file per domain), listed in dependency order by [`catalogue::CATALOGUE`].
//! - [`inputs`]: reading JSON and CSV inputs, streamed; [`json_check`]: checking JSON without
//!   building it (counting inputs).
//! - [`validate`]: checking each input against its resource type: the per-input flow
//!   ([`validate::Preparer`]), `validate::convert` (values to attribute types),
//!   `validate::nested` (children, inline related records, tags) and `validate::csv_layout`
//!   (CSV columns to inputs); [`seen_keys`]: duplicate keys within one import.
//! - [`failed_inputs`]: the report of the inputs that failed, as CSV or JSON.
//!
//! Storage (`imports-storage`) and the runtime (`imports-runtime`) build on this crate; it
//! depends on neither.

pub mod accounts;
pub mod catalogue;
pub mod events;
pub mod failed_inputs;
pub mod ids;
pub mod inputs;
pub mod json_check;
pub mod jsonapi;
pub mod model;
pub mod seen_keys;
pub mod shown;
pub mod validate;
pub mod webhooks;
