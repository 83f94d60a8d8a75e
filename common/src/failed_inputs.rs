//! The failed-inputs report: every failed input with its errors and the input as it was
//! given, as CSV (a file a user can fix and import again) or as JSON.
//!
//! The original inputs are not copied anywhere when an error is logged: the report reads the
//! stored inputs again and picks the failed positions, so errors cost nothing extra on the
//! hot path.
//!
//! The CSV form has one row per failed input: the report's own columns first, `_row` (the
//! input's 1-based number), `_key` and `_errors` (one `attribute: message` a line), then the
//! input's columns as given (those of the header row for a CSV import, in the import's
//! delimiter; for a JSON import, every attribute any failed input has, objects and lists as
//! JSON text, null as an empty cell). An import ignores columns whose name starts with `_`,
//! so the file, fixed, can be imported again as it is. Every cell is neutralised against
//! spreadsheet formula injection (see [`neutralise`]).
//!
//! The JSON form is an array with one element per error:
//! `{"position" (0-based), "key", "attribute", "message", "input"}`, `input` being the
//! original object (a CSV row as `{column: value}`), or null where the input could not be
//! read as one (a row with the wrong number of fields, an element that is not an object) or
//! the error is about the file as a whole.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::inputs::{
    read_inputs_seeing_header, RawInput, RawRecord, ReadStop, DEFAULT_CSV_DELIMITER,
};
use crate::model::Format;
use crate::validate::IGNORED_COLUMN_PREFIX;

/// The report's own columns, before the input's.
pub const REPORT_COLUMNS: [&str; 3] = ["_row", "_key", "_errors"];

/// One error of one input: (key, attribute, message).
pub type Failure = (String, String, String);

/// The two forms of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// A CSV file to fix and import again.
    Csv,
    /// A JSON array, one element per error.
    Json,
}

/// Makes a cell safe to open in a spreadsheet: a cell that starts with `=`, `@`, a tab or a
/// carriage return, or with `+` or `-` without being a number, is prefixed with `'`. Numbers
/// such as `-3` are left as they are (a spreadsheet reads them as numbers, not formulas).
pub fn neutralise(cell: &str) -> String {
    let risky = match cell.chars().next() {
        Some('=' | '@' | '\t' | '\r') => true,
        Some('+' | '-') => cell.parse::<f64>().is_err(),
        _ => false,
    };
    if risky {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// The failures of a report, by input position in ascending order, each input's errors one
/// after another: what [`stream_report`] reads (storage hands them over page by page).
pub type Failures<'a> = Box<dyn Iterator<Item = std::io::Result<(i64, Failure)>> + 'a>;

/// Writes the report for `failures` (by input position) reading the original inputs from
/// `inputs` (of this format and CSV delimiter). Errors about the import as a whole
/// (unreadable inputs) have no input. The report is [`stream_report`]'s, with the inputs
/// read once into memory (the CSV report of a JSON import reads them twice).
pub fn write_report<R: Read, W: std::io::Write>(
    format: Format,
    csv_delimiter: u8,
    mut inputs: R,
    failures: &BTreeMap<i64, Vec<Failure>>,
    report: ReportFormat,
    out: W,
) -> anyhow::Result<()> {
    let mut bytes = Vec::new();
    inputs.read_to_end(&mut bytes)?;
    stream_report(
        format,
        csv_delimiter,
        report,
        || {
            let failures = failures
                .iter()
                .flat_map(|(p, errors)| errors.iter().map(move |e| Ok((*p, e.clone()))));
            Ok((&bytes[..], Box::new(failures) as Failures))
        },
        out,
    )
}

/// Writes the report as it goes, in memory bounded by one input and its errors whatever the
/// number of failures: `open` gives the original inputs and the failures in position order,
/// and is called once, or twice for the CSV report of a JSON import (its columns, every
/// attribute of its failed inputs, are known only once they have all been read). What was
/// written before an error is not a whole report: the caller must not pass it on as one.
pub fn stream_report<'a, R: Read, W: std::io::Write>(
    format: Format,
    csv_delimiter: u8,
    report: ReportFormat,
    mut open: impl FnMut() -> anyhow::Result<(R, Failures<'a>)>,
    out: W,
) -> anyhow::Result<()> {
    match report {
        ReportFormat::Json => {
            let (inputs, failures) = open()?;
            let mut sink = JsonSink { out, first: true };
            sink.out.write_all(b"[")?;
            merge(format, csv_delimiter, inputs, failures, &mut sink)?;
            sink.out.write_all(b"]")?;
            sink.out.flush()?;
        }
        ReportFormat::Csv => {
            let columns = match format {
                Format::Csv => None,
                Format::Json => {
                    let (inputs, failures) = open()?;
                    let mut sink = ColumnSink::default();
                    merge(format, csv_delimiter, inputs, failures, &mut sink)?;
                    Some(sink.columns)
                }
            };
            let delimiter = match format {
                Format::Csv => csv_delimiter,
                Format::Json => DEFAULT_CSV_DELIMITER,
            };
            let (inputs, failures) = open()?;
            let mut sink = CsvSink {
                csv: csv::WriterBuilder::new()
                    .delimiter(delimiter)
                    .from_writer(out),
                columns: columns.unwrap_or_default(),
            };
            merge(format, csv_delimiter, inputs, failures, &mut sink)?;
            sink.csv.flush()?;
        }
    }
    Ok(())
}

/// What a form of the report does with the inputs and their failures, in position order.
trait Sink {
    /// The header row of a CSV import (`None` for JSON, or a CSV file without rows), once,
    /// before the first failed input.
    fn headers(&mut self, headers: Option<&[String]>) -> anyhow::Result<()>;
    /// One failed input, with its errors, and the input as an object when it reads as one.
    fn failed(
        &mut self,
        position: i64,
        errors: &[Failure],
        input: Option<&Map<String, Value>>,
    ) -> anyhow::Result<()>;
}

/// The failures grouped by input.
struct Grouped<'a> {
    failures: std::iter::Peekable<Failures<'a>>,
}

impl Grouped<'_> {
    fn next_input(&mut self) -> anyhow::Result<Option<(i64, Vec<Failure>)>> {
        let Some(first) = self.failures.next() else {
            return Ok(None);
        };
        let (position, failure) = first?;
        let mut errors = vec![failure];
        while let Some(Ok((p, _))) = self.failures.peek() {
            if *p != position {
                break;
            }
            if let Some(Ok((_, f))) = self.failures.next() {
                errors.push(f);
            }
        }
        Ok(Some((position, errors)))
    }
}

