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

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::catalogue::{Attribute, AttributeType, ResourceType, MAX_TAGS, TAGS};
use crate::inputs::{RawInput, RawRecord};
use crate::seen_keys::SeenKeys;

/// The errors_log key of an input that has no identifying value.
pub const UNKNOWN_KEY: &str = "unknown";

/// CSV columns whose name starts with this are ignored without a warning: the failed-inputs
/// report adds its own (`_errors`...) so that it can be imported again as it is.
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
        check_fields(rt, &mut p, fields);
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
fn check_fields(rt: &ResourceType, p: &mut Prepared, fields: Vec<(String, Value, bool)>) {
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

    for (idx, attr) in rt.all_attributes().enumerate() {
        if !attr.required || p.errors.iter().any(|(a, _)| a == attr.name) {
            continue;
        }
        let filled_by_relationship = rt.is_relationship_key_input(attr.name);
        match &p.cells[idx] {
            // Given, but blank: never allowed for a required attribute.
            Some(Cell::Null) => p.error(attr.name, "can't be blank"),
            Some(Cell::Text(s)) if s.trim().is_empty() => p.error(attr.name, "can't be blank"),
            None if p.id.is_none() && !filled_by_relationship => p.missing_required.push(attr.name),
            _ => {}
        }
    }
}

/// The most children one input may give inline under one attribute: they are written with
/// their parent, in its batch, so they count towards what a batch holds in memory.
pub const MAX_CHILDREN: usize = 1000;

/// Checks the children an input gives inline under `name` (a list of objects, each an input of
/// `child_rt` without its parent), into `p.children[at]`. Their errors and warnings are the
/// parent input's, named by place (`line_items[1].quantity`): a child that fails fails its
/// parent. A child that leaves out a required attribute can only update an existing child
/// (found by its key); the parent it is given in is its parent whatever it says.
fn check_children(
    child_rt: &'static ResourceType,
    p: &mut Prepared,
    at: usize,
    name: &str,
    value: Value,
    from_csv: bool,
) {
    let Some(Value::Array(items)) = nested_value(p, name, value, from_csv, Nested::List) else {
        return;
    };
    if items.len() > MAX_CHILDREN {
        p.error(
            name,
            format!(
                "has {} items; at most {MAX_CHILDREN} are allowed",
                items.len()
            ),
        );
        return;
    }
    if p.children.len() <= at {
        p.children.resize(at + 1, Vec::new());
    }
    let parent = child_rt.parent_index();
    let mut children = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let place = format!("{name}[{i}]");
        let Value::Object(map) = item else {
            p.error(&place, format!("{} is not an object", shown(&item)));
            continue;
        };
        children.push(check_nested(child_rt, p, &place, map, from_csv, |child| {
            // The parent a child is given in is its parent, whatever it says.
            if let Some(ri) = parent.filter(|&ri| child.references[ri].is_some()) {
                child.references[ri] = None;
                let rel = child_rt.relationships[ri].name;
                child.warnings.push(format!(
                    "{rel} was ignored: the {rel} it is given in is its {rel}"
                ));
            }
        }));
    }
    p.children[at] = children;
}

/// Checks one nested record (a child, or a related record given inline) of type `rt`, given
/// at `place` in input `p` (`line_items[1]`, `address`). Its errors and warnings become the
/// input's, prefixed with the place; `adjust` sees the record before that.
fn check_nested(
    rt: &'static ResourceType,
    p: &mut Prepared,
    place: &str,
    map: Map<String, Value>,
    from_csv: bool,
    adjust: impl FnOnce(&mut Prepared),
) -> Prepared {
    let mut nested = Prepared::empty(rt, p.position);
    let fields = map.into_iter().map(|(k, v)| (k, v, from_csv)).collect();
    check_fields(rt, &mut nested, fields);
    adjust(&mut nested);
    for (attribute, message) in std::mem::take(&mut nested.errors) {
        p.error(&format!("{place}.{attribute}"), message);
    }
    for warning in std::mem::take(&mut nested.warnings) {
        p.warnings.push(format!("{place}.{warning}"));
    }
    nested
}

