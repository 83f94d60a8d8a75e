//! The `filter[q][...]` parameters of `GET /api/imports`, read as the reference API reads them
//! (ransack's predicates): `<attributes>_<predicate>`, where the attributes are one attribute
//! or several joined by `_or_` (or `_and_`). The predicate is the longest known suffix, the
//! attributes are checked against the attribute table, and the value is read as their kind;
//! anything else is a 400 naming the parameter. Storage writes the result as SQL
//! ([`imports_storage::listing`]).

use imports_common::jsonapi::{Attribute, AttributeKind as Kind};
use imports_storage::listing::{
    attribute_sql, Combinator, Comparison, Filter, FilterValue, Pattern, Predicate, Quantifier,
};

use crate::errors::ApiError;

/// At most this many filters a request (`filter[q][...]` and `filter[ids]`); a filter on
/// several attributes (`a_or_b_eq`) counts once for each.
pub const MAX_FILTERS: usize = 20;
/// At most this many values in a list (`_in`, `_not_in`, the `_any` / `_all` forms,
/// `filter[ids]`).
pub const MAX_LIST_VALUES: usize = 100;
/// At most this many characters in the value of a `filter[q][...]` parameter: room for any
/// stored `reference` (at most 1,024) with a margin.
pub const MAX_VALUE_CHARS: usize = 2000;

/// What a predicate does with its value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Form {
    /// A comparison with a value of the attribute's kind.
    Compare(Comparison),
    /// The comparison, or null (`_eq_or_null`).
    OrNull(Comparison),
    /// In a list (`_in`), or not (`_not_in`: true).
    In(bool),
    /// A LIKE pattern made of the text, negated or not.
    Like(Pattern, bool),
    /// `_null` (true) / `_not_null` (false): the value says whether this holds.
    Null(bool),
    /// `_blank` (true) / `_present` (false): the value says whether this holds.
    Blank(bool),
    /// `_true` / `_false` (the boolean compared with), `_not_true` / `_not_false` (negated).
    Boolean(bool, bool),
    /// `_jcont`: JSON containment.
    JsonContains,
}

use Comparison::{Eq, Gt, Gteq, Lt, Lteq, NotEq};

/// Ransack's predicates (and the reference API's `_or_null` and `_jcont`): the suffix, what
/// it does, and whether it has `_any` / `_all` forms.
const PREDICATES: &[(&str, Form, bool)] = &[
    ("eq", Form::Compare(Eq), true),
    ("not_eq", Form::Compare(NotEq), true),
    ("lt", Form::Compare(Lt), true),
    ("lteq", Form::Compare(Lteq), true),
    ("gt", Form::Compare(Gt), true),
    ("gteq", Form::Compare(Gteq), true),
    ("eq_or_null", Form::OrNull(Eq), false),
    ("not_eq_or_null", Form::OrNull(NotEq), false),
    ("in", Form::In(false), false),
    ("not_in", Form::In(true), false),
    ("matches", Form::Like(Pattern::AsGiven, false), true),
    ("does_not_match", Form::Like(Pattern::AsGiven, true), true),
    ("cont", Form::Like(Pattern::Contains, false), true),
    ("not_cont", Form::Like(Pattern::Contains, true), true),
    ("i_cont", Form::Like(Pattern::Contains, false), true),
    ("not_i_cont", Form::Like(Pattern::Contains, true), true),
    ("start", Form::Like(Pattern::Starts, false), true),
    ("not_start", Form::Like(Pattern::Starts, true), true),
    ("end", Form::Like(Pattern::Ends, false), true),
    ("not_end", Form::Like(Pattern::Ends, true), true),
    ("null", Form::Null(true), false),
    ("not_null", Form::Null(false), false),
    ("present", Form::Blank(false), false),
    ("blank", Form::Blank(true), false),
    ("true", Form::Boolean(true, false), false),
    ("false", Form::Boolean(false, false), false),
    ("not_true", Form::Boolean(true, true), false),
    ("not_false", Form::Boolean(false, true), false),
    ("jcont", Form::JsonContains, false),
];

