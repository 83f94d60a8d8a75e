//! Reading an import's inputs as a stream of records, in batches.
//!
//! JSON inputs are one array of objects; CSV inputs are a header row then one record a line
//! (quoted commas and newlines, a UTF-8 BOM and CRLF line ends are all understood). The
//! readers are synchronous and run on a blocking thread; they never hold more than one batch.
//!
//! Two kinds of failure are kept apart:
//! - a malformed *input* (an array element that is not an object, a row with the wrong number
//!   of fields, a row that is not UTF-8) is a [`RawRecord::Malformed`], logged as that input's
//!   error while the rest of the import goes on;
//! - an unreadable *file* (not JSON, not an array, a CSV without a header) is an
//!   [`UnreadableInputs`] that ends the import with that message recorded on it.

use std::cell::Cell;
use std::io::{BufReader, Read};
use std::rc::Rc;
use std::sync::Arc;

use serde::de::{DeserializeSeed, IgnoredAny, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::json_check::Checked;
use crate::model::Format;

/// One input as read from the file, before any validation.
#[derive(Debug, Clone, PartialEq)]
pub enum RawRecord {
    /// A JSON object.
    Json(Map<String, Value>),
    /// A CSV row, with the header row it belongs to.
    Csv {
        /// The header row (shared by every row).
        headers: Arc<[String]>,
        /// The row's cells, as many as the headers.
        values: Vec<String>,
    },
    /// An input that cannot be read as a record: why.
    Malformed(String),
}

/// One input and its position (0-based) in the import.
#[derive(Debug, Clone, PartialEq)]
pub struct RawInput {
    /// Where the input is in the file, counting from 0.
    pub position: u64,
    /// What was read.
    pub record: RawRecord,
}

/// The file cannot be read any further: the import ends with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnreadableInputs(pub String);

/// Why a reader stopped before the end of the file.
#[derive(Debug)]
pub enum ReadStop {
    /// The file is unreadable from some point on.
    Unreadable(UnreadableInputs),
    /// The consumer does not want more records.
    Cancelled,
    /// The bytes could not be fetched (storage unreachable): try again later.
    Io(String),
    /// The input at this position (from 0) is larger than [`MAX_INPUT_BYTES`]: the reader
    /// stops there rather than hold it.
    InputTooLarge(u64),
}

/// The largest one input may be, in bytes of the file (a JSON element, a CSV row): readers
/// stop at a larger one rather than hold it in memory, and the API refuses such a create.
pub const MAX_INPUT_BYTES: u64 = 1024 * 1024;

/// Why an import whose input at `position` is too large cannot be read.
pub fn input_too_large(position: u64) -> UnreadableInputs {
    UnreadableInputs(format!(
        "input {position} is larger than {MAX_INPUT_BYTES} bytes, the limit of one input"
    ))
}

impl From<UnreadableInputs> for ReadStop {
    fn from(e: UnreadableInputs) -> Self {
        ReadStop::Unreadable(e)
    }
}

/// The CSV delimiter of an import that does not name one.
pub const DEFAULT_CSV_DELIMITER: u8 = b',';

/// Reads the `csv_delimiter` of an import: `,`, `;` or a tab (given as the character, or as
/// the two characters `\t`).
pub fn parse_csv_delimiter(s: &str) -> Option<u8> {
    match s {
        "," => Some(b','),
        ";" => Some(b';'),
        "\t" | "\\t" => Some(b'\t'),
        _ => None,
    }
}

/// The UTF-8 byte order mark some tools write at the start of a file; readers drop it.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The read-ahead buffer of [`csv_reader`].
const CSV_BUFFER_BYTES: usize = 64 * 1024;

/// A CSV reader with the settings every reader of inputs uses (the worker's, the API's count,
/// importctl's splitter), so that they all see the same records: no header handling (the
/// caller reads the header row), rows of any length (a ragged row is one malformed input),
/// and a 64 KiB buffer.
pub fn csv_reader<R: Read>(delimiter: u8, reader: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .flexible(true)
        .buffer_capacity(CSV_BUFFER_BYTES)
        .from_reader(reader)
}

/// Reads every input of `reader` in order, skipping the first `skip`, and hands each to
/// `sink`. The sink returns `false` to stop early. Returns the number of inputs in the file
/// when it was read to the end. `csv_delimiter` separates the fields of CSV (JSON ignores it).
pub fn read_inputs<R: Read>(
    format: Format,
    csv_delimiter: u8,
    reader: R,
    skip: u64,
    sink: impl FnMut(RawInput) -> bool,
) -> Result<u64, ReadStop> {
    read_inputs_seeing_header(format, csv_delimiter, reader, skip, &mut |_| {}, sink)
}

/// Like [`read_inputs`], handing `header` a CSV file's header row once it is read, before
/// any input: for a reader that needs it even when every row is malformed (JSON has none).
pub fn read_inputs_seeing_header<R: Read>(
    format: Format,
    csv_delimiter: u8,
    reader: R,
    skip: u64,
    header: &mut dyn FnMut(&Arc<[String]>),
    mut sink: impl FnMut(RawInput) -> bool,
) -> Result<u64, ReadStop> {
    match format {
        Format::Json => read_json(
            reader,
            Elements::Records {
                skip,
                sink: &mut sink,
            },
        ),
        Format::Csv => read_csv(reader, csv_delimiter, skip, header, &mut sink),
    }
}

/// Counts the inputs of a file, checking that it can be read to the end.
pub fn count_inputs<R: Read>(
    format: Format,
    csv_delimiter: u8,
    reader: R,
) -> Result<u64, UnreadableInputs> {
    match count_inputs_until(format, csv_delimiter, reader, u64::MAX) {
        Ok(n) => Ok(n),
        Err(ReadStop::Unreadable(e)) => Err(e),
        Err(ReadStop::Cancelled) => unreachable!("no file holds u64::MAX inputs"),
        Err(ReadStop::InputTooLarge(position)) => Err(input_too_large(position)),
        Err(ReadStop::Io(e)) => Err(UnreadableInputs(format!("the inputs cannot be read: {e}"))),
    }
}

/// Counts the inputs of a file as [`read_inputs`] reads them, failing where it would, and
/// stops ([`ReadStop::Cancelled`]) as soon as there are more than `max`. A JSON element is
/// checked by the parser without being built ([`crate::json_check::Checked`]): a file
/// counted here is a file the worker can read, at about half the cost of reading it.
pub fn count_inputs_until<R: Read>(
    format: Format,
    csv_delimiter: u8,
    reader: R,
    max: u64,
) -> Result<u64, ReadStop> {
    let mut within = |position: u64| position < max;
    match format {
        Format::Json => read_json(reader, Elements::Counted(&mut within)),
        Format::Csv => read_csv(reader, csv_delimiter, 0, &mut |_| {}, &mut |input| {
            within(input.position)
        }),
    }
}

/// Reads inputs in batches of `batch_size`, handing each full batch (and the last, shorter
/// one) to `sink`, which returns `false` to stop.
pub fn read_batches<R: Read>(
    format: Format,
    csv_delimiter: u8,
    reader: R,
    skip: u64,
    batch_size: usize,
    mut sink: impl FnMut(Vec<RawInput>) -> bool,
) -> Result<u64, ReadStop> {
    let mut batch = Vec::with_capacity(batch_size);
    let mut open = true;
    let total = read_inputs(format, csv_delimiter, reader, skip, |input| {
        batch.push(input);
        if batch.len() >= batch_size {
            open = sink(std::mem::replace(
                &mut batch,
                Vec::with_capacity(batch_size),
            ));
        }
        open
    })?;
    if !batch.is_empty() && !sink(batch) {
        return Err(ReadStop::Cancelled);
    }
    Ok(total)
}

const STOPPED: &str = "\u{0}reader stopped by its consumer";

fn read_json<R: Read>(reader: R, elements: Elements<'_>) -> Result<u64, ReadStop> {
    let mut buffered = BufReader::with_capacity(64 * 1024, reader);
    skip_utf8_bom(&mut buffered).map_err(|e| ReadStop::Io(e.to_string()))?;
    let meter = Meter::default();
    let mut de = serde_json::Deserializer::from_reader(Metered {
        inner: buffered,
        meter: meter.clone(),
        slack: 0,
    });
    let seed = JsonElements {
        elements,
        meter: meter.clone(),
    };
    let too_large = |e: &serde_json::Error| e.io_error_kind() == Some(TOO_LARGE);
    let count = match seed.deserialize(&mut de) {
        Ok(n) => n,
        Err(e) if e.to_string().starts_with(STOPPED) => return Err(ReadStop::Cancelled),
        Err(e) if too_large(&e) => return Err(ReadStop::InputTooLarge(meter.position.get())),
        Err(e) if e.is_io() => return Err(ReadStop::Io(e.to_string())),
        Err(e) => return Err(UnreadableInputs(describe_json_error(&e)).into()),
    };
    de.end().map_err(|e| -> ReadStop {
        if e.is_io() {
            return ReadStop::Io(e.to_string());
        }
        UnreadableInputs(format!(
            "unexpected content after the inputs array: {}",
            describe_json_error(&e)
        ))
        .into()
    })?;
    Ok(count)
}

/// The error kind a [`Metered`] reader fails with once an input passes [`MAX_INPUT_BYTES`].
const TOO_LARGE: std::io::ErrorKind = std::io::ErrorKind::FileTooLarge;

/// Where a reader is: bytes handed to the parser, where the current input began, and its
/// position; shared by the parser's reader and the code that walks the inputs.
#[derive(Clone, Default)]
struct Meter {
    consumed: Rc<Cell<u64>>,
    input_start: Rc<Cell<u64>>,
    position: Rc<Cell<u64>>,
}

impl Meter {
    /// The input at `position` begins at the current byte.
    fn begin(&self, position: u64) {
        self.input_start.set(self.consumed.get());
        self.position.set(position);
    }
}

/// A reader that fails once the current input is more than [`MAX_INPUT_BYTES`] (plus
/// `slack`, the read-ahead of a parser's own buffer) long, so no parser holds a larger one.
struct Metered<R> {
    inner: R,
    meter: Meter,
    slack: u64,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let consumed = self.meter.consumed.get() + n as u64;
        self.meter.consumed.set(consumed);
        if consumed - self.meter.input_start.get() > MAX_INPUT_BYTES + self.slack {
            return Err(std::io::Error::new(TOO_LARGE, "an input is too large"));
        }
        Ok(n)
    }
}

