//! Where the inputs' bytes go while the document is scanned: the database's chunk stream, in
//! chunks of [`INPUT_CHUNK_BYTES`], and the counting thread, until either refuses them.

use axum::body::Bytes;
use imports_common::inputs::DEFAULT_CSV_DELIMITER;
use imports_storage::inputs::INPUT_CHUNK_BYTES;
use tokio::sync::mpsc;

use crate::upload::body::ChannelReader;
use crate::upload::counting::{count_until, Utf8Check};
use crate::upload::{CountError, InputsShape, ScanError};

const PIPE_BUFFER_BYTES: usize = 64 * 1024;

/// Where the inputs' bytes go: the database's chunk stream and the counting thread.
pub(crate) struct ChunkSink {
    chunks: mpsc::Sender<Vec<u8>>,
    chunk: Vec<u8>,
    max_inputs: u64,
    /// The counting thread and its input, once the inputs begin.
    counter: Option<Counter>,
    /// Set once the inputs cannot be accepted: the rest is read but no longer passed on.
    pub(crate) refused: bool,
    /// The `csv_delimiter` given before the inputs, if any.
    pub(crate) declared_delimiter: Option<u8>,
    /// The delimiter the inputs are counted with.
    pub(crate) counted_with: u8,
    /// Whether CSV text is UTF-8 so far.
    pub(crate) utf8: Utf8Check,
}

struct Counter {
    pipe: Option<mpsc::Sender<Bytes>>,
    buffer: Vec<u8>,
    thread: std::thread::JoinHandle<Result<u64, CountError>>,
}

impl ChunkSink {
    /// A sink storing on `chunks`, counting up to `max_inputs`.
    pub(crate) fn new(chunks: mpsc::Sender<Vec<u8>>, max_inputs: u64) -> Self {
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
    pub(crate) fn start(&mut self, shape: InputsShape) {
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
    pub(crate) fn write(&mut self, bytes: &[u8], text: bool) -> Result<(), ScanError> {
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
    pub(crate) fn finish(&mut self) -> Result<Option<Result<u64, CountError>>, ScanError> {
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
