//! The import object: its fields, its status machine and its logs.
//!
//! Everything the API shows of an import and everything the worker changes on it is typed
//! here, so that the rules (which transitions are legal, how the logs serialize) live in one
//! place.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where an import is in its life. `Completed` and `Interrupted` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Created, waiting for a worker.
    Pending,
    /// Claimed by a worker that is writing its batches.
    InProgress,
    /// Stopped early: on request, past the error threshold, or on an unreadable file.
    Interrupted,
    /// Every input was handled.
    Completed,
}

impl Status {
    /// Every status, in life order.
    pub const ALL: [Status; 4] = [
        Status::Pending,
        Status::InProgress,
        Status::Interrupted,
        Status::Completed,
    ];

    /// The name used in the API and in the database (const, so that lists of names can be
    /// built from it at compile time, as the CLI's are).
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::InProgress => "in_progress",
            Status::Interrupted => "interrupted",
            Status::Completed => "completed",
        }
    }

    /// Whether nothing can change this status any more.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Interrupted | Status::Completed)
    }

    /// The one place that says which transitions are legal:
    /// pending -> in_progress -> completed, and interrupted from pending or in_progress.
    pub fn can_become(self, next: Status) -> bool {
        use Status::*;
        matches!(
            (self, next),
            (Pending, InProgress)
                | (Pending, Interrupted)
                | (InProgress, Completed)
                | (InProgress, Interrupted)
        )
    }

    /// The statuses from which `next` may be reached, for use in SQL `WHERE status = ANY(..)`.
    pub fn sources_of(next: Status) -> Vec<&'static str> {
        Status::ALL
            .iter()
            .filter(|s| s.can_become(next))
            .map(|s| s.as_str())
            .collect()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownValue::new("status", s))
    }
}

/// The encoding of an import's inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// A JSON array of objects (the default).
    #[default]
    Json,
    /// One string: a header row, then one record a line.
    Csv,
}

impl Format {
    /// The name used in the API and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }

    /// The format a file's extension says (`.csv`, `.json`, in any case), or `None`: what
    /// a client that reads a file from disk (importctl) goes by when not told the format.
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        ext.parse().ok()
    }
}

impl FromStr for Format {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            other => Err(UnknownValue::new("format", other)),
        }
    }
}

/// The environment of a tenant's data: test and live never mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Data made while integrating.
    Test,
    /// Production data.
    Live,
}

impl Mode {
    /// The name used in the API and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Test => "test",
            Mode::Live => "live",
        }
    }
}

impl FromStr for Mode {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "test" => Ok(Mode::Test),
            "live" => Ok(Mode::Live),
            other => Err(UnknownValue::new("mode", other)),
        }
    }
}

/// A string that is not one of an enumeration's values.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{field}: '{value}' is not a valid value")]
pub struct UnknownValue {
    /// Which enumeration.
    pub field: &'static str,
    /// What was given.
    pub value: String,
}

impl UnknownValue {
    /// The error for `value`, not one of `field`'s values.
    pub fn new(field: &'static str, value: &str) -> Self {
        UnknownValue {
            field,
            value: value.to_owned(),
        }
    }
}

/// Who owns a piece of data: an organization, in one mode.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tenant {
    /// The organization's key in every table: the slug of an organization with OAuth2
    /// applications, or the name an `imp_` API token was made for.
    pub organization_id: String,
    /// Test or live.
    pub mode: Mode,
}

/// `errors_log`: input key -> attribute -> messages, e.g.
/// `{"SKU001": {"name": ["can't be blank"]}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ErrorsLog(pub BTreeMap<String, BTreeMap<String, Vec<String>>>);

impl ErrorsLog {
    /// Records one message for `attribute` of the input identified by `key`.
    pub fn add(&mut self, key: &str, attribute: &str, message: impl Into<String>) {
        self.0
            .entry(key.to_owned())
            .or_default()
            .entry(attribute.to_owned())
            .or_default()
            .push(message.into());
    }

    /// Whether no error was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `warnings_log`: input key -> messages, e.g.
/// `{"SKU003": ["metadata.color was ignored: unknown attribute"]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WarningsLog(pub BTreeMap<String, Vec<String>>);

impl WarningsLog {
    /// Records one warning for the input identified by `key`.
    pub fn add(&mut self, key: &str, message: impl Into<String>) {
        self.0
            .entry(key.to_owned())
            .or_default()
            .push(message.into());
    }

