//! Prices of SKUs in price lists, and their tiers.

use super::{DEFAULTS, SKU};
use crate::catalogue::types::{integer, relationship, relationship_by_id, text, ResourceType};

/// A SKU's price in a price list, with its tiers given inline.
pub const PRICES: ResourceType = ResourceType {
    name: "prices",
    attributes: &[
        text("sku_code"),
        integer("amount_cents").required().min(0),
        integer("compare_at_amount_cents").min(0),
    ],
    relationships: &[
        SKU,
        relationship(
            "price_list",
            "price_list_id",
            "price_lists",
            "price_list_code",
            true,
        ),
    ],
    natural_key: &["sku_code", "price_list_id"],
    parent: Some("price_list"),
    log_key: "sku_code",
    children: &["price_tiers"],
    ..DEFAULTS
};

/// The volume or frequency tiers of one price.
pub const PRICE_TIERS: ResourceType = ResourceType {
    name: "price_tiers",
    attributes: &[
        text("name"),
        text("type")
            .one_of(&["volume", "frequency"])
            .default_sql("'volume'"),
        integer("up_to").required().min(1),
        integer("price_amount_cents").required().min(0),
    ],
    relationships: &[relationship_by_id("price", "price_id", "prices", true)],
    natural_key: &["price_id", "up_to"],
    parent: Some("price"),
    log_key: "up_to",
    ..DEFAULTS
};
