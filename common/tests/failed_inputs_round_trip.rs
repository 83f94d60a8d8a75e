//! Property tests of the failed-inputs report's CSV form (`imports_common::failed_inputs`): a
//! report written as CSV and read back with the project's CSV reader gives the cells of the
//! original inputs, as the reader read them, with the formula neutralising rule applied, and
//! no cell a spreadsheet would run as a formula.

use std::collections::BTreeMap;

use imports_common::failed_inputs::{write_report, Failure, ReportFormat, REPORT_COLUMNS};
use imports_common::inputs::{read_inputs, RawRecord};
use imports_common::model::Format;
use proptest::prelude::*;
use serde_json::{Map, Value};

/// The rule, written again from its documentation: a cell that starts with `=`, `@`, a tab or
/// a carriage return, or with `+` or `-` without being a number, is prefixed with `'`.
fn neutralised(cell: &str) -> String {
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

/// Text with what CSV and spreadsheets treat specially: delimiters, quotes, line ends,
/// formula starts, numbers, non-ASCII.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        "[=+@\t\r\n\",; a-c0-9.'é_-]{0,8}",
        Just(String::new()),
        Just("-1.5e3".to_owned()),
        Just("=HYPERLINK(\"x\")".to_owned()),
    ]
}

/// A column or attribute name, some with what the reader trims or the report neutralises.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-c]{1,3}",
        1 => "[=+@'_ a-c-]{0,4}",
    ]
}

fn delimiter() -> impl Strategy<Value = u8> {
    prop_oneof![Just(b','), Just(b';'), Just(b'\t')]
}

/// The failures of some of the positions (past the end too: errors about the whole file).
fn failures(inputs: usize) -> impl Strategy<Value = BTreeMap<i64, Vec<Failure>>> {
    let failure = (cell(), name(), cell()).prop_map(|(k, a, m)| (k, a, m));
    prop::collection::btree_map(
        0..(inputs as i64 + 2),
        prop::collection::vec(failure, 1..3),
        0..=inputs + 1,
    )
}

/// Everything a reader gives of `text`, or `None` when it refuses the file.
fn read(format: Format, delimiter: u8, text: &[u8]) -> Option<Vec<RawRecord>> {
    let mut records = Vec::new();
    read_inputs(format, delimiter, text, 0, |input| {
        records.push(input.record);
        true
    })
    .ok()?;
    Some(records)
}

/// The report of `failures`, read back with the project's reader: its header row and rows.
fn report_read_back(
    format: Format,
    delimiter: u8,
    text: &[u8],
    failures: &BTreeMap<i64, Vec<Failure>>,
) -> (Vec<String>, Vec<Vec<String>>) {
    let mut report = Vec::new();
    write_report(
        format,
        delimiter,
        text,
        failures,
        ReportFormat::Csv,
        &mut report,
    )
    .unwrap();
    let report_delimiter = if format == Format::Csv {
        delimiter
    } else {
        b','
    };
    let mut headers = Vec::new();
    let mut rows = Vec::new();
    read_inputs(Format::Csv, report_delimiter, &report[..], 0, |input| {
        match input.record {
            RawRecord::Csv { headers: h, values } => {
                headers = h.to_vec();
                rows.push(values);
            }
            other => panic!("a report row read as {other:?}"),
        }
        true
    })
    .unwrap_or_else(|e| {
        panic!(
            "the report cannot be read back: {e:?}\n{}",
            String::from_utf8_lossy(&report)
        )
    });
    if rows.is_empty() {
        // No failure: the header row alone, read as the reader reads one.
        let mut rdr = imports_common::inputs::csv_reader(report_delimiter, &report[..]);
        let mut record = csv::StringRecord::new();
        if rdr.read_record(&mut record).unwrap() {
            headers = record.iter().map(|h| h.trim().to_owned()).collect();
        }
    }
    (headers, rows)
}

/// The columns the report gives of the inputs, as read back: each once, neutralised, those
/// of the report's own (`_...`) left out, and so are names that a CSV header cannot give back
/// as they are (blank, with spaces around, or the same as another once neutralised): no
/// attribute of any type is named so.
fn expected_columns(names: impl IntoIterator<Item = String>) -> Vec<(String, String)> {
    let mut columns: Vec<(String, String)> = Vec::new();
    for name in names {
        let shown = neutralised(&name);
        if name.starts_with('_')
            || shown.is_empty()
            || shown.trim() != shown
            || columns.iter().any(|(_, s)| *s == shown)
        {
            continue;
        }
        columns.push((name, shown));
    }
    columns
}

