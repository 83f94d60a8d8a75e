//! Signed, expiring download URLs for an import's raw inputs, served gzipped without the
//! bearer token (as the reference API's attachment_url).

use imports_storage::inputs;
use std::io::Write;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use flate2::write::GzEncoder;
use flate2::Compression;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::errors::ApiError;
use crate::AppState;

/// How long an attachment URL works.
pub const LIFETIME_SECONDS: i64 = 300;

fn mac(key: &[u8], import_id: &str, expires: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(format!("{import_id}:{expires}").as_bytes());
    mac
}

/// A URL for `import_id`'s inputs, valid for [`LIFETIME_SECONDS`].
pub fn signed_url(state: &AppState, import_id: &str) -> String {
    let expires = chrono::Utc::now().timestamp() + LIFETIME_SECONDS;
    url_expiring_at(
        &state.config.public_url,
        &state.config.signing_secret,
        import_id,
        expires,
    )
}

/// A URL for `import_id`'s inputs that expires at `expires` (Unix seconds).
pub fn url_expiring_at(public_url: &str, secret: &str, import_id: &str, expires: i64) -> String {
    let signature = hex::encode(
        mac(secret.as_bytes(), import_id, expires)
            .finalize()
            .into_bytes(),
    );
    format!(
        "{}/api/imports/{import_id}/attachment?expires={expires}&signature={signature}",
        public_url.trim_end_matches('/')
    )
}

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
    let (Some(expires), Some(signature)) = (sig.expires, sig.signature) else {
        return Err(forbidden("the URL is not signed"));
    };
    let given = hex::decode(&signature).map_err(|_| forbidden("the signature is invalid"))?;
    // verify_slice compares in constant time.
    mac(state.config.signing_secret.as_bytes(), &import_id, expires)
        .verify_slice(&given)
        .map_err(|_| forbidden("the signature is invalid"))?;
    if chrono::Utc::now().timestamp() > expires {
        return Err(forbidden(
            "the URL has expired; read the import again for a fresh one",
        ));
    }
    let client = state.pool.get().await?;
    if !imports_storage::imports::import_exists(&**client, &import_id).await? {
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
                    Ok(client) => inputs::input_chunk(&**client, &import_id, seq).await,
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

fn forbidden(detail: &str) -> ApiError {
    ApiError::forbidden(detail)
}
