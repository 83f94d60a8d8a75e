//! Signed, expiring download URLs for an import's raw inputs, which work without the bearer
//! token (as the reference API's attachment_url), with this process's secret; the signing
//! itself is [`imports_runtime::attachment_urls`].

pub use imports_runtime::attachment_urls::{url_expiring_at, LIFETIME_SECONDS};

use crate::errors::ApiError;
use crate::AppState;

/// A URL for `import_id`'s inputs, valid for [`LIFETIME_SECONDS`].
pub fn signed_url(state: &AppState, import_id: &str) -> String {
    imports_runtime::attachment_urls::signed_url(
        &state.config.public_url,
        &state.config.signing_secret,
        import_id,
    )
}

/// Checks a signed URL's `expires` and `signature` for `import_id`: a 403 saying why when it
/// is unsigned, forged or expired.
pub fn check_signature(
    secret: &str,
    import_id: &str,
    expires: Option<i64>,
    signature: Option<&str>,
) -> Result<(), ApiError> {
    imports_runtime::attachment_urls::verify(secret, import_id, expires, signature)
        .map_err(ApiError::forbidden)
}
