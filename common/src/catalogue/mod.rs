//! The resource catalogue: one declaration per importable resource type.
//!
//! A declaration says which table holds the type's records, its attributes and their types,
//! which are required, its natural key, its parent and its relationships. Validation, the
//! relationship lookups and the SQL that writes a batch are all derived from it, so adding a
//! type is a declaration here plus its table in `migrations/`, and no new code path.
//!
//! - `types`: the type system ([`ResourceType`], [`Attribute`], [`Relationship`], [`Column`]...).
//! - `rules`: what a create needs beyond required attributes ([`Condition`]), generated keys
//!   ([`Generated`]) and polymorphic references ([`Polymorphic`]).
//! - `declarations`: the 29 declarations, one file per domain (markets, shared, catalog,
//!   pricing, stock, customers, promotions, orders).

mod declarations;
mod rules;
mod types;

pub use rules::{Condition, Generated, Polymorphic, Rule};
pub use types::{
    Allowed, Attribute, AttributeType, Column, KeyReference, Relationship, ResourceType,
    COMMON_ATTRIBUTES,
};

/// Every importable resource type, in dependency order: a type comes after the types it
/// refers to, so a whole catalogue can be loaded by importing them in this order.
pub const CATALOGUE: &[ResourceType] = &[
    declarations::CUSTOMER_GROUPS,
    declarations::TAX_CALCULATORS,
    declarations::PRICE_LISTS,
    declarations::MARKETS,
    declarations::SHIPPING_CATEGORIES,
    declarations::ADDRESSES,
    declarations::STOCK_LOCATIONS,
    declarations::TAGS,
    declarations::SKUS,
    declarations::PRICES,
    declarations::PRICE_TIERS,
    declarations::STOCK_ITEMS,
    declarations::STOCK_TRANSFERS,
    declarations::SKU_LISTS,
    declarations::SKU_LIST_ITEMS,
    declarations::BUNDLES,
    declarations::SKU_OPTIONS,
    declarations::CUSTOMERS,
    declarations::CUSTOMER_ADDRESSES,
    declarations::CUSTOMER_PAYMENT_SOURCES,
    declarations::CUSTOMER_SUBSCRIPTIONS,
    declarations::GIFT_CARDS,
    declarations::PROMOTIONS,
    declarations::COUPON_CODES_PROMOTION_RULES,
    declarations::COUPONS,
    declarations::TAX_CATEGORIES,
    declarations::ORDERS,
    declarations::LINE_ITEMS,
    declarations::LINE_ITEM_OPTIONS,
];

pub use declarations::{
    ITEM_TYPES, MAX_COUPON_CODE_LENGTH, MAX_TAG_LENGTH, MAX_TIERS_PER_PRICE,
    MIN_COUPON_CODE_LENGTH, TAG_CHARACTERS, TAG_NAME,
};

/// The input attribute that names a taggable record's tags.
pub const TAGS: &str = "tags";

/// The most tags a record may carry, as in the reference API.
pub const MAX_TAGS: usize = 10;

/// Finds a resource type by name.
pub fn resource_type(name: &str) -> Option<&'static ResourceType> {
    CATALOGUE.iter().find(|r| r.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_consistent() {
        for r in CATALOGUE {
            let cols = r.columns();
            for k in r.natural_key {
                assert!(
                    cols.iter().any(|c| c.name == *k),
                    "{}: key {k} is a column",
                    r.name
                );
            }
            assert_eq!(r.key_columns().len(), r.natural_key.len(), "{}", r.name);
            for (ri, rel) in r.relationships.iter().enumerate() {
                assert_eq!(cols[r.relationship_column(ri)].name, rel.id_attribute);
            }
            assert!(
                r.accepts_input(r.log_key),
                "{}: log key is an input",
                r.name
            );
            if let Some(p) = r.parent {
                assert!(
                    r.parent_relationship().is_some(),
                    "{}: parent {p} is a relationship",
                    r.name
                );
            }
            for rel in r.relationships {
                let target = resource_type(rel.target)
                    .unwrap_or_else(|| panic!("{}: target {}", r.name, rel.target));
                let before = CATALOGUE.iter().position(|t| t.name == rel.target);
                let here = CATALOGUE.iter().position(|t| t.name == r.name);
                assert!(
                    before < here,
                    "{}: {} is declared before",
                    r.name,
                    rel.target
                );
                if let Some(k) = rel.by_key {
                    assert!(
                        target.columns().iter().any(|c| c.name == k.target_column),
                        "{}: {} names {}.{}",
                        r.name,
                        k.input,
                        rel.target,
                        k.target_column
                    );
                }
            }
            for rel in r
                .relationships
                .iter()
                .filter(|rel| rel.creates_unknown_keys)
            {
                let k = rel.by_key.expect("a key to create by");
                let target = resource_type(rel.target).unwrap();
                assert!(
                    target.natural_key == [k.target_column]
                        && target
                            .all_attributes()
                            .all(|a| !a.required || a.name == k.target_column)
                        && target.relationships.iter().all(|t| !t.required)
                        && target.conditions.is_empty(),
                    "{}: {} can be created from its key alone",
                    r.name,
                    rel.name
                );
            }
            for child in r.children {
                let (_, c) = r.child(child).expect("child type declared");
                let back = c.parent_relationship().expect("a child has a parent");
                assert_eq!(back.target, r.name, "{child}'s parent is {}", r.name);
                assert!(
                    r.attribute(child).is_none(),
                    "{child} is not also an attribute"
                );
            }
            let mut names: Vec<_> = cols.iter().map(|c| c.name).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), cols.len(), "{}: columns are unique", r.name);
            assert_eq!(r.column_count(), cols.len());
        }
    }

    #[test]
    fn every_reference_type_and_the_types_they_refer_to_are_declared() {
        for name in [
            "addresses",
            "bundles",
            "coupons",
            "customer_addresses",
            "customer_payment_sources",
            "customer_subscriptions",
            "customers",
            "gift_cards",
            "line_items",
            "line_item_options",
            "orders",
            "price_tiers",
            "prices",
            "shipping_categories",
            "sku_lists",
            "sku_list_items",
            "sku_options",
            "skus",
            "stock_items",
            "stock_transfers",
            "tags",
            "tax_categories",
            "markets",
            "price_lists",
            "stock_locations",
            "tax_calculators",
            "promotions",
            "coupon_codes_promotion_rules",
            "customer_groups",
        ] {
            assert!(resource_type(name).is_some(), "{name}");
        }
        assert_eq!(resource_type("skus").unwrap().natural_key, &["code"]);
        assert_eq!(
            resource_type("prices").unwrap().natural_key,
            &["sku_code", "price_list_id"]
        );
        assert_eq!(resource_type("customers").unwrap().natural_key, &["email"]);
        assert_eq!(resource_type("orders").unwrap().natural_key, &["number"]);
        assert_eq!(
            resource_type("tax_categories").unwrap().natural_key,
            &["code", "tax_calculator_id"]
        );
        assert_eq!(CATALOGUE.len(), 29);
        assert!(resource_type("unicorns").is_none());
    }
}
