//! Orders, their line items and the items' options.

use super::DEFAULTS;
use crate::catalogue::rules::{Generated, Polymorphic};
use crate::catalogue::types::{
    boolean, currency, email, integer, object, relationship, relationship_by, relationship_by_id,
    text, timestamp, ResourceType,
};

/// What a line item's `item_type` may name, as in the reference API.
pub const ITEM_TYPES: &[&str] = &[
    "skus",
    "bundles",
    "gift_cards",
    "shipments",
    "payment_methods",
    "adjustments",
    "percentage_discount_promotions",
    "free_shipping_promotions",
    "buy_x_pay_y_promotions",
    "free_gift_promotions",
    "fixed_price_promotions",
    "external_promotions",
    "fixed_amount_promotions",
    "flex_promotions",
    "discount_engine_items",
];

/// The orders of a market, with their line items given inline.
pub const ORDERS: ResourceType = ResourceType {
    name: "orders",
    attributes: &[
        text("number"),
        currency("currency_code"),
        email("customer_email"),
        text("language_code"),
        text("country_code"),
        text("status")
            .one_of(&["draft", "pending", "placed", "approved", "cancelled"])
            .default_sql("'draft'"),
        text("affiliate_code"),
        boolean("guest"),
        text("coupon_code"),
        text("gift_card_code"),
        text("cart_url"),
        text("return_url"),
        text("terms_url"),
        text("privacy_url"),
        timestamp("expires_at"),
    ],
    relationships: &[
        relationship("market", "market_id", "markets", "market_code", true),
        relationship_by(
            "customer",
            "customer_id",
            "customers",
            "customer_email",
            "email",
            false,
        )
        .creating_unknown_keys(),
        relationship_by(
            "shipping_address",
            "shipping_address_id",
            "addresses",
            "shipping_address_reference",
            "reference",
            false,
        )
        .given_inline(),
        relationship_by(
            "billing_address",
            "billing_address_id",
            "addresses",
            "billing_address_reference",
            "reference",
            false,
        )
        .given_inline(),
    ],
    natural_key: &["number"],
    generated_key: Some(Generated::Number),
    parent: Some("market"),
    log_key: "number",
    children: &["line_items"],
    taggable: true,
    ..DEFAULTS
};

/// The items of an order, with their options given inline.
pub const LINE_ITEMS: ResourceType = ResourceType {
    name: "line_items",
    attributes: &[
        text("sku_code"),
        text("bundle_code"),
        text("name"),
        integer("quantity").required().min(1),
        integer("unit_amount_cents").min(0),
        integer("compare_at_amount_cents").min(0),
        text("item_type").one_of(ITEM_TYPES).default_sql("'skus'"),
        text("item_id"),
        text("image_url"),
        text("frequency"),
    ],
    relationships: &[
        relationship_by(
            "order",
            "order_id",
            "orders",
            "order_number",
            "number",
            true,
        ),
        relationship("sku", "sku_id", "skus", "sku_code", false),
        relationship("bundle", "bundle_id", "bundles", "bundle_code", false),
        relationship(
            "gift_card",
            "gift_card_id",
            "gift_cards",
            "gift_card_code",
            false,
        ),
    ],
    polymorphic: Some(Polymorphic {
        id_attribute: "item_id",
        type_attribute: "item_type",
        relationships: &[
            ("skus", "sku"),
            ("bundles", "bundle"),
            ("gift_cards", "gift_card"),
        ],
    }),
    natural_key: &["order_id", "sku_code"],
    parent: Some("order"),
    log_key: "sku_code",
    children: &["line_item_options"],
    creates_without_key: true,
    ..DEFAULTS
};

/// The options chosen for a line item.
pub const LINE_ITEM_OPTIONS: ResourceType = ResourceType {
    name: "line_item_options",
    attributes: &[
        text("name"),
        integer("quantity").required().min(1),
        object("options").required(),
        integer("unit_amount_cents").min(0),
    ],
    relationships: &[
        relationship_by_id("line_item", "line_item_id", "line_items", true),
        relationship_by(
            "sku_option",
            "sku_option_id",
            "sku_options",
            "sku_option_name",
            "name",
            true,
        ),
    ],
    natural_key: &["line_item_id", "sku_option_id"],
    parent: Some("line_item"),
    log_key: "sku_option_name",
    ..DEFAULTS
};
