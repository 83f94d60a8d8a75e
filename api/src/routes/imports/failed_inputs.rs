//! `GET /api/imports/{id}/failed_inputs`: the report of the inputs that failed, as CSV or
//! JSON.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use imports_common::failed_inputs::{stream_report, Failures, ReportFormat};
use imports_common::inputs::DEFAULT_CSV_DELIMITER;
use imports_runtime::stored_inputs::{StoredErrors, StoredInputs};
use imports_storage::logs::{self, ERROR_PAGE_ENTRIES};

use crate::auth::Authenticated;
use crate::errors::ApiError;
use crate::routes::imports::find;
use crate::AppState;

/// `GET /api/imports/{id}/failed_inputs`: the failed-inputs report (see
/// [`imports_common::failed_inputs`]): CSV to fix and import again, or with `?format=json`
/// (or `Accept: application/json`) a JSON array with one element per error.
///
/// The report is streamed: written on a blocking thread as the error entries (page by page)
/// and the stored inputs (chunk by chunk) are read, and sent as it is written, so it costs
/// the API a few pages and chunks whatever its size. A failure once the answer has started
/// cuts the connection: the client sees a broken transfer, never a short report as whole.
pub async fn failed_inputs(
    State(state): State<AppState>,
    Authenticated(tenant): Authenticated,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let report_format = report_format(&pairs, &headers)?;
    let (import, first_page) = {
        let client = state.pool.get().await?;
        let import = find(&client, &tenant, &id).await?;
        // Read before answering, so that storage being unreachable is an error document.
        let first_page = logs::error_entries_page(&*client, &id, -1, ERROR_PAGE_ENTRIES).await?;
        (import, first_page)
    };
    let (format, delimiter) = (
        import.format,
        import.csv_delimiter.unwrap_or(DEFAULT_CSV_DELIMITER),
    );
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(SENT_AHEAD);
    let (pool, handle) = (state.pool.clone(), tokio::runtime::Handle::current());
    let import_id = import.id.clone();
    tokio::task::spawn_blocking(move || {
        let mut first_page = Some(first_page);
        let open = || {
            let inputs = StoredInputs::new(handle.clone(), pool.clone(), import_id.clone());
            // A second pass (the CSV report of a JSON import) reads the first page again.
            let page = match first_page.take() {
                Some(page) => page,
                None => handle.block_on(async {
                    let client = pool.get().await?;
                    Ok::<_, anyhow::Error>(
                        logs::error_entries_page(&*client, &import_id, -1, ERROR_PAGE_ENTRIES)
                            .await?,
                    )
                })?,
            };
            let errors = StoredErrors::new(handle.clone(), pool.clone(), import_id.clone(), page);
            Ok((inputs, Box::new(errors) as Failures))
        };
        let mut body = ChannelWriter {
            tx: tx.clone(),
            buffer: Vec::with_capacity(SEND_BYTES),
        };
        let written = stream_report(format, delimiter, report_format, open, &mut body)
            .and_then(|()| Ok(body.send()?));
        if let Err(e) = written {
            // Ends the body with an error: the connection is cut, the report not complete.
            tracing::error!(import_id = %import_id, "the failed-inputs report failed: {e:#}");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let (content_type, extension) = match report_format {
        ReportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        ReportFormat::Json => ("application/json", "json"),
    };
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}-failed-inputs.{extension}\"",
                    import.id
                ),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Bytes gathered before they are sent as one piece of the body.
const SEND_BYTES: usize = 64 * 1024;
/// Pieces written ahead of a client that reads slowly (the writer then waits for it).
const SENT_AHEAD: usize = 4;

/// The response body as a [`std::io::Write`] for the blocking report writer: pieces of
/// [`SEND_BYTES`] sent down a bounded channel, waiting while the client is behind; a client
/// gone is a write error that stops the report.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.buffer, Vec::with_capacity(SEND_BYTES));
        self.tx
            .blocking_send(Ok(Bytes::from(piece)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client left"))
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= SEND_BYTES {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // Pieces are sent when full and at the end: a flush of the CSV writer need not
        // send a small piece of its own.
        Ok(())
    }
}

/// The form of the failed-inputs report asked for: `?format=csv|json`, else the first of
/// `text/csv` and `application/json` in `Accept`, else CSV.
fn report_format(
    pairs: &[(String, String)],
    headers: &HeaderMap,
) -> Result<ReportFormat, ApiError> {
    let mut asked = None;
    for (key, value) in pairs {
        if key != "format" {
            return Err(ApiError::bad_parameter(
                key,
                format!("'{key}' is not a known parameter"),
            ));
        }
        asked = Some(match value.as_str() {
            "csv" => ReportFormat::Csv,
            "json" => ReportFormat::Json,
            _ => {
                return Err(ApiError::bad_parameter(
                    "format",
                    "format must be csv or json",
                ))
            }
        });
    }
    if let Some(asked) = asked {
        return Ok(asked);
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let first =
        accept
            .split(',')
            .find_map(|media| match media.split(';').next().unwrap_or("").trim() {
                "text/csv" => Some(ReportFormat::Csv),
                "application/json" => Some(ReportFormat::Json),
                _ => None,
            });
    Ok(first.unwrap_or(ReportFormat::Csv))
}
