//! The import list of `GET /api/imports`: the WHERE and ORDER BY built from a query the API
//! has parsed and checked (the page itself is read by `list_page`). Every value the request
//! gave is a bound parameter; the SQL names only the columns of the attribute table and the
//! expressions of [`attribute_sql`].

use imports_common::jsonapi::{Attribute, AttributeKind};
use tokio_postgres::types::ToSql;

/// The SQL an attribute is filtered and sorted by: its column, or for `attachment_url` (made
/// when the import is shown, once it has left `pending`) an expression that is null while the
/// import is pending and otherwise sorts as the URL does (by id). `None` for an attribute
/// neither stored nor derivable.
pub fn attribute_sql<T>(attribute: &Attribute<T>) -> Option<&'static str> {
    match (attribute.column, attribute.kind) {
        (Some(column), _) => Some(column),
        (None, AttributeKind::Url) => Some("(CASE WHEN status = 'pending' THEN NULL ELSE id END)"),
        (None, _) => None,
    }
}

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
    /// A list of texts (`_in`, `_any`, `_all`).
    Texts(Vec<String>),
    /// A list of whole numbers.
    Numbers(Vec<i64>),
    /// A list of booleans.
    Bools(Vec<bool>),
    /// A list of times.
    Times(Vec<chrono::DateTime<chrono::Utc>>),
}

/// The comparisons of `_eq`, `_not_eq`, `_lt`, `_lteq`, `_gt` and `_gteq`. As ransack's, a
/// null never meets one (`_not_eq` is `<>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `=`.
    Eq,
    /// `<>`.
    NotEq,
    /// `<`.
    Lt,
    /// `<=`.
    Lteq,
    /// `>`.
    Gt,
    /// `>=`.
    Gteq,
}

impl Comparison {
    fn sql(self) -> &'static str {
        match self {
            Comparison::Eq => "=",
            Comparison::NotEq => "<>",
            Comparison::Lt => "<",
            Comparison::Lteq => "<=",
            Comparison::Gt => ">",
            Comparison::Gteq => ">=",
        }
    }
}

/// Whether a list of values is met by meeting any one of them (`_any`) or all (`_all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    /// `_any`: OR over the values.
    Any,
    /// `_all`: AND over the values.
    All,
}

impl Quantifier {
    fn sql(self) -> &'static str {
        match self {
            Quantifier::Any => "ANY",
            Quantifier::All => "ALL",
        }
    }
}

/// The LIKE pattern a text predicate makes of its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// `_matches`: the value is the pattern, `%`, `_` and `\` meaning what LIKE makes them.
    AsGiven,
    /// `_cont`: the value, literally, anywhere.
    Contains,
    /// `_start`: the value, literally, at the start.
    Starts,
    /// `_end`: the value, literally, at the end.
    Ends,
}

impl Pattern {
    fn of(self, text: &str) -> String {
        match self {
            Pattern::AsGiven => text.to_owned(),
            Pattern::Contains => format!("%{}%", like_escaped(text)),
            Pattern::Starts => format!("{}%", like_escaped(text)),
            Pattern::Ends => format!("%{}", like_escaped(text)),
        }
    }
}

/// What a filter asks of its attributes (the reference API's ransack predicates).
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// `_eq`, `_not_eq`, `_lt`, `_lteq`, `_gt`, `_gteq`, `_true`, `_false`.
    Compare(Comparison, FilterValue),
    /// The `_any` and `_all` forms of a comparison (`_eq_any`, `_not_eq_all`, `_lt_any`...):
    /// the value is a list.
    CompareEach(Comparison, Quantifier, FilterValue),
    /// `_eq_or_null`, `_not_eq_or_null`: the comparison, or a null.
    CompareOrNull(Comparison, FilterValue),
    /// `_in`: one of a list.
    In(FilterValue),
    /// `_not_in`: none of a list (a null is in no list, and meets neither).
    NotIn(FilterValue),
    /// `_matches`, `_cont`, `_start`, `_end`, their negations (`negated`) and their `_any` /
    /// `_all` forms (`each`, with several texts). ILIKE, as ransack's on Postgres.
    Like {
        /// How each text becomes a pattern.
        pattern: Pattern,
        /// NOT ILIKE (`_does_not_match`, `_not_cont`...).
        negated: bool,
        /// `None` for one text; `_any` or `_all` over the texts.
        each: Option<Quantifier>,
        /// The texts given.
        texts: Vec<String>,
    },
    /// `_null` (true), `_not_null` (false).
    Null(bool),
    /// `_blank` (`blank` true: null or, for text, empty) and `_present` (false: neither).
    Blank {
        /// Blank rather than present.
        blank: bool,
        /// The attribute is text, so that an empty text counts as blank.
        text: bool,
    },
    /// `_jcont`: the JSON column contains this JSON (`@>`).
    JsonContains(serde_json::Value),
}

