//! Turns a raw input into typed column values, following the resource catalogue.
//!
//! Validation needs no database: it checks types, required attributes, ranges and
//! enumerations, and collects the relationship references that the worker resolves in bulk.
//! Everything wrong with an input is reported at once, attribute by attribute.
//!
//! CSV rows are read through a [`CsvLayout`], worked out once per header row: which column is
//! which attribute, which are keys of an object (`metadata.color`) or of a list of objects
//! (`price_tiers.up_to`), which are ignored. A [`Preparer`] keeps what must be known across
//! the inputs of one import: the layout, whether its unknown columns were already warned
//! about (once per import, not once per row), and the natural keys already seen, to warn when
//! a later input overrides an earlier one.
//!
//! - `convert`: one value to one attribute's type ([`convert`], [`convert_noting`]), the notes
//!   on values stored otherwise than given, and the text helpers of messages.
//! - `nested`: what an input gives inline: children, related records, tags.
//! - `csv_layout`: how a CSV header row maps onto a type's inputs ([`CsvLayout`]).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde_json::Value;

use crate::catalogue::{ResourceType, TAGS};
use crate::inputs::{RawInput, RawRecord};
use crate::seen_keys::SeenKeys;

mod at_create;
mod convert;
mod csv_layout;
mod nested;
#[cfg(test)]
mod test_inputs;

pub use at_create::{missing_at_create, missing_message};
pub use convert::{check_text, convert, convert_noting, has_nul};
pub use csv_layout::CsvLayout;
pub use nested::MAX_CHILDREN;

use at_create::{note_missing, read_polymorphic};
use convert::{printable, scalar_text, trimmed_note};
use nested::{check_children, check_related, check_tags};

/// The errors_log key of an input that has no identifying value.
pub const UNKNOWN_KEY: &str = "unknown";

/// CSV columns whose name starts with this are ignored without a warning, unless the type
/// declares them (a bundle's `_compute_price_amount`): the failed-inputs report adds its own
/// (`_errors`...) so that it can be imported again as it is.
pub const IGNORED_COLUMN_PREFIX: char = '_';

/// A typed value bound for one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL (an attribute explicitly cleared).
    Null,
    /// text.
    Text(String),
    /// int8.
    Integer(i64),
    /// float8.
    Float(f64),
    /// bool.
    Boolean(bool),
    /// jsonb (boxed: the other variants are much smaller, and a batch holds many cells).
    Json(Box<Value>),
    /// timestamptz.
    Timestamp(chrono::DateTime<chrono::Utc>),
}

impl Cell {
    /// A jsonb value.
    pub fn json(value: Value) -> Cell {
        Cell::Json(Box::new(value))
    }
}

/// How an input names a related record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reference {
    /// By the related record's id.
    Id(String),
    /// By the related record's natural key (a code).
    Key(String),
}

/// An input checked against its resource type, ready to be resolved and written.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// Where the input is in the file.
    pub position: u64,
    /// Its errors_log / warnings_log key.
    pub key: String,
    /// The id of the record to update, when the input gives one.
    pub id: Option<String>,
    /// One entry per column of [`ResourceType::columns`]; `None` where the input is silent.
    pub cells: Vec<Option<Cell>>,
    /// One entry per relationship of the type; `None` where the input is silent.
    pub references: Vec<Option<Reference>>,
    /// (attribute, message) pairs; an input with any is not written.
    pub errors: Vec<(String, String)>,
    /// Messages about what was ignored or changed.
    pub warnings: Vec<String>,
    /// Required attributes the input leaves out: an error only if it creates a record (an
    /// update of an existing one, by id or by natural key, may leave them out).
    pub missing_required: Vec<&'static str>,
    /// A hash of the record a valid input names (by id, or by natural key as given), or
    /// `None`: lets the worker tell whether two batches may touch the same records.
    pub identity: Option<u64>,
    /// The children given inline, one list per entry of [`ResourceType::children`] (empty
    /// when the input gives none), each checked against its own type.
    pub children: Vec<Vec<Prepared>>,
    /// The names of the record's tags, when the input gives them: its whole set of tags.
    pub tags: Option<Vec<String>>,
    /// Related records given inline (an address under `address`), each with the index of
    /// its relationship, checked against the related type.
    pub related: Vec<(usize, Prepared)>,
}

