//! The JSON input reader (`imports_common::inputs`, as the worker and the API's count read a
//! file): never a panic, the same records as serde reading the whole array at once, and the
//! same records again when resuming after some (the worker's cursor) or in batches.
//!
//! The first byte says where to resume and how large the batches are; the rest is the file.
#![no_main]

use imports_common::inputs::{count_inputs, read_batches, read_inputs, RawRecord, ReadStop};
use imports_common::model::Format;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&control, file)) = data.split_first() else {
        return;
    };
    let mut records = Vec::new();
    let read = read_inputs(Format::Json, b',', file, 0, |input| {
        assert_eq!(input.position, records.len() as u64);
        records.push(input.record);
        true
    });
    let counted = count_inputs(Format::Json, b',', file);

    // What serde reads of the whole file (a byte order mark aside).
    let text = file.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(file);
    match serde_json::from_slice::<Value>(text) {
        Ok(Value::Array(elements)) => {
            let total = read.expect("an array serde reads is readable");
            assert_eq!(total, elements.len() as u64);
            assert_eq!(counted, Ok(total));
            for (record, element) in records.iter().zip(&elements) {
                match (record, element) {
                    (RawRecord::Json(map), Value::Object(expected)) => assert_eq!(map, expected),
                    (RawRecord::Malformed(_), other) => assert!(!other.is_object()),
                    (record, element) => panic!("{record:?} read for {element:?}"),
                }
            }
        }
        _ => {
            match read {
                Err(ReadStop::Unreadable(e)) => assert!(!e.0.contains('\0'), "a NUL in {e:?}"),
                other => panic!("a file serde refuses is unreadable: {other:?}"),
            }
            assert!(counted.is_err());
            return;
        }
    }

    // Resuming after `skip` inputs, in batches: the same inputs from there on.
    let skip = u64::from(control & 0x0f);
    let batch_size = usize::from(control >> 4) + 1;
    let mut resumed = Vec::new();
    let total = read_batches(Format::Json, b',', file, skip, batch_size, |batch| {
        assert!(!batch.is_empty() && batch.len() <= batch_size);
        resumed.extend(batch);
        true
    })
    .expect("a file read whole is read again after a skip");
    assert_eq!(total, records.len() as u64);
    let expected: Vec<_> = records.iter().skip(skip as usize).collect();
    assert_eq!(resumed.len(), expected.len());
    for (input, record) in resumed.iter().zip(expected) {
        assert_eq!(&input.record, record);
    }
});