/// How the conditions on the attributes of one filter combine (`a_or_b_cont`, `a_and_b_cont`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combinator {
    /// Any of the attributes meets the predicate.
    Or,
    /// All of them do.
    And,
}

/// One condition of the list: a predicate on one or more attributes of `imports`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The columns or expressions (from [`attribute_sql`], never from the request).
    pub columns: Vec<&'static str>,
    /// How the columns' conditions combine when there are several.
    pub combinator: Combinator,
    /// What is asked of each.
    pub predicate: Predicate,
}

impl Filter {
    /// A filter on one column.
    pub fn on(column: &'static str, predicate: Predicate) -> Filter {
        Filter {
            columns: vec![column],
            combinator: Combinator::Or,
            predicate,
        }
    }
}

/// One key of the list's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// The column or expression (from [`attribute_sql`]).
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

impl Predicate {
    /// The one parameter the predicate binds, shared by the conditions on every attribute of
    /// its filter; `None` when it binds none.
    fn param(&self) -> Option<Param> {
        match self {
            Predicate::Compare(_, v)
            | Predicate::CompareEach(_, _, v)
            | Predicate::CompareOrNull(_, v)
            | Predicate::In(v)
            | Predicate::NotIn(v) => Some(param(v)),
            Predicate::Like {
                pattern,
                each,
                texts,
                ..
            } => {
                let mut patterns = texts.iter().map(|t| pattern.of(t));
                Some(match each {
                    None => Box::new(patterns.next().unwrap_or_default()),
                    Some(_) => Box::new(patterns.collect::<Vec<_>>()),
                })
            }
            Predicate::Null(_) | Predicate::Blank { .. } => None,
            Predicate::JsonContains(v) => Some(Box::new(v.clone())),
        }
    }

    /// The condition on `column`, its parameter written `p`.
    fn condition(&self, column: &str, p: &str) -> String {
        match self {
            Predicate::Compare(op, _) => format!("{column} {} {p}", op.sql()),
            Predicate::CompareEach(op, q, _) => format!("{column} {} {}({p})", op.sql(), q.sql()),
            Predicate::CompareOrNull(op, _) => {
                format!("({column} {} {p} OR {column} IS NULL)", op.sql())
            }
            Predicate::In(_) => format!("{column} = ANY({p})"),
            Predicate::NotIn(_) => format!("{column} <> ALL({p})"),
            Predicate::Like { negated, each, .. } => {
                let not = if *negated { "NOT " } else { "" };
                match each {
                    None => format!("{column} {not}ILIKE {p}"),
                    Some(q) => format!("{column} {not}ILIKE {}({p})", q.sql()),
                }
            }
            Predicate::Null(true) => format!("{column} IS NULL"),
            Predicate::Null(false) => format!("{column} IS NOT NULL"),
            Predicate::Blank { blank, text: true } => match blank {
                true => format!("({column} IS NULL OR {column} = '')"),
                false => format!("({column} IS NOT NULL AND {column} <> '')"),
            },
            Predicate::Blank { blank, text: false } => match blank {
                true => format!("{column} IS NULL"),
                false => format!("{column} IS NOT NULL"),
            },
            Predicate::JsonContains(_) => format!("{column} @> {p}"),
        }
    }
}