/// A filter name read: its attributes, their kind, and its predicate.
struct Name<T: 'static> {
    attributes: Vec<&'static Attribute<T>>,
    combinator: Combinator,
    kind: Kind,
    form: Form,
    each: Option<Quantifier>,
    /// The predicate's suffix as given (`cont_any`), for messages.
    predicate: String,
}

/// Reads one `filter[q][<name>]=<value>` against the attributes of a resource (`table`);
/// `key` is the whole parameter, named in errors. `None` when the value is empty or blank:
/// ransack ignores such a filter, and so do we.
pub fn filter<T>(
    table: &'static [Attribute<T>],
    key: &str,
    name: &str,
    value: &str,
) -> Result<Option<Filter>, ApiError> {
    let bad = |detail: String| ApiError::bad_parameter(key, detail);
    let n = read_name(table, name).map_err(bad)?;
    if value.chars().count() > MAX_VALUE_CHARS {
        return Err(bad(format!(
            "the value is longer than {MAX_VALUE_CHARS} characters"
        )));
    }
    if value.contains('\0') {
        return Err(bad("the value contains a NUL character".into()));
    }
    if value.trim().is_empty() {
        return Ok(None);
    }
    let Some(predicate) = predicate(&n, value).map_err(bad)? else {
        return Ok(None);
    };
    let columns = n
        .attributes
        .iter()
        .map(|a| attribute_sql(a).ok_or_else(|| bad(format!("cannot filter by '{}'", a.name))))
        .collect::<Result<_, _>>()?;
    Ok(Some(Filter {
        columns,
        combinator: n.combinator,
        predicate,
    }))
}

