//! Receives a create request's body as a stream, so that an import of any size costs the API
//! a few megabytes rather than its own size.
//!
//! A create document is small but for one attribute, `data.attributes.inputs`, which may hold
//! hundreds of megabytes (a JSON array, or CSV text in a JSON string). [`receive`] reads the
//! body from the socket, and on a blocking thread a [`Scanner`] walks the document:
//!
//! - everything but the inputs is copied into a small *skeleton* document, with `true` in
//!   place of the inputs, which the handler then reads with serde as any other document;
//! - the inputs are sent on, as uploaded for an array and decoded for CSV text, in chunks of
//!   [`INPUT_CHUNK_BYTES`](imports_storage::inputs::INPUT_CHUNK_BYTES) to the handler, which
//!   stages them ([`staging`]) until the body is whole, and to a counting thread that parses
//!   every input exactly as the worker will (so an accepted file is a file the worker can
//!   read) and stops as soon as the count passes the limit.
//!
//! CSV is counted with the `csv_delimiter` the document gives before `inputs`, or with the
//! default (`,`) when it gives none there. A delimiter that follows the inputs and differs
//! from the default is only known at the end: the handler then counts again what was staged
//! ([`recount`]), which it can because the inputs are staged whole in that case.
//!
//! Memory is bounded by the channels between these steps, whatever the size of the import.
//! Time is bounded too: the body must keep up a minimum rate ([`body::Pace`]), and no
//! database connection is taken until it is whole, so a slow client costs only its own
//! upload permit ([`permits`]) and staging file.
//!
//! The steps, in the order the bytes flow: `body` (the frames from the socket, at a minimum
//! pace), `scanner` (walking the document), `sink` (passing the inputs on, feeding the count),
//! `counting` (the count as the worker reads, and the UTF-8 check of CSV text) and
//! [`staging`] (the chunks kept until the transaction).

pub mod body;
mod counting;
pub mod permits;
pub(crate) mod scanner;
pub(crate) mod sink;
pub mod staging;

use std::io::BufReader;

use axum::body::{Body, Bytes};
use imports_common::model::Format;
use tokio::sync::mpsc;

use crate::errors::ApiError;
use crate::upload::body::{feed, ChannelReader};
pub use crate::upload::body::{Pace, Share};
use crate::upload::counting::count_until;
use crate::upload::scanner::Scanner;
use crate::upload::sink::ChunkSink;

/// The largest skeleton (the document without its inputs) accepted: the limit of every other
/// request document.
pub const MAX_SKELETON_BYTES: usize = crate::document::MAX_DOCUMENT_BYTES;

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
    /// The input at this position (from 0) is larger than
    /// [`MAX_INPUT_BYTES`](imports_common::inputs::MAX_INPUT_BYTES).
    InputTooLarge(u64),
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
    /// The tenant's upload permit, when the body was slow enough to need one: held until
    /// the create answers.
    pub permit: Option<permits::UploadPermit>,
}

/// Limits applied while receiving.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest body, in bytes.
    pub max_body_bytes: usize,
    /// The most inputs counted before giving up.
    pub max_inputs: u64,
    /// How fast the body must arrive.
    pub pace: Pace,
}

/// Starts receiving `body`: returns the receiving future, which resolves once the whole
/// document is read, and the stream of input chunks to store meanwhile, in order. The chunk
/// stream must be drained while the future runs (the two are bounded by each other).
pub fn receive(
    body: Body,
    limits: Limits,
    share: Share,
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
        let feeding = feed(body, frames_tx, limits.max_body_bytes, limits.pace, share);
        let fed = feeding.await;
        let scanned = scanning
            .await
            .map_err(|e| ApiError::internal(format!("the upload reader failed: {e}")))?;
        // A body that could not be read wholly explains any scanning error it caused.
        let permit = fed?;
        scanned.map(|received| Received { permit, ..received })
    };
    (receiving, chunks_rx)
}

/// Counts the staged inputs again, as CSV split on `delimiter`: for a `csv_delimiter` that
/// followed the inputs in the document, once they had been counted with the default.
pub async fn recount(
    staged: &mut staging::Staged,
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
    let mut chunks = staged.chunks().await.map_err(staging_failed)?;
    while let Some(chunk) = chunks.next().await.map_err(staging_failed)? {
        if bytes.send(Bytes::from(chunk)).await.is_err() {
            break; // The count is decided.
        }
    }
    drop(bytes);
    counting
        .await
        .map_err(|e| ApiError::internal(format!("the inputs could not be counted: {e}")))
}

/// A staging file that could not be written or read back (a full disk, say).
pub fn staging_failed(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "staging an upload failed");
    ApiError::busy("the upload could not be staged on this server; retry shortly")
}

/// Refuses a body whose declared length is over the limit, after draining it (see [`body::drain`]).
pub async fn refuse_oversized(body: Body, limit: usize, pace: Pace) -> ApiError {
    let draining = body::drain(body.into_data_stream(), 0, limit.saturating_mul(2));
    let _ = tokio::time::timeout(pace.timeout, draining).await;
    ApiError::too_large(limit)
}

/// Why the document could not be received.
#[derive(Debug)]
pub(crate) enum ScanError {
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
            ScanError::SkeletonTooLarge => {
                ApiError::too_large_for("the document without its inputs", MAX_SKELETON_BYTES)
            }
            ScanError::StorageStopped => ApiError::internal("the inputs could not be stored"),
        }
    }
}
