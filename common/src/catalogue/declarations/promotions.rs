//! Promotions, their coupon codes, and gift cards.

use super::{DEFAULTS, MARKET};
use crate::catalogue::rules::{condition, Generated, Rule::*};
use crate::catalogue::types::{
    boolean, currency, email, integer, relationship, relationship_by, text, timestamp, ResourceType,
};

/// The shortest coupon code, as in the reference API.
pub const MIN_COUPON_CODE_LENGTH: usize = 8;
/// The longest coupon code, as in the reference API.
pub const MAX_COUPON_CODE_LENGTH: usize = 40;

/// The gift cards of a market.
pub const GIFT_CARDS: ResourceType = ResourceType {
    name: "gift_cards",
    attributes: &[
        text("code"),
        currency("currency_code"),
        integer("balance_cents").required().min(0),
        integer("balance_max_cents").min(0),
        boolean("single_use"),
        boolean("rechargeable").default_sql("true"),
        boolean("distribute_discount").default_sql("true"),
        text("image_url"),
        timestamp("expires_at"),
        email("recipient_email"),
    ],
    relationships: &[MARKET],
    conditions: &[condition("currency_code", UnlessGiven("market"))],
    generated_key: Some(Generated::Code),
    parent: Some("market"),
    taggable: true,
    ..DEFAULTS
};

/// The promotions of a market.
pub const PROMOTIONS: ResourceType = ResourceType {
    name: "promotions",
    attributes: &[
        text("code"),
        text("name").required(),
        text("type").required().one_of(&[
            "percentage_discount",
            "fixed_amount",
            "fixed_price",
            "free_shipping",
            "free_gift",
            "buy_x_pay_y",
            "external",
        ]),
        integer("percentage").min(0).max(100),
        integer("fixed_amount_cents").min(0),
        currency("currency_code"),
        timestamp("starts_at").required(),
        timestamp("expires_at").required(),
        integer("total_usage_limit").min(1),
    ],
    relationships: &[MARKET],
    conditions: &[
        condition("percentage", WhenEquals("type", "percentage_discount")),
        condition("fixed_amount_cents", WhenEquals("type", "fixed_amount")),
    ],
    creates_without_key: true,
    parent: Some("market"),
    taggable: true,
    ..DEFAULTS
};

/// The rule that lets a promotion be applied with coupon codes.
pub const COUPON_CODES_PROMOTION_RULES: ResourceType = ResourceType {
    name: "coupon_codes_promotion_rules",
    attributes: &[text("promotion_code")],
    relationships: &[relationship(
        "promotion",
        "promotion_id",
        "promotions",
        "promotion_code",
        true,
    )],
    natural_key: &["promotion_id"],
    parent: Some("promotion"),
    log_key: "promotion_code",
    ..DEFAULTS
};

/// The coupon codes of a coupon-codes rule.
pub const COUPONS: ResourceType = ResourceType {
    name: "coupons",
    attributes: &[
        text("code")
            .required()
            .length(MIN_COUPON_CODE_LENGTH, MAX_COUPON_CODE_LENGTH),
        boolean("customer_single_use"),
        integer("usage_limit").min(1),
        email("recipient_email"),
        timestamp("expires_at"),
    ],
    relationships: &[relationship_by(
        "promotion_rule",
        "promotion_rule_id",
        "coupon_codes_promotion_rules",
        "promotion_code",
        "promotion_code",
        true,
    )],
    natural_key: &["code", "promotion_rule_id"],
    parent: Some("promotion_rule"),
    taggable: true,
    ..DEFAULTS
};