    /// Whether no warning was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An import, with every field of the reference API's import object.
#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    /// The import's unique identifier.
    pub id: String,
    /// Who owns it.
    pub tenant: Tenant,
    /// The type of resource being imported (a catalogue name such as `skus`).
    pub resource_type: String,
    /// How the inputs are encoded.
    pub format: Format,
    /// The field delimiter of CSV inputs (`None` for JSON, or `,` for a CSV import that
    /// predates the attribute).
    pub csv_delimiter: Option<u8>,
    /// The parent of every input (a price list for prices...), when given.
    pub parent_resource_id: Option<String>,
    /// Ours: processed in full, nothing written to the resource tables.
    pub dry_run: bool,
    /// Where the import is in its life.
    pub status: Status,
    /// When a worker first claimed it.
    pub started_at: Option<DateTime<Utc>>,
    /// When its last input was handled.
    pub completed_at: Option<DateTime<Utc>>,
    /// When it stopped early.
    pub interrupted_at: Option<DateTime<Utc>>,
    /// The raw inputs, shown only while the import is pending (a JSON array, or the CSV text).
    pub inputs: Option<serde_json::Value>,
    /// The number of inputs.
    pub inputs_size: i64,
    /// Inputs rejected so far.
    pub errors_count: i64,
    /// Warnings raised so far.
    pub warnings_count: i64,
    /// Records created or updated so far.
    pub processed_count: i64,
    /// Of those, inputs that created a record (ours).
    pub created_count: i64,
    /// Of those, inputs that changed an existing record (ours); the others found it as given.
    pub updated_count: i64,
    /// Why inputs were rejected.
    pub errors_log: ErrorsLog,
    /// What was noticed but not fatal.
    pub warnings_log: WarningsLog,
    /// Where the raw inputs can be downloaded once the import has started.
    pub attachment_url: Option<String>,
    /// Whether to go on past the 10% error threshold.
    pub skip_errors: bool,
    /// Whether an interruption was asked for (written as `_interrupt`).
    pub interrupt_requested: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// An external identifier.
    pub reference: Option<String>,
    /// The system that defines `reference`.
    pub reference_origin: Option<String>,
    /// Free key-value pairs.
    pub metadata: serde_json::Value,
}

/// A CSV delimiter as the API shows it (a tab is the tab character).
pub fn csv_delimiter_text(delimiter: u8) -> String {
    char::from(delimiter).to_string()
}

impl Import {
    /// Whether an import has handled every input it was given.
    pub fn handled_count(&self) -> i64 {
        self.processed_count + self.errors_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_documented_transitions_are_legal() {
        use Status::*;
        let legal: Vec<(Status, Status)> = Status::ALL
            .iter()
            .flat_map(|a| Status::ALL.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a.can_become(*b))
            .collect();
        assert_eq!(
            legal,
            vec![
                (Pending, InProgress),
                (Pending, Interrupted),
                (InProgress, Interrupted),
                (InProgress, Completed)
            ]
        );
        for s in [Completed, Interrupted] {
            assert!(s.is_final());
            assert!(Status::ALL.iter().all(|n| !s.can_become(*n)));
        }
        assert_eq!(
            Status::sources_of(Interrupted),
            vec!["pending", "in_progress"]
        );
    }

    #[test]
    fn enums_round_trip_through_their_names() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
        }
        assert_eq!("csv".parse::<Format>().unwrap(), Format::Csv);
        assert_eq!("live".parse::<Mode>().unwrap(), Mode::Live);
        assert!("xml".parse::<Format>().is_err());
        assert!("done".parse::<Status>().is_err());
    }

    #[test]
    fn formats_come_from_extensions() {
        use std::path::Path;
        assert_eq!(Format::from_path(Path::new("a/b.CSV")), Some(Format::Csv));
        assert_eq!(Format::from_path(Path::new("b.json")), Some(Format::Json));
        assert_eq!(Format::from_path(Path::new("b.xlsx")), None);
        assert_eq!(Format::from_path(Path::new("b")), None);
    }

    #[test]
    fn logs_serialize_as_the_spec_shows() {
        let mut errors = ErrorsLog::default();
        errors.add("SKU001", "name", "can't be blank");
        errors.add("SKU002", "shipping_category", "must exist");
        assert_eq!(
            serde_json::to_value(&errors).unwrap(),
            serde_json::json!({"SKU001": {"name": ["can't be blank"]}, "SKU002": {"shipping_category": ["must exist"]}})
        );
        let mut warnings = WarningsLog::default();
        warnings.add("SKU003", "metadata.color was ignored: unknown attribute");
        assert_eq!(
            serde_json::to_value(&warnings).unwrap(),
            serde_json::json!({"SKU003": ["metadata.color was ignored: unknown attribute"]})
        );
    }
}