/// Splits a filter name at the longest predicate suffix whose rest names filterable
/// attributes, and checks that the predicate applies to them.
fn read_name<T>(table: &'static [Attribute<T>], name: &str) -> Result<Name<T>, String> {
    let mut candidates = Vec::new();
    for &(p, form, compounds) in PREDICATES {
        for (suffix, each) in [
            ("", None),
            ("_any", Some(Quantifier::Any)),
            ("_all", Some(Quantifier::All)),
        ] {
            if each.is_some() && !compounds {
                continue;
            }
            let predicate = format!("{p}{suffix}");
            if let Some(rest) = name.strip_suffix(&format!("_{predicate}")) {
                candidates.push((rest, form, each, predicate));
            }
        }
    }
    candidates.sort_by_key(|c| std::cmp::Reverse(c.3.len()));
    let mut first_error = None;
    for (rest, form, each, predicate) in candidates {
        match attributes(table, rest) {
            Ok((attributes, combinator, kind)) => {
                let n = Name {
                    attributes,
                    combinator,
                    kind,
                    form,
                    each,
                    predicate,
                };
                check_applies(&n)?;
                return Ok(n);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| {
        format!("'{name}' has no known predicate (_eq, _not_eq, _in, _gt, _lt, _cont, _start, _end, _matches, _null, _present, _true, _jcont...; see the list in docs/api.md)")
    }))
}

/// The attributes a filter name's start names: one, or several joined by `_or_` or `_and_`,
/// all filterable and of one kind.
type Attributes<T> = (Vec<&'static Attribute<T>>, Combinator, Kind);

fn attributes<T>(table: &'static [Attribute<T>], part: &str) -> Result<Attributes<T>, String> {
    let find = |name: &str| table.iter().find(|a| a.name == name && a.filterable);
    let one = |name: &str| find(name).ok_or_else(|| format!("cannot filter by '{name}'"));
    if let Some(a) = find(part) {
        return Ok((vec![a], Combinator::Or, a.kind));
    }
    let (names, combinator): (Vec<&str>, _) = match (part.contains("_or_"), part.contains("_and_"))
    {
        (true, true) => {
            return Err(format!(
                "'{part}' mixes _or_ and _and_: join the attributes of one filter with one of them"
            ))
        }
        (true, false) => (part.split("_or_").collect(), Combinator::Or),
        (false, true) => (part.split("_and_").collect(), Combinator::And),
        (false, false) => return Err(format!("cannot filter by '{part}'")),
    };
    let attributes = names.into_iter().map(one).collect::<Result<Vec<_>, _>>()?;
    let kind = attributes[0].kind;
    if attributes.iter().any(|a| a.kind != kind) {
        return Err(format!(
            "the attributes joined in '{part}' are not of one type"
        ));
    }
    Ok((attributes, combinator, kind))
}

/// Refuses a predicate that does not apply to the attributes' kind.
fn check_applies<T>(n: &Name<T>) -> Result<(), String> {
    let attribute = n
        .attributes
        .iter()
        .map(|a| a.name)
        .collect::<Vec<_>>()
        .join("', '");
    let p = &n.predicate;
    let refusal = match (n.form, n.kind) {
        (Form::JsonContains, Kind::Json) => return Ok(()),
        (_, Kind::Json) => format!("'{attribute}' is filtered with _jcont only"),
        (Form::JsonContains, _) => {
            format!("'{attribute}' is not JSON: _jcont applies to metadata")
        }
        (Form::Null(_) | Form::Blank(_), _) => return Ok(()),
        (_, Kind::Url) => format!(
            "'{attribute}' is filtered only by whether it is set (_null, _not_null, _present, _blank)"
        ),
        (Form::Compare(Eq | NotEq) | Form::OrNull(_) | Form::In(_), _) => return Ok(()),
        (Form::Compare(_), Kind::Number | Kind::Time) => return Ok(()),
        (Form::Compare(_), _) => format!("'{attribute}' cannot be compared with _{p}"),
        (Form::Like(..), Kind::String) => return Ok(()),
        (Form::Like(..), _) => format!("'{attribute}' is not text: _{p} applies to text"),
        (Form::Boolean(..), Kind::Bool) => return Ok(()),
        (Form::Boolean(..), _) => {
            format!("'{attribute}' is not true or false: _{p} applies to booleans")
        }
    };
    Err(refusal)
}

/// The predicate of a filter with a non-blank value; `None` when a list holds no value.
fn predicate<T>(n: &Name<T>, value: &str) -> Result<Option<Predicate>, String> {
    let values = || -> Result<Vec<String>, String> {
        let values = list(value);
        if values.len() > MAX_LIST_VALUES {
            return Err(format!("the list holds more than {MAX_LIST_VALUES} values"));
        }
        Ok(values)
    };
    let flag =
        || boolean(value).ok_or_else(|| format!("'{value}' is not true or false (or 1 or 0)"));
    Ok(Some(match (n.form, n.each) {
        (Form::Compare(op), None) => Predicate::Compare(op, one(n.kind, value)?),
        (Form::Compare(op), Some(q)) => match many(n.kind, &values()?)? {
            Some(list) => Predicate::CompareEach(op, q, list),
            None => return Ok(None),
        },
        (Form::OrNull(op), _) => Predicate::CompareOrNull(op, one(n.kind, value)?),
        (Form::In(negated), _) => match many(n.kind, &values()?)? {
            Some(list) if negated => Predicate::NotIn(list),
            Some(list) => Predicate::In(list),
            None => return Ok(None),
        },
        (Form::Like(pattern, negated), each) => {
            let texts = match each {
                None => vec![value.to_owned()],
                Some(_) => values()?,
            };
            if texts.is_empty() {
                return Ok(None);
            }
            if pattern == Pattern::AsGiven {
                if let Some(t) = texts.iter().find(|t| ends_in_escape(t)) {
                    return Err(format!(
                        "'{t}' ends with a lone \\, which escapes nothing (write \\\\ for a backslash)"
                    ));
                }
            }
            Predicate::Like {
                pattern,
                negated,
                each,
                texts,
            }
        }
        (Form::Null(when), _) => Predicate::Null(flag()? == when),
        (Form::Blank(when), _) => Predicate::Blank {
            blank: flag()? == when,
            text: matches!(n.kind, Kind::String | Kind::Url),
        },
        // As ransack: `_true=false` is `<> true`, `_not_true=true` too.
        (Form::Boolean(target, negated), _) => {
            let op = if flag()? != negated { Eq } else { NotEq };
            Predicate::Compare(op, FilterValue::Bool(target))
        }
        (Form::JsonContains, _) => match serde_json::from_str(value) {
            Ok(v @ serde_json::Value::Object(_)) => Predicate::JsonContains(v),
            _ => {
                return Err(format!(
                    "'{value}' is not a JSON object such as {{\"key\": \"value\"}}"
                ))
            }
        },
    }))
}

/// One value read as `kind`.
pub(crate) fn one(kind: Kind, v: &str) -> Result<FilterValue, String> {
    let bad = |what: &str| format!("'{v}' is not {what}");
    Ok(match kind {
        Kind::String | Kind::Url | Kind::Json => FilterValue::Text(v.to_owned()),
        Kind::Number => {
            FilterValue::Number(v.trim().parse::<i64>().map_err(|_| bad("a whole number"))?)
        }
        Kind::Bool => FilterValue::Bool(boolean(v).ok_or_else(|| bad("true or false"))?),
        Kind::Time => FilterValue::Time(time(v.trim()).ok_or_else(|| {
            bad("an ISO 8601 time such as 2026-01-01T00:00:00Z (or a date, 2026-01-01)")
        })?),
    })
}

/// A list of values read as `kind`; `None` when it is empty.
fn many(kind: Kind, values: &[String]) -> Result<Option<FilterValue>, String> {
    if values.is_empty() {
        return Ok(None);
    }
    let read = values
        .iter()
        .map(|v| one(kind, v))
        .collect::<Result<Vec<_>, _>>()?;
    macro_rules! collect {
        ($variant:ident) => {
            read.into_iter()
                .filter_map(|v| match v {
                    FilterValue::$variant(x) => Some(x),
                    _ => None,
                })
                .collect()
        };
    }
    Ok(Some(match kind {
        Kind::Number => FilterValue::Numbers(collect!(Number)),
        Kind::Bool => FilterValue::Bools(collect!(Bool)),
        Kind::Time => FilterValue::Times(collect!(Time)),
        Kind::String | Kind::Url | Kind::Json => FilterValue::Texts(collect!(Text)),
    }))
}

/// The comma-separated values of a parameter, trimmed, the empty ones left out.
pub(crate) fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Ransack's true and false values.
pub(crate) fn boolean(v: &str) -> Option<bool> {
    match v.trim() {
        "true" | "TRUE" | "t" | "T" | "1" => Some(true),
        "false" | "FALSE" | "f" | "F" | "0" => Some(false),
        _ => None,
    }
}

/// An RFC 3339 time, or a date (its midnight, UTC).
fn time(v: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    let date = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

/// Whether a LIKE pattern ends with an escape character that escapes nothing (Postgres
/// refuses such a pattern).
fn ends_in_escape(pattern: &str) -> bool {
    pattern.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use imports_common::jsonapi::IMPORT_ATTRIBUTES;

    fn read(name: &str, value: &str) -> Result<Option<Filter>, String> {
        let key = format!("filter[q][{name}]");
        filter(IMPORT_ATTRIBUTES, &key, name, value).map_err(|e| format!("{e:?}"))
    }

    fn ok(name: &str, value: &str) -> Filter {
        read(name, value)
            .unwrap_or_else(|e| panic!("{name}={value}: {e}"))
            .unwrap_or_else(|| panic!("{name}={value} ignored"))
    }

    #[test]
    fn the_longest_predicate_whose_rest_is_an_attribute_wins() {
        let f = ok("status_not_eq", "pending");
        assert_eq!(f.columns, ["status"]);
        assert_eq!(
            f.predicate,
            Predicate::Compare(NotEq, FilterValue::Text("pending".into()))
        );
        assert_eq!(ok("resource_type_eq", "skus").columns, ["resource_type"]);
        assert_eq!(
            ok("completed_at_not_null", "1").predicate,
            Predicate::Null(false)
        );
        assert_eq!(
            ok("completed_at_null", "0").predicate,
            Predicate::Null(false)
        );
        assert_eq!(
            ok("reference_origin_not_eq_or_null", "x").predicate,
            Predicate::CompareOrNull(NotEq, FilterValue::Text("x".into()))
        );
        let f = ok("reference_not_i_cont_all", "a, b");
        assert_eq!(f.columns, ["reference"]);
        assert_eq!(
            f.predicate,
            Predicate::Like {
                pattern: Pattern::Contains,
                negated: true,
                each: Some(Quantifier::All),
                texts: vec!["a".into(), "b".into()],
            }
        );
        assert_eq!(
            ok("errors_count_lt_any", "1,2").predicate,
            Predicate::CompareEach(Lt, Quantifier::Any, FilterValue::Numbers(vec![1, 2]))
        );
    }

    #[test]
    fn attributes_join_with_or_and_and() {
        let f = ok("reference_or_reference_origin_cont", "abc");
        assert_eq!(f.columns, ["reference", "reference_origin"]);
        assert_eq!(f.combinator, Combinator::Or);
        let f = ok("started_at_and_completed_at_present", "true");
        assert_eq!(f.columns, ["started_at", "completed_at"]);
        assert_eq!(f.combinator, Combinator::And);
        assert_eq!(
            f.predicate,
            Predicate::Blank {
                blank: false,
                text: false
            }
        );
        assert_eq!(
            ok("attachment_url_blank", "1").columns,
            ["(CASE WHEN status = 'pending' THEN NULL ELSE id END)"]
        );
    }

    #[test]
    fn booleans_and_presence_follow_ransack() {
        let cmp = |op, b| Predicate::Compare(op, FilterValue::Bool(b));
        assert_eq!(ok("skip_errors_true", "1").predicate, cmp(Eq, true));
        assert_eq!(ok("skip_errors_true", "false").predicate, cmp(NotEq, true));
        assert_eq!(ok("skip_errors_false", "t").predicate, cmp(Eq, false));
        assert_eq!(ok("skip_errors_not_true", "1").predicate, cmp(NotEq, true));
        assert_eq!(ok("skip_errors_eq", "0").predicate, cmp(Eq, false));
        let blank = |blank| Predicate::Blank { blank, text: true };
        assert_eq!(ok("reference_present", "1").predicate, blank(false));
        assert_eq!(ok("reference_present", "0").predicate, blank(true));
        assert_eq!(ok("reference_blank", "true").predicate, blank(true));
        assert_eq!(
            ok("metadata_jcont", r#"{"a": 1}"#).predicate,
            Predicate::JsonContains(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            ok("created_at_gteq", "2026-01-02").predicate,
            Predicate::Compare(
                Gteq,
                FilterValue::Time("2026-01-02T00:00:00Z".parse().unwrap())
            )
        );
    }

    #[test]
    fn empty_values_are_ignored_as_ransack_ignores_them() {
        for (name, value) in [
            ("reference_eq", ""),
            ("reference_cont", "  "),
            ("status_in", ","),
            ("errors_count_eq_any", ""),
            ("skip_errors_true", ""),
        ] {
            assert_eq!(read(name, value), Ok(None), "{name}={value}");
        }
        assert!(
            read("nonsense_eq", "").is_err(),
            "the name is checked all the same"
        );
    }

    #[test]
    fn what_does_not_fit_is_refused() {
        let long = "x".repeat(MAX_VALUE_CHARS + 1);
        let many = vec!["a"; MAX_LIST_VALUES + 1].join(",");
        for (name, value) in [
            ("status_like", "x"),
            ("secret_eq", "x"),
            ("errors_log_eq", "x"),
            ("errors_count_gt", "many"),
            ("errors_count_in", "1,x"),
            ("created_at_lt", "yesterday"),
            ("status_gt", "a"),
            ("errors_count_cont", "1"),
            ("skip_errors_cont", "t"),
            ("status_true", "1"),
            ("skip_errors_null", "maybe"),
            ("reference_present", "yes"),
            ("metadata_eq", "{}"),
            ("metadata_cont", "a"),
            ("metadata_jcont", "[1]"),
            ("metadata_jcont", "{nope"),
            ("reference_jcont", "{}"),
            ("attachment_url_cont", "http"),
            ("attachment_url_eq", "http"),
            ("reference_or_errors_count_eq", "1"),
            ("reference_or_secret_eq", "1"),
            ("reference_or_status_and_reference_origin_eq", "1"),
            ("reference_matches", "a\\"),
            ("reference_eq", &long),
            ("status_in", &many),
            ("reference_eq", "a\0"),
            ("eq", "x"),
        ] {
            assert!(read(name, value).is_err(), "{name}={value} accepted");
        }
        assert!(read("reference_matches", "a\\\\").is_ok());
        assert!(read("reference_eq", &"x".repeat(MAX_VALUE_CHARS)).is_ok());
    }
}
