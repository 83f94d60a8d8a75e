//! The resource catalogue: one declaration per importable resource type.
//!
//! A declaration says which table holds the type's records, its attributes and their types,
//! which are required, its natural key, its parent and its relationships. Validation, the
//! relationship lookups and the SQL that writes a batch are all derived from it, so adding a
//! type is a declaration here plus its table in `migrations/`, and no new code path.

/// The type of an attribute's values, which fixes how an input value is converted and
/// which Postgres column type stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeType {
    /// Free text (`text`).
    Text,
    /// A whole number (`bigint`).
    Integer,
    /// A decimal number (`double precision`).
    Float,
    /// true or false (`boolean`).
    Boolean,
    /// An email address, stored lower-cased (`text`).
    Email,
    /// An ISO 4217 currency code such as `EUR`, stored upper-cased (`text`).
    CurrencyCode,
    /// A JSON object (`jsonb`). In CSV, `<attribute>.<key>` columns fill its keys
    /// (`metadata.color`), or one column holds the whole object as JSON text.
    Object,
    /// A list of values (`jsonb`, an array). In CSV a cell holds comma-separated values
    /// (`tags` = `red, sale`), or `<attribute>.<key>` columns give the keys of a list of
    /// objects, matched by their place in each cell (`price_tiers.up_to` = `10,100`).
    List,
    /// A point in time (`timestamptz`), given as ISO 8601 (`2026-01-31T12:00:00Z`, or a
    /// date alone for midnight UTC).
    Timestamp,
}

impl AttributeType {
    /// The Postgres type of the column that stores such values.
    pub fn sql_type(self) -> &'static str {
        match self {
            AttributeType::Text | AttributeType::Email | AttributeType::CurrencyCode => "text",
            AttributeType::Integer => "int8",
            AttributeType::Float => "float8",
            AttributeType::Boolean => "bool",
            AttributeType::Object | AttributeType::List => "jsonb",
            AttributeType::Timestamp => "timestamptz",
        }
    }
}

/// One attribute of a resource type, stored in the column of the same name.
#[derive(Debug, Clone, Copy)]
pub struct Attribute {
    /// The attribute's name, which is also its column's.
    pub name: &'static str,
    /// How values are converted and stored.
    pub ty: AttributeType,
    /// Whether a record must have a value.
    pub required: bool,
    /// The smallest value allowed, for numbers.
    pub min: Option<i64>,
    /// The largest value allowed, for numbers.
    pub max: Option<i64>,
    /// The values allowed, when the attribute is an enumeration.
    pub one_of: &'static [&'static str],
    /// The SQL value a new record gets when the input does not give one.
    pub default_sql: Option<&'static str>,
}

impl Attribute {
    /// An optional attribute of the given type.
    pub const fn new(name: &'static str, ty: AttributeType) -> Self {
        Attribute {
            name,
            ty,
            required: false,
            min: None,
            max: None,
            one_of: &[],
            default_sql: None,
        }
    }
    /// The same attribute, required.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    /// The same attribute, with a lower bound.
    pub const fn min(mut self, min: i64) -> Self {
        self.min = Some(min);
        self
    }
    /// The same attribute, with an upper bound.
    pub const fn max(mut self, max: i64) -> Self {
        self.max = Some(max);
        self
    }
    /// The same attribute, limited to some values.
    pub const fn one_of(mut self, values: &'static [&'static str]) -> Self {
        self.one_of = values;
        self
    }
    /// The same attribute, with a default for new records.
    pub const fn default_sql(mut self, sql: &'static str) -> Self {
        self.default_sql = Some(sql);
        self
    }
}

const fn text(name: &'static str) -> Attribute {
    Attribute::new(name, AttributeType::Text)
}
const fn integer(name: &'static str) -> Attribute {
    Attribute::new(name, AttributeType::Integer)
}
const fn float(name: &'static str) -> Attribute {
    Attribute::new(name, AttributeType::Float)
}
const fn boolean(name: &'static str) -> Attribute {
    Attribute::new(name, AttributeType::Boolean).default_sql("false")
}
const fn email(name: &'static str) -> Attribute {
    Attribute::new(name, AttributeType::Email)
}
const fn currency(name: &'static str) -> Attribute {
    Attribute::new(name, AttributeType::CurrencyCode)
}
const fn timestamp(name: &'static str) -> Attribute {
    Attribute::new(name, AttributeType::Timestamp)
}
const fn object(name: &'static str) -> Attribute {
    Attribute::new(name, AttributeType::Object).default_sql("'{}'::jsonb")
}