/// Reads the inputs up to the last failed one, handing `sink` each failed input as it
/// comes, then the failures past the inputs read (about the file as a whole).
fn merge<R: Read>(
    format: Format,
    csv_delimiter: u8,
    inputs: R,
    failures: Failures<'_>,
    sink: &mut dyn Sink,
) -> anyhow::Result<()> {
    let mut groups = Grouped {
        failures: failures.peekable(),
    };
    let mut next = groups.next_input()?;
    let mut headers_given = false;
    // A CSV file's header row, read before its first row (even a malformed one).
    let header: RefCell<Option<Arc<[String]>>> = RefCell::new(None);
    let mut stopped: Option<anyhow::Error> = None;
    let mut step = |input: RawInput| -> anyhow::Result<bool> {
        let position = input.position as i64;
        if !headers_given {
            headers_given = true;
            sink.headers(header.borrow().as_deref())?;
        }
        while let Some((p, errors)) = next.take() {
            if p > position {
                next = Some((p, errors));
                break;
            }
            if p < position {
                sink.failed(p, &errors, None)?;
            } else {
                let object = match &input.record {
                    RawRecord::Json(map) => Some(map.clone()),
                    RawRecord::Csv { headers, values } => Some(
                        headers
                            .iter()
                            .cloned()
                            .zip(values.iter().cloned().map(Value::String))
                            .collect(),
                    ),
                    RawRecord::Malformed(_) => None,
                };
                sink.failed(p, &errors, object.as_ref())?;
            }
            next = groups.next_input()?;
        }
        Ok(next.is_some())
    };
    let mut seen = |h: &Arc<[String]>| *header.borrow_mut() = Some(h.clone());
    let read =
        read_inputs_seeing_header(
            format,
            csv_delimiter,
            inputs,
            0,
            &mut seen,
            |input| match step(input) {
                Ok(more) => more,
                Err(e) => {
                    stopped = Some(e);
                    false
                }
            },
        );
    if let Some(e) = stopped {
        return Err(e);
    }
    match read {
        Ok(_)
        | Err(ReadStop::Cancelled)
        | Err(ReadStop::Unreadable(_))
        | Err(ReadStop::InputTooLarge(_)) => {}
        Err(ReadStop::Io(e)) => anyhow::bail!("the stored inputs cannot be read: {e}"),
    }
    if !headers_given {
        sink.headers(header.borrow().as_deref())?;
    }
    while let Some((position, errors)) = next {
        sink.failed(position, &errors, None)?;
        next = groups.next_input()?;
    }
    Ok(())
}

