//! Types the records of every domain refer to: addresses and tags.

use super::DEFAULTS;
use crate::catalogue::rules::{condition, Rule::*};
use crate::catalogue::types::{boolean, email, float, text, Allowed, Attribute, ResourceType};

/// The longest tag name, as in the reference API.
pub const MAX_TAG_LENGTH: usize = 25;

/// The characters of tag names, as in the reference API.
pub const TAG_CHARACTERS: Allowed = Allowed {
    test: |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':'),
    describe: "letters, digits, '_', '-' and ':'",
};

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
        text("phone").required(),
        email("email"),
        text("notes"),
        boolean("business"),
        float("lat"),
        float("lng"),
        text("billing_info"),
    ],
    conditions: &[
        condition("first_name", WhenNotTrue("business")),
        condition("last_name", WhenNotTrue("business")),
        condition("company", WhenTrue("business")),
    ],
    natural_key: &["reference"],
    log_key: "reference",
    creates_without_key: true,
    taggable: true,
    ..DEFAULTS
};

/// A tag's name, as the reference API restricts it: what the `tags` of every taggable
/// input are checked against.
pub const TAG_NAME: Attribute = text("name")
    .required()
    .length(1, MAX_TAG_LENGTH)
    .allowed(TAG_CHARACTERS);

/// Tag names, which the records of taggable types are linked to.
pub const TAGS: ResourceType = ResourceType {
    name: "tags",
    attributes: &[TAG_NAME],
    natural_key: &["name"],
    log_key: "name",
    ..DEFAULTS
};