/// Attributes every resource type has.
pub const COMMON_ATTRIBUTES: &[Attribute] = &[
    text("reference"),
    text("reference_origin"),
    object("metadata"),
];

/// A relationship to another resource type, stored as `<name>_id`.
#[derive(Debug, Clone, Copy)]
pub struct Relationship {
    /// The relationship's name, used as the attribute of its errors (`shipping_category`).
    pub name: &'static str,
    /// The column and input attribute holding the related record's id (`shipping_category_id`).
    pub id_attribute: &'static str,
    /// The related resource type (`shipping_categories`).
    pub target: &'static str,
    /// How an input may name the related record by its natural key instead of its id.
    pub by_key: Option<KeyReference>,
    /// Whether every record must have one.
    pub required: bool,
    /// Whether an input may give the related record itself, inline, under the relationship's
    /// name (`address: {"line_1": ..., "city": ...}`, or `address.city` CSV columns): it is
    /// written first, created or updated by its own natural key, and linked.
    pub inline: bool,
    /// Whether an input whose key names no record is written without the link (the key stays
    /// in the type's own attribute), with a warning, instead of failing: an order's
    /// `customer_email` may be a guest's.
    pub keeps_unknown_keys: bool,
}

impl Relationship {
    /// The same relationship, whose record an input may also give inline.
    pub const fn given_inline(mut self) -> Self {
        self.inline = true;
        self
    }

    /// The same relationship, left empty (with a warning) when its key names no record.
    pub const fn keeping_unknown_keys(mut self) -> Self {
        self.keeps_unknown_keys = true;
        self
    }

    /// Whether the target's key column holds emails (stored lower-cased, so a key naming one
    /// is lower-cased too).
    pub fn key_is_email(&self) -> bool {
        self.by_key
            .and_then(|k| resource_type(self.target)?.attribute(k.target_column))
            .is_some_and(|a| a.ty == AttributeType::Email)
    }

    /// Whether `input` is the attribute that names the related record by its natural key
    /// (`sku_code` for the `sku` relationship).
    pub fn is_key_input(&self, input: &str) -> bool {
        self.by_key.map(|k| k.input == input).unwrap_or(false)
    }
}

/// Naming a related record by a natural key: the input gives `input` (e.g. `sku_code`),
/// matched against the target's `target_column` (e.g. `code`).
#[derive(Debug, Clone, Copy)]
pub struct KeyReference {
    /// The input attribute.
    pub input: &'static str,
    /// The target's column it is matched against.
    pub target_column: &'static str,
}

/// A relationship named by id or by the target's `code` (`sku_code`).
const fn relationship(
    name: &'static str,
    id_attribute: &'static str,
    target: &'static str,
    key_input: &'static str,
    required: bool,
) -> Relationship {
    relationship_by(name, id_attribute, target, key_input, "code", required)
}

/// A relationship named by id or by another column of the target (`customer_email` matched
/// against `customers.email`).
const fn relationship_by(
    name: &'static str,
    id_attribute: &'static str,
    target: &'static str,
    key_input: &'static str,
    target_column: &'static str,
    required: bool,
) -> Relationship {
    Relationship {
        name,
        id_attribute,
        target,
        by_key: Some(KeyReference {
            input: key_input,
            target_column,
        }),
        required,
        inline: false,
        keeps_unknown_keys: false,
    }
}

/// A relationship named by id only (the target has no key an input could give alone, such as
/// a price tier's price).
const fn relationship_by_id(
    name: &'static str,
    id_attribute: &'static str,
    target: &'static str,
    required: bool,
) -> Relationship {
    Relationship {
        name,
        id_attribute,
        target,
        by_key: None,
        required,
        inline: false,
        keeps_unknown_keys: false,
    }
}

/// One importable resource type.
#[derive(Debug, Clone, Copy)]
pub struct ResourceType {
    /// The type's name, which is also its table's (`skus`).
    pub name: &'static str,
    /// Its own attributes (besides [`COMMON_ATTRIBUTES`]).
    pub attributes: &'static [Attribute],
    /// Its relationships.
    pub relationships: &'static [Relationship],
    /// The columns that identify a record within a tenant, besides its id.
    pub natural_key: &'static [&'static str],
    /// The relationship that `parent_resource_id` fills, when the type has a parent.
    pub parent: Option<&'static str>,
    /// The input attribute whose value names an input in the logs (its code, email...).
    pub log_key: &'static str,
    /// Child types an input may give inline, each under the attribute named as the child type
    /// (an order's `line_items`). A child's parent relationship points back to this type; the
    /// children are written with their parent, in the same transaction, and a child that
    /// fails fails its parent's input.
    pub children: &'static [&'static str],
    /// Whether an input without an id that leaves its natural key incomplete creates a new
    /// record (an address without a `reference`), rather than being refused.
    pub creates_without_key: bool,
    /// Whether records of this type carry tags: an input's `tags` (names) become the record's
    /// whole set of tags, linked in `taggings`; tags not yet known are created.
    pub taggable: bool,
}

