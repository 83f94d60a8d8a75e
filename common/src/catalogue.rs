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

/// Attributes every resource type has.
pub const COMMON_ATTRIBUTES: &[Attribute] = &[
    text("reference"),
    text("reference_origin"),
    Attribute::new("metadata", AttributeType::Object).default_sql("'{}'::jsonb"),
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
}

impl Relationship {
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

const fn relationship(
    name: &'static str,
    id_attribute: &'static str,
    target: &'static str,
    key_input: &'static str,
    required: bool,
) -> Relationship {
    Relationship {
        name,
        id_attribute,
        target,
        by_key: Some(KeyReference {
            input: key_input,
            target_column: "code",
        }),
        required,
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
}

/// Every importable resource type.
pub const CATALOGUE: &[ResourceType] = &[
    ResourceType {
        name: "shipping_categories",
        attributes: &[text("code").required(), text("name").required()],
        relationships: &[],
        natural_key: &["code"],
        parent: None,
        log_key: "code",
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
        natural_key: &["code"],
        parent: None,
        log_key: "code",
    },
    ResourceType {
        name: "price_lists",
        attributes: &[
            text("code").required(),
            text("name").required(),
            Attribute::new("currency_code", AttributeType::CurrencyCode).required(),
            boolean("tax_included"),
        ],
        relationships: &[],
        natural_key: &["code"],
        parent: None,
        log_key: "code",
    },
    ResourceType {
        name: "prices",
        attributes: &[
            text("sku_code"),
            integer("amount_cents").required().min(0),
            integer("compare_at_amount_cents").min(0),
        ],
        relationships: &[
            relationship("sku", "sku_id", "skus", "sku_code", true),
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
    },
    ResourceType {
        name: "stock_locations",
        attributes: &[text("code").required(), text("name").required()],
        relationships: &[],
        natural_key: &["code"],
        parent: None,
        log_key: "code",
    },
    ResourceType {
        name: "stock_items",
        attributes: &[text("sku_code"), integer("quantity").required().min(0)],
        relationships: &[
            relationship("sku", "sku_id", "skus", "sku_code", true),
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
    },
    ResourceType {
        name: "customers",
        attributes: &[Attribute::new("email", AttributeType::Email).required()],
        relationships: &[],
        natural_key: &["email"],
        parent: None,
        log_key: "email",
    },
];

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

    /// The parent relationship, when the type has one.
    pub fn parent_relationship(&self) -> Option<&'static Relationship> {
        let parent = self.parent?;
        self.relationships.iter().find(|r| r.name == parent)
    }

    /// Whether `name` is an input attribute this type understands.
    pub fn accepts_input(&self, name: &str) -> bool {
        name == "id"
            || self.attribute(name).is_some()
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
                assert!(
                    resource_type(rel.target).is_some(),
                    "{}: target {}",
                    r.name,
                    rel.target
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
    fn the_first_issue_types_are_declared() {
        for name in [
            "shipping_categories",
            "skus",
            "price_lists",
            "prices",
            "stock_locations",
            "stock_items",
            "customers",
        ] {
            assert!(resource_type(name).is_some(), "{name}");
        }
        assert_eq!(resource_type("skus").unwrap().natural_key, &["code"]);
        assert_eq!(
            resource_type("prices").unwrap().natural_key,
            &["sku_code", "price_list_id"]
        );
        assert_eq!(resource_type("customers").unwrap().natural_key, &["email"]);
        assert!(resource_type("unicorns").is_none());
    }
}
