//! The list query of `GET /api/imports` (and of the other lists): pagination, sort, ransack-style filters
//! ([`crate::filters`]) and sparse fieldsets, each checked against the attribute table, so a
//! bad parameter is a 400 naming it. Storage writes the checked query as SQL
//! ([`imports_storage::listing`]).

use imports_common::jsonapi::{Attribute, IMPORT_ATTRIBUTES};
use imports_storage::listing::{attribute_sql, Filter, FilterValue, ImportQuery, Order, Predicate};

use crate::errors::ApiError;
use crate::filters::{self, list, MAX_FILTERS, MAX_LIST_VALUES};

/// The default and largest page sizes (as the reference API).
pub const DEFAULT_PAGE_SIZE: i64 = 10;
/// The largest page size.
pub const MAX_PAGE_SIZE: i64 = 25;

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

/// Parses the query pairs of an import list request.
pub fn parse(pairs: &[(String, String)]) -> Result<ListQuery, ApiError> {
    let mut events = crate::events::EventsWanted::default();
    let list = parse_list(IMPORT_ATTRIBUTES, "imports", pairs, |key, value| {
        events.read(key, value)
    })?;
    Ok(ListQuery {
        query: list.query,
        fields: list.fields,
        link_pairs: list.link_pairs,
        events,
    })
}

/// A list request's parameters, read against a resource's attribute table.
pub struct List {
    /// Which records, in which order, which page (storage writes it as SQL).
    pub query: ImportQuery,
    /// Attributes to show (`fields[<type>]`), all when `None`.
    pub fields: Option<Vec<String>>,
    /// The query pairs other than `page[number]`, for pagination links.
    pub link_pairs: Vec<(String, String)>,
}

/// Parses the query pairs of a list of `type_name` resources (whose attributes are `table`):
/// pages, `sort`, `fields[<type_name>]`, `filter[ids]` and `filter[q][...]`; `extra` takes
/// the resource's own parameters (it answers whether it took one).
pub fn parse_list<T>(
    table: &'static [Attribute<T>],
    type_name: &str,
    pairs: &[(String, String)],
    mut extra: impl FnMut(&str, &str) -> Result<bool, ApiError>,
) -> Result<List, ApiError> {
    let mut q = List {
        query: ImportQuery {
            filters: Vec::new(),
            sort: None,
            page: 1,
            size: DEFAULT_PAGE_SIZE,
        },
        fields: None,
        link_pairs: Vec::new(),
    };
    let fields_key = format!("fields[{type_name}]");
    // Conditions so far: a filter on several attributes counts once for each.
    let mut conditions = 0;
    for (key, value) in pairs {
        if key != "page[number]" {
            q.link_pairs.push((key.clone(), value.clone()));
        }
        if extra(key, value)? {
            continue;
        }
        if let Some(n) = page_parameter(key, value)? {
            match key.as_str() {
                "page[number]" => q.query.page = n,
                _ => q.query.size = n,
            }
            continue;
        }
        let filter = match key.as_str() {
            "sort" => {
                q.query.sort = Some(sort(table, value)?);
                continue;
            }
            k if k == fields_key => {
                q.fields = Some(fields(table, k, type_name, value)?);
                continue;
            }
            "filter[ids]" => Some(ids(key, value)?),
            k if k.starts_with("filter[q][") && k.ends_with(']') => {
                let name = &k["filter[q][".len()..k.len() - 1];
                filters::filter(table, key, name, value)?
            }
            _ => {
                return Err(ApiError::bad_parameter(
                    key,
                    format!("'{key}' is not a known parameter"),
                ))
            }
        };
        if let Some(filter) = filter {
            conditions += filter.columns.len();
            if conditions > MAX_FILTERS {
                return Err(ApiError::bad_parameter(
                    key,
                    format!("at most {MAX_FILTERS} filters a request (a filter on several attributes counts once for each)"),
                ));
            }
            q.query.filters.push(filter);
        }
    }
    Ok(q)
}