/// Skips a UTF-8 byte order mark at the start of a JSON file (some tools write one).
pub fn skip_utf8_bom<R: Read>(r: &mut BufReader<R>) -> std::io::Result<()> {
    use std::io::BufRead;
    let buf = r.fill_buf()?;
    if buf.starts_with(UTF8_BOM) {
        r.consume(3);
    }
    Ok(())
}

fn describe_json_error(e: &serde_json::Error) -> String {
    let what = e.to_string();
    if e.is_eof() {
        format!("the JSON inputs end too early ({what})")
    } else {
        format!("the JSON inputs are not valid: {what}")
    }
}

/// What a JSON reader does with the array's elements.
enum Elements<'s> {
    /// Builds each element after the first `skip` and hands it to `sink`, which returns
    /// `false` to stop.
    Records {
        skip: u64,
        sink: &'s mut dyn FnMut(RawInput) -> bool,
    },
    /// Checks each element without building it and hands its position to the function,
    /// which returns `false` to stop.
    Counted(&'s mut dyn FnMut(u64) -> bool),
}

struct JsonElements<'s> {
    elements: Elements<'s>,
    meter: Meter,
}

impl<'de> DeserializeSeed<'de> for JsonElements<'_> {
    type Value = u64;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for JsonElements<'_> {
    type Value = u64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let JsonElements {
            mut elements,
            meter,
        } = self;
        let mut position = 0u64;
        loop {
            meter.begin(position);
            let go_on = match &mut elements {
                Elements::Counted(counted) => {
                    if seq.next_element_seed(Checked)?.is_none() {
                        return Ok(position);
                    }
                    counted(position)
                }
                Elements::Records { skip, .. } if position < *skip => {
                    if seq.next_element::<IgnoredAny>()?.is_none() {
                        return Ok(position);
                    }
                    true
                }
                Elements::Records { sink, .. } => {
                    let Some(value) = seq.next_element::<Value>()? else {
                        return Ok(position);
                    };
                    let record = match value {
                        Value::Object(map) => RawRecord::Json(map),
                        other => RawRecord::Malformed(format!(
                            "is not an object but {}",
                            json_kind(&other)
                        )),
                    };
                    sink(RawInput { position, record })
                }
            };
            if !go_on {
                return Err(serde::de::Error::custom(STOPPED));
            }
            position += 1;
        }
    }
}

