//! Entry points for the fuzz targets of `fuzz/` (cargo-fuzz), which need a part of the API that
//! is private to it: the upload scanner. Not part of the API (hidden from its documentation);
//! each function only runs the code it names, with no behaviour of its own.

use std::io::BufReader;

use imports_storage::inputs::INPUT_CHUNK_BYTES;
use tokio::sync::mpsc;

use crate::errors::ApiError;
use crate::upload::scanner::Scanner;
use crate::upload::sink::ChunkSink;
use crate::upload::Received;

/// Walks `document` as a create's body, read through a buffer of `buffer` bytes (at least 1),
/// counting up to `max_inputs`: what the scanner received and the bytes it stored as the
/// inputs, or its error. Runs on the calling thread (never inside an async runtime).
pub fn scan_create_document(
    document: &[u8],
    buffer: usize,
    max_inputs: u64,
) -> Result<(Received, Vec<u8>), ApiError> {
    // The stored bytes are never more than the document: room for every chunk of them, so
    // the scanner never waits for a reader.
    let (chunks_tx, mut chunks_rx) = mpsc::channel(document.len() / INPUT_CHUNK_BYTES + 2);
    let reader = BufReader::with_capacity(buffer.max(1), document);
    let received = Scanner::new(reader, ChunkSink::new(chunks_tx, max_inputs)).run()?;
    let mut stored = Vec::new();
    while let Ok(chunk) = chunks_rx.try_recv() {
        stored.extend(chunk);
    }
    Ok((received, stored))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upload::{CountError, InputsShape};

    #[test]
    fn a_document_is_scanned_as_a_create_s_body() {
        let doc = br#"{"data":{"attributes":{"inputs":[{"code":"A"},{"code":"B"}],"resource_type":"skus"}}}"#;
        for buffer in [0, 1, 3, 64 * 1024] {
            let (received, stored) = scan_create_document(doc, buffer, 10).unwrap();
            assert_eq!(received.shape, InputsShape::Array);
            assert_eq!(received.count, Ok(2));
            assert_eq!(stored, br#"[{"code":"A"},{"code":"B"}]"#);
        }
        let (received, _) = scan_create_document(doc, 5, 1).unwrap();
        assert_eq!(received.count, Err(CountError::TooMany));
    }

    #[test]
    fn a_broken_document_is_the_scanner_s_error() {
        let e = scan_create_document(br#"{"data":"#, 4, 10).unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST);
    }
}
