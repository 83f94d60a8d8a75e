//! The failed-inputs report: one CSV line per error, with the input as it was given, so a
//! user can fix the rows and import them again.
//!
//! The original inputs are not copied anywhere when an error is logged: the report reads the
//! stored inputs again and picks the failed positions, so errors cost nothing extra on the
//! hot path. Every cell is neutralised against spreadsheet formula injection: a cell that
//! starts with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::{Map, Value};

use crate::inputs::{read_inputs, RawRecord, ReadStop};
use crate::model::Format;

/// The report's header row.
pub const HEADER: [&str; 5] = ["row", "key", "attribute", "message", "input"];

/// One error of one input: (key, attribute, message).
pub type Failure = (String, String, String);

/// Makes a cell safe to open in a spreadsheet.
pub fn neutralise(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

/// Writes the report for `failures` (by input position) reading the original inputs from
/// `inputs`. `row` is the input's 1-based number (for CSV, its data row after the header).
/// Errors about the import as a whole (unreadable inputs) have an empty `input`.
pub fn write_report<R: Read, W: std::io::Write>(
    format: Format,
    csv_delimiter: u8,
    inputs: R,
    failures: &BTreeMap<i64, Vec<Failure>>,
    out: W,
) -> anyhow::Result<()> {
    let mut csv = csv::WriterBuilder::new().from_writer(out);
    csv.write_record(HEADER)?;
    let mut originals: BTreeMap<i64, String> = BTreeMap::new();
    let last = failures.keys().next_back().copied().unwrap_or(-1);
    let read = read_inputs(format, csv_delimiter, inputs, 0, |input| {
        let position = input.position as i64;
        if failures.contains_key(&position) {
            originals.insert(position, original_text(&input.record));
        }
        position < last
    });
    match read {
        Ok(_) | Err(ReadStop::Cancelled) | Err(ReadStop::Unreadable(_)) => {}
        Err(ReadStop::Io(e)) => anyhow::bail!("the stored inputs cannot be read: {e}"),
    }
    for (position, errors) in failures {
        let input = originals.get(position).map(String::as_str).unwrap_or("");
        for (key, attribute, message) in errors {
            let row = (position + 1).to_string();
            let cells = [row.as_str(), key, attribute, message, input];
            csv.write_record(cells.iter().map(|c| neutralise(c)))?;
        }
    }
    csv.flush()?;
    Ok(())
}

/// The input as given: a JSON object as JSON, a CSV row as `column: value` JSON.
fn original_text(record: &RawRecord) -> String {
    match record {
        RawRecord::Json(map) => Value::Object(map.clone()).to_string(),
        RawRecord::Csv { headers, values } => {
            let map: Map<String, Value> = headers
                .iter()
                .cloned()
                .zip(values.iter().map(|v| Value::String(v.clone())))
                .collect();
            Value::Object(map).to_string()
        }
        RawRecord::Malformed(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        for (given, shown) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-1+1", "'-1+1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("plain", "plain"),
            ("", ""),
        ] {
            assert_eq!(neutralise(given), shown);
        }
    }

    #[test]
    fn the_report_lists_each_error_with_its_original_input() {
        let inputs = "code,name\nA,a\n=CMD(),\nC,c\n";
        let mut failures = BTreeMap::new();
        failures.insert(
            1,
            vec![(
                "=CMD()".to_string(),
                "name".to_string(),
                "can't be blank".to_string(),
            )],
        );
        let mut out = Vec::new();
        write_report(Format::Csv, b',', inputs.as_bytes(), &failures, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "row,key,attribute,message,input\n2,'=CMD(),name,can't be blank,\"{\"\"code\"\":\"\"=CMD()\"\",\"\"name\"\":\"\"\"\"}\"\n"
        );
    }
}
