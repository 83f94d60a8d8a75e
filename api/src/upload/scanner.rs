//! Walks a create document byte by byte: everything but the inputs into the skeleton, the
//! inputs (an array as uploaded, CSV text decoded) to the [`ChunkSink`].

use std::io::BufRead;

use imports_common::inputs::parse_csv_delimiter;

use crate::errors::ApiError;
use crate::upload::sink::ChunkSink;
use crate::upload::{CountError, InputsShape, Received, ScanError, MAX_SKELETON_BYTES};

/// Where an object sits in the document: only these three objects are walked key by key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Top,
    Data,
    Attributes,
}

/// Where a raw JSON value ends, read piece by piece: by its brackets, skipping strings (and
/// the escapes in them); a scalar ends before the next delimiter. It checks nothing else:
/// serde reads what it delimits.
#[derive(Default)]
struct Extent {
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// A bare scalar (number, true, false, null) has begun.
    scalar: bool,
}

impl Extent {
    /// Reads `buf`; returns the offset just past the value's end if it ends in `buf`.
    fn feed(&mut self, buf: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < buf.len() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                // Most of a document is string content: jump to its next quote or backslash
                // (byte by byte, this loop was half of an upload's CPU).
                i += memchr::memchr2(b'"', b'\\', &buf[i..])?;
                if buf[i] == b'\\' {
                    self.escaped = true;
                } else {
                    self.in_string = false;
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                i += 1;
                continue;
            }
            let b = buf[i];
            i += 1;
            match b {
                b'"' => self.in_string = true,
                b'[' | b'{' => self.depth += 1,
                b']' | b'}' if self.depth > 0 => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Some(i);
                    }
                }
                b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r' if self.depth == 0 => {
                    return Some(i - 1);
                }
                _ if self.depth == 0 => self.scalar = true,
                _ => {}
            }
        }
        None
    }
}

/// Walks a create document (see the module's documentation).
pub(crate) struct Scanner<R: BufRead> {
    src: R,
    skeleton: Vec<u8>,
    sink: ChunkSink,
    shape: InputsShape,
    count: Option<Result<u64, CountError>>,
    /// Bytes read so far, for error positions.
    offset: u64,
}

type Scan<T> = Result<T, ScanError>;

impl<R: BufRead> Scanner<R> {
    /// A scanner of the document in `src`, its inputs going to `sink`.
    pub(crate) fn new(src: R, sink: ChunkSink) -> Self {
        Scanner {
            src,
            skeleton: Vec::new(),
            sink,
            shape: InputsShape::Absent,
            count: None,
            offset: 0,
        }
    }

    /// Walks the whole document; what it received, or why it cannot be read.
    pub(crate) fn run(mut self) -> Result<Received, ApiError> {
        self.document()?;
        Ok(Received {
            skeleton: self.skeleton,
            shape: self.shape,
            count: self.count.unwrap_or(Ok(0)),
            counted_with: self.sink.counted_with,
            stored_whole: !self.sink.refused,
            text_is_utf8: self.sink.utf8.is_valid(),
            permit: None,
        })
    }

    fn document(&mut self) -> Scan<()> {
        self.whitespace()?;
        match self.peek()? {
            Some(b'{') => self.object(Level::Top)?,
            Some(_) => self.raw_value()?,
            None => return Err(self.syntax("the body is empty")),
        }
        self.whitespace()?;
        if self.peek()?.is_some() {
            // Left for serde to describe precisely: copy the rest (bounded by the limit).
            loop {
                let buf = self.fill()?;
                if buf.is_empty() {
                    break;
                }
                let n = buf.len();
                let chunk = buf.to_vec();
                self.keep(&chunk)?;
                self.consume(n);
            }
        }
        Ok(())
    }

    fn syntax(&self, why: &str) -> ScanError {
        ScanError::Syntax(format!("{why} at byte {}", self.offset))
    }

    fn fill(&mut self) -> Scan<&[u8]> {
        self.src
            .fill_buf()
            .map_err(|e| ScanError::Syntax(format!("the body cannot be read: {e}")))
    }

    fn consume(&mut self, n: usize) {
        self.src.consume(n);
        self.offset += n as u64;
    }

    fn peek(&mut self) -> Scan<Option<u8>> {
        Ok(self.fill()?.first().copied())
    }

    fn next(&mut self) -> Scan<u8> {
        match self.peek()? {
            Some(b) => {
                self.consume(1);
                Ok(b)
            }
            None => Err(self.syntax("the body ends before the document does")),
        }
    }

    fn keep(&mut self, bytes: &[u8]) -> Scan<()> {
        if self.skeleton.len() + bytes.len() > MAX_SKELETON_BYTES {
            return Err(ScanError::SkeletonTooLarge);
        }
        self.skeleton.extend_from_slice(bytes);
        Ok(())
    }