/// A short name for the kind of a JSON value, for messages.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn read_csv<R: Read>(
    reader: R,
    delimiter: u8,
    skip: u64,
    header: &mut dyn FnMut(&Arc<[String]>),
    sink: &mut dyn FnMut(RawInput) -> bool,
) -> Result<u64, ReadStop> {
    let meter = Meter::default();
    let metered = Metered {
        inner: reader,
        meter: meter.clone(),
        slack: CSV_BUFFER_BYTES as u64,
    };
    let mut rdr = csv_reader(delimiter, metered);
    let mut record = csv::ByteRecord::new();
    let csv_err = |e: csv::Error| -> ReadStop {
        match e.kind() {
            csv::ErrorKind::Io(io) if io.kind() == TOO_LARGE => {
                ReadStop::InputTooLarge(meter.position.get())
            }
            _ if e.is_io_error() => ReadStop::Io(e.to_string()),
            _ => UnreadableInputs(format!("the CSV inputs cannot be read: {e}")).into(),
        }
    };
    // Where the parser is in the file, for the exact length of each row.
    let at = |rdr: &csv::Reader<_>| rdr.position().byte();
    let header_too_large = || {
        UnreadableInputs(format!(
            "the CSV header row is larger than {MAX_INPUT_BYTES} bytes, the limit of one row"
        ))
    };
    let read = rdr
        .read_byte_record(&mut record)
        .map_err(|e| match csv_err(e) {
            ReadStop::InputTooLarge(_) => header_too_large().into(),
            other => other,
        })?;
    if !read {
        return Err(UnreadableInputs("the CSV inputs have no header row".into()).into());
    }
    if at(&rdr) > MAX_INPUT_BYTES {
        return Err(header_too_large().into());
    }
    let headers = parse_header(&record)?;
    header(&headers);
    let mut position = 0u64;
    loop {
        let start = at(&rdr);
        meter.input_start.set(start);
        meter.position.set(position);
        if !rdr.read_byte_record(&mut record).map_err(csv_err)? {
            break;
        }
        if at(&rdr) - start > MAX_INPUT_BYTES {
            return Err(ReadStop::InputTooLarge(position));
        }
        if position >= skip {
            let rec = csv_row(&headers, &record);
            if !sink(RawInput {
                position,
                record: rec,
            }) {
                return Err(ReadStop::Cancelled);
            }
        }
        position += 1;
    }
    Ok(position)
}

