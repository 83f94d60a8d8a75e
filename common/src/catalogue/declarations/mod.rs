//! The declarations of the catalogue, one file per domain; [`super::CATALOGUE`] lists them in
//! dependency order.

use crate::catalogue::types::{relationship, Relationship, ResourceType};

mod catalog;
mod customers;
mod markets;
mod orders;
mod pricing;
mod promotions;
mod shared;
mod stock;

pub use catalog::*;
pub use customers::*;
pub use markets::*;
pub use orders::*;
pub use pricing::*;
pub use promotions::*;
pub use shared::*;
pub use stock::*;

/// What a declaration leaves out: no relationships, parent or children, keyed by `code`.
const DEFAULTS: ResourceType = ResourceType {
    name: "",
    attributes: &[],
    relationships: &[],
    natural_key: &["code"],
    parent: None,
    log_key: "code",
    children: &[],
    creates_without_key: false,
    taggable: false,
    conditions: &[],
    generated_key: None,
    polymorphic: None,
    max_per_parent: None,
};

/// The market a record belongs to, by id or `market_code`: shared by the types sold per market.
const MARKET: Relationship = relationship("market", "market_id", "markets", "market_code", false);
/// The SKU a record is about, by id or `sku_code`: shared by prices, stock and lists.
const SKU: Relationship = relationship("sku", "sku_id", "skus", "sku_code", true);