impl Prepared {
    /// An input at `position` with nothing in it yet.
    fn empty(rt: &ResourceType, position: u64) -> Self {
        Prepared {
            position,
            key: UNKNOWN_KEY.to_owned(),
            id: None,
            // Counted, not built: this runs for every input.
            cells: vec![None; rt.column_count()],
            references: vec![None; rt.relationships.len()],
            errors: Vec::new(),
            warnings: Vec::new(),
            missing_required: Vec::new(),
            identity: None,
            children: Vec::new(),
            tags: None,
            related: Vec::new(),
        }
    }

    /// Whether the input gives children inline.
    pub fn has_children(&self) -> bool {
        self.children.iter().any(|c| !c.is_empty())
    }

    /// Whether the input gives other records inline: children, or related records.
    pub fn has_nested(&self) -> bool {
        self.has_children() || !self.related.is_empty()
    }

    /// Whether the input gives the record of relationship `ri` inline.
    pub fn gives_related(&self, ri: usize) -> bool {
        self.related.iter().any(|(r, _)| *r == ri)
    }

    /// Whether the input can be written.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// Records an error on `attribute`.
    pub fn error(&mut self, attribute: &str, message: impl Into<String>) {
        self.errors.push((attribute.to_owned(), message.into()));
    }
}

/// Checks one input against `rt`, on its own: nothing is remembered from other inputs, so
/// a CSV row's unknown columns are warned about on the row itself, and duplicates are not
/// looked for. A worker uses a [`Preparer`] instead.
pub fn prepare(rt: &'static ResourceType, input: RawInput) -> Prepared {
    Preparer::new(rt, None).prepare(input)
}

/// Checks the inputs of one import, in file order, remembering what the warnings about the
/// whole import need (see the module's documentation).
///
/// Duplicate detection keeps one entry per distinct natural key (a 64-bit hash of the key and
/// the position of its latest input, 32 bits) in a [`SeenKeys`]: about 15 MB per million
/// inputs, sized once from the import's input count, and freed when the import's run ends.
/// Two different keys with the same hash (odds about 1 in 3·10^7 for a million keys) would
/// give a spurious warning, never a wrong write.
pub struct Preparer {
    rt: &'static ResourceType,
    parent_resource_id: Option<String>,
    layout: Option<(Arc<[String]>, CsvLayout)>,
    unknown_columns_warned: bool,
    seen: SeenKeys,
}

impl Preparer {
    /// A preparer for the inputs of an import of `rt` with this `parent_resource_id`.
    pub fn new(rt: &'static ResourceType, parent_resource_id: Option<&str>) -> Self {
        Self::with_capacity(rt, parent_resource_id, 0)
    }

    /// Like [`Preparer::new`], with room for the keys of `inputs` inputs.
    pub fn with_capacity(
        rt: &'static ResourceType,
        parent_resource_id: Option<&str>,
        inputs: usize,
    ) -> Self {
        Preparer {
            rt,
            parent_resource_id: parent_resource_id.map(str::to_owned),
            layout: None,
            unknown_columns_warned: false,
            seen: SeenKeys::with_capacity(inputs),
        }
    }

    /// Checks the next input. Inputs must come in file order, from the first: a run resumed
    /// after some inputs passes those again (and drops their result) so that what is
    /// remembered is the same as if the run had not stopped.
    pub fn prepare(&mut self, input: RawInput) -> Prepared {
        let rt = self.rt;
        let mut p = Prepared::empty(rt, input.position);
        let mut column_warnings = Vec::new();
        let fields: Vec<(String, Value, bool)> = match input.record {
            RawRecord::Malformed(why) => {
                p.error("input", why);
                return p;
            }
            RawRecord::Json(map) => map.into_iter().map(|(k, v)| (k, v, false)).collect(),
            RawRecord::Csv { headers, values } => {
                // The layout of the same header row is worked out once.
                let layout = match self.layout.take() {
                    Some((h, layout)) if Arc::ptr_eq(&h, &headers) || *h == *headers => (h, layout),
                    _ => {
                        let layout = CsvLayout::new(rt, &headers);
                        (headers, layout)
                    }
                };
                let (_, layout) = self.layout.insert(layout);
                // The unknown columns are the same in every row: said once, on the first row.
                if !self.unknown_columns_warned {
                    self.unknown_columns_warned = true;
                    column_warnings = layout
                        .unknown
                        .iter()
                        .map(|name| {
                            format!("column {} was ignored: unknown attribute", printable(name))
                        })
                        .collect();
                }
                layout.fields(values)
            }
        };
        p.key = log_key(rt, &fields);
        p.warnings = column_warnings;
        check_fields(rt, &mut p, fields, self.parent_resource_id.is_some());
        self.note_duplicate(&mut p);
        p
    }