fn parse_header(record: &csv::ByteRecord) -> Result<Arc<[String]>, UnreadableInputs> {
    let mut names = Vec::with_capacity(record.len());
    for (i, field) in record.iter().enumerate() {
        let field = if i == 0 {
            field.strip_prefix(UTF8_BOM).unwrap_or(field)
        } else {
            field
        };
        let name = std::str::from_utf8(field)
            .map_err(|_| {
                UnreadableInputs(format!(
                    "column {} of the CSV header row is not valid UTF-8",
                    i + 1
                ))
            })?
            .trim();
        if name.is_empty() {
            return Err(UnreadableInputs(format!(
                "column {} of the CSV header row has no name",
                i + 1
            )));
        }
        if names.iter().any(|n: &String| n == name) {
            return Err(UnreadableInputs(format!(
                "the CSV header row names column '{}' twice",
                printable(name)
            )));
        }
        names.push(name.to_owned());
    }
    Ok(names.into())
}

fn csv_row(headers: &Arc<[String]>, record: &csv::ByteRecord) -> RawRecord {
    if record.len() != headers.len() {
        return RawRecord::Malformed(format!(
            "the row has {} fields but the header row has {}",
            record.len(),
            headers.len()
        ));
    }
    let mut values = Vec::with_capacity(record.len());
    for (i, field) in record.iter().enumerate() {
        match std::str::from_utf8(field) {
            Ok(s) => values.push(s.to_owned()),
            Err(_) => {
                return RawRecord::Malformed(format!(
                    "the value of column '{}' is not valid UTF-8",
                    printable(&headers[i])
                ))
            }
        }
    }
    RawRecord::Csv {
        headers: headers.clone(),
        values,
    }
}

