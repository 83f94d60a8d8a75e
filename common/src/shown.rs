//! An attribute's value as a resource shows it, borrowed from the resource and written
//! straight into a response: a list page built as `serde_json::Value` trees spent more in
//! allocating and hashing their keys than in anything else.

use std::fmt;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::model::{ErrorsLog, WarningsLog};

/// The value of one attribute of a resource, as an attribute table renders it.
#[derive(Debug, Clone, Copy)]
pub enum Shown<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A string.
    Text(&'a str),
    /// A string of one character (a CSV delimiter).
    Char(char),
    /// A time, as [`Timestamp`] writes it.
    Time(DateTime<Utc>),
    /// Any JSON (inputs, metadata).
    Json(&'a Value),
    /// An errors_log.
    Errors(&'a ErrorsLog),
    /// A warnings_log.
    Warnings(&'a WarningsLog),
    /// An array of strings.
    Texts(&'a [String]),
}

impl<'a> Shown<'a> {
    /// A string, or null.
    pub fn text(value: Option<&'a str>) -> Self {
        value.map_or(Shown::Null, Shown::Text)
    }

    /// A time, or null.
    pub fn time(value: Option<DateTime<Utc>>) -> Self {
        value.map_or(Shown::Null, Shown::Time)
    }

    /// The value as a `serde_json::Value`, for what keeps or edits it (a webhook payload).
    pub fn to_value(self) -> Value {
        // Every variant serializes (its maps have string keys), so the error arm is not met.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl Serialize for Shown<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Shown::Null => s.serialize_unit(),
            Shown::Bool(b) => s.serialize_bool(b),
            Shown::Int(n) => s.serialize_i64(n),
            Shown::Text(t) => s.serialize_str(t),
            Shown::Char(c) => s.serialize_char(c),
            Shown::Time(t) => s.collect_str(&Timestamp(t)),
            Shown::Json(v) => v.serialize(s),
            Shown::Errors(log) => log.serialize(s),
            Shown::Warnings(log) => log.serialize(s),
            Shown::Texts(texts) => texts.serialize(s),
        }
    }
}

/// A timestamp as every resource of the API shows it: RFC 3339, milliseconds, `Z`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    Timestamp(t).to_string()
}

/// A time as every resource of the API shows it: RFC 3339 in UTC, to the millisecond, `Z`
/// (`2026-01-02T03:04:05.678Z`), written without an intermediate string.
#[derive(Debug, Clone, Copy)]
pub struct Timestamp(pub DateTime<Utc>);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0.naive_utc();
        // chrono keeps a leap second as the 59th second's nanoseconds past a billion, and
        // writes it as second 60.
        let nanos = t.nanosecond();
        let (second, millis) = match nanos {
            1_000_000_000.. => (60, (nanos - 1_000_000_000) / 1_000_000),
            _ => (t.second(), nanos / 1_000_000),
        };
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{SecondsFormat, TimeZone};

    #[test]
    fn a_timestamp_is_written_as_chrono_writes_it() {
        let times = [
            Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            Utc.timestamp_opt(1_796_000_000, 123_456_789).unwrap(),
            Utc.timestamp_opt(0, 999_999_999).unwrap(),
            Utc.timestamp_opt(1_483_228_799, 1_500_000_000).unwrap(),
            Utc.with_ymd_and_hms(1, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
        ];
        for t in times {
            assert_eq!(
                Timestamp(t).to_string(),
                t.to_rfc3339_opts(SecondsFormat::Millis, true)
            );
        }
    }

    #[test]
    fn a_value_serializes_as_its_json_form() {
        let mut errors = ErrorsLog::default();
        errors.add("A", "name", "can't be blank");
        let texts = vec!["x".to_owned()];
        let metadata = serde_json::json!({"a": [1, null]});
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        for (shown, json) in [
            (Shown::Null, "null"),
            (Shown::Bool(true), "true"),
            (Shown::Int(-7), "-7"),
            (Shown::Text("é\"\n"), r#""é\"\n""#),
            (Shown::Char(';'), r#"";""#),
            (Shown::Time(t), r#""2026-01-02T03:04:05.000Z""#),
            (Shown::Json(&metadata), r#"{"a":[1,null]}"#),
            (
                Shown::Errors(&errors),
                r#"{"A":{"name":["can't be blank"]}}"#,
            ),
            (Shown::Texts(&texts), r#"["x"]"#),
        ] {
            assert_eq!(serde_json::to_string(&shown).unwrap(), json);
            assert_eq!(
                shown.to_value(),
                serde_json::from_str::<Value>(json).unwrap()
            );
        }
    }
}