/// One element of the JSON report.
#[derive(serde::Serialize)]
struct Item<'a> {
    position: i64,
    key: &'a str,
    attribute: &'a str,
    message: &'a str,
    input: Option<&'a Map<String, Value>>,
}

/// The JSON form: an array, one element per error.
struct JsonSink<W> {
    out: W,
    first: bool,
}

impl<W: std::io::Write> Sink for JsonSink<W> {
    fn headers(&mut self, _: Option<&[String]>) -> anyhow::Result<()> {
        Ok(())
    }

    fn failed(
        &mut self,
        position: i64,
        errors: &[Failure],
        input: Option<&Map<String, Value>>,
    ) -> anyhow::Result<()> {
        for (key, attribute, message) in errors {
            if !std::mem::take(&mut self.first) {
                self.out.write_all(b",")?;
            }
            let item = Item {
                position,
                key,
                attribute,
                message,
                input,
            };
            serde_json::to_writer(&mut self.out, &item)?;
        }
        Ok(())
    }
}

/// The first pass of a JSON import's CSV report: every attribute of its failed inputs, in
/// the order they first appear.
#[derive(Default)]
struct ColumnSink {
    columns: Vec<String>,
}

impl Sink for ColumnSink {
    fn headers(&mut self, _: Option<&[String]>) -> anyhow::Result<()> {
        Ok(())
    }

    fn failed(
        &mut self,
        _: i64,
        _: &[Failure],
        input: Option<&Map<String, Value>>,
    ) -> anyhow::Result<()> {
        for name in input.into_iter().flat_map(|m| m.keys()) {
            if !self.columns.contains(name) {
                self.columns.push(name.clone());
            }
        }
        Ok(())
    }
}

/// The CSV form: the report's columns, then the input's (the header row's for a CSV import,
/// the first pass's for JSON).
struct CsvSink<W: std::io::Write> {
    csv: csv::Writer<W>,
    columns: Vec<String>,
}

impl<W: std::io::Write> Sink for CsvSink<W> {
    fn headers(&mut self, headers: Option<&[String]>) -> anyhow::Result<()> {
        if let Some(headers) = headers {
            self.columns = headers.to_vec();
        }
        // A report imported again and failing again must not repeat its own columns. A name
        // that a header row cannot give back as it is (blank, spaces around it, or the same
        // as another once neutralised: a JSON attribute that no type has) would make the
        // file unreadable.
        let mut shown: Vec<String> = Vec::new();
        self.columns.retain(|c| {
            let s = neutralise(c);
            let keep = !c.starts_with(IGNORED_COLUMN_PREFIX)
                && !s.is_empty()
                && s.trim() == s
                && !shown.contains(&s);
            if keep {
                shown.push(s);
            }
            keep
        });
        self.csv.write_record(
            REPORT_COLUMNS
                .iter()
                .map(|c| c.to_string())
                .chain(self.columns.iter().map(|c| neutralise(c))),
        )?;
        Ok(())
    }

    fn failed(
        &mut self,
        position: i64,
        errors: &[Failure],
        input: Option<&Map<String, Value>>,
    ) -> anyhow::Result<()> {
        let key = errors.first().map(|(k, _, _)| k.as_str()).unwrap_or("");
        let messages: Vec<String> = errors
            .iter()
            .map(|(_, attribute, message)| format!("{attribute}: {message}"))
            .collect();
        let mut row = vec![
            (position + 1).to_string(),
            neutralise(key),
            neutralise(&messages.join("\n")),
        ];
        for column in &self.columns {
            let cell = match input.and_then(|m| m.get(column)) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            row.push(neutralise(&cell));
        }
        self.csv.write_record(&row)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formula_cells_are_neutralised_but_numbers_are_not() {
        for (given, shown) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "+1"),
            ("-3", "-3"),
            ("-1.5e3", "-1.5e3"),
            ("-1+1", "'-1+1"),
            ("+A1", "'+A1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("plain", "plain"),
            ("", ""),
        ] {
            assert_eq!(neutralise(given), shown, "{given:?}");
        }
    }

    fn failures(list: &[(i64, &str, &str, &str)]) -> BTreeMap<i64, Vec<Failure>> {
        let mut map: BTreeMap<i64, Vec<Failure>> = BTreeMap::new();
        for (position, key, attribute, message) in list {
            map.entry(*position).or_default().push((
                key.to_string(),
                attribute.to_string(),
                message.to_string(),
            ));
        }
        map
    }

