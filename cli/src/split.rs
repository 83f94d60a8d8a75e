//! Splitting an input file into chunks that each fit in one import.
//!
//! - CSV is read with a real CSV parser (the `csv` crate, as the worker reads it): quoted
//!   commas and newlines stay inside their field, a UTF-8 BOM is dropped, CRLF line ends are
//!   understood. Every chunk starts with the header row and each row is written out again,
//!   quoted where it needs to be.
//! - JSON is read as a stream of the top-level array's elements (one element in memory at a
//!   time, besides the chunk being built); each element is copied verbatim.
//!
//! A chunk holds at most `records` inputs and, once encoded as the JSON value of `inputs` in
//! the create request, at most `bytes` bytes. Nothing is ever held beyond one chunk.

use std::io::{BufRead, BufReader, Read};

use anyhow::{anyhow, bail, Context, Result};
use imports_common::inputs::{csv_reader, skip_utf8_bom, UTF8_BOM};
use imports_common::model::Format;
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// How large a chunk may be.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Inputs per chunk.
    pub records: usize,
    /// Bytes of the chunk once encoded as the JSON value of `inputs`.
    pub bytes: usize,
}

/// One chunk of inputs, ready to be sent as an import's `inputs`.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// 0-based number of the chunk in the file.
    pub index: usize,
    /// 1-based number, in the file, of the chunk's first input.
    pub first: u64,
    /// How many inputs it holds.
    pub records: usize,
    /// The inputs: CSV text (header row first) or a JSON array's text.
    pub text: String,
    /// The size of `text` once encoded as the JSON value of `inputs`.
    pub encoded_len: usize,
}

