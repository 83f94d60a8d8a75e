//! The import list of `GET /api/imports`: the WHERE and ORDER BY built from a query the API
//! has parsed and checked, and the page of ids it selects.

use imports_common::model::Tenant;
use tokio_postgres::types::ToSql;
use tokio_postgres::GenericClient;

/// A value a filter compares with, already read as its attribute's type.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    /// Text.
    Text(String),
    /// A whole number.
    Number(i64),
    /// true or false.
    Bool(bool),
    /// A time.
    Time(chrono::DateTime<chrono::Utc>),
    /// A list of texts (`_in`, `_not_in`).
    Texts(Vec<String>),
    /// A list of whole numbers (`_in`, `_not_in`).
    Numbers(Vec<i64>),
}

/// What a filter asks of its column (the reference API's ransack predicates).
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// `_eq`.
    Eq(FilterValue),
    /// `_not_eq` (null counts as different).
    NotEq(FilterValue),
    /// `_gt`.
    Gt(FilterValue),
    /// `_gteq`.
    Gteq(FilterValue),
    /// `_lt`.
    Lt(FilterValue),
    /// `_lteq`.
    Lteq(FilterValue),
    /// `_in`: one of a list.
    In(FilterValue),
    /// `_not_in`: none of a list.
    NotIn(FilterValue),
    /// `_start`: text starting with this, case-sensitive.
    Start(String),
    /// `_cont`: text containing this, case-insensitive.
    Cont(String),
    /// `_null`: null (`true`) or not (`false`).
    Null(bool),
}

/// One condition of the list, on a column of `imports`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The column (from the attribute table, never from the request).
    pub column: &'static str,
    /// What is asked of it.
    pub predicate: Predicate,
}

/// One key of the list's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// The column (from the attribute table).
    pub column: &'static str,
    /// Largest first.
    pub descending: bool,
}

/// The list as asked for: which imports of the tenant, in which order, which page.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportQuery {
    /// Conditions, all of which an import meets.
    pub filters: Vec<Filter>,
    /// The order asked for (ties broken by id); `None` for oldest first.
    pub sort: Option<Vec<Order>>,
    /// 1-based page.
    pub page: i64,
    /// Page size.
    pub size: i64,
}

type Param = Box<dyn ToSql + Sync + Send>;

impl ImportQuery {
    /// The SQL conditions after the tenant's (`$1`, `$2`), with their parameters from `$3`.
    pub fn conditions(&self) -> (Vec<String>, Vec<Param>) {
        let mut conditions = Vec::with_capacity(self.filters.len());
        let mut params: Vec<Param> = Vec::new();
        for Filter { column, predicate } in &self.filters {
            let n = params.len() + 3;
            let mut bind = |v: &FilterValue| params.push(param(v));
            let condition = match predicate {
                Predicate::Eq(v) => {
                    bind(v);
                    format!("{column} = ${n}")
                }
                Predicate::NotEq(v) => {
                    bind(v);
                    format!("{column} IS DISTINCT FROM ${n}")
                }
                Predicate::Gt(v) | Predicate::Gteq(v) | Predicate::Lt(v) | Predicate::Lteq(v) => {
                    bind(v);
                    let op = match predicate {
                        Predicate::Gt(_) => ">",
                        Predicate::Gteq(_) => ">=",
                        Predicate::Lt(_) => "<",
                        _ => "<=",
                    };
                    format!("{column} {op} ${n}")
                }
                Predicate::In(v) => {
                    bind(v);
                    format!("{column} = ANY(${n})")
                }
                Predicate::NotIn(v) => {
                    bind(v);
                    format!("NOT ({column} = ANY(${n}))")
                }
                Predicate::Start(text) => {
                    params.push(Box::new(format!("{}%", like_escaped(text))));
                    format!("{column} LIKE ${n}")
                }
                Predicate::Cont(text) => {
                    params.push(Box::new(format!("%{}%", like_escaped(text))));
                    format!("{column} ILIKE ${n}")
                }
                Predicate::Null(true) => format!("{column} IS NULL"),
                Predicate::Null(false) => format!("{column} IS NOT NULL"),
            };
            conditions.push(condition);
        }
        (conditions, params)
    }

