//! Stock: locations, the items they hold and transfers between them.

use super::{DEFAULTS, SKU};
use crate::catalogue::rules::Generated;
use crate::catalogue::types::{
    boolean, integer, relationship, relationship_by, text, ResourceType,
};

/// Where stock is kept, with its address given inline.
pub const STOCK_LOCATIONS: ResourceType = ResourceType {
    name: "stock_locations",
    attributes: &[
        text("code"),
        text("name").required(),
        text("label_format")
            .one_of(&["PDF", "ZPL", "EPL2", "PNG"])
            .default_sql("'PDF'"),
        boolean("suppress_etd"),
    ],
    relationships: &[relationship_by(
        "address",
        "address_id",
        "addresses",
        "address_reference",
        "reference",
        true,
    )
    .given_inline()],
    creates_without_key: true,
    ..DEFAULTS
};

/// How many of a SKU a stock location holds.
pub const STOCK_ITEMS: ResourceType = ResourceType {
    name: "stock_items",
    attributes: &[text("sku_code"), integer("quantity").required().min(0)],
    relationships: &[
        // Optional, as in the reference API: a stock item without a SKU is a new one.
        relationship("sku", "sku_id", "skus", "sku_code", false),
        relationship(
            "stock_location",
            "stock_location_id",
            "stock_locations",
            "stock_location_code",
            true,
        ),
    ],
    natural_key: &["sku_code", "stock_location_id"],
    parent: Some("stock_location"),
    log_key: "sku_code",
    creates_without_key: true,
    ..DEFAULTS
};

/// Moves of a SKU from one stock location to another.
pub const STOCK_TRANSFERS: ResourceType = ResourceType {
    name: "stock_transfers",
    attributes: &[
        text("number"),
        text("sku_code"),
        integer("quantity").required().min(1),
        text("status")
            .one_of(&[
                "draft",
                "upcoming",
                "on_hold",
                "picking",
                "in_transit",
                "completed",
                "cancelled",
            ])
            .default_sql("'draft'"),
    ],
    relationships: &[
        SKU,
        relationship(
            "origin_stock_location",
            "origin_stock_location_id",
            "stock_locations",
            "origin_stock_location_code",
            true,
        ),
        relationship(
            "destination_stock_location",
            "destination_stock_location_id",
            "stock_locations",
            "destination_stock_location_code",
            true,
        ),
    ],
    natural_key: &["number"],
    generated_key: Some(Generated::Number),
    log_key: "number",
    ..DEFAULTS
};
