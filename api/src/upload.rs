//! Receives a create request's body as a stream, so that an import of any size costs the API
//! a few megabytes rather than its own size.
//!
//! A create document is small but for one attribute, `data.attributes.inputs`, which may hold
//! hundreds of megabytes (a JSON array, or CSV text in a JSON string). [`receive`] reads the
//! body from the socket, and on a blocking thread a [`Scanner`] walks the document:
//!
//! - everything but the inputs is copied into a small *skeleton* document, with `true` in
//!   place of the inputs, which the handler then reads with serde as any other document;
//! - the inputs are sent on, as uploaded for an array and decoded for CSV text, to the
//!   database in chunks of [`INPUT_CHUNK_BYTES`], and to a counting thread that parses every
//!   input exactly as the worker will (so an accepted file is a file the worker can read) and
//!   stops as soon as the count passes the limit.
//!
//! CSV is counted with the `csv_delimiter` the document gives before `inputs`, or with the
//! default (`,`) when it gives none there. A delimiter that follows the inputs and differs
//! from the default is only known at the end: the handler then counts again what was stored
//! ([`recount`]), which it can because the inputs are stored whole in that case.
//!
//! Memory is bounded by the channels between these steps, whatever the size of the import.

use std::io::{BufRead, BufReader, Read};

use axum::body::Body;
use axum::body::Bytes;
use futures::StreamExt;
use imports_common::inputs::{parse_csv_delimiter, read_inputs, ReadStop, DEFAULT_CSV_DELIMITER};
use imports_common::model::Format;
use imports_storage::inputs::INPUT_CHUNK_BYTES;
use tokio::sync::mpsc;

use crate::errors::ApiError;

/// The largest skeleton (the document without its inputs) accepted: attributes such as
/// `metadata` are meant to be small.
pub const MAX_SKELETON_BYTES: usize = 4 * 1024 * 1024;

/// What the inputs attribute held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputsShape {
    /// No `inputs` attribute.
    Absent,
    /// A JSON array, streamed as uploaded.
    Array,
    /// A JSON string (CSV text), streamed decoded.
    Text,
    /// Anything else (null, a number, an object): left in the skeleton for the handler to
    /// explain.
    Other,
}

impl InputsShape {
    /// The format the inputs' shape implies.
    fn format(self) -> Option<Format> {
        match self {
            InputsShape::Array => Some(Format::Json),
            InputsShape::Text => Some(Format::Csv),
            _ => None,
        }
    }
}

/// Why counting the inputs stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountError {
    /// More inputs than the limit.
    TooMany,
    /// The inputs cannot be read as the format their shape implies.
    Unreadable(String),
}

/// A create document, received.
#[derive(Debug)]
pub struct Received {
    /// The document with `true` in place of the inputs.
    pub skeleton: Vec<u8>,
    /// What the inputs were.
    pub shape: InputsShape,
    /// How many inputs there were (for an array or CSV text).
    pub count: Result<u64, CountError>,
    /// The CSV delimiter `count` was counted with.
    pub counted_with: u8,
    /// Whether every byte of the inputs was stored (none were skipped once the count had
    /// failed), so that they can be counted again.
    pub stored_whole: bool,
    /// Whether CSV text was valid UTF-8 (when it is not, that is the count's verdict,
    /// whatever the delimiter).
    pub text_is_utf8: bool,
}

/// Limits applied while receiving.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest body, in bytes.
    pub max_body_bytes: usize,
    /// The most inputs counted before giving up.
    pub max_inputs: u64,
}