    /// Warns when a valid input names the same record, by id or by natural key, as an earlier
    /// valid input: the later one is written over it.
    fn note_duplicate(&mut self, p: &mut Prepared) {
        if !p.is_valid() {
            return;
        }
        let Some((hash, what)) = identity(self.rt, self.parent_resource_id.as_deref(), p) else {
            return;
        };
        p.identity = Some(hash);
        let position = u32::try_from(p.position).unwrap_or(u32::MAX);
        if let Some(earlier) = self.seen.insert(hash, position) {
            p.warnings.push(format!(
                "overrides an earlier input with the same {what} (position {earlier})"
            ));
        }
    }
}

/// What identifies the record an input writes, hashed, and what it is called ("code",
/// "sku_code and price_list", "id"); `None` when the input does not give all of it.
///
/// Inputs are compared as they are written (codes trimmed, emails lower-cased), but the same
/// related record named once by id and once by code is not recognised, nor an update by id
/// of a record another input names by its natural key: those are resolved by the database.
fn identity(
    rt: &ResourceType,
    parent_resource_id: Option<&str>,
    p: &Prepared,
) -> Option<(u64, String)> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    if let Some(id) = &p.id {
        (0u8, id).hash(&mut h);
        return Some((h.finish(), "id".to_owned()));
    }
    let mut names = Vec::with_capacity(rt.natural_key.len());
    for column in rt.natural_key {
        if let Some((idx, _)) = rt.attribute_index(column) {
            match &p.cells[idx] {
                Some(Cell::Text(s)) if !s.is_empty() => (1u8, s).hash(&mut h),
                Some(Cell::Integer(n)) => (2u8, n).hash(&mut h),
                _ => return None,
            }
            names.push(*column);
        } else {
            let (ri, rel) = rt
                .relationships
                .iter()
                .enumerate()
                .find(|(_, r)| r.id_attribute == *column)?;
            let parent = (rt.parent == Some(rel.name))
                .then(|| parent_resource_id.map(|id| Reference::Id(id.to_owned())))
                .flatten();
            match p.references[ri].clone().or(parent) {
                Some(r) => (3u8, r).hash(&mut h),
                None => return None,
            }
            names.push(rel.name);
        }
    }
    Some((h.finish(), names.join(" and ")))
}

