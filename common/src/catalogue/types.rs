//! The type system of the catalogue: attributes and their types, relationships, resource
//! types and the columns derived from them, with the const constructors declarations use.

use super::rules::{Condition, Generated, Polymorphic};
use super::{resource_type, TAGS};

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
    /// The fewest characters a text value may have.
    pub min_length: Option<usize>,
    /// The most characters a text value may have.
    pub max_length: Option<usize>,
    /// The characters a text value may hold, when restricted, and how they are described in
    /// errors.
    pub allowed: Option<Allowed>,
}

/// A restriction of a text attribute's characters (tag names).
#[derive(Debug, Clone, Copy)]
pub struct Allowed {
    /// Whether a character is allowed.
    pub test: fn(char) -> bool,
    /// The allowed characters in words, for errors (`letters, digits, _ - :`).
    pub describe: &'static str,
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
            min_length: None,
            max_length: None,
            allowed: None,
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
    /// The same attribute, whose text is between `min` and `max` characters long.
    pub const fn length(mut self, min: usize, max: usize) -> Self {
        self.min_length = Some(min);
        self.max_length = Some(max);
        self
    }
    /// The same attribute, whose text holds only the characters `allowed` lets through.
    pub const fn allowed(mut self, allowed: Allowed) -> Self {
        self.allowed = Some(allowed);
        self
    }
    /// Whether a new record gets `true` when the input does not give it.
    pub fn defaults_to_true(&self) -> bool {
        self.default_sql == Some("true")
    }
}

pub(super) const fn text(name: &'static str) -> Attribute {
    Attribute::new(name, AttributeType::Text)
}
pub(super) const fn integer(name: &'static str) -> Attribute {
    Attribute::new(name, AttributeType::Integer)
}
pub(super) const fn float(name: &'static str) -> Attribute {
    Attribute::new(name, AttributeType::Float)
}
pub(super) const fn boolean(name: &'static str) -> Attribute {
    Attribute::new(name, AttributeType::Boolean).default_sql("false")
}
pub(super) const fn email(name: &'static str) -> Attribute {
    Attribute::new(name, AttributeType::Email)
}
pub(super) const fn currency(name: &'static str) -> Attribute {
    Attribute::new(name, AttributeType::CurrencyCode)
}
pub(super) const fn timestamp(name: &'static str) -> Attribute {
    Attribute::new(name, AttributeType::Timestamp)
}
pub(super) const fn object(name: &'static str) -> Attribute {
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
    /// Whether a key that names no record creates one, holding the key alone (an order's
    /// `customer_email` finds or creates its customer, as in the reference API). The target
    /// must need nothing else: the catalogue's tests check it.
    pub creates_unknown_keys: bool,
}

impl Relationship {
    /// The same relationship, whose record an input may also give inline.
    pub const fn given_inline(mut self) -> Self {
        self.inline = true;
        self
    }

    /// The same relationship, whose key creates the record it names when there is none.
    pub const fn creating_unknown_keys(mut self) -> Self {
        self.creates_unknown_keys = true;
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
pub(super) const fn relationship(
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
pub(super) const fn relationship_by(
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
        creates_unknown_keys: false,
    }
}

/// A relationship named by id only (the target has no key an input could give alone, such as
/// a price tier's price).
pub(super) const fn relationship_by_id(
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
        creates_unknown_keys: false,
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
    /// What else a create needs, under conditions (see [`Condition`]).
    pub conditions: &'static [Condition],
    /// How the natural key (a single column) is generated for an input without an id that
    /// leaves it out: such an input creates a record.
    pub generated_key: Option<Generated>,
    /// A reference whose target type an attribute names (a line item's `item_id`).
    pub polymorphic: Option<Polymorphic>,
    /// The most records one parent may have (a price's tiers).
    pub max_per_parent: Option<usize>,
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

    /// Whether a relationship is part of the natural key, by its id column or by its key
    /// input (a price's `sku_code`): such a relationship is needed to name the record at all.
    pub fn keys_by(&self, rel: &Relationship) -> bool {
        self.natural_key
            .iter()
            .any(|k| *k == rel.id_attribute || rel.is_key_input(k))
    }

    /// Finds a relationship by name, with its index in [`ResourceType::relationships`].
    pub fn relationship(&self, name: &str) -> Option<(usize, &'static Relationship)> {
        self.relationships
            .iter()
            .enumerate()
            .find(|(_, r)| r.name == name)
    }

    /// What an input of this type is matched on, in words (`id when given, else code when
    /// given, else a new record`), for `GET /api/resource_types` and the docs.
    pub fn matching(&self) -> String {
        let key: Vec<&str> = self
            .natural_key
            .iter()
            .map(|k| {
                self.relationships
                    .iter()
                    .find(|r| r.id_attribute == *k)
                    .map_or(*k, |r| r.name)
            })
            .collect();
        let key = key.join(" + ");
        if self.generated_key.is_some() {
            format!(
                "id when given, else {key} when given, else a new record with a generated {key}"
            )
        } else if self.creates_without_key {
            format!("id when given, else {key} when all given, else a new record")
        } else {
            format!("id when given, else {key}")
        }
    }

    /// What a create needs of an attribute or relationship: `required`, `conditional` (see
    /// [`ResourceType::condition`]) or `optional`.
    pub fn requirement(&self, name: &str) -> &'static str {
        let required = match self.relationship(name) {
            Some((_, r)) => r.required,
            None => self.attribute(name).is_some_and(|a| a.required),
        };
        if required {
            "required"
        } else if self.condition(name).is_some() {
            "conditional"
        } else {
            "optional"
        }
    }

    /// The condition under which `name` is required at create, if any.
    pub fn condition(&self, name: &str) -> Option<&'static Condition> {
        self.conditions.iter().find(|c| c.name == name)
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