/// What a nested value must be.
#[derive(Clone, Copy)]
enum Nested {
    /// A related record given inline.
    Object,
    /// Children.
    List,
}

/// The value of a nested record or list of them, or in CSV its JSON text (the failed-inputs
/// report writes nested values so); `None` for null, and, after an error naming `name`, for
/// anything else.
fn nested_value(
    p: &mut Prepared,
    name: &str,
    value: Value,
    from_csv: bool,
    kind: Nested,
) -> Option<Value> {
    let (what, fits): (&str, fn(&Value) -> bool) = match kind {
        Nested::Object => ("an object", Value::is_object),
        Nested::List => ("a list of objects", Value::is_array),
    };
    match value {
        Value::Null => None,
        v if fits(&v) => Some(v),
        Value::String(s) if from_csv => match serde_json::from_str::<Value>(&s) {
            Ok(v) if fits(&v) => Some(v),
            _ => {
                p.error(
                    name,
                    format!("{} is not {what} in JSON", shown(&Value::String(s))),
                );
                None
            }
        },
        other => {
            p.error(name, format!("{} is not {what}", shown(&other)));
            None
        }
    }
}

/// Checks a related record an input gives inline under `name` (an object, or in CSV
/// `name.<attribute>` columns or a cell of JSON), into `p.related`. Its errors and warnings are
/// the input's, prefixed (`address.city`); one that leaves out a required attribute can only
/// update an existing record (found by its key).
fn check_related(
    target: &'static ResourceType,
    p: &mut Prepared,
    ri: usize,
    name: &str,
    value: Value,
    from_csv: bool,
) {
    let Some(Value::Object(map)) = nested_value(p, name, value, from_csv, Nested::Object) else {
        return;
    };
    let related = check_nested(target, p, name, map, from_csv, |_| {});
    p.related.retain(|(r, _)| *r != ri);
    p.related.push((ri, related));
}

/// The longest tag name: tags are looked up by name, and an index entry has a size limit.
pub const MAX_TAG_LENGTH: usize = 255;

/// Checks the tags an input gives: a list of names (`["sale", "new"]`) or of objects with a
/// name (`[{"name": "sale"}]`, as `tags.name` CSV columns give them), or in CSV a cell of
/// comma-separated names. Names are trimmed and given once; null or an empty list leaves the
/// record without tags.
fn check_tags(p: &mut Prepared, value: Value, from_csv: bool) {
    let items = match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items,
        Value::String(s) if from_csv && s.trim_start().starts_with('[') => {
            match serde_json::from_str::<Value>(&s) {
                Ok(Value::Array(items)) => items,
                _ => {
                    p.error(
                        TAGS,
                        format!("{} is not a JSON list", shown(&Value::String(s))),
                    );
                    return;
                }
            }
        }
        Value::String(s) if from_csv => s
            .split(',')
            .map(|name| Value::String(name.to_owned()))
            .collect(),
        other => {
            p.error(
                TAGS,
                format!("{} is not a list of tag names", shown(&other)),
            );
            return;
        }
    };
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let name = match &item {
            Value::String(s) => Some(s.trim()),
            Value::Object(map) => map.get("name").and_then(Value::as_str).map(str::trim),
            _ => None,
        };
        match name {
            Some("") if from_csv => {}
            Some(name) if name.chars().count() > MAX_TAG_LENGTH => p.error(
                TAGS,
                format!(
                    "{} is too long for a tag name (at most {MAX_TAG_LENGTH} characters)",
                    shown(&item)
                ),
            ),
            Some(name) if !name.is_empty() => {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
            }
            _ => p.error(TAGS, format!("{} is not a tag name", shown(&item))),
        }
    }
    if names.len() > MAX_TAGS {
        p.error(
            TAGS,
            format!(
                "has {} tags; a record may have at most {MAX_TAGS}",
                names.len()
            ),
        );
        return;
    }
    p.tags = Some(names);
}