/// Checks the fields of one input into `p`.
///
/// `parent_named`: whether the parent relationship is named by the import (its
/// `parent_resource_id`) or by the record an input is given inline in.
fn check_fields(
    rt: &ResourceType,
    p: &mut Prepared,
    fields: Vec<(String, Value, bool)>,
    parent_named: bool,
) {
    for (name, mut value, from_csv) in fields {
        // Postgres text cannot hold NUL: refuse it here, once, for names and values alike,
        // rather than let it fail the lookups and writes of the whole batch.
        // An attribute the type does not know is ignored whatever its value.
        if name.contains('\0') || !rt.accepts_input(&name) {
            p.warnings.push(if name.is_empty() {
                "an attribute without a name was ignored".to_owned()
            } else {
                format!("{} was ignored: unknown attribute", printable(&name))
            });
            continue;
        }
        if has_nul(&value) {
            p.error(&name, "contains a NUL character, which cannot be stored");
            continue;
        }
        if name == "id" {
            match scalar_text(&value) {
                Some(id) if !id.trim().is_empty() => p.id = Some(id.trim().to_owned()),
                _ => p.error("id", "must be a non-empty string"),
            }
            continue;
        }
        if let Some((at, child_rt)) = rt.child(&name) {
            check_children(child_rt, p, at, &name, value, from_csv);
            continue;
        }
        if rt.taggable && name == TAGS {
            check_tags(p, value, from_csv);
            continue;
        }
        if let Some((ri, _, target)) = rt.inline_relationship(&name) {
            check_related(target, p, ri, &name, value, from_csv);
            continue;
        }
        let attribute = rt.attribute_index(&name);
        if let Some((idx, attr)) = attribute {
            let names_a_relationship = rt.is_relationship_key_input(&name);
            let value = if names_a_relationship {
                value.clone()
            } else {
                std::mem::take(&mut value)
            };
            let identifier = names_a_relationship || rt.natural_key.contains(&attr.name);
            match convert_noting(attr, value, from_csv, identifier) {
                Ok((cell, note)) => {
                    p.cells[idx] = Some(cell);
                    p.warnings.extend(note);
                }
                Err(msg) => p.error(attr.name, msg),
            }
        }
        let mut used = attribute.is_some();
        for (ri, rel) in rt.relationships.iter().enumerate() {
            let reference = if rel.id_attribute == name {
                Some(Reference::Id as fn(String) -> Reference)
            } else if rel.is_key_input(&name) {
                Some(Reference::Key as fn(String) -> Reference)
            } else {
                None
            };
            let Some(make) = reference else { continue };
            used = true;
            match scalar_text(&value) {
                Some(s) if !s.trim().is_empty() => {
                    let trimmed = s.trim();
                    let key_input = rel.is_key_input(&name);
                    // A key that is also an attribute was noted when it was converted.
                    if trimmed.len() != s.len() && attribute.is_none() && key_input {
                        p.warnings.push(trimmed_note(&name, &s, trimmed));
                    }
                    // Matched as the target stores it: emails lower-cased.
                    let stored = if key_input && rel.key_is_email() {
                        trimmed.to_lowercase()
                    } else {
                        trimmed.to_owned()
                    };
                    // An id beats a key given in the same input.
                    let r = make(stored);
                    if !matches!(
                        (&p.references[ri], &r),
                        (Some(Reference::Id(_)), Reference::Key(_))
                    ) {
                        p.references[ri] = Some(r);
                    }
                }
                _ if value.is_null() => {}
                _ => p.error(rel.name, format!("{name} must be a string")),
            }
        }
        if !used {
            p.warnings
                .push(format!("{name} was ignored: unknown attribute"));
        }
    }

    for ri in p.related.iter().map(|(ri, _)| *ri).collect::<Vec<_>>() {
        if p.references[ri].is_some() {
            let rel = &rt.relationships[ri];
            p.error(
                rel.name,
                format!(
                    "is given inline and named by {}: give one or the other",
                    if matches!(p.references[ri], Some(Reference::Id(_))) {
                        rel.id_attribute
                    } else {
                        rel.by_key.map_or(rel.id_attribute, |k| k.input)
                    }
                ),
            );
        }
    }

    read_polymorphic(rt, p);
    for (idx, attr) in rt.all_attributes().enumerate() {
        if !attr.required || p.errors.iter().any(|(a, _)| a == attr.name) {
            continue;
        }
        match &p.cells[idx] {
            // Given, but blank: never allowed for a required attribute.
            Some(Cell::Null) => p.error(attr.name, "can't be blank"),
            Some(Cell::Text(s)) if s.trim().is_empty() => p.error(attr.name, "can't be blank"),
            _ => {}
        }
    }
    // What is left out (required attributes, relationships, conditions) only a create needs.
    note_missing(rt, p, parent_named);
}

