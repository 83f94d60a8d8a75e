//! What an input gives inline besides its own attributes: children (an order's line items),
//! related records (an address), and tags. Each nested record is checked against its own type
//! and its errors and warnings become the input's, prefixed with where it was given.

use serde_json::{Map, Value};

use super::convert::{check_text, shown};
use super::{check_fields, Prepared};
use crate::catalogue::{ResourceType, MAX_TAGS, TAGS, TAG_NAME};

/// The most children one input may give inline under one attribute: they are written with
/// their parent, in its batch, so they count towards what a batch holds in memory.
pub const MAX_CHILDREN: usize = 1000;

/// Checks the children an input gives inline under `name` (a list of objects, each an input of
/// `child_rt` without its parent), into `p.children[at]`. Their errors and warnings are the
/// parent input's, named by place (`line_items[1].quantity`): a child that fails fails its
/// parent. A child that leaves out a required attribute can only update an existing child
/// (found by its key); the parent it is given in is its parent whatever it says.
pub(super) fn check_children(
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
    if let Some(max) = child_rt.max_per_parent.filter(|&max| items.len() > max) {
        p.error(
            name,
            format!("has {} items; at most {max} are allowed", items.len()),
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
    check_fields(rt, &mut nested, fields, true);
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
pub(super) fn check_related(
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

/// Checks the tags an input gives: a list of names (`["sale", "new"]`) or of objects with a
/// name (`[{"name": "sale"}]`, as `tags.name` CSV columns give them), or in CSV a cell of
/// comma-separated names. Names are trimmed and given once; null or an empty list leaves the
/// record without tags.
pub(super) fn check_tags(p: &mut Prepared, value: Value, from_csv: bool) {
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
            Some(name) if !name.is_empty() => {
                if let Err(why) = check_text(&TAG_NAME, name) {
                    p.error(TAGS, format!("{} as a tag name {why}", shown(&item)));
                    continue;
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{resource_type, MAX_TAG_LENGTH};
    use crate::validate::prepare;
    use crate::validate::test_inputs::{csv_input, json_input, messages};
    use serde_json::json;

    #[test]
    fn tags_are_names_trimmed_given_once_and_at_most_max_tags() {
        let rt = resource_type("skus").unwrap();
        let tags = |v: Value| {
            let p = prepare(rt, json_input(json!({"code": "A", "name": "n", "tags": v})));
            (p.tags.clone(), messages(&p))
        };
        assert_eq!(
            tags(json!(["sale", " new ", "sale", {"name": "x"}])),
            (Some(vec!["sale".into(), "new".into(), "x".into()]), vec![])
        );
        assert_eq!(tags(Value::Null), (Some(vec![]), vec![]));
        assert_eq!(
            tags(json!("red")),
            (
                None,
                vec!["tags: 'red' is not a list of tag names".to_string()]
            )
        );
        assert_eq!(
            tags(json!(["ok", 3, ""])),
            (
                Some(vec!["ok".into()]),
                vec![
                    "tags: 3 is not a tag name".to_string(),
                    "tags: '' is not a tag name".to_string()
                ]
            ),
            "an input with errors is not written, whatever its tags"
        );
        let eleven: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert_eq!(
            tags(json!(eleven)),
            (
                None,
                vec![format!(
                    "tags: has {} tags; a record may have at most {MAX_TAGS}",
                    MAX_TAGS + 1
                )]
            )
        );
        let long = "x".repeat(MAX_TAG_LENGTH + 1);
        assert_eq!(tags(json!([long])).1.len(), 1);
        // In CSV: comma-separated names (blank ones skipped), or a JSON list.
        let p = prepare(
            rt,
            csv_input(&["code", "name", "tags"], &["A", "n", "red, ,sale,red"]),
        );
        assert_eq!(p.tags, Some(vec!["red".into(), "sale".into()]));
        let p = prepare(
            rt,
            csv_input(&["code", "name", "tags"], &["A", "n", r#"["a:b", "c"]"#]),
        );
        assert_eq!(p.tags, Some(vec!["a:b".into(), "c".into()]));
        // Tag names as the reference API restricts them: 25 characters of letters, digits
        // and `_-:`.
        let (_, errors) = tags(json!(["two words", "x".repeat(26), "ok_-:9"]));
        assert_eq!(
            errors,
            vec![
                "tags: 'two words' as a tag name may hold only letters, digits, '_', '-' and ':': ' ' is not allowed".to_owned(),
                format!("tags: '{}' as a tag name is 26 characters long: must be 1 to 25", "x".repeat(26)),
            ]
        );
    }

    #[test]
    fn children_errors_and_warnings_are_the_parent_input_s_named_by_place() {
        let rt = resource_type("orders").unwrap();
        let p = prepare(
            rt,
            json_input(json!({
                "number": "N1",
                "line_items": [
                    {"sku_code": "A", "quantity": 0},
                    5,
                    {"sku_code": "B", "quantity": 2, "order_number": "OTHER"}
                ]
            })),
        );
        assert_eq!(
            messages(&p),
            vec![
                "line_items[0].quantity: must be greater than or equal to 1",
                "line_items[1]: 5 is not an object",
            ]
        );
        assert_eq!(
            p.children[0].len(),
            2,
            "the objects are checked, the rest refused"
        );
        assert!(p.has_children() && p.has_nested());
        assert_eq!(
            p.warnings,
            vec!["line_items[2].order was ignored: the order it is given in is its order"]
        );
        let order = rt.children.iter().position(|c| *c == "line_items").unwrap();
        let (_, items) = rt.child("line_items").unwrap();
        let back = items.parent_index().unwrap();
        assert_eq!(p.children[order][1].references[back], None);

        let many: Vec<Value> = (0..=MAX_CHILDREN)
            .map(|_| json!({"sku_code": "A", "quantity": 1}))
            .collect();
        let p = prepare(rt, json_input(json!({"number": "N2", "line_items": many})));
        assert_eq!(
            messages(&p),
            vec![format!(
                "line_items: has {} items; at most {MAX_CHILDREN} are allowed",
                MAX_CHILDREN + 1
            )]
        );
        let p = prepare(
            rt,
            json_input(json!({"number": "N3", "line_items": {"a": 1}})),
        );
        assert_eq!(
            messages(&p),
            vec![r#"line_items: {"a":1} is not a list of objects"#]
        );
    }

    #[test]
    fn a_related_record_is_given_inline_or_named_never_both() {
        let rt = resource_type("stock_locations").unwrap();
        let p = prepare(
            rt,
            json_input(
                json!({"code": "S", "name": "n", "address": {"line_1": "1 St", "city": "C", "colour": 1}}),
            ),
        );
        assert!(p.is_valid(), "{:?}", p.errors);
        assert_eq!(p.related.len(), 1);
        assert!(p.gives_related(0) && p.has_nested() && !p.has_children());
        // An address names a person (or, for a business, a company) and has a phone.
        assert_eq!(
            p.related[0].1.missing_required,
            vec!["country_code", "phone", "first_name", "last_name"]
        );
        assert_eq!(
            p.warnings,
            vec!["address.colour was ignored: unknown attribute"]
        );
        let p = prepare(
            rt,
            json_input(
                json!({"code": "S", "name": "n", "address": {"line_1": "x"}, "address_reference": "R"}),
            ),
        );
        assert_eq!(
            messages(&p),
            vec!["address: is given inline and named by address_reference: give one or the other"]
        );
        let p = prepare(
            rt,
            json_input(json!({"code": "S", "name": "n", "address": 5})),
        );
        assert_eq!(messages(&p), vec!["address: 5 is not an object"]);
        // In CSV, `address.*` columns, or the whole record as JSON text.
        let p = prepare(
            rt,
            csv_input(&["code", "name", "address.city"], &["S", "n", "C"]),
        );
        assert!(p.is_valid(), "{:?}", p.errors);
        assert_eq!(p.related.len(), 1);
        let p = prepare(
            rt,
            csv_input(&["code", "name", "address"], &["S", "n", "nope"]),
        );
        assert_eq!(
            messages(&p),
            vec!["address: 'nope' is not an object in JSON"]
        );
    }
}