    fn whitespace(&mut self) -> Scan<()> {
        loop {
            let buf = self.fill()?;
            let n = buf
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                .count();
            let all = n == buf.len() && n > 0;
            self.consume(n);
            if !all {
                return Ok(());
            }
        }
    }

    fn expect(&mut self, byte: u8, why: &str) -> Scan<()> {
        self.whitespace()?;
        if self.next()? != byte {
            return Err(self.syntax(why));
        }
        self.keep(&[byte])
    }

    /// One of the three objects walked key by key.
    fn object(&mut self, level: Level) -> Scan<()> {
        self.expect(b'{', "expected an object")?;
        self.whitespace()?;
        if self.peek()? == Some(b'}') {
            self.consume(1);
            return self.keep(b"}");
        }
        let mut seen: Vec<String> = Vec::new();
        loop {
            self.whitespace()?;
            if self.peek()? != Some(b'"') {
                return Err(self.syntax("expected a key"));
            }
            let raw_key = self.raw_string()?;
            let key: String = serde_json::from_slice(&raw_key)
                .map_err(|e| ScanError::Syntax(format!("a key cannot be read: {e}")))?;
            self.keep(&raw_key)?;
            self.expect(b':', "expected ':' after a key")?;
            self.whitespace()?;
            let special = matches!(
                (level, key.as_str()),
                (Level::Top, "data") | (Level::Data, "attributes") | (Level::Attributes, "inputs")
            );
            if special && seen.contains(&key) {
                return Err(self.syntax(&format!("'{key}' is given twice")));
            }
            seen.push(key.clone());
            match (level, key.as_str(), self.peek()?) {
                (Level::Top, "data", Some(b'{')) => self.object(Level::Data)?,
                (Level::Data, "attributes", Some(b'{')) => self.object(Level::Attributes)?,
                (Level::Attributes, "inputs", _) => self.inputs()?,
                (Level::Attributes, "csv_delimiter", _) => {
                    // Known before the inputs, it is the one they are counted with.
                    let start = self.skeleton.len();
                    self.raw_value()?;
                    self.sink.declared_delimiter =
                        serde_json::from_slice::<String>(&self.skeleton[start..])
                            .ok()
                            .and_then(|d| parse_csv_delimiter(&d));
                }
                _ => self.raw_value()?,
            }
            self.whitespace()?;
            match self.next()? {
                b',' => self.keep(b",")?,
                b'}' => return self.keep(b"}"),
                _ => return Err(self.syntax("expected ',' or '}'")),
            }
        }
    }

    /// The inputs' value: streamed to the sink when an array or a string.
    fn inputs(&mut self) -> Scan<()> {
        match self.peek()? {
            Some(b'[') => {
                self.shape = InputsShape::Array;
                self.sink.start(InputsShape::Array);
                self.stream_array()?;
            }
            Some(b'"') => {
                self.shape = InputsShape::Text;
                self.sink.start(InputsShape::Text);
                self.stream_string()?;
            }
            _ => {
                self.shape = InputsShape::Other;
                return self.raw_value();
            }
        }
        self.count = self.sink.finish()?;
        self.keep(b"true")
    }

    /// A string's raw text, quotes and escapes included (keys only: short).
    fn raw_string(&mut self) -> Scan<Vec<u8>> {
        let mut out = vec![self.next()?];
        loop {
            let b = self.next()?;
            out.push(b);
            match b {
                b'\\' => out.push(self.next()?),
                b'"' => return Ok(out),
                _ => {}
            }
            if out.len() > MAX_SKELETON_BYTES {
                return Err(ScanError::SkeletonTooLarge);
            }
        }
    }

