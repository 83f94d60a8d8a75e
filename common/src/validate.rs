//! Turns a raw input into typed column values, following the resource catalogue.
//!
//! Validation needs no database: it checks types, required attributes, ranges and
//! enumerations, and collects the relationship references that the worker resolves in bulk.
//! Everything wrong with an input is reported at once, attribute by attribute.

use serde_json::{Map, Value};

use crate::catalogue::{Attribute, AttributeType, ResourceType};
use crate::inputs::{json_kind, RawInput, RawRecord};

/// The errors_log key of an input that has no identifying value.
pub const UNKNOWN_KEY: &str = "unknown";

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
    /// jsonb.
    Json(Value),
}

/// How an input names a related record.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Messages about what was ignored.
    pub warnings: Vec<String>,
    /// Required attributes the input leaves out: an error only if it creates a record (an
    /// update of an existing one, by id or by natural key, may leave them out).
    pub missing_required: Vec<&'static str>,
}

impl Prepared {
    /// Whether the input can be written.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// Records an error on `attribute`.
    pub fn error(&mut self, attribute: &str, message: impl Into<String>) {
        self.errors.push((attribute.to_owned(), message.into()));
    }
}

/// Checks one input against `rt`.
pub fn prepare(rt: &ResourceType, input: RawInput) -> Prepared {
    let mut p = Prepared {
        position: input.position,
        key: UNKNOWN_KEY.to_owned(),
        id: None,
        // Counted, not built: this runs for every input.
        cells: vec![None; rt.column_count()],
        references: vec![None; rt.relationships.len()],
        errors: Vec::new(),
        warnings: Vec::new(),
        missing_required: Vec::new(),
    };
    let fields: Vec<(String, Value, bool)> = match input.record {
        RawRecord::Malformed(why) => {
            p.error("input", why);
            return p;
        }
        RawRecord::Json(map) => map.into_iter().map(|(k, v)| (k, v, false)).collect(),
        RawRecord::Csv { headers, values } => csv_fields(rt, &headers, values),
    };
    p.key = log_key(rt, &fields);

    for (name, mut value, from_csv) in fields {
        // Postgres text cannot hold NUL: refuse it here, once, for names and values alike,
        // rather than let it fail the lookups and writes of the whole batch.
        if name.contains('\0') {
            p.warnings.push(format!(
                "{} was ignored: unknown attribute",
                printable(&name)
            ));
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
        if let Some((idx, attr)) = rt.attribute_index(&name) {
            let names_a_relationship = rt.is_relationship_key_input(&name);
            let value = if names_a_relationship {
                value.clone()
            } else {
                std::mem::take(&mut value)
            };
            match convert(attr, value, from_csv) {
                Ok(cell) => p.cells[idx] = Some(cell),
                Err(msg) => p.error(attr.name, msg),
            }
        }
        let mut used = rt.attribute(&name).is_some();
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
                    // An id beats a key given in the same input.
                    let r = make(s.trim().to_owned());
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
    p
}

/// Turns a CSV row into (name, value, from_csv) fields: empty cells are left out, and
/// `prefix.name` columns of an object attribute (`metadata.color`) become nested values.
fn csv_fields(
    rt: &ResourceType,
    headers: &[String],
    values: Vec<String>,
) -> Vec<(String, Value, bool)> {
    let mut fields: Vec<(String, Value, bool)> = Vec::with_capacity(values.len());
    for (name, value) in headers.iter().zip(values) {
        if value.is_empty() {
            continue;
        }
        if let Some((prefix, rest)) = name.split_once('.') {
            if rt
                .attribute(prefix)
                .map(|a| a.ty == AttributeType::Object)
                .unwrap_or(false)
            {
                let existing = fields.iter_mut().find(|(n, _, _)| n == prefix);
                let obj = match existing {
                    Some((_, Value::Object(m), _)) => m,
                    _ => {
                        fields.push((prefix.to_owned(), Value::Object(Map::new()), true));
                        match fields.last_mut() {
                            Some((_, Value::Object(m), _)) => m,
                            _ => unreachable!(),
                        }
                    }
                };
                obj.insert(rest.to_owned(), Value::String(value));
                continue;
            }
        }
        fields.push((name.clone(), Value::String(value), true));
    }
    fields
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
    if value.is_null() {
        return Ok(Cell::Null);
    }
    let shown = |v: &Value| match v {
        Value::String(s) => format!("'{}'", truncate(s, 60)),
        other => truncate(&other.to_string(), 60),
    };
    let cell = match attr.ty {
        AttributeType::Text => match value {
            Value::String(s) => Cell::Text(s),
            Value::Number(n) => Cell::Text(n.to_string()),
            other => return Err(format!("must be a string, not {}", json_kind(&other))),
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
                    "true" | "t" | "yes" | "1" => Some(true),
                    "false" | "f" | "no" | "0" => Some(false),
                    _ => None,
                },
                Value::Number(n) if n.as_i64() == Some(1) => Some(true),
                Value::Number(n) if n.as_i64() == Some(0) => Some(false),
                _ => None,
            };
            Cell::Boolean(b.ok_or_else(|| format!("{} is not a boolean", shown(&value)))?)
        }
        AttributeType::Email => match &value {
            Value::String(s) if is_email(s.trim()) => Cell::Text(s.trim().to_lowercase()),
            Value::String(s) if s.trim().is_empty() => Cell::Text(String::new()),
            other => return Err(format!("{} is not a valid email", shown(other))),
        },
        AttributeType::CurrencyCode => match &value {
            Value::String(s)
                if s.trim().len() == 3 && s.trim().chars().all(|c| c.is_ascii_alphabetic()) =>
            {
                Cell::Text(s.trim().to_ascii_uppercase())
            }
            other => return Err(format!("{} is not an ISO 4217 currency code", shown(other))),
        },
        AttributeType::Object => match value {
            Value::Object(m) => Cell::Json(Value::Object(m)),
            Value::String(s) if from_csv => match serde_json::from_str::<Value>(&s) {
                Ok(Value::Object(m)) => Cell::Json(Value::Object(m)),
                _ => return Err(format!("'{}' is not a JSON object", truncate(&s, 60))),
            },
            other => return Err(format!("must be an object, not {}", json_kind(&other))),
        },
    };
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
    if let (false, Cell::Text(s)) = (attr.one_of.is_empty(), &cell) {
        if !attr.one_of.contains(&s.as_str()) {
            return Err(format!(
                "'{}' is not one of: {}",
                truncate(s, 60),
                attr.one_of.join(", ")
            ));
        }
    }
    Ok(cell)
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
        assert!(errors.contains(&("metadata", "must be an object, not a number")));
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
            Some(Cell::Json(json!({"color": "red"})))
        );
        assert_eq!(
            p.warnings,
            vec!["foo.bar was ignored: unknown attribute".to_string()]
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
}