    /// The `ORDER BY` clause: the keys asked for, nulls last, then the id.
    pub fn order_by(&self) -> String {
        let Some(sort) = &self.sort else {
            return "created_at ASC, id ASC".into();
        };
        let mut parts: Vec<String> = sort
            .iter()
            .map(|o| {
                let dir = if o.descending { "DESC" } else { "ASC" };
                format!("{} {dir} NULLS LAST", o.column)
            })
            .collect();
        parts.push("id ASC".into());
        parts.join(", ")
    }
}

fn param(value: &FilterValue) -> Param {
    match value {
        FilterValue::Text(v) => Box::new(v.clone()),
        FilterValue::Number(v) => Box::new(*v),
        FilterValue::Bool(v) => Box::new(*v),
        FilterValue::Time(v) => Box::new(*v),
        FilterValue::Texts(v) => Box::new(v.clone()),
        FilterValue::Numbers(v) => Box::new(v.clone()),
    }
}

/// `text` matched literally by LIKE: its `\`, `%` and `_` escaped.
fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// How many of the tenant's imports meet the query, and the ids of the page asked for.
pub async fn list_import_ids<C: GenericClient>(
    client: &C,
    tenant: &Tenant,
    query: &ImportQuery,
) -> Result<(i64, Vec<String>), tokio_postgres::Error> {
    let mode = tenant.mode.as_str();
    let (extra, owned) = query.conditions();
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&tenant.organization_id, &mode];
    for p in &owned {
        params.push(p.as_ref() as &(dyn ToSql + Sync));
    }
    let mut conditions = vec!["organization_id = $1".to_owned(), "mode = $2".to_owned()];
    conditions.extend(extra);
    let filter = conditions.join(" AND ");
    let total: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM imports WHERE {filter}"),
            &params,
        )
        .await?
        .get(0);
    let offset = (query.page - 1).saturating_mul(query.size);
    let ids = client
        .query(
            &format!(
                "SELECT id FROM imports WHERE {filter} ORDER BY {} LIMIT {} OFFSET {offset}",
                query.order_by(),
                query.size
            ),
            &params,
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok((total, ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_predicate_becomes_its_condition_numbered_after_the_tenant() {
        let filter = |column, predicate| Filter { column, predicate };
        let q = ImportQuery {
            filters: vec![
                filter("id", Predicate::In(FilterValue::Texts(vec!["a".into()]))),
                filter("status", Predicate::NotIn(FilterValue::Texts(vec![]))),
                filter("errors_count", Predicate::Gteq(FilterValue::Number(1))),
                filter("completed_at", Predicate::Null(true)),
                filter("reference", Predicate::Cont("50%_off\\".into())),
                filter("skip_errors", Predicate::NotEq(FilterValue::Bool(true))),
                filter("started_at", Predicate::Null(false)),
                filter("inputs_size", Predicate::Lt(FilterValue::Number(9))),
            ],
            sort: None,
            page: 1,
            size: 10,
        };
        let (conditions, params) = q.conditions();
        assert_eq!(
            conditions,
            [
                "id = ANY($3)",
                "NOT (status = ANY($4))",
                "errors_count >= $5",
                "completed_at IS NULL",
                "reference ILIKE $6",
                "skip_errors IS DISTINCT FROM $7",
                "started_at IS NOT NULL",
                "inputs_size < $8",
            ]
        );
        assert_eq!(params.len(), 6);
        assert_eq!(like_escaped("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(q.order_by(), "created_at ASC, id ASC");
        let sorted = ImportQuery {
            sort: Some(vec![]),
            ..q
        };
        assert_eq!(sorted.order_by(), "id ASC");
    }
}
