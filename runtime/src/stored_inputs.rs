//! Reads an import's stored inputs as a byte stream, one chunk at a time, for the blocking
//! parser: constant memory whatever the size of the import.

use std::io::Read;

use deadpool_postgres::Pool;
use imports_storage::inputs;

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
                inputs::input_chunk(&**client, &self.import_id, self.next_seq)
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