/// What one CSV column is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CsvColumn {
    /// A top-level input: `id`, an attribute, a relationship's id or key.
    Input(String),
    /// A key of an object attribute (`metadata.color`).
    ObjectKey(&'static str, String),
    /// A key of the objects of a list attribute (`price_tiers.up_to`): one comma-separated
    /// value per object, matched by place across the attribute's columns.
    ListKey(&'static str, String),
    /// Ignored, with a warning once per import.
    Unknown,
    /// Ignored silently (`_errors`...).
    Ignored,
}

/// What a `<prefix>.<key>` column is: a key of the objects of a list (children, tags, a list
/// attribute), of a related record given inline, or of an object attribute.
fn nested_column(rt: &ResourceType, name: &str) -> CsvColumn {
    let Some((prefix, key)) = name.split_once('.').filter(|(_, key)| !key.is_empty()) else {
        return CsvColumn::Unknown;
    };
    // A key the nested record does not know is an unknown column, warned about once.
    if let Some((at, child)) = rt.child(prefix) {
        return if child.accepts_input(key) {
            CsvColumn::ListKey(rt.children[at], key.to_owned())
        } else {
            CsvColumn::Unknown
        };
    }
    if rt.taggable && prefix == TAGS {
        return match key {
            "name" => CsvColumn::ListKey(TAGS, key.to_owned()),
            _ => CsvColumn::Unknown,
        };
    }
    if let Some((_, rel, target)) = rt.inline_relationship(prefix) {
        return if target.accepts_input(key) {
            CsvColumn::ObjectKey(rel.name, key.to_owned())
        } else {
            CsvColumn::Unknown
        };
    }
    let key = key.to_owned();
    match rt.attribute(prefix) {
        Some(attr) if attr.ty == AttributeType::Object => CsvColumn::ObjectKey(attr.name, key),
        Some(attr) if attr.ty == AttributeType::List => CsvColumn::ListKey(attr.name, key),
        _ => CsvColumn::Unknown,
    }
}

/// How the columns of a CSV header row map onto a resource type's inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvLayout {
    columns: Vec<CsvColumn>,
    /// The columns no attribute is named by, in header order.
    pub unknown: Vec<String>,
}

impl CsvLayout {
    /// Works out the layout of `headers` for `rt`.
    pub fn new(rt: &ResourceType, headers: &[String]) -> Self {
        let mut unknown = Vec::new();
        let columns = headers
            .iter()
            .map(|name| {
                let column = if name.starts_with(IGNORED_COLUMN_PREFIX) {
                    CsvColumn::Ignored
                } else if rt.accepts_input(name) {
                    CsvColumn::Input(name.clone())
                } else {
                    nested_column(rt, name)
                };
                if column == CsvColumn::Unknown {
                    unknown.push(name.clone());
                }
                column
            })
            .collect();
        CsvLayout { columns, unknown }
    }

