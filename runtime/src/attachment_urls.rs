//! Signed, expiring download URLs for an import's raw inputs (the `attachment_url` of an
//! import that has started), which work without a bearer token. The API signs them when it
//! shows an import and checks them when one is fetched; the webhook deliverer signs those of
//! its payloads with the same secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long an attachment URL works.
pub const LIFETIME_SECONDS: i64 = 300;

fn mac(key: &[u8], import_id: &str, expires: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(format!("{import_id}:{expires}").as_bytes());
    mac
}

/// A URL for `import_id`'s inputs, valid for [`LIFETIME_SECONDS`] from now.
pub fn signed_url(public_url: &str, secret: &str, import_id: &str) -> String {
    let expires = chrono::Utc::now().timestamp() + LIFETIME_SECONDS;
    url_expiring_at(public_url, secret, import_id, expires)
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

/// Checks a signed URL's `expires` and `signature` for `import_id`; why it fails otherwise
/// (unsigned, forged or expired).
pub fn verify(
    secret: &str,
    import_id: &str,
    expires: Option<i64>,
    signature: Option<&str>,
) -> Result<(), &'static str> {
    let (Some(expires), Some(signature)) = (expires, signature) else {
        return Err("the URL is not signed");
    };
    let given = hex::decode(signature).map_err(|_| "the signature is invalid")?;
    // verify_slice compares in constant time.
    mac(secret.as_bytes(), import_id, expires)
        .verify_slice(&given)
        .map_err(|_| "the signature is invalid")?;
    if chrono::Utc::now().timestamp() > expires {
        return Err("the URL has expired; read the import again for a fresh one");
    }
    Ok(())
}