/// Starts receiving `body`: returns the receiving future, which resolves once the whole
/// document is read, and the stream of input chunks to store meanwhile, in order. The chunk
/// stream must be drained while the future runs (the two are bounded by each other).
pub fn receive(
    body: Body,
    limits: Limits,
) -> (
    impl std::future::Future<Output = Result<Received, ApiError>>,
    mpsc::Receiver<Vec<u8>>,
) {
    let (frames_tx, frames_rx) = mpsc::channel::<Bytes>(16);
    let (chunks_tx, chunks_rx) = mpsc::channel::<Vec<u8>>(2);
    let receiving = async move {
        let scanning = tokio::task::spawn_blocking(move || {
            let reader = BufReader::with_capacity(64 * 1024, ChannelReader::new(frames_rx));
            Scanner::new(reader, ChunkSink::new(chunks_tx, limits.max_inputs)).run()
        });
        let feeding = feed(body, frames_tx, limits.max_body_bytes);
        let fed = feeding.await;
        let scanned = scanning
            .await
            .map_err(|e| ApiError::internal(format!("the upload reader failed: {e}")))?;
        // A body that could not be read wholly explains any scanning error it caused.
        fed?;
        scanned
    };
    (receiving, chunks_rx)
}

/// Counts the inputs stored under `import_id` again, read back through `client` (the create's
/// transaction), as CSV split on `delimiter`: for a `csv_delimiter` that followed the inputs
/// in the document, once they had been counted with the default.
pub async fn recount<C: tokio_postgres::GenericClient>(
    client: &C,
    import_id: &str,
    delimiter: u8,
    max_inputs: u64,
) -> Result<Result<u64, CountError>, ApiError> {
    let (bytes, frames) = mpsc::channel::<Bytes>(2);
    let counting = tokio::task::spawn_blocking(move || {
        count_until(
            Format::Csv,
            delimiter,
            ChannelReader::new(frames),
            max_inputs,
        )
    });
    let mut seq = 0;
    while let Some(chunk) = imports_storage::inputs::input_chunk(client, import_id, seq).await? {
        if bytes.send(Bytes::from(chunk)).await.is_err() {
            break; // The count is decided.
        }
        seq += 1;
    }
    drop(bytes);
    counting
        .await
        .map_err(|e| ApiError::internal(format!("the inputs could not be counted: {e}")))
}

/// Counts inputs as the worker will read them, stopping as soon as there are more than
/// `max`.
fn count_until(
    format: Format,
    delimiter: u8,
    reader: impl Read,
    max: u64,
) -> Result<u64, CountError> {
    let mut seen = 0u64;
    match read_inputs(format, delimiter, reader, 0, |_| {
        seen += 1;
        seen <= max
    }) {
        Ok(n) => Ok(n),
        Err(ReadStop::Cancelled) => Err(CountError::TooMany),
        Err(ReadStop::Unreadable(e)) => Err(CountError::Unreadable(e.0)),
        Err(ReadStop::Io(e)) => Err(CountError::Unreadable(format!(
            "the inputs cannot be read: {e}"
        ))),
    }
}

/// Reads the body's frames from the socket and hands them to the scanner, enforcing the size
/// limit. Stops quietly when the scanner stops listening (it has an error to report).
async fn feed(body: Body, frames: mpsc::Sender<Bytes>, limit: usize) -> Result<(), ApiError> {
    let mut stream = body.into_data_stream();
    let mut total = 0usize;
    while let Some(frame) = stream.next().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                let text = e.to_string();
                if text.contains("length limit") {
                    return Err(ApiError::too_large(limit));
                }
                return Err(ApiError::bad_request(format!(
                    "the request body cannot be read: {text}"
                )));
            }
        };
        total += frame.len();
        if total > limit {
            drain(stream, total, limit.saturating_mul(2)).await;
            return Err(ApiError::too_large(limit));
        }
        if frames.send(frame).await.is_err() {
            // The scanner stopped at an error: let the client finish sending (within the
            // limit) so that it reads the answer.
            drain(stream, total, limit).await;
            return Ok(());
        }
    }
    Ok(())
}

/// Reads and drops what is left of a refused body, until `up_to` bytes in all, so that a
/// client still sending it reads the answer rather than a connection reset; past that, the
/// connection is closed on it.
async fn drain(
    mut stream: impl futures::Stream<Item = Result<Bytes, axum::Error>> + Unpin,
    mut total: usize,
    up_to: usize,
) {
    while total <= up_to {
        match stream.next().await {
            Some(Ok(frame)) => total += frame.len(),
            _ => return,
        }
    }
}

/// Refuses a body whose declared length is over the limit, after draining it (see [`drain`]).
pub async fn refuse_oversized(body: Body, limit: usize) -> ApiError {
    drain(body.into_data_stream(), 0, limit.saturating_mul(2)).await;
    ApiError::too_large(limit)
}

