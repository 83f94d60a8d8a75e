//! The product catalogue: SKUs, their shipping categories, lists, bundles and options.

use super::{DEFAULTS, MARKET, SKU};
use crate::catalogue::rules::{condition, Generated, Rule::*};
use crate::catalogue::types::{
    boolean, currency, float, integer, relationship, relationship_by, text, ResourceType,
};

/// How SKUs ship.
pub const SHIPPING_CATEGORIES: ResourceType = ResourceType {
    name: "shipping_categories",
    attributes: &[text("code"), text("name").required()],
    creates_without_key: true,
    ..DEFAULTS
};

/// The items sold, keyed by `code`.
pub const SKUS: ResourceType = ResourceType {
    name: "skus",
    attributes: &[
        text("code").required(),
        text("name").required(),
        text("description"),
        text("image_url"),
        integer("pieces_per_pack").min(1),
        float("weight").min(0),
        text("unit_of_weight").one_of(&["gr", "oz", "lb"]),
        text("hs_tariff_number"),
        boolean("do_not_ship"),
        boolean("do_not_track"),
    ],
    relationships: &[relationship(
        "shipping_category",
        "shipping_category_id",
        "shipping_categories",
        "shipping_category_code",
        false,
    )],
    conditions: &[condition("shipping_category", UnlessTrue("do_not_ship"))],
    taggable: true,
    ..DEFAULTS
};

/// Lists of SKUs, keyed by `slug`, with their items given inline.
pub const SKU_LISTS: ResourceType = ResourceType {
    name: "sku_lists",
    attributes: &[
        text("name").required(),
        text("slug"),
        text("description"),
        text("image_url"),
        boolean("manual").default_sql("true"),
        text("sku_code_regex"),
    ],
    natural_key: &["slug"],
    generated_key: Some(Generated::SlugOf("name")),
    log_key: "slug",
    children: &["sku_list_items"],
    ..DEFAULTS
};

/// One SKU of a SKU list.
pub const SKU_LIST_ITEMS: ResourceType = ResourceType {
    name: "sku_list_items",
    attributes: &[
        text("sku_code"),
        integer("position").min(0),
        integer("quantity").min(1).default_sql("1"),
    ],
    relationships: &[
        relationship_by(
            "sku_list",
            "sku_list_id",
            "sku_lists",
            "sku_list_slug",
            "slug",
            true,
        ),
        SKU,
    ],
    natural_key: &["sku_list_id", "sku_code"],
    parent: Some("sku_list"),
    log_key: "sku_code",
    ..DEFAULTS
};

/// A SKU list sold at one price in a market.
pub const BUNDLES: ResourceType = ResourceType {
    name: "bundles",
    attributes: &[
        text("code").required(),
        text("name").required(),
        currency("currency_code"),
        text("description"),
        text("image_url"),
        integer("price_amount_cents").min(0),
        integer("compare_at_amount_cents").min(0),
        boolean("_compute_price_amount"),
        boolean("_compute_compare_at_amount"),
    ],
    conditions: &[
        condition("currency_code", UnlessGiven("market")),
        condition("price_amount_cents", UnlessTrue("_compute_price_amount")),
    ],
    relationships: &[
        MARKET,
        relationship_by(
            "sku_list",
            "sku_list_id",
            "sku_lists",
            "sku_list_slug",
            "slug",
            true,
        ),
    ],
    parent: Some("market"),
    taggable: true,
    ..DEFAULTS
};

/// Options a SKU may be sold with, per market.
pub const SKU_OPTIONS: ResourceType = ResourceType {
    name: "sku_options",
    attributes: &[
        text("name").required(),
        currency("currency_code"),
        text("description"),
        integer("price_amount_cents").min(0),
        integer("delay_hours").min(0),
        text("sku_code_regex"),
    ],
    relationships: &[MARKET],
    conditions: &[condition("currency_code", UnlessGiven("market"))],
    natural_key: &["name"],
    parent: Some("market"),
    log_key: "name",
    taggable: true,
    ..DEFAULTS
};