fn check_rows(
    headers: &[String],
    rows: &[Vec<String>],
    failures: &BTreeMap<i64, Vec<Failure>>,
    columns: &[(String, String)],
    cell_of: impl Fn(i64, &str) -> String,
) -> Result<(), TestCaseError> {
    let mut expected_headers: Vec<String> = REPORT_COLUMNS.iter().map(|c| c.to_string()).collect();
    expected_headers.extend(columns.iter().map(|(_, shown)| shown.clone()));
    prop_assert_eq!(headers, &expected_headers[..]);
    prop_assert_eq!(rows.len(), failures.len());
    for (row, (position, errors)) in rows.iter().zip(failures) {
        let messages: Vec<String> = errors.iter().map(|(_, a, m)| format!("{a}: {m}")).collect();
        let mut expected = vec![
            (position + 1).to_string(),
            neutralised(&errors[0].0),
            neutralised(&messages.join("\n")),
        ];
        expected.extend(
            columns
                .iter()
                .map(|(name, _)| neutralised(&cell_of(*position, name))),
        );
        prop_assert_eq!(row, &expected);
        for cell in row {
            prop_assert_eq!(&neutralised(cell), cell, "a formula left in the report");
        }
    }
    Ok(())
}

fn csv_file(delimiter: u8, headers: &[String], rows: &[Vec<String>]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_writer(Vec::new());
    w.write_record(headers).unwrap();
    for row in rows {
        w.write_record(row).unwrap();
    }
    w.into_inner().unwrap()
}

fn csv_import() -> impl Strategy<Value = (u8, Vec<String>, Vec<Vec<String>>)> {
    (delimiter(), prop::collection::vec(name(), 1..5)).prop_flat_map(|(delimiter, headers)| {
        let n = headers.len();
        // Mostly rows of the header's length; now and then a ragged one (a malformed input).
        let row = prop_oneof![
            9 => prop::collection::vec(cell(), n),
            1 => prop::collection::vec(cell(), 1..n + 2),
        ];
        (
            Just(delimiter),
            Just(headers),
            prop::collection::vec(row, 0..6),
        )
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        cell().prop_map(Value::String),
        any::<i32>().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
        Just(Value::from(-2.5)),
    ];
    leaf.prop_recursive(2, 6, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(name(), inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_inputs() -> impl Strategy<Value = Vec<Value>> {
    let object = prop::collection::vec((name(), json_value()), 0..4)
        .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>()));
    let input = prop_oneof![9 => object, 1 => json_value()];
    prop::collection::vec(input, 0..6)
}

proptest! {
    #[test]
    fn a_csv_import_s_report_reads_back_as_its_rows(
        (delimiter, headers, rows) in csv_import(),
        seed in failures(8),
    ) {
        let text = csv_file(delimiter, &headers, &rows);
        let Some(records) = read(Format::Csv, delimiter, &text) else {
            return Ok(()); // A header row the reader refuses (blank or repeated names).
        };
        let failures: BTreeMap<i64, Vec<Failure>> =
            seed.into_iter().filter(|(p, _)| *p <= records.len() as i64 + 1).collect();
        // The header row as the reader read it.
        let read_headers: Vec<String> = {
            let mut rdr = imports_common::inputs::csv_reader(delimiter, &text[..]);
            let mut record = csv::StringRecord::new();
            rdr.read_record(&mut record).unwrap();
            record.iter().map(|h| h.trim().to_owned()).collect()
        };
        // The report's columns are the header row's, even when every row is malformed.
        let columns = expected_columns(read_headers);
        let (got_headers, got_rows) = report_read_back(Format::Csv, delimiter, &text, &failures);
        check_rows(&got_headers, &got_rows, &failures, &columns, |position, name| {
            match records.get(position as usize) {
                Some(RawRecord::Csv { headers, values }) => {
                    let at = headers.iter().position(|h| h == name).unwrap();
                    values[at].clone()
                }
                _ => String::new(), // Malformed, or no such input.
            }
        })?;
    }

    #[test]
    fn a_json_import_s_report_reads_back_as_its_inputs(
        inputs in json_inputs(),
        seed in failures(8),
    ) {
        let text = serde_json::to_vec(&inputs).unwrap();
        let records = read(Format::Json, b',', &text).expect("an array of values is read");
        let failures: BTreeMap<i64, Vec<Failure>> =
            seed.into_iter().filter(|(p, _)| *p <= records.len() as i64 + 1).collect();
        let object = |position: i64| match records.get(position as usize) {
            Some(RawRecord::Json(map)) => Some(map),
            _ => None,
        };
        // Every attribute of the failed inputs, in the order first seen.
        let mut names: Vec<String> = Vec::new();
        for position in failures.keys() {
            for name in object(*position).into_iter().flat_map(|m| m.keys()) {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        let columns = expected_columns(names);
        let (got_headers, got_rows) = report_read_back(Format::Json, b',', &text, &failures);
        check_rows(&got_headers, &got_rows, &failures, &columns, |position, name| {
            match object(position).and_then(|m| m.get(name)) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            }
        })?;
    }
}
