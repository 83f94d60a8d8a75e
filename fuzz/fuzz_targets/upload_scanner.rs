//! The upload scanner (`api/src/upload/scanner.rs`, reached through `imports_api::fuzzing`):
//! the streaming walk of a create document, read through a buffer of any size. Never a
//! panic; and for a document serde reads, the scanner accepts it (unless it gives `data`,
//! `attributes` or `inputs` twice), its skeleton is the document with `true` for the
//! inputs, and what it stores and counts is the inputs as given.
//!
//! The first byte picks the buffer's size and the inputs limit; the rest is the document.
#![no_main]

use imports_api::fuzzing::scan_create_document;
use imports_api::upload::{CountError, InputsShape};
use imports_common::inputs::count_inputs;
use imports_common::model::Format;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&control, document)) = data.split_first() else {
        return;
    };
    let buffer = match control & 0x3f {
        0 => 64 * 1024,
        n => usize::from(n),
    };
    let max_inputs = if control & 0x40 != 0 { 2 } else { 1_000_000 };
    let scanned = scan_create_document(document, buffer, max_inputs);
    let Ok(mut expected) = serde_json::from_slice::<Value>(document) else {
        return; // Anything but a panic: serde describes the error later.
    };
    let (received, stored) = match scanned {
        Ok(scanned) => scanned,
        Err(e) => {
            let e = format!("{e:?}");
            assert!(e.contains("is given twice"), "a JSON document refused: {e}");
            return;
        }
    };
    let skeleton: Value = serde_json::from_slice(&received.skeleton).unwrap_or_else(|e| {
        panic!(
            "the skeleton is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&received.skeleton)
        )
    });
    let inputs = expected
        .get_mut("data")
        .and_then(|d| d.get_mut("attributes"))
        .and_then(|a| a.get_mut("inputs"));
    match received.shape {
        InputsShape::Array | InputsShape::Text => {
            let inputs = inputs.expect("streamed inputs are data.attributes.inputs");
            let given = std::mem::replace(inputs, Value::Bool(true));
            let (n, counted) = match given {
                Value::Array(elements) => {
                    assert_eq!(received.shape, InputsShape::Array);
                    let stored: Value =
                        serde_json::from_slice(&stored).expect("stored inputs are JSON");
                    assert_eq!(stored, Value::Array(elements.clone()));
                    (elements.len() as u64, Ok(elements.len() as u64))
                }
                Value::String(text) => {
                    assert_eq!(received.shape, InputsShape::Text);
                    assert_eq!(stored, text.as_bytes(), "CSV text stored as decoded");
                    let counted = count_inputs(Format::Csv, received.counted_with, text.as_bytes());
                    (counted.clone().unwrap_or(0), counted.map_err(|e| e.0))
                }
                other => panic!("{:?} streamed for {other}", received.shape),
            };
            match (&received.count, counted) {
                (Err(CountError::TooMany), Ok(_)) => assert!(n > max_inputs),
                (Ok(got), Ok(want)) => assert_eq!(*got, want),
                (Err(CountError::Unreadable(_)), Err(_)) => {}
                (got, want) => panic!("counted {got:?}, the reader gives {want:?}"),
            }
        }
        InputsShape::Other => {
            assert!(inputs.is_some_and(|i| !i.is_array() && !i.is_string()));
            assert!(stored.is_empty());
        }
        InputsShape::Absent => assert!(stored.is_empty()),
    }
    assert_eq!(skeleton, expected);
});