    /// Copies any value into the skeleton as it is, by its brackets and strings.
    fn raw_value(&mut self) -> Scan<()> {
        let mut extent = Extent::default();
        let mut copied = 0usize;
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                if extent.scalar && extent.depth == 0 {
                    return Ok(());
                }
                return Err(self.syntax("the body ends before the document does"));
            }
            let end = extent.feed(buf);
            let n = end.unwrap_or(buf.len());
            let taken = buf[..n].to_vec();
            self.keep(&taken)?;
            self.consume(n);
            copied += n;
            if end.is_some() {
                if copied == 0 {
                    return Err(self.syntax("expected a value"));
                }
                return Ok(());
            }
        }
    }

    /// Streams an array's raw text, brackets included, to the sink.
    fn stream_array(&mut self) -> Scan<()> {
        let mut extent = Extent::default();
        loop {
            // The reader's buffer goes to the sink as it is (no copy on the hot path of an
            // upload): the two are separate fields.
            let buf = self
                .src
                .fill_buf()
                .map_err(|e| ScanError::Syntax(format!("the body cannot be read: {e}")))?;
            if buf.is_empty() {
                return Err(self.syntax("the body ends inside the inputs"));
            }
            let end = extent.feed(buf);
            let n = end.unwrap_or(buf.len());
            self.sink.write(&buf[..n], false)?;
            self.consume(n);
            if end.is_some() {
                return Ok(());
            }
        }
    }

    /// Streams a string's decoded text to the sink.
    fn stream_string(&mut self) -> Scan<()> {
        self.consume(1); // the opening quote
        let mut piece = Vec::with_capacity(64 * 1024);
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Err(self.syntax("the body ends inside the inputs"));
            }
            let run = buf
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(buf.len());
            piece.extend_from_slice(&buf[..run]);
            let stop = buf.get(run).copied();
            self.consume(run);
            match stop {
                None => {}
                Some(b'"') => {
                    self.consume(1);
                    self.sink.write(&piece, true)?;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.consume(1);
                    let c = self.escape()?;
                    let mut utf8 = [0u8; 4];
                    piece.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                }
                Some(_) => return Err(self.syntax("a control character inside a string")),
            }
            if piece.len() >= 64 * 1024 {
                self.sink.write(&piece, true)?;
                piece.clear();
            }
        }
    }

    /// One escape sequence, after its backslash.
    fn escape(&mut self) -> Scan<char> {
        Ok(match self.next()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                match first {
                    0xD800..=0xDBFF => {
                        if self.next()? != b'\\' || self.next()? != b'u' {
                            return Err(self.syntax("a lone surrogate in a string"));
                        }
                        let second = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return Err(self.syntax("a lone surrogate in a string"));
                        }
                        let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                        char::from_u32(code)
                            .ok_or_else(|| self.syntax("an invalid escape in a string"))?
                    }
                    0xDC00..=0xDFFF => return Err(self.syntax("a lone surrogate in a string")),
                    code => char::from_u32(code)
                        .ok_or_else(|| self.syntax("an invalid escape in a string"))?,
                }
            }
            _ => return Err(self.syntax("an invalid escape in a string")),
        })
    }

    fn hex4(&mut self) -> Scan<u32> {
        let mut value = 0u32;
        for _ in 0..4 {
            let digit = (self.next()? as char)
                .to_digit(16)
                .ok_or_else(|| self.syntax("an invalid \\u escape in a string"))?;
            value = value * 16 + digit;
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;
    use tokio::sync::mpsc;

    /// Where a value ends, byte by byte: what [`Extent::feed`] must find, in one piece or
    /// split anywhere.
    fn extent_by_bytes(text: &[u8]) -> Option<usize> {
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        for (i, &b) in text.iter().enumerate() {
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => depth += 1,
                b']' | b'}' if depth > 0 => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => return Some(i),
                _ => {}
            }
        }
        None
    }

    #[test]
    fn an_extent_ends_where_a_byte_by_byte_reading_does_however_it_is_split() {
        let texts: &[&[u8]] = &[
            br#"[{"a":"x\"y","b":[1,2,{"c":"]}"}]},"\\"]tail"#,
            br#""a \" string\\" , next"#,
            br#""\\\\\"" x"#,
            b"12345, 6",
            b"true]",
            br#"{"k":"v"}"#,
            br#"[["#,
            "[\"caf\u{e9} \u{1f600}\", {\"\\u00e9\": null}]".as_bytes(),
        ];
        for text in texts {
            let expected = extent_by_bytes(text);
            for cut in 0..=text.len() {
                let mut extent = Extent::default();
                let found = match extent.feed(&text[..cut]) {
                    Some(end) => Some(end),
                    None => extent.feed(&text[cut..]).map(|end| end + cut),
                };
                assert_eq!(
                    found,
                    expected,
                    "{:?} cut at {cut}",
                    String::from_utf8_lossy(text)
                );
            }
        }
    }

    fn scan(doc: &str, max_inputs: u64) -> (Result<Received, ApiError>, Vec<u8>) {
        let (chunks_tx, mut chunks_rx) = mpsc::channel::<Vec<u8>>(1024);
        let received = Scanner::new(
            BufReader::with_capacity(7, doc.as_bytes()),
            ChunkSink::new(chunks_tx, max_inputs),
        )
        .run();
        let mut stored = Vec::new();
        while let Ok(chunk) = chunks_rx.try_recv() {
            stored.extend(chunk);
        }
        (received, stored)
    }

    #[test]
    fn an_array_is_streamed_as_uploaded_and_left_out_of_the_skeleton() {
        let doc = r#"{"data": {"type": "imports", "attributes": {"inputs": [{"code": "A]\"["}, {"code": "B"}], "resource_type": "skus"}}}"#;
        let (received, stored) = scan(doc, 10);
        let received = received.unwrap();
        assert_eq!(received.shape, InputsShape::Array);
        assert_eq!(received.count, Ok(2));
        assert_eq!(
            String::from_utf8(stored).unwrap(),
            r#"[{"code": "A]\"["}, {"code": "B"}]"#
        );
        let skeleton: serde_json::Value = serde_json::from_slice(&received.skeleton).unwrap();
        assert_eq!(
            skeleton,
            serde_json::json!({"data": {"type": "imports", "attributes": {"inputs": true, "resource_type": "skus"}}})
        );
    }

    #[test]
    fn csv_text_is_decoded_with_its_escapes() {
        let doc = r#"{"data":{"attributes":{"format":"csv","inputs":"code,name\n\"A\",\u00e9t\u00e9 \ud83d\ude00\r\nB,\"x\ny\"\n"}}}"#;
        let (received, stored) = scan(doc, 10);
        let received = received.unwrap();
        assert_eq!(received.shape, InputsShape::Text);
        assert_eq!(received.count, Ok(2));
        assert_eq!(
            String::from_utf8(stored).unwrap(),
            "code,name\n\"A\",été 😀\r\nB,\"x\ny\"\n"
        );
    }

    #[test]
    fn counting_stops_past_the_limit_and_nothing_more_is_stored() {
        let inputs: Vec<_> = (0..5000)
            .map(|i| serde_json::json!({"code": i.to_string()}))
            .collect();
        let doc = serde_json::json!({"data": {"attributes": {"inputs": inputs}}}).to_string();
        let (received, _) = scan(&doc, 100);
        assert_eq!(received.unwrap().count, Err(CountError::TooMany));
    }

    #[test]
    fn unreadable_inputs_are_reported_after_the_whole_document() {
        let doc = r#"{"data":{"attributes":{"inputs":[{"a": 1e400}],"resource_type":"skus"}}}"#;
        let received = scan(doc, 10).0.unwrap();
        assert!(matches!(received.count, Err(CountError::Unreadable(_))));
        let skeleton: serde_json::Value = serde_json::from_slice(&received.skeleton).unwrap();
        assert_eq!(skeleton["data"]["attributes"]["resource_type"], "skus");
    }

    #[test]
    fn other_values_stay_in_the_skeleton() {
        for (inputs, shape) in [
            ("null", InputsShape::Other),
            ("12", InputsShape::Other),
            ("{\"a\": [1]}", InputsShape::Other),
        ] {
            let doc = format!(r#"{{"data":{{"attributes":{{"inputs": {inputs} }}}}}}"#);
            let received = scan(&doc, 10).0.unwrap();
            assert_eq!(received.shape, shape);
            let skeleton: serde_json::Value = serde_json::from_slice(&received.skeleton).unwrap();
            let expected: serde_json::Value = serde_json::from_str(inputs).unwrap();
            assert_eq!(skeleton["data"]["attributes"]["inputs"], expected);
        }
        let received = scan(r#"{"data":{"attributes":{}}}"#, 10).0.unwrap();
        assert_eq!(received.shape, InputsShape::Absent);
    }

    #[test]
    fn broken_documents_are_syntax_errors() {
        for doc in [
            "",
            "{",
            r#"{"data":{"attributes":{"inputs":[{"a":1}"#,
            r#"{"data":{"attributes":{"inputs":"abc"#,
            r#"{"data":{"attributes":{"inputs":"\ud800"}}}"#,
            r#"{"data":{"attributes":{"inputs":"a\qb"}}}"#,
            "{\"data\":{\"attributes\":{\"inputs\":\"a\nb\"}}}",
            r#"{"data":{"attributes":{"inputs":[],"inputs":[]}}}"#,
            r#"{"data" 1}"#,
        ] {
            let (received, _) = scan(doc, 10);
            let error = received.expect_err(doc);
            assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST, "{doc}");
        }
    }

    #[test]
    fn invalid_utf8_in_csv_text_is_unreadable() {
        let mut doc = br#"{"data":{"attributes":{"inputs":"code\nA"#.to_vec();
        doc.extend_from_slice(&[0xff, 0xfe]);
        doc.extend_from_slice(br#"\n"}}}"#);
        let (chunks_tx, _rx) = mpsc::channel::<Vec<u8>>(16);
        let received = Scanner::new(&doc[..], ChunkSink::new(chunks_tx, 10))
            .run()
            .unwrap();
        assert!(matches!(received.count, Err(CountError::Unreadable(_))));
    }
}