impl ImportQuery {
    /// The SQL conditions after the tenant's (`$1`, `$2`), with their parameters from `$3`.
    pub fn conditions(&self) -> (Vec<String>, Vec<Param>) {
        let mut conditions = Vec::with_capacity(self.filters.len());
        let mut params: Vec<Param> = Vec::new();
        for filter in &self.filters {
            let p = format!("${}", params.len() + 3);
            params.extend(filter.predicate.param());
            let mut parts: Vec<String> = filter
                .columns
                .iter()
                .map(|c| filter.predicate.condition(c, &p))
                .collect();
            let condition = if parts.len() == 1 {
                parts.remove(0)
            } else {
                let join = match filter.combinator {
                    Combinator::Or => " OR ",
                    Combinator::And => " AND ",
                };
                format!("({})", parts.join(join))
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
        FilterValue::Bools(v) => Box::new(v.clone()),
        FilterValue::Times(v) => Box::new(v.clone()),
    }
}

/// `text` matched literally by LIKE: its `\`, `%` and `_` escaped.
fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_predicate_becomes_its_condition_numbered_after_the_tenant() {
        let texts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let like = |pattern, negated, each, t: &[&str]| Predicate::Like {
            pattern,
            negated,
            each,
            texts: texts(t),
        };
        let q = ImportQuery {
            filters: vec![
                Filter::on("id", Predicate::In(FilterValue::Texts(texts(&["a"])))),
                Filter::on("status", Predicate::NotIn(FilterValue::Texts(vec![]))),
                Filter::on(
                    "errors_count",
                    Predicate::Compare(Comparison::Gteq, FilterValue::Number(1)),
                ),
                Filter::on("completed_at", Predicate::Null(true)),
                Filter::on(
                    "reference",
                    like(Pattern::Contains, false, None, &["50%_off\\"]),
                ),
                Filter::on(
                    "skip_errors",
                    Predicate::Compare(Comparison::NotEq, FilterValue::Bool(true)),
                ),
                Filter::on("started_at", Predicate::Null(false)),
                Filter::on(
                    "inputs_size",
                    Predicate::CompareEach(
                        Comparison::Lt,
                        Quantifier::All,
                        FilterValue::Numbers(vec![9, 10]),
                    ),
                ),
                Filter {
                    columns: vec!["reference", "reference_origin"],
                    combinator: Combinator::Or,
                    predicate: like(Pattern::Starts, true, Some(Quantifier::Any), &["a", "b"]),
                },
                Filter {
                    columns: vec!["reference", "parent_resource_id"],
                    combinator: Combinator::And,
                    predicate: Predicate::Blank {
                        blank: false,
                        text: true,
                    },
                },
                Filter::on(
                    "errors_count",
                    Predicate::Blank {
                        blank: true,
                        text: false,
                    },
                ),
                Filter::on(
                    "reference",
                    Predicate::CompareOrNull(Comparison::NotEq, FilterValue::Text("x".into())),
                ),
                Filter::on(
                    "metadata",
                    Predicate::JsonContains(serde_json::json!({"a": 1})),
                ),
                Filter::on("reference", like(Pattern::AsGiven, false, None, &["a%"])),
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
                "status <> ALL($4)",
                "errors_count >= $5",
                "completed_at IS NULL",
                "reference ILIKE $6",
                "skip_errors <> $7",
                "started_at IS NOT NULL",
                "inputs_size < ALL($8)",
                "(reference NOT ILIKE ANY($9) OR reference_origin NOT ILIKE ANY($9))",
                "((reference IS NOT NULL AND reference <> '') AND (parent_resource_id IS NOT NULL AND parent_resource_id <> ''))",
                "errors_count IS NULL",
                "(reference <> $10 OR reference IS NULL)",
                "metadata @> $11",
                "reference ILIKE $12",
            ]
        );
        assert_eq!(params.len(), 10);
        assert_eq!(like_escaped("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(Pattern::Contains.of("a_b"), "%a\\_b%");
        assert_eq!(Pattern::Starts.of("a%"), "a\\%%");
        assert_eq!(Pattern::Ends.of("a"), "%a");
        assert_eq!(Pattern::AsGiven.of("a%_"), "a%_");
        assert_eq!(q.order_by(), "created_at ASC, id ASC");
        let sorted = ImportQuery {
            sort: Some(vec![]),
            ..q
        };
        assert_eq!(sorted.order_by(), "id ASC");
    }

    #[test]
    fn attachment_url_is_an_expression_null_while_pending() {
        use imports_common::jsonapi::import_attribute;
        let sql = |name| attribute_sql(import_attribute(name).unwrap());
        assert_eq!(sql("status"), Some("status"));
        assert_eq!(
            sql("attachment_url"),
            Some("(CASE WHEN status = 'pending' THEN NULL ELSE id END)")
        );
        assert_eq!(sql("errors_log"), None);
    }
}
