//! The list query of `GET /api/imports`: pagination, sort, ransack-style filters and sparse
//! fieldsets, each checked against the attribute table, so a bad parameter is a 400 naming
//! it. Storage writes the checked query as SQL ([`imports_storage::listing`]).

use imports_common::jsonapi::{import_attribute, AttributeKind as Kind};
use imports_storage::listing::{Filter, FilterValue, ImportQuery, Order, Predicate};

use crate::errors::ApiError;

/// The default and largest page sizes (as the reference API).
pub const DEFAULT_PAGE_SIZE: i64 = 10;
/// The largest page size.
pub const MAX_PAGE_SIZE: i64 = 25;

/// Predicates, longest first so that `_not_eq` is not read as `_eq`.
const PREDICATES: &[&str] = &[
    "not_eq", "not_in", "gteq", "lteq", "start", "cont", "null", "eq", "in", "gt", "lt",
];

/// A parsed list query.
pub struct ListQuery {
    /// Which imports, in which order, which page (storage writes it as SQL).
    pub query: ImportQuery,
    /// Attributes to show (`fields[imports]`), all when `None`.
    pub fields: Option<Vec<String>>,
    /// The query pairs other than `page[number]`, for pagination links.
    pub link_pairs: Vec<(String, String)>,
    /// `include=events` and `fields[events]`.
    pub events: crate::events::EventsWanted,
}

/// Parses the query pairs of a list request.
pub fn parse(pairs: &[(String, String)]) -> Result<ListQuery, ApiError> {
    let mut q = ListQuery {
        query: ImportQuery {
            filters: Vec::new(),
            sort: None,
            page: 1,
            size: DEFAULT_PAGE_SIZE,
        },
        fields: None,
        link_pairs: Vec::new(),
        events: Default::default(),
    };
    for (key, value) in pairs {
        if key != "page[number]" {
            q.link_pairs.push((key.clone(), value.clone()));
        }
        if q.events.read(key, value)? {
            continue;
        }
        if let Some(n) = page_parameter(key, value)? {
            match key.as_str() {
                "page[number]" => q.query.page = n,
                _ => q.query.size = n,
            }
            continue;
        }
        match key.as_str() {
            "sort" => q.query.sort = Some(sort(value)?),
            "fields[imports]" => q.fields = Some(fields(value)?),
            "filter[ids]" => q.query.filters.push(Filter {
                column: "id",
                predicate: Predicate::In(FilterValue::Texts(list(value))),
            }),
            k if k.starts_with("filter[q][") && k.ends_with(']') => {
                let name = &k["filter[q][".len()..k.len() - 1];
                let filter = filter(key, name, value)?;
                q.query.filters.push(filter);
            }
            _ => {
                return Err(ApiError::bad_parameter(
                    key,
                    format!("'{key}' is not a known parameter"),
                ))
            }
        }
    }
    Ok(q)
}

/// Reads `page[number]` (from 1) or `page[size]` (1 to [`MAX_PAGE_SIZE`]); `None` for any
/// other parameter.
pub fn page_parameter(key: &str, value: &str) -> Result<Option<i64>, ApiError> {
    match key {
        "page[number]" => positive(key, value, i64::MAX).map(Some),
        "page[size]" => positive(key, value, MAX_PAGE_SIZE).map(Some),
        _ => Ok(None),
    }
}

/// How many pages `total` records make, `size` a page.
pub fn page_count(total: i64, size: i64) -> i64 {
    (total + size - 1) / size
}

/// A list's `links`: `first`, `last`, and `prev`/`next` where there are such pages,
/// each `base` with the request's other parameters (`link_pairs`) and its page number.
pub fn page_links(
    base: &str,
    link_pairs: &[(String, String)],
    page: i64,
    page_count: i64,
) -> serde_json::Value {
    let link = |page: i64| {
        let mut pairs = link_pairs.to_vec();
        pairs.push(("page[number]".into(), page.to_string()));
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        format!("{base}?{}", query.join("&"))
    };
    let last = page_count.max(1);
    let mut links = serde_json::json!({"first": link(1), "last": link(last)});
    if page > 1 {
        links["prev"] = serde_json::json!(link((page - 1).min(last)));
    }
    if page < page_count {
        links["next"] = serde_json::json!(link(page + 1));
    }
    links
}

/// Percent-encodes a query key or value for a pagination link.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn positive(key: &str, value: &str, max: i64) -> Result<i64, ApiError> {
    match value.parse::<i64>() {
        Ok(n) if n >= 1 && n <= max => Ok(n),
        _ if max == i64::MAX => Err(ApiError::bad_parameter(
            key,
            format!("{key} must be a whole number of at least 1"),
        )),
        _ => Err(ApiError::bad_parameter(
            key,
            format!("{key} must be a whole number from 1 to {max}"),
        )),
    }
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn sort(value: &str) -> Result<Vec<Order>, ApiError> {
    let mut order = Vec::new();
    for field in list(value) {
        let (name, descending) = match field.strip_prefix('-') {
            Some(n) => (n, true),
            None => (field.as_str(), false),
        };
        let Some(column) = import_attribute(name)
            .filter(|a| a.sortable)
            .and_then(|a| a.column)
        else {
            return Err(ApiError::bad_parameter(
                "sort",
                format!("cannot sort by '{name}'"),
            ));
        };
        order.push(Order { column, descending });
    }
    Ok(order)
}

