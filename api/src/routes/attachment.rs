//! `GET /api/imports/{id}/attachment`: an import's raw inputs, gzipped, for a signed URL
//! (see [`crate::attachments`]).

use std::io::Write;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use flate2::write::GzEncoder;
use flate2::Compression;
use imports_storage::inputs;

use crate::errors::ApiError;
use crate::{attachments, AppState};

/// The query of a signed URL.
#[derive(serde::Deserialize)]
pub struct Signature {
    expires: Option<i64>,
    signature: Option<String>,
}

/// `GET /api/imports/{id}/attachment?expires=..&signature=..`: the raw inputs, gzipped.
pub async fn download(
    State(state): State<AppState>,
    Path(import_id): Path<String>,
    Query(sig): Query<Signature>,
) -> Result<Response, ApiError> {
    attachments::check_signature(
        &state.config.signing_secret,
        &import_id,
        sig.expires,
        sig.signature.as_deref(),
    )?;
    let client = state.pool.get().await?;
    if !imports_storage::imports::import_exists(&*client, &import_id).await? {
        return Err(ApiError::not_found("import"));
    }
    drop(client);
    // Stream chunk by chunk through the gzip encoder: constant memory whatever the size.
    let pool = state.pool.clone();
    let stream = futures::stream::unfold(
        Some((0i32, GzEncoder::new(Vec::new(), Compression::fast()))),
        move |st| {
            let pool = pool.clone();
            let import_id = import_id.clone();
            async move {
                let (seq, mut gz) = st?;
                let chunk = match pool.get().await {
                    Ok(client) => inputs::input_chunk(&*client, &import_id, seq).await,
                    Err(e) => return Some((Err(std::io::Error::other(e.to_string())), None)),
                };
                match chunk {
                    Ok(Some(data)) => {
                        let out = gz
                            .write_all(&data)
                            .map(|_| Bytes::from(std::mem::take(gz.get_mut())));
                        Some((out, Some((seq + 1, gz))))
                    }
                    Ok(None) => Some((gz.finish().map(Bytes::from), None)),
                    Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
                }
            }
        },
    );
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/gzip"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"inputs.gz\"",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
