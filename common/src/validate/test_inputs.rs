//! Inputs for the unit tests of validation: a JSON object, a CSV row, rows sharing a header.

use std::sync::Arc;

use serde_json::Value;

use crate::inputs::{RawInput, RawRecord};
use crate::validate::Prepared;

pub(super) fn json_input(v: Value) -> RawInput {
    RawInput {
        position: 0,
        record: RawRecord::Json(v.as_object().unwrap().clone()),
    }
}

pub(super) fn csv_input(headers: &[&str], values: &[&str]) -> RawInput {
    let headers: Arc<[String]> = headers
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .into();
    RawInput {
        position: 7,
        record: RawRecord::Csv {
            headers,
            values: values.iter().map(|s| s.to_string()).collect(),
        },
    }
}
pub(super) fn csv_rows(headers: &[&str], rows: &[&[&str]]) -> impl Iterator<Item = RawInput> {
    let headers: Arc<[String]> = headers
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .into();
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect();
    rows.into_iter()
        .enumerate()
        .map(move |(i, values)| RawInput {
            position: i as u64,
            record: RawRecord::Csv {
                headers: headers.clone(),
                values,
            },
        })
}

pub(super) fn messages(p: &Prepared) -> Vec<String> {
    p.errors.iter().map(|(a, m)| format!("{a}: {m}")).collect()
}
