//! An import's log entries (`import_log_entries`): one error or warning about one input, and
//! the errors_log and warnings_log built from the first of them.

use crate::client::Db;

use imports_common::model::Import;

/// One error or warning about one input.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// The input's position in the file.
    pub position: i64,
    /// `error` or `warning`.
    pub severity: Severity,
    /// The input's key (its code, email... or `unknown`).
    pub key: String,
    /// The attribute concerned (errors only).
    pub attribute: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// How bad a log entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The input was not written.
    Error,
    /// The input was written, something was ignored.
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// How many entries of each severity an import's errors_log and warnings_log show: an import
/// of a million identical records has a million "nothing changed" warnings, and reading one
/// must not load them all. The failed-inputs report lists every error, page by page.
pub const LOG_ENTRIES_SHOWN: i64 = 1000;

/// The select-list columns of a statement reading imports as `p`: the first entries of
/// each severity (at most parameter `$limit`), as the arrays `error_keys`,
/// `error_attributes`, `error_messages`, `warning_keys` and `warning_messages`, which
/// [`add_log_entries`] reads.
///
/// An import's entries are looked for only where it can have some: an error entry is
/// counted in `errors_count` in the transaction that writes it, unless it is about the
/// import as a whole, which is written only as the import is interrupted; every warning
/// entry is counted in `warnings_count`. Most imports have neither, and a list page read
/// each one's (empty) logs at more than the cost of the rest of the page.
pub(crate) fn log_entries_columns(limit: usize) -> String {
    let array = |column: &str, severity: &str, guard: &str| {
        format!(
            "CASE WHEN {guard} THEN ARRAY(
                 SELECT {column} FROM import_log_entries
                 WHERE import_id = p.id AND severity = '{severity}'
                 ORDER BY position, ctid LIMIT ${limit}::int8) END AS {severity}_{column}s"
        )
    };
    let errors = "p.errors_count > 0 OR p.status = 'interrupted'";
    let warnings = "p.warnings_count > 0";
    [
        array("key", "error", errors),
        array("attribute", "error", errors),
        array("message", "error", errors),
        array("key", "warning", warnings),
        array("message", "warning", warnings),
    ]
    .join(",\n")
}

/// Fills an import's errors_log and warnings_log from the arrays of [`log_entries_columns`].
pub(crate) fn add_log_entries(row: &tokio_postgres::Row, import: &mut Import) {
    let texts = |name: &str| -> Vec<String> { row.get::<_, Option<_>>(name).unwrap_or_default() };
    let messages = texts("error_messages");
    let attributes: Vec<Option<String>> = row
        .get::<_, Option<_>>("error_attributes")
        .unwrap_or_default();
    for ((key, attribute), message) in texts("error_keys").iter().zip(&attributes).zip(messages) {
        import
            .errors_log
            .add(key, attribute.as_deref().unwrap_or("input"), message);
    }
    for (key, message) in texts("warning_keys").iter().zip(texts("warning_messages")) {
        import.warnings_log.add(key, message);
    }
}

/// How many error entries a page of [`error_entries_page`] holds at least (unless it is
/// the last): the failed-inputs report reads them page by page, whatever their number.
pub const ERROR_PAGE_ENTRIES: i64 = 1000;

/// A page of an import's error entries, in input order, of the inputs after position
/// `after` (`-1` for the first page): at least `limit` entries, and all of the entries of
/// each input it holds, so the next page starts after its last position. Empty past the
/// last (for the failed-inputs report, which streams them).
pub async fn error_entries_page<C: Db>(
    client: &C,
    id: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<LogEntry>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT position, key, attribute, message FROM import_log_entries
             WHERE import_id = $1 AND severity = 'error' AND position > $2
               AND position <= (SELECT max(position) FROM (
                   SELECT position FROM import_log_entries
                   WHERE import_id = $1 AND severity = 'error' AND position > $2
                   ORDER BY position LIMIT $3) page)
             ORDER BY position, ctid",
            &[&id, &after, &limit],
        )
        .await?
        .iter()
        .map(|r| LogEntry {
            position: r.get(0),
            severity: Severity::Error,
            key: r.get(1),
            attribute: r.get(2),
            message: r.get(3),
        })
        .collect())
}

/// Writes log entries in one statement.
pub async fn insert_log_entries<C: Db>(
    client: &C,
    import_id: &str,
    entries: &[LogEntry],
) -> Result<(), tokio_postgres::Error> {
    if entries.is_empty() {
        return Ok(());
    }
    let positions: Vec<i64> = entries.iter().map(|e| e.position).collect();
    let severities: Vec<&str> = entries.iter().map(|e| e.severity.as_str()).collect();
    let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    let attributes: Vec<Option<&str>> = entries.iter().map(|e| e.attribute.as_deref()).collect();
    let messages: Vec<&str> = entries.iter().map(|e| e.message.as_str()).collect();
    client
        .execute(
            "INSERT INTO import_log_entries (import_id, position, severity, key, attribute, message)
             SELECT $1, * FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[], $6::text[])",
            &[&import_id, &positions, &severities, &keys, &attributes, &messages],
        )
        .await?;
    Ok(())
}
