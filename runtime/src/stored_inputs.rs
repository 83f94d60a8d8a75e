//! Reads an import's stored inputs as a byte stream, one chunk at a time, for the blocking
//! parser, and its error entries as an iterator, one page at a time, for the failed-inputs
//! report: constant memory whatever the size of the import.

use std::io::Read;

use deadpool_postgres::Pool;
use imports_storage::inputs;
use imports_storage::logs::{self, LogEntry, ERROR_PAGE_ENTRIES};

use crate::retry::RetryPolicy;
use tokio::runtime::Handle;

/// A [`Read`] over the chunks of `import_inputs`, fetched on demand from a blocking thread.
pub struct StoredInputs {
    handle: Handle,
    pool: Pool,
    import_id: String,
    next_seq: i32,
    chunk: Vec<u8>,
    offset: usize,
    done: bool,
}

impl StoredInputs {
    /// A reader of `import_id`'s inputs. Must be read from a blocking thread of `handle`'s runtime.
    pub fn new(handle: Handle, pool: Pool, import_id: String) -> Self {
        StoredInputs {
            handle,
            pool,
            import_id,
            next_seq: 0,
            chunk: Vec::new(),
            offset: 0,
            done: false,
        }
    }

    fn fetch(&self) -> std::io::Result<Option<Vec<u8>>> {
        let mut backoff = RetryPolicy::INPUT_FETCH.start();
        loop {
            let attempt = self.handle.block_on(async {
                let client = self.pool.get().await.map_err(|e| e.to_string())?;
                inputs::input_chunk(&*client, &self.import_id, self.next_seq)
                    .await
                    .map_err(|e| e.to_string())
            });
            match attempt {
                Ok(chunk) => return Ok(chunk),
                Err(e) => match backoff.next_delay() {
                    Some(delay) => {
                        tracing::warn!(import_id = %self.import_id, "cannot fetch inputs yet: {e}");
                        std::thread::sleep(delay);
                    }
                    None => return Err(std::io::Error::other(e)),
                },
            }
        }
    }
}

impl Read for StoredInputs {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.offset >= self.chunk.len() {
            if self.done {
                return Ok(0);
            }
            match self.fetch()? {
                Some(chunk) => {
                    self.chunk = chunk;
                    self.offset = 0;
                    self.next_seq += 1;
                }
                None => self.done = true,
            }
        }
        let n = buf.len().min(self.chunk.len() - self.offset);
        buf[..n].copy_from_slice(&self.chunk[self.offset..self.offset + n]);
        self.offset += n;
        Ok(n)
    }
}

/// The error entries of an import, in input order, as a blocking iterator of
/// `(position, (key, attribute, message))`, read page by page
/// ([`logs::error_entries_page`]), each page on a pool connection taken for that query alone.
pub struct StoredErrors {
    handle: Handle,
    pool: Pool,
    import_id: String,
    page: std::vec::IntoIter<LogEntry>,
    /// The last position read; `None` once a page came back empty.
    after: Option<i64>,
}

impl StoredErrors {
    /// An iterator of `import_id`'s errors, starting with `first_page` (read by the caller,
    /// before it answers: see [`logs::error_entries_page`] with `after` `-1`). Must be read
    /// from a blocking thread of `handle`'s runtime.
    pub fn new(handle: Handle, pool: Pool, import_id: String, first_page: Vec<LogEntry>) -> Self {
        let after = first_page.last().map(|e| e.position);
        StoredErrors {
            handle,
            pool,
            import_id,
            page: first_page.into_iter(),
            after,
        }
    }

    fn fetch(&self, after: i64) -> std::io::Result<Vec<LogEntry>> {
        let mut backoff = RetryPolicy::INPUT_FETCH.start();
        loop {
            let attempt = self.handle.block_on(async {
                let client = self.pool.get().await.map_err(|e| e.to_string())?;
                logs::error_entries_page(&*client, &self.import_id, after, ERROR_PAGE_ENTRIES)
                    .await
                    .map_err(|e| e.to_string())
            });
            match attempt {
                Ok(page) => return Ok(page),
                Err(e) => match backoff.next_delay() {
                    Some(delay) => {
                        tracing::warn!(import_id = %self.import_id, "cannot fetch errors yet: {e}");
                        std::thread::sleep(delay);
                    }
                    None => return Err(std::io::Error::other(e)),
                },
            }
        }
    }
}

impl Iterator for StoredErrors {
    type Item = std::io::Result<(i64, (String, String, String))>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.page.next() {
                let failure = (e.key, e.attribute.unwrap_or_default(), e.message);
                return Some(Ok((e.position, failure)));
            }
            let after = self.after?;
            match self.fetch(after) {
                Ok(page) => {
                    self.after = page.last().map(|e| e.position);
                    self.page = page.into_iter();
                }
                Err(e) => {
                    self.after = None;
                    return Some(Err(e));
                }
            }
        }
    }
}