    /// Turns a row into (name, value, from_csv) fields. A blank cell (empty or spaces) is an
    /// attribute not given; `metadata.*` columns are gathered into one object, `tiers.*`
    /// columns into one list of objects; unknown and `_` columns are left out.
    fn fields(&self, values: Vec<String>) -> Vec<(String, Value, bool)> {
        let mut fields: Vec<(String, Value, bool)> = Vec::with_capacity(values.len());
        // Where each object or list attribute's field is in `fields`.
        let mut nested: Vec<(&'static str, usize)> = Vec::new();
        for (column, value) in self.columns.iter().zip(values) {
            if value.trim().is_empty() {
                continue;
            }
            let (attribute, key, list) = match column {
                CsvColumn::Input(name) => {
                    fields.push((name.clone(), Value::String(value), true));
                    continue;
                }
                CsvColumn::ObjectKey(a, k) => (*a, k, false),
                CsvColumn::ListKey(a, k) => (*a, k, true),
                CsvColumn::Unknown | CsvColumn::Ignored => continue,
            };
            let at = match nested.iter().find(|(a, _)| *a == attribute) {
                Some((_, at)) => *at,
                None => {
                    let empty = if list {
                        Value::Array(Vec::new())
                    } else {
                        Value::Object(Map::new())
                    };
                    fields.push((attribute.to_owned(), empty, true));
                    nested.push((attribute, fields.len() - 1));
                    fields.len() - 1
                }
            };
            match &mut fields[at].1 {
                Value::Object(map) => {
                    map.insert(key.clone(), Value::String(value));
                }
                Value::Array(items) => {
                    for (i, item) in value.split(',').map(str::trim).enumerate() {
                        if items.len() <= i {
                            items.resize(i + 1, Value::Object(Map::new()));
                        }
                        if let (false, Value::Object(map)) = (item.is_empty(), &mut items[i]) {
                            map.insert(key.clone(), Value::String(item.to_owned()));
                        }
                    }
                }
                _ => {}
            }
        }
        // A whole-object column (`metadata` as JSON text) beside `metadata.*` columns: the
        // keys of the columns are added to the object of the whole column.
        for (attribute, at) in nested {
            let whole = fields
                .iter()
                .enumerate()
                .position(|(i, (n, v, _))| i != at && n == attribute && v.is_string());
            let Some(whole) = whole else { continue };
            let base = fields[whole]
                .1
                .as_str()
                .and_then(|s| serde_json::from_str::<Value>(s).ok());
            if let (Some(Value::Object(mut base)), Value::Object(keys)) = (base, &mut fields[at].1)
            {
                base.extend(std::mem::take(keys));
                fields[at].1 = Value::Object(base);
                fields[whole].0.clear();
            }
        }
        fields.retain(|(n, _, _)| !n.is_empty());
        fields
    }
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

/// Whether a value holds a NUL character anywhere (strings and object keys): Postgres text
/// and jsonb cannot store it.
pub fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Text safe to store in the logs: NUL becomes U+FFFD, and past 200 characters it is cut
/// (a key is for finding the input, not for holding it).
fn printable(s: &str) -> String {
    let cut = truncate(s, 200);
    cut.replace('\0', "\u{FFFD}")
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Converts one input value to the attribute's type, or says why it cannot.
pub fn convert(attr: &Attribute, value: Value, from_csv: bool) -> Result<Cell, String> {
    convert_noting(attr, value, from_csv, false).map(|(cell, _)| cell)
}

/// The warning for a value stored otherwise than given.
fn changed_note(name: &str, how: &str, given: &str, stored: &str) -> String {
    format!(
        "{} was {how}: '{}' became '{}'",
        printable(name),
        printable(&truncate(given, 60)),
        printable(&truncate(stored, 60))
    )
}

fn trimmed_note(name: &str, given: &str, stored: &str) -> String {
    changed_note(name, "trimmed", given, stored)
}

/// A value as messages show it: text quoted, anything else as JSON, both cut short.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{}'", truncate(s, 60)),
        other => truncate(&other.to_string(), 60),
    }
}

/// Converts one input value to the attribute's type, or says why it cannot (`'abc' is not an
/// integer`), with a warning when the value stored is not the value given: an `identifier`
/// (a natural key or a related record's code) trimmed, an email lower-cased, a currency code
/// upper-cased, an enumeration's value put in its declared case.
pub fn convert_noting(
    attr: &Attribute,
    value: Value,
    from_csv: bool,
    identifier: bool,
) -> Result<(Cell, Option<String>), String> {
    if value.is_null() {
        return Ok((Cell::Null, None));
    }
    let mut note = None;
    let cell = match attr.ty {
        AttributeType::Text => match value {
            Value::Number(n) if !attr.one_of.is_empty() => {
                return convert_noting(attr, Value::String(n.to_string()), from_csv, identifier)
            }
            Value::String(s) if !attr.one_of.is_empty() => {
                let given = s.trim();
                match attr.one_of.iter().find(|v| v.eq_ignore_ascii_case(given)) {
                    Some(v) => {
                        if **v != s {
                            note = Some(changed_note(attr.name, "normalised", &s, v));
                        }
                        Cell::Text((*v).to_owned())
                    }
                    None => {
                        return Err(format!(
                            "{} is not one of: {}",
                            shown(&Value::String(s)),
                            attr.one_of.join(", ")
                        ))
                    }
                }
            }
            Value::String(s) if identifier && s.trim().len() != s.len() => {
                let trimmed = s.trim().to_owned();
                note = Some(trimmed_note(attr.name, &s, &trimmed));
                Cell::Text(trimmed)
            }
            Value::String(s) => Cell::Text(s),
            Value::Number(n) => Cell::Text(n.to_string()),
            other => return Err(format!("{} is not a string", shown(&other))),
        },
        AttributeType::Integer => {
            let n = match &value {
                Value::Number(n) => n.as_i64().or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                        .map(|f| f as i64)
                }),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            Cell::Integer(n.ok_or_else(|| format!("{} is not an integer", shown(&value)))?)
        }
        AttributeType::Float => {
            let n = match &value {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
                _ => None,
            };
            Cell::Float(n.ok_or_else(|| format!("{} is not a number", shown(&value)))?)
        }
        AttributeType::Boolean => {
            let b = match &value {
                Value::Bool(b) => Some(*b),
                Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "t" | "yes" | "y" | "1" => Some(true),
                    "false" | "f" | "no" | "n" | "0" => Some(false),
                    _ => None,
                },
                Value::Number(n) if n.as_i64() == Some(1) => Some(true),
                Value::Number(n) if n.as_i64() == Some(0) => Some(false),
                _ => None,
            };
            Cell::Boolean(b.ok_or_else(|| {
                format!(
                    "{} is not a boolean (true/false, yes/no or 1/0)",
                    shown(&value)
                )
            })?)
        }
        AttributeType::Email => match &value {
            Value::String(s) if is_email(s.trim()) => {
                let stored = s.trim().to_lowercase();
                if stored != *s {
                    note = Some(changed_note(attr.name, "normalised", s, &stored));
                }
                Cell::Text(stored)
            }
            Value::String(s) if s.trim().is_empty() => Cell::Text(String::new()),
            other => return Err(format!("{} is not a valid email", shown(other))),
        },
        AttributeType::CurrencyCode => match &value {
            Value::String(s)
                if s.trim().len() == 3 && s.trim().chars().all(|c| c.is_ascii_alphabetic()) =>
            {
                let stored = s.trim().to_ascii_uppercase();
                if stored != *s {
                    note = Some(changed_note(attr.name, "normalised", s, &stored));
                }
                Cell::Text(stored)
            }
            other => return Err(format!("{} is not an ISO 4217 currency code", shown(other))),
        },
        AttributeType::Object => match value {
            Value::Object(m) => Cell::Json(Box::new(Value::Object(m))),
            Value::String(s) if from_csv => match serde_json::from_str::<Value>(&s) {
                Ok(Value::Object(m)) => Cell::Json(Box::new(Value::Object(m))),
                _ => return Err(format!("{} is not a JSON object", shown(&Value::String(s)))),
            },
            other => return Err(format!("{} is not an object", shown(&other))),
        },
        AttributeType::List => match value {
            Value::Array(items) => Cell::Json(Box::new(Value::Array(items))),
            // A cell holds comma-separated values, or a JSON array (as the failed-inputs
            // report writes a list it cannot write otherwise).
            Value::String(s) if from_csv => match serde_json::from_str::<Value>(&s) {
                Ok(Value::Array(items)) if s.trim_start().starts_with('[') => {
                    Cell::Json(Box::new(Value::Array(items)))
                }
                _ => Cell::Json(Box::new(Value::Array(
                    s.split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(|v| Value::String(v.to_owned()))
                        .collect(),
                ))),
            },
            other => return Err(format!("{} is not a list", shown(&other))),
        },
        AttributeType::Timestamp => match &value {
            Value::String(s) => Cell::Timestamp(parse_timestamp(s.trim()).ok_or_else(|| {
                format!(
                    "{} is not a timestamp (ISO 8601, such as 2026-01-31T12:00:00Z)",
                    shown(&value)
                )
            })?),
            other => return Err(format!("{} is not a timestamp", shown(other))),
        },
    };
    if let (Some(max), Cell::Integer(n)) = (attr.max, &cell) {
        if *n > max {
            return Err(format!("must be less than or equal to {max}"));
        }
    }
    if let (Some(min), Cell::Integer(n)) = (attr.min, &cell) {
        if *n < min {
            return Err(format!("must be greater than or equal to {min}"));
        }
    }
    if let (Some(min), Cell::Float(n)) = (attr.min, &cell) {
        if *n < min as f64 {
            return Err(format!("must be greater than or equal to {min}"));
        }
    }
    Ok((cell, note))
}

