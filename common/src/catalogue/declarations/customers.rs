//! Customers and what they own: addresses, payment sources and subscriptions.

use super::DEFAULTS;
use crate::catalogue::types::{
    email, relationship, relationship_by, text, Relationship, ResourceType,
};

/// A customer's record, named by its email: what customers own points to.
const CUSTOMER: Relationship = relationship_by(
    "customer",
    "customer_id",
    "customers",
    "customer_email",
    "email",
    true,
);

/// Customers, keyed by email.
pub const CUSTOMERS: ResourceType = ResourceType {
    name: "customers",
    attributes: &[
        email("email").required(),
        text("shopper_reference"),
        text("profile_id"),
        text("tax_exemption_code"),
    ],
    relationships: &[relationship(
        "customer_group",
        "customer_group_id",
        "customer_groups",
        "customer_group_code",
        false,
    )],
    natural_key: &["email"],
    log_key: "email",
    taggable: true,
    ..DEFAULTS
};

/// A customer's addresses, given inline or by reference.
pub const CUSTOMER_ADDRESSES: ResourceType = ResourceType {
    name: "customer_addresses",
    attributes: &[],
    relationships: &[
        CUSTOMER,
        relationship_by(
            "address",
            "address_id",
            "addresses",
            "address_reference",
            "reference",
            true,
        )
        .given_inline(),
    ],
    natural_key: &["customer_id", "address_id"],
    parent: Some("customer"),
    log_key: "customer_email",
    ..DEFAULTS
};

/// A customer's stored payment sources.
pub const CUSTOMER_PAYMENT_SOURCES: ResourceType = ResourceType {
    name: "customer_payment_sources",
    attributes: &[
        text("payment_source_token"),
        text("customer_token"),
        text("payment_method_id"),
    ],
    relationships: &[CUSTOMER],
    natural_key: &["customer_id", "payment_source_token"],
    parent: Some("customer"),
    log_key: "payment_source_token",
    creates_without_key: true,
    ..DEFAULTS
};

/// A customer's subscriptions, keyed by reference.
pub const CUSTOMER_SUBSCRIPTIONS: ResourceType = ResourceType {
    name: "customer_subscriptions",
    attributes: &[],
    relationships: &[CUSTOMER],
    natural_key: &["customer_id", "reference"],
    parent: Some("customer"),
    log_key: "reference",
    creates_without_key: true,
    ..DEFAULTS
};