fn log_key(rt: &ResourceType, fields: &[(String, Value, bool)]) -> String {
    for wanted in [rt.log_key, "id"] {
        if let Some((_, v, _)) = fields.iter().find(|(n, _, _)| n == wanted) {
            if let Some(s) = scalar_text(v) {
                let s = s.trim();
                if !s.is_empty() {
                    return printable(s);
                }
            }
        }
    }
    UNKNOWN_KEY.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::resource_type;
    use crate::validate::test_inputs::{csv_rows, json_input};
    use serde_json::json;

    #[test]
    fn a_valid_sku_fills_its_columns() {
        let rt = resource_type("skus").unwrap();
        let p = prepare(
            rt,
            json_input(
                json!({"code": "A1", "name": "Shirt", "pieces_per_pack": "6", "do_not_ship": true, "shipping_category_code": "STD"}),
            ),
        );
        assert!(p.is_valid(), "{:?}", p.errors);
        assert_eq!(p.key, "A1");
        let col = |n: &str| p.cells[rt.column_index(n).unwrap()].clone();
        assert_eq!(col("code"), Some(Cell::Text("A1".into())));
        assert_eq!(col("pieces_per_pack"), Some(Cell::Integer(6)));
        assert_eq!(col("do_not_ship"), Some(Cell::Boolean(true)));
        assert_eq!(col("description"), None);
        assert_eq!(p.references, vec![Some(Reference::Key("STD".into()))]);
    }

    #[test]
    fn errors_name_the_attribute_and_the_problem() {
        let rt = resource_type("skus").unwrap();
        let p = prepare(
            rt,
            json_input(
                json!({"code": "A1", "pieces_per_pack": "abc", "weight": -1, "unit_of_weight": "kg", "metadata": 5, "color": "red"}),
            ),
        );
        let errors: Vec<(&str, &str)> = p
            .errors
            .iter()
            .map(|(a, m)| (a.as_str(), m.as_str()))
            .collect();
        assert!(
            errors.contains(&("pieces_per_pack", "'abc' is not an integer")),
            "{errors:?}"
        );
        assert!(errors.contains(&("weight", "must be greater than or equal to 0")));
        assert!(errors.contains(&("unit_of_weight", "'kg' is not one of: gr, oz, lb")));
        assert!(errors.contains(&("metadata", "5 is not an object")));
        // A shippable SKU needs its shipping category to be created.
        assert_eq!(p.missing_required, vec!["name", "shipping_category"]);
        assert_eq!(
            p.warnings,
            vec!["color was ignored: unknown attribute".to_string()]
        );
    }
    #[test]
    fn keys_fall_back_to_id_then_unknown() {
        let rt = resource_type("customers").unwrap();
        assert_eq!(
            prepare(rt, json_input(json!({"email": "A@Example.com "}))).key,
            "A@Example.com"
        );
        assert_eq!(prepare(rt, json_input(json!({"id": "c1"}))).key, "c1");
        let p = prepare(rt, json_input(json!({"email": "not-an-email"})));
        assert_eq!(
            p.errors,
            vec![(
                "email".to_string(),
                "'not-an-email' is not a valid email".to_string()
            )]
        );
        let p = prepare(
            rt,
            RawInput {
                position: 3,
                record: RawRecord::Malformed("is not an object but a number".into()),
            },
        );
        assert_eq!(p.key, UNKNOWN_KEY);
        assert_eq!(
            p.errors,
            vec![(
                "input".to_string(),
                "is not an object but a number".to_string()
            )]
        );
    }

    #[test]
    fn an_update_by_id_may_omit_required_attributes_but_not_clear_them() {
        let rt = resource_type("skus").unwrap();
        assert!(prepare(rt, json_input(json!({"id": "x", "description": "d"}))).is_valid());
        let p = prepare(rt, json_input(json!({"id": "x", "name": null})));
        assert_eq!(
            p.errors,
            vec![("name".to_string(), "can't be blank".to_string())]
        );
    }

    #[test]
    fn relationships_take_an_id_over_a_key() {
        let rt = resource_type("prices").unwrap();
        let p = prepare(
            rt,
            json_input(
                json!({"sku_code": "A", "sku_id": "s1", "amount_cents": 100, "price_list_code": "EU"}),
            ),
        );
        assert!(p.is_valid(), "{:?}", p.errors);
        assert_eq!(
            p.references,
            vec![
                Some(Reference::Id("s1".into())),
                Some(Reference::Key("EU".into()))
            ]
        );
        assert_eq!(
            p.cells[rt.column_index("sku_code").unwrap()],
            Some(Cell::Text("A".into()))
        );
    }

    #[test]
    fn nul_characters_are_refused_per_input_and_never_reach_the_logs_raw() {
        let rt = resource_type("skus").unwrap();
        let p = prepare(
            rt,
            json_input(
                json!({"code": "A\u{0}B", "name": "n", "metadata": {"k\u{0}": 1}, "x\u{0}y": 1}),
            ),
        );
        assert_eq!(p.key, "A\u{FFFD}B");
        let attrs: Vec<&str> = p.errors.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(attrs, vec!["code", "metadata"]);
        assert_eq!(
            p.warnings,
            vec!["x\u{FFFD}y was ignored: unknown attribute".to_string()]
        );
        let p = prepare(
            rt,
            json_input(json!({"code": "A", "name": "n", "shipping_category_code": "S\u{0}"})),
        );
        assert_eq!(p.errors[0].0, "shipping_category_code");
        assert_eq!(p.references, vec![None]);
    }

    #[test]
    fn currency_codes_and_unicode() {
        let rt = resource_type("price_lists").unwrap();
        let p = prepare(
            rt,
            json_input(json!({"code": "ÉTÉ-☀", "name": "Été", "currency_code": "eur"})),
        );
        assert!(p.is_valid(), "{:?}", p.errors);
        assert_eq!(p.key, "ÉTÉ-☀");
        assert_eq!(
            p.cells[rt.column_index("currency_code").unwrap()],
            Some(Cell::Text("EUR".into()))
        );
        let p = prepare(
            rt,
            json_input(json!({"code": "X", "name": "x", "currency_code": "EURO"})),
        );
        assert_eq!(p.errors[0].0, "currency_code");
    }

    #[test]
    fn a_preparer_warns_about_unknown_columns_once_on_the_first_row() {
        let rt = resource_type("skus").unwrap();
        let mut preparer = Preparer::new(rt, None);
        let rows: Vec<Prepared> = csv_rows(
            &["code", "name", "colour", "_note"],
            &[
                &["A", "a", "red", "x"],
                &["B", "b", "blue", ""],
                &["C", "c", "", ""],
            ],
        )
        .map(|i| preparer.prepare(i))
        .collect();
        assert_eq!(rows[0].key, "A");
        assert_eq!(
            rows[0].warnings,
            vec!["column colour was ignored: unknown attribute"]
        );
        assert!(rows[1].warnings.is_empty());
        assert!(rows[2].warnings.is_empty());
        // A JSON input's unknown attribute is its own.
        let mut preparer = Preparer::new(rt, None);
        for code in ["A", "B"] {
            let p = preparer.prepare(json_input(json!({"code": code, "name": "n", "colour": 1})));
            assert_eq!(p.warnings, vec!["colour was ignored: unknown attribute"]);
        }
    }

    #[test]
    fn a_preparer_warns_when_a_later_input_overrides_an_earlier_one() {
        let rt = resource_type("skus").unwrap();
        let mut preparer = Preparer::new(rt, None);
        let mut at = 0;
        let mut next = |preparer: &mut Preparer, v: Value| {
            let mut input = json_input(v);
            input.position = at;
            at += 1;
            preparer.prepare(input)
        };
        assert!(next(&mut preparer, json!({"code": "A", "name": "1"}))
            .warnings
            .is_empty());
        assert!(next(&mut preparer, json!({"code": "B", "name": "2"}))
            .warnings
            .is_empty());
        // Invalid: written over nothing, and overridden by nothing.
        let p = next(&mut preparer, json!({"code": "A", "pieces_per_pack": "x"}));
        assert!(p.warnings.is_empty() && !p.is_valid());
        let p = next(&mut preparer, json!({"code": " A", "name": "4"}));
        assert_eq!(
            p.warnings,
            vec![
                "code was trimmed: ' A' became 'A'",
                "overrides an earlier input with the same code (position 0)"
            ]
        );
        let p = next(&mut preparer, json!({"code": "A", "name": "5"}));
        assert_eq!(
            p.warnings,
            vec!["overrides an earlier input with the same code (position 3)"]
        );
        assert!(next(&mut preparer, json!({"id": "x1", "name": "6"}))
            .warnings
            .is_empty());
        let p = next(&mut preparer, json!({"id": "x1", "description": "7"}));
        assert_eq!(
            p.warnings,
            vec!["overrides an earlier input with the same id (position 5)"]
        );
        // Alone, nothing is remembered.
        assert!(prepare(rt, json_input(json!({"code": "A", "name": "1"})))
            .warnings
            .is_empty());

        // A composite key, with the parent standing in for an input's own price list.
        let prices = resource_type("prices").unwrap();
        let mut preparer = Preparer::new(prices, Some("pl1"));
        let mut p = |v: Value, position: u64| {
            let mut input = json_input(v);
            input.position = position;
            preparer.prepare(input).warnings
        };
        assert!(p(json!({"sku_code": "A", "amount_cents": 1}), 0).is_empty());
        assert!(p(
            json!({"sku_code": "A", "amount_cents": 2, "price_list_id": "pl2"}),
            1
        )
        .is_empty());
        assert!(p(
            json!({"sku_code": "A", "amount_cents": 2, "price_list_code": "EU"}),
            2
        )
        .is_empty());
        assert_eq!(
            p(
                json!({"sku_code": "A", "amount_cents": 3, "price_list_id": "pl1"}),
                3
            ),
            vec!["overrides an earlier input with the same sku_code and price_list (position 0)"]
        );
        assert!(
            p(json!({"sku_id": "s1", "amount_cents": 3}), 4).is_empty(),
            "no natural key"
        );
    }
}
