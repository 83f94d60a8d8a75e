//! Prices of SKUs in price lists, and their tiers.

use super::{DEFAULTS, SKU};
use crate::catalogue::types::{
    integer, object, relationship, relationship_by_id, text, ResourceType,
};

/// The most tiers a price may have, as in the reference API.
pub const MAX_TIERS_PER_PRICE: usize = 10;

/// A SKU's price in a price list, with its tiers given inline.
pub const PRICES: ResourceType = ResourceType {
    name: "prices",
    attributes: &[
        text("sku_code"),
        integer("amount_cents").required().min(0),
        integer("compare_at_amount_cents").min(0),
        object("rules"),
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
        text("name").required(),
        text("type")
            .one_of(&["PriceVolumeTier", "PriceFrequencyTier"])
            .default_sql("'PriceVolumeTier'"),
        integer("up_to").min(1),
        integer("price_amount_cents").required().min(0),
    ],
    relationships: &[relationship_by_id("price", "price_id", "prices", true)],
    natural_key: &["price_id", "name"],
    parent: Some("price"),
    log_key: "name",
    max_per_parent: Some(MAX_TIERS_PER_PRICE),
    ..DEFAULTS
};