/// `Read` over byte buffers from a channel, on a blocking thread: the body's frames for the
/// scanner, the inputs for the counting thread.
struct ChannelReader {
    frames: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl ChannelReader {
    fn new(frames: mpsc::Receiver<Bytes>) -> Self {
        ChannelReader {
            frames,
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.frames.blocking_recv() {
                Some(frame) => self.current = frame,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

const PIPE_BUFFER_BYTES: usize = 64 * 1024;

/// Where the inputs' bytes go: the database's chunk stream and the counting thread.
struct ChunkSink {
    chunks: mpsc::Sender<Vec<u8>>,
    chunk: Vec<u8>,
    max_inputs: u64,
    /// The counting thread and its input, once the inputs begin.
    counter: Option<Counter>,
    /// Set once the inputs cannot be accepted: the rest is read but no longer passed on.
    refused: bool,
    /// The `csv_delimiter` given before the inputs, if any.
    declared_delimiter: Option<u8>,
    /// The delimiter the inputs are counted with.
    counted_with: u8,
    utf8: Utf8Check,
}

struct Counter {
    pipe: Option<mpsc::Sender<Bytes>>,
    buffer: Vec<u8>,
    thread: std::thread::JoinHandle<Result<u64, CountError>>,
}

impl ChunkSink {
    fn new(chunks: mpsc::Sender<Vec<u8>>, max_inputs: u64) -> Self {
        ChunkSink {
            chunks,
            chunk: Vec::with_capacity(INPUT_CHUNK_BYTES),
            max_inputs,
            counter: None,
            refused: false,
            declared_delimiter: None,
            counted_with: DEFAULT_CSV_DELIMITER,
            utf8: Utf8Check::default(),
        }
    }

    /// The inputs begin, with this shape.
    fn start(&mut self, shape: InputsShape) {
        let Some(format) = shape.format() else { return };
        let (pipe, buffers) = mpsc::channel::<Bytes>(4);
        let max = self.max_inputs;
        let delimiter = self.declared_delimiter.unwrap_or(DEFAULT_CSV_DELIMITER);
        self.counted_with = delimiter;
        let thread = std::thread::spawn(move || {
            count_until(format, delimiter, ChannelReader::new(buffers), max)
        });
        self.counter = Some(Counter {
            pipe: Some(pipe),
            buffer: Vec::with_capacity(PIPE_BUFFER_BYTES),
            thread,
        });
    }

    /// More bytes of the inputs. Fails only when the database side stopped listening.
    fn write(&mut self, bytes: &[u8], text: bool) -> Result<(), ScanError> {
        if self.refused {
            return Ok(());
        }
        if text && !self.utf8.push(bytes) {
            self.refuse();
            return Ok(());
        }
        let Some(counter) = self.counter.as_mut() else {
            return Ok(());
        };
        counter.buffer.extend_from_slice(bytes);
        if counter.buffer.len() >= PIPE_BUFFER_BYTES {
            let full =
                std::mem::replace(&mut counter.buffer, Vec::with_capacity(PIPE_BUFFER_BYTES));
            let sent = counter
                .pipe
                .as_ref()
                .is_some_and(|p| p.blocking_send(Bytes::from(full)).is_ok());
            if !sent {
                // The counter stopped: too many inputs, or unreadable ones. Its verdict is
                // the answer; storing the rest would be wasted.
                self.refuse();
                return Ok(());
            }
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            let room = INPUT_CHUNK_BYTES - self.chunk.len();
            let (now, later) = rest.split_at(room.min(rest.len()));
            self.chunk.extend_from_slice(now);
            rest = later;
            if self.chunk.len() == INPUT_CHUNK_BYTES {
                self.flush_chunk()?;
            }
        }
        Ok(())
    }

    fn flush_chunk(&mut self) -> Result<(), ScanError> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.chunk, Vec::with_capacity(INPUT_CHUNK_BYTES));
        self.chunks
            .blocking_send(full)
            .map_err(|_| ScanError::StorageStopped)
    }

    fn refuse(&mut self) {
        self.refused = true;
        self.chunk = Vec::new();
        if let Some(counter) = self.counter.as_mut() {
            counter.pipe = None;
            counter.buffer = Vec::new();
        }
    }

    /// The inputs ended: flushes what is buffered and waits for the count.
    fn finish(&mut self) -> Result<Option<Result<u64, CountError>>, ScanError> {
        // Text refused for another reason (too many inputs) was not checked to its end.
        let bad_text = !self.utf8.ok || (!self.refused && !self.utf8.finish());
        if bad_text {
            self.refuse();
            if let Some(counter) = self.counter.take() {
                drop(counter.pipe);
                let _ = counter.thread.join();
            }
            return Ok(Some(Err(CountError::Unreadable(
                "the CSV text is not valid UTF-8".into(),
            ))));
        }
        if !self.refused {
            self.flush_chunk()?;
        }
        let Some(mut counter) = self.counter.take() else {
            return Ok(None);
        };
        if let Some(pipe) = counter.pipe.take() {
            if !counter.buffer.is_empty() {
                let _ = pipe.blocking_send(Bytes::from(std::mem::take(&mut counter.buffer)));
            }
        }
        let count = counter
            .thread
            .join()
            .unwrap_or_else(|_| Err(CountError::Unreadable("the inputs cannot be read".into())));
        Ok(Some(count))
    }
}

/// Checks UTF-8 across buffer boundaries (CSV text is decoded from the JSON string in pieces).
struct Utf8Check {
    carry: Vec<u8>,
    ok: bool,
}

impl Default for Utf8Check {
    fn default() -> Self {
        Utf8Check {
            carry: Vec::new(),
            ok: true,
        }
    }
}

impl Utf8Check {
    fn push(&mut self, bytes: &[u8]) -> bool {
        if !self.ok {
            return false;
        }
        let joined;
        let data: &[u8] = if self.carry.is_empty() {
            bytes
        } else {
            joined = [std::mem::take(&mut self.carry).as_slice(), bytes].concat();
            &joined
        };
        match std::str::from_utf8(data) {
            Ok(_) => {}
            Err(e) if e.error_len().is_none() => {
                self.carry = data[e.valid_up_to()..].to_vec();
            }
            Err(_) => self.ok = false,
        }
        self.ok
    }

    fn finish(&mut self) -> bool {
        self.ok && self.carry.is_empty()
    }
}

/// Why the document could not be received.
#[derive(Debug)]
enum ScanError {
    /// Not JSON, or not the expected shape around the inputs.
    Syntax(String),
    /// The document without its inputs is too large.
    SkeletonTooLarge,
    /// The database side stopped (its own error is the one to report).
    StorageStopped,
}

impl From<ScanError> for ApiError {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::Syntax(why) => {
                ApiError::bad_request(format!("the body is not valid JSON: {why}"))
            }
            ScanError::SkeletonTooLarge => ApiError::too_large(MAX_SKELETON_BYTES),
            ScanError::StorageStopped => ApiError::internal("the inputs could not be stored"),
        }
    }
}

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
        for (i, &b) in buf.iter().enumerate() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'[' | b'{' => self.depth += 1,
                b']' | b'}' if self.depth > 0 => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r' if self.depth == 0 => {
                    return Some(i);
                }
                _ if self.depth == 0 => self.scalar = true,
                _ => {}
            }
        }
        None
    }
}

/// Walks a create document (see the module's documentation).
struct Scanner<R: BufRead> {
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
    fn new(src: R, sink: ChunkSink) -> Self {
        Scanner {
            src,
            skeleton: Vec::new(),
            sink,
            shape: InputsShape::Absent,
            count: None,
            offset: 0,
        }
    }

    fn run(mut self) -> Result<Received, ApiError> {
        self.document()?;
        Ok(Received {
            skeleton: self.skeleton,
            shape: self.shape,
            count: self.count.unwrap_or(Ok(0)),
            counted_with: self.sink.counted_with,
            stored_whole: !self.sink.refused,
            text_is_utf8: self.sink.utf8.ok && self.sink.utf8.carry.is_empty(),
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