/// `filter[ids]=a,b`: the records of these ids.
fn ids(key: &str, value: &str) -> Result<Filter, ApiError> {
    let ids = list(value);
    if ids.len() > MAX_LIST_VALUES {
        return Err(ApiError::bad_parameter(
            key,
            format!("at most {MAX_LIST_VALUES} ids"),
        ));
    }
    if value.contains('\0') {
        return Err(ApiError::bad_parameter(
            key,
            "the value contains a NUL character",
        ));
    }
    Ok(Filter::on("id", Predicate::In(FilterValue::Texts(ids))))
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

/// Where a list's page is: the list's URL (its `links.self` when `with_self`), the request's
/// other parameters for the links, the page asked for and its size.
pub struct PageOf<'a> {
    /// The list's URL, without parameters.
    pub base: &'a str,
    /// The request's parameters other than `page[number]`.
    pub link_pairs: &'a [(String, String)],
    /// 1-based page.
    pub page: i64,
    /// Page size.
    pub size: i64,
    /// Whether `links.self` is the list's URL (relationship and related lists).
    pub with_self: bool,
}

/// A list's document: `data`, `meta.record_count` and `meta.page_count` of `total`
/// records, the pagination `links`, and `included` when set.
pub fn list_document<T: serde::Serialize>(data: T, total: i64, at: &PageOf<'_>) -> ListDocument<T> {
    let page_count = page_count(total, at.size);
    let mut links = page_links(at.base, at.link_pairs, at.page, page_count);
    if at.with_self {
        links["self"] = serde_json::json!(at.base);
    }
    ListDocument {
        data,
        meta: ListMeta {
            record_count: total,
            page_count,
        },
        links,
        included: None,
    }
}

/// What [`list_document`] makes, serialized as the response.
#[derive(Debug, serde::Serialize)]
pub struct ListDocument<T> {
    /// The page's resources.
    pub data: T,
    /// The counts.
    pub meta: ListMeta,
    /// `first`, `last`, `prev`, `next` (and `self`).
    pub links: serde_json::Value,
    /// The resources `include` asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub included: Option<Vec<serde_json::Value>>,
}

/// A list's `meta`.
#[derive(Debug, serde::Serialize)]
pub struct ListMeta {
    /// Records meeting the list's query, on every page.
    pub record_count: i64,
    /// Pages of them.
    pub page_count: i64,
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

fn sort<T>(table: &'static [Attribute<T>], value: &str) -> Result<Vec<Order>, ApiError> {
    let mut order = Vec::new();
    for field in list(value) {
        let (name, descending) = match field.strip_prefix('-') {
            Some(n) => (n, true),
            None => (field.as_str(), false),
        };
        let Some(column) = table
            .iter()
            .find(|a| a.name == name && a.sortable)
            .and_then(attribute_sql)
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

fn fields<T>(
    table: &'static [Attribute<T>],
    key: &str,
    type_name: &str,
    value: &str,
) -> Result<Vec<String>, ApiError> {
    let names = list(value);
    for n in &names {
        if !table.iter().any(|a| a.name == n && a.readable) {
            return Err(ApiError::bad_parameter(
                key,
                format!("'{n}' is not an attribute of {type_name}"),
            ));
        }
    }
    Ok(names)
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
                "reference ILIKE $5",
                "resource_type <> $6"
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
        let ids = vec!["a"; MAX_LIST_VALUES + 1].join(",");
        for bad in [
            ("page[size]", "26"),
            ("page[number]", "0"),
            ("sort", "password"),
            ("filter[q][status_like]", "x"),
            ("filter[q][secret_eq]", "x"),
            ("filter[q][errors_count_gt]", "many"),
            ("filter[q][created_at_gteq]", "yesterday"),
            ("filter[q][status_gt]", "a"),
            ("filter[ids]", ids.as_str()),
            ("fields[imports]", "status,nope"),
            ("nonsense", "1"),
        ] {
            let e = parse(&pairs(&[bad]))
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST, "{bad:?}");
        }
    }

    #[test]
    fn at_most_max_filters_conditions() {
        let many = |n: usize, name: &str| {
            (0..n)
                .map(|_| (format!("filter[q][{name}]"), "1".to_owned()))
                .collect::<Vec<_>>()
        };
        assert!(parse(&many(MAX_FILTERS, "errors_count_eq")).is_ok());
        assert!(parse(&many(MAX_FILTERS + 1, "errors_count_eq")).is_err());
        // Two attributes a filter: half as many filters.
        let joined = "errors_count_or_warnings_count_eq";
        assert!(parse(&many(MAX_FILTERS / 2, joined)).is_ok());
        assert!(parse(&many(MAX_FILTERS / 2 + 1, joined)).is_err());
        // Ignored filters (empty values) do not count.
        let mut pairs = many(MAX_FILTERS, "errors_count_eq");
        pairs.push(("filter[q][reference_eq]".into(), String::new()));
        assert_eq!(parse(&pairs).unwrap().query.filters.len(), MAX_FILTERS);
    }
}