/// What a declaration leaves out: no relationships, parent or children, keyed by `code`.
const DEFAULTS: ResourceType = ResourceType {
    name: "",
    attributes: &[],
    relationships: &[],
    natural_key: &["code"],
    parent: None,
    log_key: "code",
    children: &[],
    creates_without_key: false,
    taggable: false,
};

const MARKET: Relationship = relationship("market", "market_id", "markets", "market_code", false);
const SKU: Relationship = relationship("sku", "sku_id", "skus", "sku_code", true);
const CUSTOMER: Relationship = relationship_by(
    "customer",
    "customer_id",
    "customers",
    "customer_email",
    "email",
    true,
);

/// Every importable resource type, in dependency order: a type comes after the types it
/// refers to, so a whole catalogue can be loaded by importing them in this order.
pub const CATALOGUE: &[ResourceType] = &[
    ResourceType {
        name: "customer_groups",
        attributes: &[text("code").required(), text("name").required()],
        ..DEFAULTS
    },
    ResourceType {
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
    },
    ResourceType {
        name: "price_lists",
        attributes: &[
            text("code").required(),
            text("name").required(),
            currency("currency_code").required(),
            boolean("tax_included"),
        ],
        ..DEFAULTS
    },
    ResourceType {
        name: "markets",
        attributes: &[
            text("code").required(),
            text("name").required(),
            text("facebook_pixel_id"),
            text("checkout_url"),
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
        ..DEFAULTS
    },
    ResourceType {
        name: "shipping_categories",
        attributes: &[text("code").required(), text("name").required()],
        ..DEFAULTS
    },
    ResourceType {
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
    },
    ResourceType {
        name: "stock_locations",
        attributes: &[text("code").required(), text("name").required()],
        relationships: &[relationship_by(
            "address",
            "address_id",
            "addresses",
            "address_reference",
            "reference",
            false,
        )
        .given_inline()],
        ..DEFAULTS
    },
    ResourceType {
        name: "tags",
        attributes: &[text("name").required()],
        natural_key: &["name"],
        log_key: "name",
        ..DEFAULTS
    },
    ResourceType {
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
        taggable: true,
        ..DEFAULTS
    },
    ResourceType {
        name: "prices",
        attributes: &[
            text("sku_code"),
            integer("amount_cents").required().min(0),
            integer("compare_at_amount_cents").min(0),
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
    },
    ResourceType {
        name: "price_tiers",
        attributes: &[
            text("name"),
            text("type")
                .one_of(&["volume", "frequency"])
                .default_sql("'volume'"),
            integer("up_to").required().min(1),
            integer("price_amount_cents").required().min(0),
        ],
        relationships: &[relationship_by_id("price", "price_id", "prices", true)],
        natural_key: &["price_id", "up_to"],
        parent: Some("price"),
        log_key: "up_to",
        ..DEFAULTS
    },
    ResourceType {
        name: "stock_items",
        attributes: &[text("sku_code"), integer("quantity").required().min(0)],
        relationships: &[
            SKU,
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
        ..DEFAULTS
    },
    ResourceType {
        name: "stock_transfers",
        attributes: &[
            text("number").required(),
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
        log_key: "number",
        ..DEFAULTS
    },
    ResourceType {
        name: "sku_lists",
        attributes: &[
            text("name").required(),
            text("slug").required(),
            text("description"),
            text("image_url"),
            boolean("manual"),
            text("sku_code_regex"),
        ],
        natural_key: &["slug"],
        log_key: "slug",
        children: &["sku_list_items"],
        ..DEFAULTS
    },
    ResourceType {
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
    },
    ResourceType {
        name: "bundles",
        attributes: &[
            text("code").required(),
            text("name").required(),
            currency("currency_code").required(),
            text("description"),
            text("image_url"),
            integer("price_amount_cents").required().min(0),
            integer("compare_at_amount_cents").min(0),
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
    },
    ResourceType {
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
        natural_key: &["name"],
        parent: Some("market"),
        log_key: "name",
        taggable: true,
        ..DEFAULTS
    },
    ResourceType {
        name: "customers",
        attributes: &[email("email").required()],
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
    },
    ResourceType {
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
    },
    ResourceType {
        name: "customer_payment_sources",
        attributes: &[
            text("payment_source_token").required(),
            text("customer_token"),
            text("payment_method").one_of(&[
                "credit_card",
                "paypal",
                "stripe",
                "adyen",
                "braintree",
                "checkout_com",
                "external",
            ]),
        ],
        relationships: &[CUSTOMER],
        natural_key: &["customer_id", "payment_source_token"],
        parent: Some("customer"),
        log_key: "payment_source_token",
        ..DEFAULTS
    },
    ResourceType {
        name: "customer_subscriptions",
        attributes: &[],
        relationships: &[CUSTOMER],
        natural_key: &["customer_id", "reference"],
        parent: Some("customer"),
        log_key: "reference",
        ..DEFAULTS
    },
    ResourceType {
        name: "gift_cards",
        attributes: &[
            text("code").required(),
            currency("currency_code").required(),
            integer("balance_cents").required().min(0),
            integer("balance_max_cents").min(0),
            boolean("single_use"),
            boolean("rechargeable"),
            timestamp("expires_at"),
            email("recipient_email"),
        ],
        relationships: &[MARKET],
        parent: Some("market"),
        taggable: true,
        ..DEFAULTS
    },
    ResourceType {
        name: "promotions",
        attributes: &[
            text("code").required(),
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
            timestamp("expires_at"),
            integer("total_usage_limit").min(1),
        ],
        relationships: &[MARKET],
        parent: Some("market"),
        taggable: true,
        ..DEFAULTS
    },
    ResourceType {
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
    },
    ResourceType {
        name: "coupons",
        attributes: &[
            text("code").required(),
            boolean("customer_single_use"),
            integer("usage_limit").min(1),
            email("recipient_email"),
        ],
        relationships: &[relationship_by(
            "coupon_codes_promotion_rule",
            "coupon_codes_promotion_rule_id",
            "coupon_codes_promotion_rules",
            "promotion_code",
            "promotion_code",
            true,
        )],
        natural_key: &["code", "coupon_codes_promotion_rule_id"],
        parent: Some("coupon_codes_promotion_rule"),
        taggable: true,
        ..DEFAULTS
    },
    ResourceType {
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
            relationship("sku", "sku_id", "skus", "sku_code", false),
        ],
        natural_key: &["code", "tax_calculator_id"],
        parent: Some("tax_calculator"),
        ..DEFAULTS
    },
    ResourceType {
        name: "orders",
        attributes: &[
            text("number").required(),
            currency("currency_code"),
            email("customer_email"),
            text("language_code"),
            text("country_code"),
            text("status")
                .one_of(&["draft", "pending", "placed", "approved", "cancelled"])
                .default_sql("'draft'"),
        ],
        relationships: &[
            MARKET,
            relationship_by(
                "customer",
                "customer_id",
                "customers",
                "customer_email",
                "email",
                false,
            )
            .keeping_unknown_keys(),
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
        parent: Some("market"),
        log_key: "number",
        children: &["line_items"],
        taggable: true,
        ..DEFAULTS
    },
    ResourceType {
        name: "line_items",
        attributes: &[
            text("sku_code"),
            text("bundle_code"),
            text("name"),
            integer("quantity").required().min(1),
            integer("unit_amount_cents").min(0),
            integer("compare_at_amount_cents").min(0),
            text("item_type")
                .one_of(&["skus", "bundles", "gift_cards", "adjustments"])
                .default_sql("'skus'"),
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
        ],
        natural_key: &["order_id", "sku_code"],
        parent: Some("order"),
        log_key: "sku_code",
        children: &["line_item_options"],
        creates_without_key: true,
        ..DEFAULTS
    },
    ResourceType {
        name: "line_item_options",
        attributes: &[
            text("name"),
            integer("quantity").required().min(1),
            object("options"),
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
    },
];

/// The input attribute that names a taggable record's tags.
pub const TAGS: &str = "tags";

/// The most tags a record may carry, as in the reference API.
pub const MAX_TAGS: usize = 10;

/// Finds a resource type by name.
pub fn resource_type(name: &str) -> Option<&'static ResourceType> {
    CATALOGUE.iter().find(|r| r.name == name)
}

/// A column of a resource table that inputs can write: an attribute or a relationship's id.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The column's name.
    pub name: &'static str,
    /// Its Postgres type.
    pub sql_type: &'static str,
    /// What a new record gets when the input does not give it.
    pub default_sql: Option<&'static str>,
}

impl ResourceType {
    /// Every attribute, the type's own then the common ones.
    pub fn all_attributes(&self) -> impl Iterator<Item = &'static Attribute> {
        self.attributes.iter().chain(COMMON_ATTRIBUTES.iter())
    }

    /// Finds an attribute by name.
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.all_attributes().find(|a| a.name == name)
    }

    /// Finds an attribute by name, with its index in [`ResourceType::columns`] (attributes
    /// come first there, in this order).
    pub fn attribute_index(&self, name: &str) -> Option<(usize, &'static Attribute)> {
        self.all_attributes()
            .enumerate()
            .find(|(_, a)| a.name == name)
    }

    /// Whether some relationship is named by `input` as a natural key (`sku_code`).
    pub fn is_relationship_key_input(&self, input: &str) -> bool {
        self.relationships.iter().any(|r| r.is_key_input(input))
    }

    /// The writable columns, in a fixed order: attributes, then relationship ids.
    pub fn columns(&self) -> Vec<Column> {
        let mut cols: Vec<Column> = self
            .all_attributes()
            .map(|a| Column {
                name: a.name,
                sql_type: a.ty.sql_type(),
                default_sql: a.default_sql,
            })
            .collect();
        for r in self.relationships {
            cols.push(Column {
                name: r.id_attribute,
                sql_type: "text",
                default_sql: None,
            });
        }
        cols
    }

    /// How many columns [`ResourceType::columns`] has, without building them.
    pub fn column_count(&self) -> usize {
        self.attributes.len() + COMMON_ATTRIBUTES.len() + self.relationships.len()
    }

    /// The index in [`ResourceType::columns`] of a column.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns().iter().position(|c| c.name == name)
    }

    /// The index in [`ResourceType::columns`] of relationship `ri`'s id column (relationship
    /// ids come after the attributes, in declaration order).
    pub fn relationship_column(&self, ri: usize) -> usize {
        self.attributes.len() + COMMON_ATTRIBUTES.len() + ri
    }

    /// The indexes in [`ResourceType::columns`] of the natural key's columns, in key order
    /// (every key column is a column: the catalogue's tests check it).
    pub fn key_columns(&self) -> Vec<usize> {
        let columns = self.columns();
        self.natural_key
            .iter()
            .filter_map(|k| columns.iter().position(|c| c.name == *k))
            .collect()
    }

    /// Whether an input may carry records that are written with it and can fail on their
    /// own (children, related records given inline), so that its batch may have to be
    /// written again without it.
    pub fn has_nested_records(&self) -> bool {
        !self.children.is_empty() || self.relationships.iter().any(|r| r.inline)
    }

    /// The parent relationship, when the type has one.
    pub fn parent_relationship(&self) -> Option<&'static Relationship> {
        Some(&self.relationships[self.parent_index()?])
    }

    /// The index of the parent relationship in [`ResourceType::relationships`].
    pub fn parent_index(&self) -> Option<usize> {
        let parent = self.parent?;
        self.relationships.iter().position(|r| r.name == parent)
    }

    /// The child type given inline under `name` (an order's `line_items`), with its index in
    /// [`ResourceType::children`].
    pub fn child(&self, name: &str) -> Option<(usize, &'static ResourceType)> {
        let at = self.children.iter().position(|c| *c == name)?;
        Some((at, resource_type(self.children[at])?))
    }

    /// The relationship whose record an input may give inline under `name` (`address`), with
    /// its index in [`ResourceType::relationships`] and the related type.
    pub fn inline_relationship(
        &self,
        name: &str,
    ) -> Option<(usize, &'static Relationship, &'static ResourceType)> {
        let at = self
            .relationships
            .iter()
            .position(|r| r.inline && r.name == name)?;
        let rel = &self.relationships[at];
        Some((at, rel, resource_type(rel.target)?))
    }

    /// Whether `name` is an input attribute this type understands.
    pub fn accepts_input(&self, name: &str) -> bool {
        name == "id"
            || self.attribute(name).is_some()
            || self.children.contains(&name)
            || (self.taggable && name == TAGS)
            || self
                .relationships
                .iter()
                .any(|r| r.inline && r.name == name)
            || self
                .relationships
                .iter()
                .any(|r| r.id_attribute == name || r.is_key_input(name))
    }
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
            for rel in r.relationships.iter().filter(|rel| rel.keeps_unknown_keys) {
                let k = rel.by_key.expect("a key to keep");
                assert!(
                    !rel.required && r.attribute(k.input).is_some(),
                    "{}: {} keeps its key in an attribute of its own",
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
