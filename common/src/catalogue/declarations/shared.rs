//! Types the records of every domain refer to: addresses and tags.

use super::DEFAULTS;
use crate::catalogue::types::{email, text, ResourceType};

/// Postal addresses, keyed by `reference`: stock locations, customers and orders
/// give theirs inline.
pub const ADDRESSES: ResourceType = ResourceType {
    name: "addresses",
    attributes: &[
        text("first_name"),
        text("last_name"),
        text("company"),
        text("line_1").required(),
        text("line_2"),
        text("city").required(),
        text("zip_code"),
        text("state_code"),
        text("country_code").required(),
        text("phone"),
        email("email"),
        text("notes"),
    ],
    natural_key: &["reference"],
    log_key: "reference",
    creates_without_key: true,
    taggable: true,
    ..DEFAULTS
};

/// Tag names, which the records of taggable types are linked to.
pub const TAGS: ResourceType = ResourceType {
    name: "tags",
    attributes: &[text("name").required()],
    natural_key: &["name"],
    log_key: "name",
    ..DEFAULTS
};