/// An ISO 8601 time with its offset (`2026-01-31T12:00:00Z`, `2026-01-31 12:00:00+01:00`),
/// or a date alone, taken as midnight UTC.
fn parse_timestamp(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    if let Ok(t) = chrono::DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%#z") {
        return Some(t.with_timezone(&chrono::Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::resource_type;
    use serde_json::json;
    use std::sync::Arc;

    fn json_input(v: Value) -> RawInput {
        RawInput {
            position: 0,
            record: RawRecord::Json(v.as_object().unwrap().clone()),
        }
    }

    fn csv_input(headers: &[&str], values: &[&str]) -> RawInput {
        let headers: Arc<[String]> = headers
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into();
        RawInput {
            position: 7,
            record: RawRecord::Csv {
                headers,
                values: values.iter().map(|s| s.to_string()).collect(),
            },
        }
    }

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
        assert_eq!(p.missing_required, vec!["name"]);
        assert_eq!(
            p.warnings,
            vec!["color was ignored: unknown attribute".to_string()]
        );
    }

    #[test]
    fn csv_cells_are_converted_and_empty_means_not_given() {
        let rt = resource_type("skus").unwrap();
        let p = prepare(
            rt,
            csv_input(
                &["code", "name", "description", "metadata.color", "foo.bar"],
                &["B2", "Hat", "", "red", "x"],
            ),
        );
        assert!(p.is_valid(), "{:?}", p.errors);
        assert_eq!(p.key, "B2");
        assert_eq!(p.cells[rt.column_index("description").unwrap()], None);
        assert_eq!(
            p.cells[rt.column_index("metadata").unwrap()],
            Some(Cell::json(json!({"color": "red"})))
        );
        assert_eq!(
            p.warnings,
            vec!["column foo.bar was ignored: unknown attribute".to_string()]
        );
        assert_eq!(p.position, 7);
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

    fn csv_rows(headers: &[&str], rows: &[&[&str]]) -> impl Iterator<Item = RawInput> {
        let headers: Arc<[String]> = headers
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into();
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect())
            .collect();
        rows.into_iter()
            .enumerate()
            .map(move |(i, values)| RawInput {
                position: i as u64,
                record: RawRecord::Csv {
                    headers: headers.clone(),
                    values,
                },
            })
    }

    fn messages(p: &Prepared) -> Vec<String> {
        p.errors.iter().map(|(a, m)| format!("{a}: {m}")).collect()
    }

    #[test]
    fn prefixed_columns_fill_an_object_and_unknown_prefixes_are_unknown_attributes() {
        let rt = resource_type("skus").unwrap();
        let layout = CsvLayout::new(
            rt,
            &[
                "code",
                "metadata.color",
                "metadata.size",
                "foo.bar",
                "code.x",
                "metadata.",
                "_errors",
                "shipping_category_code",
                "id",
            ]
            .map(String::from),
        );
        assert_eq!(layout.unknown, vec!["foo.bar", "code.x", "metadata."]);
        let fields = layout.fields(
            ["A", "red", " L ", "x", "y", "z", "ignored", "", "   "]
                .map(String::from)
                .to_vec(),
        );
        assert_eq!(
            fields,
            vec![
                ("code".to_string(), json!("A"), true),
                (
                    "metadata".to_string(),
                    json!({"color": "red", "size": " L "}),
                    true
                ),
            ],
            "blank cells are not given; _ columns are silent"
        );
        // The whole object as JSON text, with keys added by prefixed columns.
        let layout = CsvLayout::new(rt, &["metadata.b", "metadata"].map(String::from));
        assert_eq!(
            layout.fields(vec!["2".into(), r#"{"a": 1, "b": 1}"#.into()]),
            vec![("metadata".to_string(), json!({"a": 1, "b": "2"}), true)]
        );
    }

    static LISTS: ResourceType = ResourceType {
        name: "lists",
        attributes: &[
            Attribute::new("code", AttributeType::Text).required(),
            Attribute::new("tags", AttributeType::List),
            Attribute::new("tiers", AttributeType::List),
        ],
        relationships: &[],
        natural_key: &["code"],
        parent: None,
        log_key: "code",
        children: &[],
        creates_without_key: false,
        taggable: false,
    };

    #[test]
    fn list_cells_hold_comma_separated_values_or_keys_of_objects() {
        let rt = &LISTS;
        let cell = |p: &Prepared, n: &str| p.cells[rt.column_index(n).unwrap()].clone();
        let mut rows = csv_rows(
            &["code", "tags", "tiers.up_to", "tiers.price"],
            &[
                &["A", " red, sale ,,new", "10, 100,", "5,4,3"],
                &["B", r#"["a,b", "c"]"#, "", ""],
            ],
        );
        let p = prepare(rt, rows.next().unwrap());
        assert!(p.is_valid(), "{:?}", p.errors);
        assert_eq!(
            cell(&p, "tags"),
            Some(Cell::json(json!(["red", "sale", "new"])))
        );
        assert_eq!(
            cell(&p, "tiers"),
            Some(Cell::json(json!([
                {"up_to": "10", "price": "5"},
                {"up_to": "100", "price": "4"},
                {"price": "3"}
            ])))
        );
        let p = prepare(rt, rows.next().unwrap());
        assert_eq!(cell(&p, "tags"), Some(Cell::json(json!(["a,b", "c"]))));
        assert_eq!(cell(&p, "tiers"), None);
        let p = prepare(
            rt,
            json_input(json!({"code": "C", "tags": "red", "tiers": [{"up_to": 1}]})),
        );
        assert_eq!(messages(&p), vec!["tags: 'red' is not a list"]);
        assert_eq!(cell(&p, "tiers"), Some(Cell::json(json!([{"up_to": 1}]))));
    }

    #[test]
    fn conversions_say_which_value_is_not_of_which_type() {
        let rt = resource_type("skus").unwrap();
        let attr = |n: &str| rt.attribute(n).unwrap();
        let csv = |n: &str, v: &str| convert(attr(n), json!(v), true);
        assert_eq!(csv("pieces_per_pack", " 12 "), Ok(Cell::Integer(12)));
        assert_eq!(
            csv("pieces_per_pack", "abc"),
            Err("'abc' is not an integer".into())
        );
        assert_eq!(
            csv("pieces_per_pack", "1.5"),
            Err("'1.5' is not an integer".into())
        );
        assert_eq!(
            csv("pieces_per_pack", "0"),
            Err("must be greater than or equal to 1".into())
        );
        assert_eq!(csv("weight", "2.5"), Ok(Cell::Float(2.5)));
        assert_eq!(csv("weight", "1e2"), Ok(Cell::Float(100.0)));
        assert_eq!(csv("weight", "2,5"), Err("'2,5' is not a number".into()));
        assert_eq!(csv("weight", "NaN"), Err("'NaN' is not a number".into()));
        for (given, b) in [
            ("true", true),
            ("TRUE", true),
            ("Yes", true),
            ("1", true),
            ("y", true),
            ("false", false),
            ("False", false),
            ("NO", false),
            ("0", false),
            (" f ", false),
        ] {
            assert_eq!(csv("do_not_ship", given), Ok(Cell::Boolean(b)), "{given}");
        }
        assert_eq!(
            csv("do_not_ship", "maybe"),
            Err("'maybe' is not a boolean (true/false, yes/no or 1/0)".into())
        );
        // JSON values that are not of the type, in the same words.
        let js = |n: &str, v: Value| convert(attr(n), v, false);
        assert_eq!(
            js("pieces_per_pack", json!(true)),
            Err("true is not an integer".into())
        );
        assert_eq!(
            js("pieces_per_pack", json!(2.5)),
            Err("2.5 is not an integer".into())
        );
        assert_eq!(js("pieces_per_pack", json!(6.0)), Ok(Cell::Integer(6)));
        assert_eq!(js("weight", json!("x")), Err("'x' is not a number".into()));
        assert_eq!(
            js("do_not_ship", json!(2)),
            Err("2 is not a boolean (true/false, yes/no or 1/0)".into())
        );
        assert_eq!(
            js("name", json!(["a"])),
            Err("[\"a\"] is not a string".into())
        );
        assert_eq!(
            js("name", json!({"a": 1})),
            Err("{\"a\":1} is not a string".into())
        );
        assert_eq!(
            js("metadata", json!("{}")),
            Err("'{}' is not an object".into())
        );
        assert_eq!(
            csv("metadata", "{nope"),
            Err("'{nope' is not a JSON object".into())
        );
        assert_eq!(js("name", Value::Null), Ok(Cell::Null));
    }

    #[test]
    fn values_stored_otherwise_than_given_are_warned_about() {
        let skus = resource_type("skus").unwrap();
        let p = prepare(
            skus,
            json_input(
                json!({"code": " A1 ", "name": " Shirt ", "unit_of_weight": "GR", "shipping_category_code": "STD "}),
            ),
        );
        assert!(p.is_valid(), "{:?}", p.errors);
        let cell =
            |p: &Prepared, rt: &ResourceType, n: &str| p.cells[rt.column_index(n).unwrap()].clone();
        assert_eq!(cell(&p, skus, "code"), Some(Cell::Text("A1".into())));
        assert_eq!(
            cell(&p, skus, "name"),
            Some(Cell::Text(" Shirt ".into())),
            "only identifiers are trimmed"
        );
        assert_eq!(
            cell(&p, skus, "unit_of_weight"),
            Some(Cell::Text("gr".into()))
        );
        assert_eq!(p.references, vec![Some(Reference::Key("STD".into()))]);
        assert_eq!(
            p.warnings,
            vec![
                "code was trimmed: ' A1 ' became 'A1'",
                "unit_of_weight was normalised: 'GR' became 'gr'",
                "shipping_category_code was trimmed: 'STD ' became 'STD'",
            ]
        );
        let customers = resource_type("customers").unwrap();
        let p = prepare(customers, json_input(json!({"email": " Ann@Example.COM"})));
        assert_eq!(
            cell(&p, customers, "email"),
            Some(Cell::Text("ann@example.com".into()))
        );
        assert_eq!(
            p.warnings,
            vec!["email was normalised: ' Ann@Example.COM' became 'ann@example.com'"]
        );
        let price_lists = resource_type("price_lists").unwrap();
        let p = prepare(
            price_lists,
            json_input(json!({"code": "EU", "name": "n", "currency_code": "eur"})),
        );
        assert_eq!(
            p.warnings,
            vec!["currency_code was normalised: 'eur' became 'EUR'"]
        );
        // Values already as stored: nothing to say.
        let p = prepare(
            skus,
            json_input(json!({"code": "A1", "name": "n", "unit_of_weight": "gr"})),
        );
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let p = prepare(customers, json_input(json!({"email": "ann@example.com"})));
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        // The sku_code of a price is an attribute and a key: warned once.
        let prices = resource_type("prices").unwrap();
        let p = prepare(
            prices,
            json_input(json!({"sku_code": "A1 ", "amount_cents": 1})),
        );
        assert_eq!(p.warnings, vec!["sku_code was trimmed: 'A1 ' became 'A1'"]);
        assert_eq!(p.references[0], Some(Reference::Key("A1".into())));
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
