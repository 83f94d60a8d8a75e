//! How the columns of a CSV header row map onto a resource type's inputs: attributes, keys of
//! an object (`metadata.color`) or of a list of objects (`price_tiers.up_to`), ignored columns.

use serde_json::{Map, Value};

use super::IGNORED_COLUMN_PREFIX;
use crate::catalogue::{AttributeType, ResourceType, TAGS};

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
                // A declared attribute beats the prefix (a bundle's `_compute_price_amount`).
                let column = if rt.accepts_input(name) {
                    CsvColumn::Input(name.clone())
                } else if name.starts_with(IGNORED_COLUMN_PREFIX) {
                    CsvColumn::Ignored
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
    pub(super) fn fields(&self, values: Vec<String>) -> Vec<(String, Value, bool)> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{resource_type, Attribute};
    use crate::validate::test_inputs::{csv_input, csv_rows, json_input, messages};
    use crate::validate::{prepare, Cell, Prepared};
    use serde_json::json;

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
        conditions: &[],
        generated_key: None,
        polymorphic: None,
        max_per_parent: None,
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

    /// Properties of the layout of any header row, for a few types that have object, list,
    /// children, tags and inline related records.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        const TYPES: [&str; 6] = [
            "skus",
            "prices",
            "orders",
            "sku_lists",
            "customer_addresses",
            "stock_locations",
        ];

        /// Header names: attributes, relationship keys, keys of objects, of lists, of
        /// children and of inline records, ignored and unknown ones, made-up ones.
        fn header() -> impl Strategy<Value = String> {
            const KNOWN: [&str; 27] = [
                "id",
                "code",
                "name",
                "sku_code",
                "market_code",
                "metadata",
                "tags",
                "slug",
                "metadata.color",
                "metadata.size",
                "tags.name",
                "tags.color",
                "price_tiers.up_to",
                "price_tiers.price_amount_cents",
                "line_items.sku_code",
                "line_items.quantity",
                "shipping_address.city",
                "address.line_1",
                "address.nope",
                "sku_list_items.sku_code",
                "_errors",
                "_row",
                "foo",
                "foo.bar",
                "code.x",
                "metadata.",
                ".x",
            ];
            prop_oneof![
                3 => prop::sample::select(&KNOWN[..]).prop_map(str::to_owned),
                1 => "[a-z_.]{1,8}",
            ]
        }

        fn cell() -> impl Strategy<Value = String> {
            prop_oneof![
                "[a-c0-9 ,]{0,6}",
                Just(String::new()),
                Just("  ".to_owned()),
                Just(r#"{"a": 1, "color": "x"}"#.to_owned()),
            ]
        }

        /// A type, a header row of distinct names (as the reader gives them) and a row.
        fn layout_and_row(
        ) -> impl Strategy<Value = (&'static ResourceType, Vec<String>, Vec<String>)> {
            (
                prop::sample::select(&TYPES[..]),
                prop::collection::btree_set(header(), 1..8),
            )
                .prop_flat_map(|(name, headers)| {
                    let headers: Vec<String> = headers.into_iter().collect();
                    let n = headers.len();
                    (
                        Just(resource_type(name).unwrap()),
                        Just(headers).prop_shuffle(),
                        prop::collection::vec(cell(), n),
                    )
                })
        }

        /// Fields compared as a set: their order follows the columns'.
        fn same_fields(a: &[(String, Value, bool)], b: &[(String, Value, bool)]) -> bool {
            a.len() == b.len() && a.iter().all(|f| b.contains(f))
        }

        proptest! {
            #[test]
            fn unknown_columns_are_the_headers_no_input_takes(
                (rt, headers, _) in layout_and_row(),
            ) {
                let layout = CsvLayout::new(rt, &headers);
                prop_assert_eq!(layout.columns.len(), headers.len());
                let unknown: Vec<&String> = headers
                    .iter()
                    .zip(&layout.columns)
                    .filter(|(_, c)| **c == CsvColumn::Unknown)
                    .map(|(h, _)| h)
                    .collect();
                prop_assert_eq!(layout.unknown.iter().collect::<Vec<_>>(), unknown);
                for (name, column) in headers.iter().zip(&layout.columns) {
                    let expected_input = rt.accepts_input(name);
                    prop_assert_eq!(matches!(column, CsvColumn::Input(n) if n == name), expected_input);
                    if !expected_input && name.starts_with(IGNORED_COLUMN_PREFIX) {
                        prop_assert_eq!(column, &CsvColumn::Ignored);
                    }
                    if !name.contains('.') && !expected_input && !name.starts_with('_') {
                        prop_assert_eq!(column, &CsvColumn::Unknown);
                    }
                }
            }

            #[test]
            fn each_cell_goes_to_its_attribute_and_blank_ones_nowhere(
                (rt, headers, row) in layout_and_row(),
            ) {
                let layout = CsvLayout::new(rt, &headers);
                let fields = layout.fields(row.clone());
                // Only the named attributes, from CSV.
                for (name, _, from_csv) in &fields {
                    prop_assert!(*from_csv);
                    prop_assert!(rt.accepts_input(name) || name == TAGS || rt.child(name).is_some()
                        || rt.inline_relationship(name).is_some(), "{name}");
                }
                let prefixed = |a: &str| headers.iter().any(|h| h.starts_with(&format!("{a}.")));
                for ((column, name), value) in layout.columns.iter().zip(&headers).zip(&row) {
                    if value.trim().is_empty() {
                        continue;
                    }
                    match column {
                        CsvColumn::Input(_) if !prefixed(name) => prop_assert!(
                            fields.contains(&(name.clone(), Value::String(value.clone()), true)),
                            "{name} = {value:?} in {fields:?}"
                        ),
                        CsvColumn::ObjectKey(a, k) => {
                            let object = fields.iter().find(|(n, v, _)| n == a && v.is_object());
                            prop_assert_eq!(
                                object.and_then(|(_, v, _)| v.get(k)),
                                Some(&Value::String(value.clone()))
                            );
                        }
                        CsvColumn::ListKey(a, k) => {
                            let list = fields.iter().find(|(n, v, _)| n == a && v.is_array());
                            let items = list.and_then(|(_, v, _)| v.as_array()).unwrap();
                            for (i, piece) in value.split(',').map(str::trim).enumerate() {
                                let got = items.get(i).and_then(|item| item.get(k));
                                if piece.is_empty() {
                                    prop_assert_eq!(got, None);
                                } else {
                                    prop_assert_eq!(got, Some(&Value::String(piece.to_owned())));
                                }
                            }
                        }
                        _ => {}
                    }
                }
                // Blank cells, and the cells of unknown and ignored columns, give nothing.
                let silenced: Vec<String> = layout
                    .columns
                    .iter()
                    .zip(&row)
                    .map(|(c, v)| match c {
                        CsvColumn::Unknown | CsvColumn::Ignored => "changed".to_owned(),
                        // Another blank: empty for spaces, spaces for empty.
                        _ if v.trim().is_empty() => if v.is_empty() { "  " } else { "" }.to_owned(),
                        _ => v.clone(),
                    })
                    .collect();
                prop_assert_eq!(layout.fields(silenced), fields.clone());
                for blank in ["", " ", "\t "] {
                    prop_assert!(layout.fields(vec![blank.to_owned(); headers.len()]).is_empty());
                }
            }

            #[test]
            fn the_order_of_the_columns_does_not_matter(
                (rt, headers, row) in layout_and_row(),
                rotate in 0usize..8,
            ) {
                let fields = CsvLayout::new(rt, &headers).fields(row.clone());
                let at = rotate % headers.len();
                let (mut h, mut r) = (headers.clone(), row.clone());
                h.rotate_left(at);
                r.rotate_left(at);
                let rotated = CsvLayout::new(rt, &h).fields(r);
                prop_assert!(same_fields(&fields, &rotated), "{fields:?} then {rotated:?}");
            }
        }
    }
}