/// A column name as messages show it: a NUL (which a header row may hold, and Postgres cannot
/// store in a log) becomes U+FFFD, as validation shows input text.
fn printable(name: &str) -> String {
    name.replace('\0', "\u{FFFD}")
}

/// A [`Read`] over byte chunks arriving on a channel: lets a blocking parser consume inputs
/// that an async task streams out of Postgres, one chunk at a time.
pub struct ChannelReader {
    rx: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    offset: usize,
}

impl ChannelReader {
    /// A reader fed by `rx`; the end of the channel is the end of the file.
    pub fn new(rx: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>) -> Self {
        ChannelReader {
            rx,
            chunk: Vec::new(),
            offset: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.offset >= self.chunk.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.offset = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.offset);
        buf[..n].copy_from_slice(&self.chunk[self.offset..self.offset + n]);
        self.offset += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn all(format: Format, text: &str) -> Result<Vec<RawRecord>, UnreadableInputs> {
        let mut out = Vec::new();
        match read_inputs(format, DEFAULT_CSV_DELIMITER, text.as_bytes(), 0, |i| {
            out.push(i.record);
            true
        }) {
            Ok(n) => {
                assert_eq!(n as usize, out.len());
                Ok(out)
            }
            Err(ReadStop::Unreadable(e)) => Err(e),
            Err(other) => panic!("{other:?}"),
        }
    }

    fn csv_values(r: &RawRecord) -> Vec<(String, String)> {
        match r {
            RawRecord::Csv { headers, values } => headers
                .iter()
                .cloned()
                .zip(values.iter().cloned())
                .collect(),
            other => panic!("not a CSV row: {other:?}"),
        }
    }

    #[test]
    fn json_arrays_give_one_record_per_object() {
        let recs = all(
            Format::Json,
            r#"[{"code":"A"}, 3, {"code":"B","n":{"x":1}}, "s"]"#,
        )
        .unwrap();
        assert_eq!(recs.len(), 4);
        assert_eq!(
            recs[0],
            RawRecord::Json(json!({"code":"A"}).as_object().unwrap().clone())
        );
        assert_eq!(
            recs[1],
            RawRecord::Malformed("is not an object but a number".into())
        );
        assert_eq!(
            recs[3],
            RawRecord::Malformed("is not an object but a string".into())
        );
    }

    #[test]
    fn unreadable_json_is_a_file_error() {
        for bad in ["", "{", r#"{"code":"A"}"#, "[1, 2", "[{\"a\":1}] x", "nope"] {
            let e = all(Format::Json, bad).unwrap_err();
            assert!(
                e.0.starts_with("the JSON inputs") || e.0.starts_with("unexpected content"),
                "{bad:?}: {e}"
            );
        }
        assert_eq!(all(Format::Json, " [ ] ").unwrap(), vec![]);
        assert_eq!(
            all(Format::Json, "\u{feff}[{}]").unwrap().len(),
            1,
            "a BOM is skipped"
        );
    }

    #[test]
    fn csv_handles_quotes_newlines_bom_and_crlf() {
        let text = "\u{feff}code,name,description\r\nA,\"Shirt, red\",\"line1\nline2\"\r\nB,Hat,\"say \"\"hi\"\"\"\r\n";
        let recs = all(Format::Csv, text).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(
            csv_values(&recs[0]),
            vec![
                ("code".into(), "A".into()),
                ("name".into(), "Shirt, red".into()),
                ("description".into(), "line1\nline2".into())
            ]
        );
        assert_eq!(csv_values(&recs[1])[2].1, "say \"hi\"");
    }

    #[test]
    fn csv_fields_are_split_on_the_import_s_delimiter() {
        for (delimiter, text) in [
            (b';', "code;name;description\nA;\"Shirt; red\";a, b\n"),
            (b'\t', "code\tname\tdescription\nA\t\"Shirt\tred\"\ta, b\n"),
        ] {
            let mut out = Vec::new();
            read_inputs(Format::Csv, delimiter, text.as_bytes(), 0, |i| {
                out.push(i.record);
                true
            })
            .unwrap();
            let values = csv_values(&out[0]);
            assert_eq!(values.len(), 3, "{text:?}");
            assert_eq!(
                values[1].1,
                if delimiter == b';' {
                    "Shirt; red"
                } else {
                    "Shirt\tred"
                }
            );
            assert_eq!(values[2].1, "a, b");
        }
        // Read with the wrong one, a row is one column.
        let recs = all(Format::Csv, "code;name\nA;a\n").unwrap();
        assert_eq!(
            csv_values(&recs[0]),
            vec![("code;name".into(), "A;a".into())]
        );
        assert_eq!(parse_csv_delimiter(","), Some(b','));
        assert_eq!(parse_csv_delimiter(";"), Some(b';'));
        assert_eq!(parse_csv_delimiter("\t"), Some(b'\t'));
        assert_eq!(parse_csv_delimiter("\\t"), Some(b'\t'));
        for bad in ["|", "", ",,", " ", "\n", "\""] {
            assert_eq!(parse_csv_delimiter(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ragged_and_non_utf8_rows_are_malformed_inputs() {
        let mut text = b"code,name\nA,a\nB\nC,c,extra\n".to_vec();
        text.extend_from_slice(b"D,\xff\xfe\nE,e\n");
        let mut out = Vec::new();
        read_inputs(Format::Csv, b',', &text[..], 0, |i| {
            out.push(i);
            true
        })
        .unwrap();
        assert_eq!(out.len(), 5);
        assert!(matches!(out[0].record, RawRecord::Csv { .. }));
        assert_eq!(
            out[1].record,
            RawRecord::Malformed("the row has 1 fields but the header row has 2".into())
        );
        assert_eq!(
            out[2].record,
            RawRecord::Malformed("the row has 3 fields but the header row has 2".into())
        );
        assert_eq!(
            out[3].record,
            RawRecord::Malformed("the value of column 'name' is not valid UTF-8".into())
        );
        assert_eq!(out[4].position, 4);
    }

    #[test]
    fn messages_name_columns_without_their_nul_characters() {
        // Found by the validation fuzz target: the message is the input's error, logged, and
        // Postgres refuses NUL in text.
        let text = b"code,col\0our\nA,\xff\n";
        let mut out = Vec::new();
        read_inputs(Format::Csv, b',', &text[..], 0, |i| {
            out.push(i.record);
            true
        })
        .unwrap();
        assert_eq!(
            out[0],
            RawRecord::Malformed("the value of column 'col\u{FFFD}our' is not valid UTF-8".into())
        );
        let e = all(Format::Csv, "a\0,a\0\n").unwrap_err();
        assert_eq!(e.0, "the CSV header row names column 'a\u{FFFD}' twice");
    }

    #[test]
    fn unreadable_csv_is_a_file_error() {
        assert_eq!(
            all(Format::Csv, "").unwrap_err().0,
            "the CSV inputs have no header row"
        );
        assert!(all(Format::Csv, "code,,name\n")
            .unwrap_err()
            .0
            .contains("column 2"));
        assert!(all(Format::Csv, "code,code\n")
            .unwrap_err()
            .0
            .contains("twice"));
        assert_eq!(all(Format::Csv, "code,name\n").unwrap(), vec![]);
    }

    #[test]
    fn reading_resumes_after_skipped_inputs_in_batches() {
        let text =
            serde_json::to_string(&(0..10).map(|i| json!({"i": i})).collect::<Vec<_>>()).unwrap();
        let mut batches = Vec::new();
        let total = read_batches(Format::Json, b',', text.as_bytes(), 3, 3, |b| {
            batches.push(b.iter().map(|i| i.position).collect::<Vec<_>>());
            true
        })
        .unwrap();
        assert_eq!(total, 10);
        assert_eq!(batches, vec![vec![3, 4, 5], vec![6, 7, 8], vec![9]]);

        let csv: String = std::iter::once("i".to_string())
            .chain((0..10).map(|i| i.to_string()))
            .collect::<Vec<_>>()
            .join("\n");
        let mut seen = Vec::new();
        let stop = read_batches(Format::Csv, b',', csv.as_bytes(), 8, 4, |b| {
            seen.extend(b.into_iter().map(|i| i.position));
            false
        });
        assert!(matches!(stop, Err(ReadStop::Cancelled)));
        assert_eq!(seen, vec![8, 9]);
    }

    #[test]
    fn an_input_over_the_limit_stops_the_reader_at_its_position() {
        let near = "x".repeat(MAX_INPUT_BYTES as usize - 100);
        let over = "x".repeat(MAX_INPUT_BYTES as usize + 10);
        let json = format!(r#"[{{"a":"{near}"}},{{"a":"{near}"}},{{"a":"{over}"}},{{"a":1}}]"#);
        let mut seen = 0;
        let read = read_inputs(Format::Json, b',', json.as_bytes(), 0, |_| {
            seen += 1;
            true
        });
        assert!(matches!(read, Err(ReadStop::InputTooLarge(2))), "{read:?}");
        assert_eq!(seen, 2, "the inputs before it were read");
        let csv = format!("a,b\n{near},1\n{over},2\nz,3\n");
        let read = read_inputs(Format::Csv, b',', csv.as_bytes(), 0, |_| true);
        assert!(matches!(read, Err(ReadStop::InputTooLarge(1))), "{read:?}");
        // A row just under the limit, quoted with escapes, is whole.
        let quoted = format!(
            "a\n\"{}\"\n",
            "\"\"".repeat(MAX_INPUT_BYTES as usize / 2 - 10)
        );
        assert_eq!(count_inputs(Format::Csv, b',', quoted.as_bytes()), Ok(1));
        let header = format!("{over}\nx\n");
        let read = count_inputs(Format::Csv, b',', header.as_bytes());
        assert!(read.unwrap_err().0.contains("header row is larger"));
        assert_eq!(
            count_inputs(Format::Json, b',', json.as_bytes()).unwrap_err(),
            input_too_large(2)
        );
    }

    #[test]
    fn a_channel_reader_concatenates_chunks() {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        for part in [&b"[{\"a\""[..], b":1},", b"", b"{\"a\":2}]"] {
            tx.send(Ok(part.to_vec())).unwrap();
        }
        drop(tx);
        assert_eq!(
            count_inputs(Format::Json, b',', ChannelReader::new(rx)).unwrap(),
            2
        );
    }
}
