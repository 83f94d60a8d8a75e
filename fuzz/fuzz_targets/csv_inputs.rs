//! The CSV input reader (`imports_common::inputs`, as the worker, the API's count and
//! importctl's splitter read a file): never a panic, a header row of distinct trimmed names,
//! every row as many cells as the header row or a malformed input, no NUL in a message (they
//! are logged, and Postgres refuses NUL), and the same records when
//! resuming after some (the worker's cursor) or in batches.
//!
//! The first byte picks the delimiter (`,`, `;` or a tab), where to resume and how large the
//! batches are; the rest is the file.
#![no_main]

use imports_common::inputs::{read_batches, read_inputs, RawRecord, ReadStop};
use imports_common::model::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, file)) = data.split_first() else {
        return;
    };
    let delimiter = [b',', b';', b'\t'][usize::from(control % 3)];
    let mut records = Vec::new();
    let read = read_inputs(Format::Csv, delimiter, file, 0, |input| {
        assert_eq!(input.position, records.len() as u64);
        records.push(input.record);
        true
    });
    // (`count_inputs` is this read with a counting sink: not run again, as each reader
    // builds its parser's tables, the most of a run here.)
    let total = match read {
        Ok(total) => total,
        Err(ReadStop::Unreadable(e)) => {
            assert!(!e.0.contains('\0'), "a NUL in {e:?}");
            return;
        }
        Err(other) => panic!("{other:?} reading bytes in memory"),
    };
    assert_eq!(total, records.len() as u64);
    for record in &records {
        match record {
            RawRecord::Csv { headers, values } => {
                assert_eq!(headers.len(), values.len());
                for (i, name) in headers.iter().enumerate() {
                    assert!(!name.is_empty() && name.trim() == name, "{name:?}");
                    assert!(!headers[..i].contains(name), "{name:?} twice");
                }
            }
            RawRecord::Malformed(why) => assert!(!why.is_empty() && !why.contains('\0'), "{why:?}"),
            RawRecord::Json(_) => panic!("a JSON record read from CSV"),
        }
    }

    let skip = u64::from((control / 3) % 8);
    let batch_size = usize::from(control / 24) + 1;
    let mut resumed = Vec::new();
    let again = read_batches(Format::Csv, delimiter, file, skip, batch_size, |batch| {
        assert!(!batch.is_empty() && batch.len() <= batch_size);
        resumed.extend(batch);
        true
    })
    .expect("a file read whole is read again after a skip");
    assert_eq!(again, total);
    let expected: Vec<_> = records.iter().skip(skip as usize).collect();
    assert_eq!(resumed.len(), expected.len());
    for (input, record) in resumed.iter().zip(expected) {
        assert_eq!(&input.record, record);
    }
});
