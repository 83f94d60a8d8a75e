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

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::inputs::{read_inputs, RawRecord, ReadStop, DEFAULT_CSV_DELIMITER};
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

/// What the report needs of the original inputs.
#[derive(Default)]
struct Originals {
    /// A CSV import's header row.
    headers: Option<Arc<[String]>>,
    /// The failed inputs that could be read as objects, by position.
    inputs: BTreeMap<i64, Map<String, Value>>,
}

fn read_originals<R: Read>(
    format: Format,
    csv_delimiter: u8,
    inputs: R,
    failures: &BTreeMap<i64, Vec<Failure>>,
) -> anyhow::Result<Originals> {
    let mut originals = Originals::default();
    let last = failures.keys().next_back().copied().unwrap_or(-1);
    let read = read_inputs(format, csv_delimiter, inputs, 0, |input| {
        let position = input.position as i64;
        if let RawRecord::Csv { headers, .. } = &input.record {
            originals.headers.get_or_insert_with(|| headers.clone());
        }
        if failures.contains_key(&position) {
            let object = match input.record {
                RawRecord::Json(map) => Some(map),
                RawRecord::Csv { headers, values } => Some(
                    headers
                        .iter()
                        .cloned()
                        .zip(values.into_iter().map(Value::String))
                        .collect(),
                ),
                RawRecord::Malformed(_) => None,
            };
            if let Some(object) = object {
                originals.inputs.insert(position, object);
            }
        }
        position < last
    });
    match read {
        Ok(_) | Err(ReadStop::Cancelled) | Err(ReadStop::Unreadable(_)) => Ok(originals),
        Err(ReadStop::Io(e)) => anyhow::bail!("the stored inputs cannot be read: {e}"),
    }
}

/// Writes the report for `failures` (by input position) reading the original inputs from
/// `inputs` (of this format and CSV delimiter). Errors about the import as a whole
/// (unreadable inputs) have no input.
pub fn write_report<R: Read, W: std::io::Write>(
    format: Format,
    csv_delimiter: u8,
    inputs: R,
    failures: &BTreeMap<i64, Vec<Failure>>,
    report: ReportFormat,
    out: W,
) -> anyhow::Result<()> {
    let originals = read_originals(format, csv_delimiter, inputs, failures)?;
    match report {
        ReportFormat::Json => write_json(&originals, failures, out),
        ReportFormat::Csv => {
            let delimiter = match format {
                Format::Csv => csv_delimiter,
                Format::Json => DEFAULT_CSV_DELIMITER,
            };
            write_csv(&originals, failures, delimiter, out)
        }
    }
}

fn write_json<W: std::io::Write>(
    originals: &Originals,
    failures: &BTreeMap<i64, Vec<Failure>>,
    mut out: W,
) -> anyhow::Result<()> {
    let mut items = Vec::new();
    for (position, errors) in failures {
        let input = originals
            .inputs
            .get(position)
            .map(|m| Value::Object(m.clone()))
            .unwrap_or(Value::Null);
        for (key, attribute, message) in errors {
            items.push(json!({
                "position": position,
                "key": key,
                "attribute": attribute,
                "message": message,
                "input": input,
            }));
        }
    }
    serde_json::to_writer(&mut out, &items)?;
    out.flush()?;
    Ok(())
}

fn write_csv<W: std::io::Write>(
    originals: &Originals,
    failures: &BTreeMap<i64, Vec<Failure>>,
    delimiter: u8,
    out: W,
) -> anyhow::Result<()> {
    // The input's columns: the header row's, or every attribute of the failed JSON inputs.
    let mut columns: Vec<String> = Vec::new();
    match &originals.headers {
        Some(headers) => columns.extend(headers.iter().cloned()),
        None => {
            for input in originals.inputs.values() {
                for name in input.keys() {
                    if !columns.contains(name) {
                        columns.push(name.clone());
                    }
                }
            }
        }
    }
    // A report imported again and failing again must not repeat its own columns. A name that
    // a header row cannot give back as it is (blank, spaces around it, or the same as another
    // once neutralised: a JSON attribute that no type has) would make the file unreadable.
    let mut shown: Vec<String> = Vec::new();
    columns.retain(|c| {
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

    let mut csv = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_writer(out);
    csv.write_record(
        REPORT_COLUMNS
            .iter()
            .map(|c| c.to_string())
            .chain(columns.iter().map(|c| neutralise(c))),
    )?;
    for (position, errors) in failures {
        let key = errors.first().map(|(k, _, _)| k.as_str()).unwrap_or("");
        let messages: Vec<String> = errors
            .iter()
            .map(|(_, attribute, message)| format!("{attribute}: {message}"))
            .collect();
        let input = originals.inputs.get(position);
        let mut row = vec![
            (position + 1).to_string(),
            neutralise(key),
            neutralise(&messages.join("\n")),
        ];
        for column in &columns {
            let cell = match input.and_then(|m| m.get(column)) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            row.push(neutralise(&cell));
        }
        csv.write_record(&row)?;
    }
    csv.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
