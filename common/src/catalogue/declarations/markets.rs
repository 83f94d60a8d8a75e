//! Markets and what they are made of: customer groups, price lists, tax calculators and
//! tax categories.

use super::DEFAULTS;
use crate::catalogue::types::{
    boolean, currency, integer, object, relationship, relationship_by, text, ResourceType,
};

/// Groups of customers, which a market can be kept to.
pub const CUSTOMER_GROUPS: ResourceType = ResourceType {
    name: "customer_groups",
    attributes: &[text("code"), text("name").required()],
    creates_without_key: true,
    ..DEFAULTS
};

/// How a market's taxes are worked out; named by `name`.
pub const TAX_CALCULATORS: ResourceType = ResourceType {
    name: "tax_calculators",
    attributes: &[
        text("name").required(),
        text("type").required().one_of(&[
            "manual", "avalara", "stripe", "vertex", "taxjar", "external",
        ]),
    ],
    natural_key: &["name"],
    log_key: "name",
    ..DEFAULTS
};

/// Prices in one currency, which a market sells from.
pub const PRICE_LISTS: ResourceType = ResourceType {
    name: "price_lists",
    attributes: &[
        text("code"),
        text("name").required(),
        currency("currency_code").required(),
        boolean("tax_included").default_sql("true"),
        object("rules"),
    ],
    creates_without_key: true,
    ..DEFAULTS
};

/// Where things are sold: a price list, perhaps a customer group and a tax calculator.
pub const MARKETS: ResourceType = ResourceType {
    name: "markets",
    attributes: &[
        text("code"),
        text("name").required(),
        text("facebook_pixel_id"),
        text("checkout_url"),
        text("external_prices_url"),
        text("external_order_validation_url"),
        integer("shipping_cost_cutoff").min(0),
        boolean("disabled"),
    ],
    relationships: &[
        relationship(
            "price_list",
            "price_list_id",
            "price_lists",
            "price_list_code",
            true,
        ),
        relationship(
            "customer_group",
            "customer_group_id",
            "customer_groups",
            "customer_group_code",
            false,
        ),
        relationship_by(
            "tax_calculator",
            "tax_calculator_id",
            "tax_calculators",
            "tax_calculator_name",
            "name",
            false,
        ),
    ],
    creates_without_key: true,
    ..DEFAULTS
};

/// A SKU's tax category under a tax calculator.
pub const TAX_CATEGORIES: ResourceType = ResourceType {
    name: "tax_categories",
    attributes: &[text("code").required(), text("sku_code")],
    relationships: &[
        relationship_by(
            "tax_calculator",
            "tax_calculator_id",
            "tax_calculators",
            "tax_calculator_name",
            "name",
            true,
        ),
        relationship("sku", "sku_id", "skus", "sku_code", true),
    ],
    natural_key: &["code", "tax_calculator_id"],
    parent: Some("tax_calculator"),
    ..DEFAULTS
};