/// The length of `s` encoded as a JSON string by serde_json, quotes included.
pub fn json_string_len(s: &[u8]) -> usize {
    2 + s
        .iter()
        .map(|&b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// Splits `reader` into chunks, handing each to `sink` as soon as it is full; returns how
/// many chunks there were (0 for a file without inputs). An error from `sink` stops the
/// split and is returned as it is. CSV is read, and its chunks written, with `csv_delimiter`.
pub fn split<R: Read>(
    format: Format,
    csv_delimiter: u8,
    reader: R,
    limits: Limits,
    mut sink: impl FnMut(Chunk) -> Result<()>,
) -> Result<usize> {
    if limits.records == 0 || limits.bytes == 0 {
        bail!("a chunk must hold at least one input");
    }
    match format {
        Format::Csv => split_csv(reader, csv_delimiter, limits, &mut sink),
        Format::Json => split_json(reader, limits, &mut sink),
    }
}

/// Chunk building shared by both formats: `prefix` starts every chunk, `separator` goes
/// between records, `suffix` ends it; sizes are counted as the final encoding's.
struct Builder<'s> {
    limits: Limits,
    format: Format,
    sink: &'s mut dyn FnMut(Chunk) -> Result<()>,
    prefix: Vec<u8>,
    text: Vec<u8>,
    records: usize,
    /// The chunk's size so far, as encoded (an upper bound for JSON: one comma too many).
    size: usize,
    first: u64,
    chunks: usize,
    next_input: u64,
}

impl<'s> Builder<'s> {
    /// An empty first chunk; every chunk starts with `prefix` (the CSV header, or `[`).
    fn new(
        limits: Limits,
        format: Format,
        sink: &'s mut dyn FnMut(Chunk) -> Result<()>,
        prefix: Vec<u8>,
    ) -> Self {
        Builder {
            limits,
            format,
            sink,
            prefix,
            text: Vec::new(),
            records: 0,
            size: 0,
            first: 0,
            chunks: 0,
            next_input: 0,
        }
    }

    fn overhead(&self) -> usize {
        match self.format {
            // The quotes of the string, and the header row.
            Format::Csv => json_string_len(&self.prefix),
            // `[` and `]`.
            Format::Json => 2,
        }
    }

    fn encoded(&self, record: &[u8]) -> usize {
        match self.format {
            Format::Csv => json_string_len(record) - 2,
            // A comma before every element but the first.
            Format::Json => record.len() + 1,
        }
    }

    fn push(&mut self, record: &[u8]) -> Result<()> {
        self.next_input += 1;
        let size = self.encoded(record);
        if self.overhead() + size > self.limits.bytes {
            bail!(
                "input {} alone is {} bytes once encoded, more than the {} bytes a chunk may hold",
                self.next_input,
                self.overhead() + size,
                self.limits.bytes
            );
        }
        if self.records > 0
            && (self.records >= self.limits.records || self.size + size > self.limits.bytes)
        {
            self.flush()?;
        }
        if self.records == 0 {
            self.text.clear();
            self.text.extend_from_slice(&self.prefix);
            self.first = self.next_input;
            self.size = self.overhead();
        } else if self.format == Format::Json {
            self.text.push(b',');
        }
        self.text.extend_from_slice(record);
        self.records += 1;
        self.size += size;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.records == 0 {
            return Ok(());
        }
        if self.format == Format::Json {
            self.text.push(b']');
        }
        let encoded_len = match self.format {
            Format::Csv => json_string_len(&self.text),
            Format::Json => self.text.len(),
        };
        let text = String::from_utf8(std::mem::take(&mut self.text))
            .map_err(|_| anyhow!("the inputs are not valid UTF-8"))?;
        let chunk = Chunk {
            index: self.chunks,
            first: self.first,
            records: self.records,
            text,
            encoded_len,
        };
        self.chunks += 1;
        self.records = 0;
        (self.sink)(chunk)
    }
}

fn split_csv<R: Read>(
    reader: R,
    delimiter: u8,
    limits: Limits,
    sink: &mut dyn FnMut(Chunk) -> Result<()>,
) -> Result<usize> {
    // The worker's reader and settings, so that both count the same records (a test checks
    // that the chunks read as the whole file does).
    let mut rdr = csv_reader(delimiter, reader);
    let buffer = Shared::default();
    let mut out = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(buffer.clone());
    let mut record = csv::ByteRecord::new();
    if !rdr.read_byte_record(&mut record).map_err(csv_error)? {
        return Ok(0);
    }
    let mut header = csv::ByteRecord::new();
    for (i, field) in record.iter().enumerate() {
        let field = if i == 0 {
            field.strip_prefix(UTF8_BOM).unwrap_or(field)
        } else {
            field
        };
        std::str::from_utf8(field)
            .map_err(|_| anyhow!("column {} of the header row is not valid UTF-8", i + 1))?;
        header.push_field(field);
    }
    let prefix = write_record(&mut out, &buffer, &header)?;
    let mut builder = Builder::new(limits, Format::Csv, sink, prefix);
    while rdr.read_byte_record(&mut record).map_err(csv_error)? {
        if record.iter().any(|f| std::str::from_utf8(f).is_err()) {
            let line = record.position().map(|p| p.line()).unwrap_or(0);
            bail!("line {line} is not valid UTF-8");
        }
        let row = write_record(&mut out, &buffer, &record)?;
        builder.push(&row)?;
    }
    builder.flush()?;
    Ok(builder.chunks)
}

fn csv_error(e: csv::Error) -> anyhow::Error {
    match e.kind() {
        csv::ErrorKind::Utf8 { pos, .. } => anyhow!(
            "line {} is not valid UTF-8",
            pos.as_ref().map(|p| p.line()).unwrap_or(0)
        ),
        _ => anyhow::Error::new(e).context("the CSV cannot be read"),
    }
}

/// Where the CSV writer writes: a buffer the splitter empties after every record.
#[derive(Clone, Default)]
struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A record as the CSV writer writes it (quoted where it must be, `\n`-terminated).
fn write_record(
    out: &mut csv::Writer<Shared>,
    buffer: &Shared,
    record: &csv::ByteRecord,
) -> Result<Vec<u8>> {
    out.write_byte_record(record)?;
    out.flush()?;
    Ok(std::mem::take(&mut *buffer.0.borrow_mut()))
}

/// The error a JSON sink failure travels as, through serde; the real error waits beside it.
const SINK_FAILED: &str = "\u{0}importctl: the chunk could not be handled";

fn split_json<R: Read>(
    reader: R,
    limits: Limits,
    sink: &mut dyn FnMut(Chunk) -> Result<()>,
) -> Result<usize> {
    let mut buffered = BufReader::with_capacity(64 * 1024, reader);
    // A BOM, then whitespace only: a file without inputs.
    skip_utf8_bom(&mut buffered)?;
    loop {
        let buf = buffered.fill_buf()?;
        if buf.is_empty() {
            return Ok(0);
        }
        let blank = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
        if blank < buf.len() {
            if buf[blank] != b'[' {
                bail!("the JSON inputs must be an array of objects");
            }
            break;
        }
        buffered.consume(blank);
    }
    let mut builder = Builder::new(limits, Format::Json, sink, b"[".to_vec());
    let mut failure = None;
    let mut de = serde_json::Deserializer::from_reader(buffered);
    let seed = Elements {
        builder: &mut builder,
        failure: &mut failure,
    };
    match seed.deserialize(&mut de) {
        Ok(()) => {}
        Err(e) if e.to_string().starts_with(SINK_FAILED) => {
            return Err(failure.unwrap_or_else(|| anyhow!("the split stopped")));
        }
        Err(e) => return Err(anyhow::Error::new(e).context("the JSON cannot be read")),
    }
    de.end()
        .context("unexpected content after the inputs array")?;
    builder.flush()?;
    Ok(builder.chunks)
}

struct Elements<'b, 's> {
    builder: &'b mut Builder<'s>,
    failure: &'b mut Option<anyhow::Error>,
}

impl<'de> DeserializeSeed<'de> for Elements<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Elements<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(element) = seq.next_element::<Box<RawValue>>()? {
            if let Err(e) = self.builder.push(element.get().as_bytes()) {
                *self.failure = Some(e);
                return Err(serde::de::Error::custom(SINK_FAILED));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imports_common::inputs::{read_inputs, RawRecord};

    fn chunks(format: Format, text: &[u8], records: usize, bytes: usize) -> Result<Vec<Chunk>> {
        let mut out = Vec::new();
        split(format, b',', text, Limits { records, bytes }, |c| {
            out.push(c);
            Ok(())
        })?;
        Ok(out)
    }

    fn rows(text: &str) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn quoted_newlines_and_commas_stay_in_their_field() {
        let text = "code,name,description\nA,\"Alpha, the first\",\"line one\nline two\"\nB,Beta,\"say \"\"hi\"\"\"\nC,Gamma,\"é ✓ 日本\r\nend\"\n";
        let got = chunks(Format::Csv, text.as_bytes(), 2, 1 << 20).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].first, got[0].records), (1, 2));
        assert_eq!((got[1].first, got[1].records), (3, 1));
        let first = rows(&got[0].text);
        assert_eq!(first[0], ["code", "name", "description"]);
        assert_eq!(first[1], ["A", "Alpha, the first", "line one\nline two"]);
        assert_eq!(first[2], ["B", "Beta", "say \"hi\""]);
        let second = rows(&got[1].text);
        assert_eq!(second[0], ["code", "name", "description"]);
        assert_eq!(second[1], ["C", "Gamma", "é ✓ 日本\r\nend"]);
    }

    #[test]
    fn every_chunk_starts_with_the_header_row() {
        let mut text = String::from("code,name\n");
        for i in 0..10 {
            text.push_str(&format!("S{i},N{i}\n"));
        }
        let got = chunks(Format::Csv, text.as_bytes(), 3, 1 << 20).unwrap();
        assert_eq!(
            got.iter().map(|c| c.records).collect::<Vec<_>>(),
            [3, 3, 3, 1]
        );
        let mut all = Vec::new();
        for (i, c) in got.iter().enumerate() {
            assert_eq!(c.index, i);
            assert!(c.text.starts_with("code,name\n"), "{}", c.text);
            let r = rows(&c.text);
            all.extend(r[1..].iter().map(|r| r[0].clone()));
        }
        assert_eq!(all, (0..10).map(|i| format!("S{i}")).collect::<Vec<_>>());
    }

    #[test]
    fn a_bom_and_crlf_are_understood() {
        let text = b"\xEF\xBB\xBFcode,name\r\nA,Alpha\r\nB,\"Be\r\nta\"\r\n";
        let got = chunks(Format::Csv, text, 10, 1 << 20).unwrap();
        assert_eq!(got.len(), 1);
        assert!(got[0].text.starts_with("code,name\n"), "BOM dropped");
        let r = rows(&got[0].text);
        assert_eq!(
            r,
            [
                vec!["code", "name"],
                vec!["A", "Alpha"],
                vec!["B", "Be\r\nta"]
            ]
        );
    }

    #[test]
    fn chunks_stay_under_the_byte_limit() {
        let mut text = String::from("code,name\n");
        for i in 0..100 {
            text.push_str(&format!("S{i:03},\"quote \"\" and\nnewline\"\n"));
        }
        let limit = 200;
        let got = chunks(Format::Csv, text.as_bytes(), 1000, limit).unwrap();
        assert!(got.len() > 1);
        let mut n = 0;
        for c in &got {
            let encoded = serde_json::to_string(&c.text).unwrap().len();
            assert_eq!(c.encoded_len, encoded);
            assert!(encoded <= limit, "{encoded} > {limit}");
            n += c.records;
        }
        assert_eq!(n, 100);

        let json: Vec<_> = (0..50)
            .map(|i| serde_json::json!({"code": format!("S{i}"), "name": "x\ny"}))
            .collect();
        let got = chunks(
            Format::Json,
            serde_json::to_string(&json).unwrap().as_bytes(),
            1000,
            limit,
        )
        .unwrap();
        assert!(got.len() > 1);
        for c in &got {
            assert_eq!(c.encoded_len, c.text.len());
            assert!(c.text.len() <= limit);
        }

        let e = chunks(Format::Csv, text.as_bytes(), 1000, 20).unwrap_err();
        assert!(e.to_string().contains("input 1 alone"), "{e}");
    }

    #[test]
    fn json_arrays_are_streamed_element_by_element() {
        let text = "\u{feff}[\n {\"code\": \"A\", \"name\": \"Ä\\n\"},\n {\"code\": \"B\"},\n 3,\n {\"code\": \"C\", \"nested\": [1, {\"x\": null}]}\n]\n";
        let got = chunks(Format::Json, text.as_bytes(), 3, 1 << 20).unwrap();
        assert_eq!(got.len(), 2);
        let first: serde_json::Value = serde_json::from_str(&got[0].text).unwrap();
        assert_eq!(
            first,
            serde_json::json!([{"code": "A", "name": "Ä\n"}, {"code": "B"}, 3])
        );
        let second: serde_json::Value = serde_json::from_str(&got[1].text).unwrap();
        assert_eq!(
            second,
            serde_json::json!([{"code": "C", "nested": [1, {"x": null}]}])
        );
        assert_eq!((got[1].first, got[1].records), (4, 1));
    }

    #[test]
    fn a_json_sink_error_stops_the_split() {
        let text = "[{\"a\":1},{\"a\":2},{\"a\":3}]";
        let mut seen = 0;
        let e = split(
            Format::Json,
            b',',
            text.as_bytes(),
            Limits {
                records: 1,
                bytes: 100,
            },
            |_| {
                seen += 1;
                if seen == 2 {
                    bail!("the API said no")
                }
                Ok(())
            },
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "the API said no");
        assert_eq!(seen, 2);
    }

    #[test]
    fn empty_files_have_no_chunks() {
        for (format, text) in [
            (Format::Csv, ""),
            (Format::Csv, "code,name\n"),
            (Format::Csv, "\u{feff}code,name\r\n"),
            (Format::Json, ""),
            (Format::Json, "  \n"),
            (Format::Json, "\u{feff}"),
            (Format::Json, "[]"),
            (Format::Json, " [ ] \n"),
        ] {
            assert_eq!(
                chunks(format, text.as_bytes(), 10, 1000).unwrap(),
                vec![],
                "{text:?}"
            );
        }
    }

    #[test]
    fn unreadable_files_are_errors() {
        for text in [
            "{\"code\": \"A\"}",
            "[{\"code\": \"A\"},",
            "[{\"code\": \"A\"}] trailing",
            "nope",
        ] {
            assert!(
                chunks(Format::Json, text.as_bytes(), 10, 1000).is_err(),
                "{text:?}"
            );
        }
        let e = chunks(Format::Csv, b"code,name\nA,\xff\xfe\n", 10, 1000).unwrap_err();
        assert!(e.to_string().contains("line 2 is not valid UTF-8"), "{e}");
    }

    /// The records the worker reads from `text`.
    fn worker_records(format: Format, text: &[u8]) -> Vec<RawRecord> {
        let mut out = Vec::new();
        read_inputs(format, b',', text, 0, |i| {
            out.push(i.record);
            true
        })
        .unwrap();
        out
    }

    #[test]
    fn a_semicolon_file_is_split_and_written_again_with_semicolons() {
        let text = "code;name;description\nA;\"x; y\";\"multi\nline\"\nB;b;c, d\n";
        let mut out = Vec::new();
        split(
            Format::Csv,
            b';',
            text.as_bytes(),
            Limits {
                records: 1,
                bytes: 1 << 20,
            },
            |c| {
                out.push(c);
                Ok(())
            },
        )
        .unwrap();
        let texts: Vec<&str> = out.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "code;name;description\nA;\"x; y\";\"multi\nline\"\n",
                "code;name;description\nB;b;c, d\n"
            ]
        );
        let mut records = Vec::new();
        for chunk in &out {
            read_inputs(Format::Csv, b';', chunk.text.as_bytes(), 0, |i| {
                records.push(i.record);
                true
            })
            .unwrap();
        }
        let mut whole = Vec::new();
        read_inputs(Format::Csv, b';', text.as_bytes(), 0, |i| {
            whole.push(i.record);
            true
        })
        .unwrap();
        assert_eq!(records, whole);
    }

    #[test]
    fn the_worker_reads_the_chunks_as_it_reads_the_whole_file() {
        let csv = "\u{feff}code,name,description\r\nA,\"Alpha, one\",\"multi\r\nline\"\r\nB,,\r\n\r\nC,Ç日本,\"\"\"quoted\"\"\"\nD,too,many,fields\nE,short\nF,\" spaced \", x \n";
        let json = "[{\"code\": \"A\", \"n\": 1.5e3}, 7, {\"code\": \"B\\u00e9\", \"m\": {\"a\": [null]}}, \"s\", {}]";
        for (format, text) in [(Format::Csv, csv), (Format::Json, json)] {
            let whole = worker_records(format, text.as_bytes());
            assert!(whole.len() >= 5, "{format:?}");
            for size in [1, 2, 3, 100] {
                let mut parts = Vec::new();
                for c in chunks(format, text.as_bytes(), size, 1 << 20).unwrap() {
                    parts.extend(worker_records(format, c.text.as_bytes()));
                }
                assert_eq!(parts, whole, "{format:?} in chunks of {size}");
            }
        }
    }
}