    fn report(
        format: Format,
        delimiter: u8,
        inputs: &str,
        f: &BTreeMap<i64, Vec<Failure>>,
    ) -> (String, Value) {
        let mut csv = Vec::new();
        write_report(
            format,
            delimiter,
            inputs.as_bytes(),
            f,
            ReportFormat::Csv,
            &mut csv,
        )
        .unwrap();
        let mut json = Vec::new();
        write_report(
            format,
            delimiter,
            inputs.as_bytes(),
            f,
            ReportFormat::Json,
            &mut json,
        )
        .unwrap();
        (
            String::from_utf8(csv).unwrap(),
            serde_json::from_slice(&json).unwrap(),
        )
    }

    #[test]
    fn a_csv_import_s_report_is_its_failed_rows_with_their_errors_first() {
        let inputs = "code;name;_row\nA;a;x\n=CMD();;y\nC;c;z\nD;d,\"e\";w\n";
        let f = failures(&[
            (1, "=CMD()", "name", "can't be blank"),
            (1, "=CMD()", "code", "is odd"),
            (3, "D", "name", "is too \"quoted\""),
        ]);
        let (csv, json) = report(Format::Csv, b';', inputs, &f);
        assert_eq!(
            csv,
            "_row;_key;_errors;code;name\n\
             2;'=CMD();\"name: can't be blank\ncode: is odd\";'=CMD();\n\
             4;D;\"name: is too \"\"quoted\"\"\";D;\"d,\"\"e\"\"\"\n"
        );
        assert_eq!(
            json,
            json!([
                {"position": 1, "key": "=CMD()", "attribute": "name", "message": "can't be blank",
                 "input": {"code": "=CMD()", "name": "", "_row": "y"}},
                {"position": 1, "key": "=CMD()", "attribute": "code", "message": "is odd",
                 "input": {"code": "=CMD()", "name": "", "_row": "y"}},
                {"position": 3, "key": "D", "attribute": "name", "message": "is too \"quoted\"",
                 "input": {"code": "D", "name": "d,\"e\"", "_row": "w"}},
            ])
        );
    }

    #[test]
    fn a_json_import_s_report_has_a_column_per_attribute_of_its_failed_inputs() {
        let inputs = r#"[{"code":"A","name":"a"}, 7, {"code":"B","metadata":{"k":1},"tags":["x","y"],"name":null,"n":5}]"#;
        let f = failures(&[
            (1, "unknown", "input", "is not an object but a number"),
            (2, "B", "name", "can't be blank"),
            (3, "unknown", "inputs", "the JSON inputs end too early"),
        ]);
        let (csv, json) = report(Format::Json, b',', inputs, &f);
        let mut rdr = csv::Reader::from_reader(csv.as_bytes());
        assert_eq!(
            rdr.headers().unwrap(),
            vec!["_row", "_key", "_errors", "code", "metadata", "tags", "name", "n"]
        );
        let rows: Vec<Vec<String>> = rdr
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        assert_eq!(
            rows,
            vec![
                vec![
                    "2",
                    "unknown",
                    "input: is not an object but a number",
                    "",
                    "",
                    "",
                    "",
                    ""
                ],
                vec![
                    "3",
                    "B",
                    "name: can't be blank",
                    "B",
                    "{\"k\":1}",
                    "[\"x\",\"y\"]",
                    "",
                    "5"
                ],
                vec![
                    "4",
                    "unknown",
                    "inputs: the JSON inputs end too early",
                    "",
                    "",
                    "",
                    "",
                    ""
                ],
            ]
        );
        assert_eq!(json[0]["input"], Value::Null);
        assert_eq!(json[1]["position"], 2);
        assert_eq!(json[1]["input"]["metadata"], json!({"k": 1}));
        assert_eq!(json[2]["attribute"], "inputs");
    }

    #[test]
    fn names_a_header_row_cannot_give_back_are_left_out() {
        // Found by the round-trip property test: a report with such a header row could not be
        // read again ("column 4 of the CSV header row has no name").
        let inputs = r#"[{"code":"A", "":1, " x":2, "=y":3, "'=y":4, "\r":5}]"#;
        let f = failures(&[(0, "A", "name", "can't be blank")]);
        let (csv, _) = report(Format::Json, b',', inputs, &f);
        assert_eq!(
            csv,
            "_row,_key,_errors,code,'=y\n1,A,name: can't be blank,A,3\n"
        );
    }

    #[test]
    fn no_failures_is_a_header_row_or_an_empty_array() {
        let (csv, json) = report(Format::Csv, b',', "code,name\nA,a\n", &BTreeMap::new());
        assert_eq!(csv, "_row,_key,_errors,code,name\n");
        assert_eq!(json, json!([]));
    }
}