fn fields(value: &str) -> Result<Vec<String>, ApiError> {
    let names = list(value);
    for n in &names {
        if !import_attribute(n).is_some_and(|a| a.readable) {
            return Err(ApiError::bad_parameter(
                "fields[imports]",
                format!("'{n}' is not an attribute of imports"),
            ));
        }
    }
    Ok(names)
}

/// One `filter[q][<attribute>_<predicate>]`, its value read as the attribute's type.
fn filter(key: &str, name: &str, value: &str) -> Result<Filter, ApiError> {
    let Some((attribute, predicate)) = PREDICATES
        .iter()
        .find_map(|p| name.strip_suffix(&format!("_{p}")).map(|a| (a, *p)))
    else {
        return Err(ApiError::bad_parameter(key, format!("'{name}' has no known predicate (_eq, _in, _gt, _gteq, _lt, _lteq, _start, _cont...)")));
    };
    let Some((column, kind)) = import_attribute(attribute)
        .filter(|a| a.filterable && a.kind != Kind::Json)
        .and_then(|a| Some((a.column?, a.kind)))
    else {
        return Err(ApiError::bad_parameter(
            key,
            format!("cannot filter by '{attribute}'"),
        ));
    };
    let bad = |what: &str| ApiError::bad_parameter(key, format!("'{value}' is not {what}"));
    let one = |v: &str| -> Result<FilterValue, ApiError> {
        Ok(match kind {
            Kind::String | Kind::Json => FilterValue::Text(v.to_owned()),
            Kind::Number => {
                FilterValue::Number(v.trim().parse::<i64>().map_err(|_| bad("an integer"))?)
            }
            Kind::Bool => {
                FilterValue::Bool(v.trim().parse::<bool>().map_err(|_| bad("true or false"))?)
            }
            Kind::Time => FilterValue::Time(
                chrono::DateTime::parse_from_rfc3339(v.trim())
                    .map_err(|_| bad("an ISO 8601 time such as 2026-01-01T00:00:00Z"))?
                    .with_timezone(&chrono::Utc),
            ),
        })
    };
    let predicate = match predicate {
        "eq" => Predicate::Eq(one(value)?),
        "not_eq" => Predicate::NotEq(one(value)?),
        "gt" | "gteq" | "lt" | "lteq" => {
            if kind == Kind::String || kind == Kind::Bool {
                return Err(ApiError::bad_parameter(
                    key,
                    format!("'{attribute}' cannot be compared with _{predicate}"),
                ));
            }
            let v = one(value)?;
            match predicate {
                "gt" => Predicate::Gt(v),
                "gteq" => Predicate::Gteq(v),
                "lt" => Predicate::Lt(v),
                _ => Predicate::Lteq(v),
            }
        }
        "in" | "not_in" => {
            let values = list(value);
            let v = match kind {
                Kind::String => FilterValue::Texts(values),
                Kind::Number => FilterValue::Numbers(
                    values
                        .iter()
                        .map(|v| v.parse::<i64>().map_err(|_| bad("a list of integers")))
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                _ => {
                    return Err(ApiError::bad_parameter(
                        key,
                        format!("'{attribute}' cannot be filtered with _{predicate}"),
                    ))
                }
            };
            if predicate == "in" {
                Predicate::In(v)
            } else {
                Predicate::NotIn(v)
            }
        }
        "start" | "cont" => {
            if kind != Kind::String {
                return Err(ApiError::bad_parameter(
                    key,
                    format!("'{attribute}' is not text"),
                ));
            }
            if predicate == "start" {
                Predicate::Start(value.to_owned())
            } else {
                Predicate::Cont(value.to_owned())
            }
        }
        "null" => match value {
            "true" | "1" => Predicate::Null(true),
            "false" | "0" => Predicate::Null(false),
            _ => return Err(bad("true or false")),
        },
        _ => unreachable!("every predicate is handled"),
    };
    Ok(Filter { column, predicate })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn filters_sorts_and_pages_become_sql() {
        let q = parse(&pairs(&[
            ("filter[q][status_in]", "pending,in_progress"),
            ("filter[q][errors_count_gt]", "0"),
            ("filter[q][reference_start]", "grp_"),
            ("filter[q][resource_type_not_eq]", "skus"),
            ("sort", "-created_at,status"),
            ("page[size]", "25"),
            ("page[number]", "3"),
        ]))
        .unwrap();
        let (conditions, params) = q.query.conditions();
        assert_eq!(params.len(), 4);
        assert_eq!(
            conditions,
            vec![
                "status = ANY($3)",
                "errors_count > $4",
                "reference LIKE $5",
                "resource_type IS DISTINCT FROM $6"
            ]
        );
        assert_eq!(
            q.query.order_by(),
            "created_at DESC NULLS LAST, status ASC NULLS LAST, id ASC"
        );
        assert_eq!((q.query.page, q.query.size), (3, 25));
        assert_eq!(q.link_pairs.len(), 6);
    }

    #[test]
    fn bad_parameters_are_named() {
        for bad in [
            ("page[size]", "26"),
            ("page[number]", "0"),
            ("sort", "password"),
            ("filter[q][status_like]", "x"),
            ("filter[q][secret_eq]", "x"),
            ("filter[q][errors_count_gt]", "many"),
            ("filter[q][created_at_gteq]", "yesterday"),
            ("filter[q][status_gt]", "a"),
            ("fields[imports]", "status,nope"),
            ("nonsense", "1"),
        ] {
            let e = parse(&pairs(&[bad]))
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST, "{bad:?}");
        }
    }
}
