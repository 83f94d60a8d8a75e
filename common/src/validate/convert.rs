//! One input value converted to one attribute's type, the notes on values stored otherwise
//! than given, and the text helpers messages share (a value shown, a key made printable).

use serde_json::Value;

use super::Cell;
use crate::catalogue::{Attribute, AttributeType};

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
pub(super) fn printable(s: &str) -> String {
    let cut = truncate(s, 200);
    cut.replace('\0', "\u{FFFD}")
}

/// The text of a string or number value (ids and keys may be given as numbers).
pub(super) fn scalar_text(v: &Value) -> Option<String> {
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

/// The warning for an identifier stored trimmed.
pub(super) fn trimmed_note(name: &str, given: &str, stored: &str) -> String {
    changed_note(name, "trimmed", given, stored)
}

/// A value as messages show it: text quoted, anything else as JSON, both cut short.
pub(super) fn shown(v: &Value) -> String {
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
    if let Cell::Text(s) = &cell {
        check_text(attr, s)?;
    }
    Ok((cell, note))
}

/// Checks a text value against its attribute's length and characters (a coupon code of 8
/// to 40 characters, a tag name of letters, digits and `_-:`).
pub fn check_text(attr: &Attribute, s: &str) -> Result<(), String> {
    let length = s.chars().count();
    match (attr.min_length, attr.max_length) {
        (Some(min), Some(max)) if length < min || length > max => {
            return Err(format!(
                "is {length} characters long: must be {min} to {max}"
            ))
        }
        (Some(min), None) if length < min => {
            return Err(format!("is too short (at least {min} characters)"))
        }
        (None, Some(max)) if length > max => {
            return Err(format!("is too long (at most {max} characters)"))
        }
        _ => {}
    }
    if let Some(allowed) = attr.allowed {
        if let Some(c) = s.chars().find(|c| !(allowed.test)(*c)) {
            return Err(format!(
                "may hold only {}: '{}' is not allowed",
                allowed.describe,
                printable(&c.to_string())
            ));
        }
    }
    Ok(())
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
    use crate::catalogue::{resource_type, ResourceType};
    use crate::validate::test_inputs::json_input;
    use crate::validate::{prepare, Prepared, Reference};
    use serde_json::json;

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
}
