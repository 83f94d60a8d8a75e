//! Where a create's inputs wait while its body arrives, so that a slow client holds no
//! database connection or transaction: the first chunk in memory (most creates are small),
//! the rest in a temporary file unlinked as soon as it is made (nothing is left behind, even
//! by a crash). Once the body is whole, the handler opens its transaction and stores the
//! chunks at the database's pace, not the client's.

use std::path::Path;

use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// The chunks of one create's inputs, in order.
pub struct Staged {
    first: Option<Vec<u8>>,
    /// The file holding the chunks after the first, and their lengths.
    spilled: Option<(File, Vec<usize>)>,
    dir: std::path::PathBuf,
}

impl Staged {
    /// Nothing staged yet; chunks past the first go to a file in `dir`.
    pub fn new(dir: &Path) -> Self {
        Staged {
            first: None,
            spilled: None,
            dir: dir.to_owned(),
        }
    }

    /// Keeps the next chunk.
    pub async fn push(&mut self, chunk: Vec<u8>) -> std::io::Result<()> {
        if self.first.is_none() {
            self.first = Some(chunk);
            return Ok(());
        }
        if self.spilled.is_none() {
            self.spilled = Some((unlinked_file(&self.dir).await?, Vec::new()));
        }
        let (file, lengths) = self.spilled.as_mut().expect("made above");
        file.write_all(&chunk).await?;
        lengths.push(chunk.len());
        Ok(())
    }

    /// The chunks, read back in order.
    pub async fn chunks(&mut self) -> std::io::Result<Chunks<'_>> {
        if let Some((file, _)) = self.spilled.as_mut() {
            file.flush().await?;
            file.rewind().await?;
        }
        Ok(Chunks {
            staged: self,
            next: 0,
        })
    }
}

/// Reads staged chunks back, one at a time.
pub struct Chunks<'a> {
    staged: &'a mut Staged,
    next: usize,
}

impl Chunks<'_> {
    /// The next chunk, or `None` after the last.
    pub async fn next(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let at = self.next;
        self.next += 1;
        if at == 0 {
            return Ok(self.staged.first.clone());
        }
        let Some((file, lengths)) = self.staged.spilled.as_mut() else {
            return Ok(None);
        };
        let Some(&len) = lengths.get(at - 1) else {
            return Ok(None);
        };
        let mut chunk = vec![0; len];
        file.read_exact(&mut chunk).await?;
        Ok(Some(chunk))
    }
}

/// A new file in `dir`, removed from the directory at once: it lives as long as its handle.
async fn unlinked_file(dir: &Path) -> std::io::Result<File> {
    let path = dir.join(format!(
        "imports-upload-{}",
        imports_common::ids::random_secret()
    ));
    let file = tokio::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .await?;
    tokio::fs::remove_file(&path).await?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chunks_come_back_in_order_and_leave_no_file() {
        let dir = std::env::temp_dir().join(format!("staging-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut staged = Staged::new(&dir);
        for i in 0..4u8 {
            staged.push(vec![i; 10 + i as usize]).await.unwrap();
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "unlinked");
        for _ in 0..2 {
            let mut chunks = staged.chunks().await.unwrap();
            for i in 0..4u8 {
                assert_eq!(chunks.next().await.unwrap(), Some(vec![i; 10 + i as usize]));
            }
            assert_eq!(chunks.next().await.unwrap(), None);
        }
        std::fs::remove_dir(&dir).unwrap();
    }
}
