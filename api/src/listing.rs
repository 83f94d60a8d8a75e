//! The list query of `GET /api/imports`: pagination, sort, ransack-style filters and sparse
//! fieldsets, each checked, so a bad parameter is a 400 naming it.

use imports_common::jsonapi::{import_attribute, AttributeKind as Kind};
use tokio_postgres::types::ToSql;

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
    /// SQL conditions (after the tenant's), with `$n` placeholders.
    pub conditions: Vec<String>,
    /// Their parameters (the tenant's are `$1`, `$2`).
    pub params: Vec<Box<dyn ToSql + Sync + Send>>,
    /// `ORDER BY` clause.
    pub order_by: String,
    /// 1-based page.
    pub page: i64,
    /// Page size.
    pub size: i64,
    /// Attributes to show (`fields[imports]`), all when `None`.
    pub fields: Option<Vec<String>>,
    /// The query pairs other than `page[number]`, for pagination links.
    pub link_pairs: Vec<(String, String)>,
}

/// Parses the query pairs of a list request.
pub fn parse(pairs: &[(String, String)]) -> Result<ListQuery, ApiError> {
    let mut q = ListQuery {
        conditions: Vec::new(),
        params: Vec::new(),
        order_by: "created_at ASC, id ASC".into(),
        page: 1,
        size: DEFAULT_PAGE_SIZE,
        fields: None,
        link_pairs: Vec::new(),
    };
    for (key, value) in pairs {
        if key != "page[number]" {
            q.link_pairs.push((key.clone(), value.clone()));
        }
        match key.as_str() {
            "page[number]" => q.page = positive(key, value, i64::MAX)?,
            "page[size]" => q.size = positive(key, value, MAX_PAGE_SIZE)?,
            "sort" => q.order_by = sort(value)?,
            "fields[imports]" => q.fields = Some(fields(value)?),
            "filter[ids]" => {
                let ids: Vec<String> = list(value);
                q.params.push(Box::new(ids));
                q.conditions
                    .push(format!("id = ANY(${})", q.params.len() + 2));
            }
            k if k.starts_with("filter[q][") && k.ends_with(']') => {
                let name = &k["filter[q][".len()..k.len() - 1];
                filter(&mut q, key, name, value)?;
            }
            "include" => {}
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

fn sort(value: &str) -> Result<String, ApiError> {
    let mut parts = Vec::new();
    for field in list(value) {
        let (name, dir) = match field.strip_prefix('-') {
            Some(n) => (n, "DESC"),
            None => (field.as_str(), "ASC"),
        };
        if !import_attribute(name).is_some_and(|a| a.sortable) {
            return Err(ApiError::bad_parameter(
                "sort",
                format!("cannot sort by '{name}'"),
            ));
        }
        parts.push(format!("{name} {dir} NULLS LAST"));
    }
    parts.push("id ASC".into());
    Ok(parts.join(", "))
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

fn filter(q: &mut ListQuery, key: &str, name: &str, value: &str) -> Result<(), ApiError> {
    let Some((attribute, predicate)) = PREDICATES
        .iter()
        .find_map(|p| name.strip_suffix(&format!("_{p}")).map(|a| (a, *p)))
    else {
        return Err(ApiError::bad_parameter(key, format!("'{name}' has no known predicate (_eq, _in, _gt, _gteq, _lt, _lteq, _start, _cont...)")));
    };
    let Some(kind) = import_attribute(attribute)
        .filter(|a| a.filterable && a.kind != Kind::Json)
        .map(|a| &a.kind)
    else {
        return Err(ApiError::bad_parameter(
            key,
            format!("cannot filter by '{attribute}'"),
        ));
    };
    let n = q.params.len() + 3;
    let col = attribute;
    let bad = |what: &str| ApiError::bad_parameter(key, format!("'{value}' is not {what}"));
    let one = |v: &str| -> Result<Box<dyn ToSql + Sync + Send>, ApiError> {
        Ok(match kind {
            Kind::String | Kind::Json => Box::new(v.to_owned()),
            Kind::Number => Box::new(v.trim().parse::<i64>().map_err(|_| bad("an integer"))?),
            Kind::Bool => Box::new(v.trim().parse::<bool>().map_err(|_| bad("true or false"))?),
            Kind::Time => Box::new(
                chrono::DateTime::parse_from_rfc3339(v.trim())
                    .map_err(|_| bad("an ISO 8601 time such as 2026-01-01T00:00:00Z"))?
                    .with_timezone(&chrono::Utc),
            ),
        })
    };
    let condition = match predicate {
        "eq" => {
            q.params.push(one(value)?);
            format!("{col} = ${n}")
        }
        "not_eq" => {
            q.params.push(one(value)?);
            format!("{col} IS DISTINCT FROM ${n}")
        }
        "gt" | "gteq" | "lt" | "lteq" => {
            if *kind == Kind::String || *kind == Kind::Bool {
                return Err(ApiError::bad_parameter(
                    key,
                    format!("'{attribute}' cannot be compared with _{predicate}"),
                ));
            }
            q.params.push(one(value)?);
            let op = match predicate {
                "gt" => ">",
                "gteq" => ">=",
                "lt" => "<",
                _ => "<=",
            };
            format!("{col} {op} ${n}")
        }
        "in" | "not_in" => {
            let values = list(value);
            let p: Box<dyn ToSql + Sync + Send> = match kind {
                Kind::String => Box::new(values),
                Kind::Number => Box::new(
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
            q.params.push(p);
            if predicate == "in" {
                format!("{col} = ANY(${n})")
            } else {
                format!("NOT ({col} = ANY(${n}))")
            }
        }
        "start" | "cont" => {
            if *kind != Kind::String {
                return Err(ApiError::bad_parameter(
                    key,
                    format!("'{attribute}' is not text"),
                ));
            }
            let escaped = value
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            let pattern = if predicate == "start" {
                format!("{escaped}%")
            } else {
                format!("%{escaped}%")
            };
            q.params.push(Box::new(pattern));
            if predicate == "start" {
                format!("{col} LIKE ${n}")
            } else {
                format!("{col} ILIKE ${n}")
            }
        }
        "null" => match value {
            "true" | "1" => format!("{col} IS NULL"),
            "false" | "0" => format!("{col} IS NOT NULL"),
            _ => return Err(bad("true or false")),
        },
        _ => unreachable!("every predicate is handled"),
    };
    q.conditions.push(condition);
    Ok(())
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
        assert_eq!(
            q.conditions,
            vec![
                "status = ANY($3)",
                "errors_count > $4",
                "reference LIKE $5",
                "resource_type IS DISTINCT FROM $6"
            ]
        );
        assert_eq!(
            q.order_by,
            "created_at DESC NULLS LAST, status ASC NULLS LAST, id ASC"
        );
        assert_eq!((q.page, q.size), (3, 25));
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
