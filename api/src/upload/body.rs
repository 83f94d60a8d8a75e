//! The request body as it arrives: frames read from the socket under the size limit, and a
//! blocking `Read` over them for the scanner and the counting thread.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use futures::StreamExt;
use tokio::sync::mpsc;

use imports_common::model::Tenant;

use crate::errors::ApiError;
use crate::upload::permits::{UploadPermit, UploadPermits, SLOW_AFTER};

/// How fast a body must arrive: it may fall `timeout` behind `min_bytes_per_second`.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// The slack at any point.
    pub timeout: Duration,
    /// The average rate the body must keep up.
    pub min_bytes_per_second: u64,
}

impl Pace {
    /// When the byte after the first `received` ones must have arrived, for a body that
    /// began at `start`.
    fn deadline(&self, start: Instant, received: usize) -> Instant {
        let due = received as f64 / self.min_bytes_per_second as f64;
        start + self.timeout + Duration::from_secs_f64(due.min(1e9))
    }
}

/// Whose share of uploads a body takes once it turns out slow.
pub struct Share {
    /// The uploads in progress.
    pub permits: Arc<UploadPermits>,
    /// The tenant the create is for.
    pub tenant: Tenant,
}

/// Reads the body's frames from the socket and hands them to the scanner, enforcing the size
/// limit and the pace, and taking a permit of `share` once the body has taken
/// [`SLOW_AFTER`] (the permit is returned, to be held until the create answers). Stops
/// quietly when the scanner stops listening (it has an error to report).
pub(crate) async fn feed(
    body: Body,
    frames: mpsc::Sender<Bytes>,
    limit: usize,
    pace: Pace,
    share: Share,
) -> Result<Option<UploadPermit>, ApiError> {
    let mut stream = body.into_data_stream();
    let mut total = 0usize;
    let mut permit = None;
    let start = Instant::now();
    loop {
        let deadline = pace.deadline(start, total);
        let wake = match permit {
            None => deadline.min(start + SLOW_AFTER),
            Some(_) => deadline,
        };
        let frame = match tokio::time::timeout_at(wake.into(), stream.next()).await {
            Ok(frame) => frame,
            Err(_) if wake < deadline => {
                permit = Some(share.permits.acquire(&share.tenant)?);
                continue;
            }
            Err(_) => {
                return Err(ApiError::request_timeout(format!(
                    "the body arrived slower than {} bytes a second on average, the minimum (after {} bytes in {} s)",
                    pace.min_bytes_per_second,
                    total,
                    start.elapsed().as_secs()
                )))
            }
        };
        let Some(frame) = frame else {
            return Ok(permit);
        };
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
            let _ = tokio::time::timeout(pace.timeout, drain(stream, total, limit * 2)).await;
            return Err(ApiError::too_large(limit));
        }
        if frames.send(frame).await.is_err() {
            // The scanner stopped at an error: let the client finish sending (within the
            // limit and the pace) so that it reads the answer.
            let _ = tokio::time::timeout(pace.timeout, drain(stream, total, limit)).await;
            return Ok(permit);
        }
    }
}

/// Reads and drops what is left of a refused body, until `up_to` bytes in all, so that a
/// client still sending it reads the answer rather than a connection reset; past that, the
/// connection is closed on it.
pub(crate) async fn drain(
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

/// `Read` over byte buffers from a channel, on a blocking thread: the body's frames for the
/// scanner, the inputs for the counting thread.
pub(crate) struct ChannelReader {
    frames: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl ChannelReader {
    /// Reads the buffers of `frames` until it closes.
    pub(crate) fn new(frames: mpsc::Receiver<Bytes>) -> Self {
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
