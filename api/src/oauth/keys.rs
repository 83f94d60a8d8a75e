//! The key set: the RSA key that signs access tokens and every key that still verifies them,
//! shared by the API replicas through Postgres ([`imports_storage::signing_keys`]), and the
//! public half published as a JWK set.

use std::collections::HashMap;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::{SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha512};
use tokio_postgres::Client;

use imports_storage::signing_keys::{self, StoredKey};

/// The size of keys made here, in bits.
const KEY_BITS: usize = 2048;

/// How long after a rotation the new key starts signing: long enough for every replica to
/// have read it (they refresh every half second), so no replica meets a token signed with a
/// key it does not know yet.
pub const ROTATION_DELAY_SECS: f64 = 5.0;

/// A key that signs, with its id.
pub struct Signer {
    /// The `kid` of the tokens it signs.
    pub kid: String,
    /// The key.
    pub key: SigningKey<Sha512>,
}

/// The keys of this moment: one signs, all verify, and their public halves as a JWK set.
pub struct KeySet {
    /// The key new tokens are signed with.
    pub signer: Signer,
    verifiers: HashMap<String, VerifyingKey<Sha512>>,
    /// `GET /.well-known/jwks.json`.
    pub jwks: Value,
}

impl KeySet {
    /// The key that verifies tokens naming `kid`.
    pub fn verifier(&self, kid: &str) -> Option<&VerifyingKey<Sha512>> {
        self.verifiers.get(kid)
    }
}

/// The id of a public key: the hex SHA-256 of its RFC 7638 thumbprint input, 64 characters
/// as Commerce Layer's `kid`s are.
pub fn kid_of(public: &RsaPublicKey) -> String {
    let (n, e) = components(public);
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

fn components(public: &RsaPublicKey) -> (String, String) {
    (
        URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    )
}

fn jwk(kid: &str, public: &RsaPublicKey) -> Value {
    let (n, e) = components(public);
    json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS512", "n": n, "e": e})
}

/// Reads a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
pub fn parse_private_key(pem: &str) -> anyhow::Result<RsaPrivateKey> {
    RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
        .map_err(|e| anyhow::anyhow!("not an RSA private key in PEM (PKCS#8 or PKCS#1): {e}"))
}

/// Makes a new key, as PKCS#8 PEM with its id (a second or so of CPU, on a blocking thread).
pub async fn generate() -> anyhow::Result<(String, String)> {
    tokio::task::spawn_blocking(|| {
        let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, KEY_BITS)?;
        let pem = key.to_pkcs8_pem(LineEnding::LF)?.to_string();
        Ok((kid_of(&key.to_public_key()), pem))
    })
    .await?
}

/// The file key of `API_JWT_PRIVATE_KEY`: its id and PEM, the error naming the variable.
pub fn read_key_file(path: &Path) -> anyhow::Result<(String, String)> {
    let pem = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "API_JWT_PRIVATE_KEY={}: cannot read it: {e}",
            path.display()
        )
    })?;
    let key = parse_private_key(&pem)
        .map_err(|e| anyhow::anyhow!("API_JWT_PRIVATE_KEY={}: {e}", path.display()))?;
    let pem = key.to_pkcs8_pem(LineEnding::LF)?.to_string();
    Ok((kid_of(&key.to_public_key()), pem))
}

/// Makes sure the shared set has a key to sign with: the file key (made the signing key at
/// once if it is new to the set), or the first generated key when the set is empty.
pub async fn ensure(
    client: &mut Client,
    file_key: Option<&(String, String)>,
    lifetime_secs: f64,
) -> anyhow::Result<()> {
    if let Some((kid, pem)) = file_key {
        signing_keys::rotate_to(client, kid, pem, 0.0).await?;
        return Ok(());
    }
    let stored = signing_keys::published_keys(&*client, lifetime_secs).await?;
    if !stored.iter().any(|k| k.signing) {
        let (kid, pem) = generate().await?;
        if signing_keys::insert_first_key(&*client, &kid, &pem).await? {
            tracing::info!(kid, "made the first token signing key");
        }
    }
    Ok(())
}

/// Makes a new key the signing key in [`ROTATION_DELAY_SECS`]; the old ones keep verifying
/// until their tokens have expired. Returns the new key's id.
pub async fn rotate(client: &mut Client) -> anyhow::Result<String> {
    let (kid, pem) = generate().await?;
    signing_keys::rotate_to(client, &kid, &pem, ROTATION_DELAY_SECS).await?;
    Ok(kid)
}

/// The key set from the stored keys (and the file key, which signs when given).
pub fn build(stored: &[StoredKey], file_key: Option<&(String, String)>) -> anyhow::Result<KeySet> {
    let mut verifiers = HashMap::new();
    let mut keys = Vec::new();
    let mut signer = None;
    let file = file_key.map(|(kid, pem)| StoredKey {
        kid: kid.clone(),
        private_key_pem: pem.clone(),
        signing: true,
        activates_at: chrono::Utc::now(),
    });
    // Newest first: the first signing key met is the one to sign with.
    for k in file.iter().chain(stored) {
        if verifiers.contains_key(&k.kid) {
            continue;
        }
        let private = parse_private_key(&k.private_key_pem)
            .map_err(|e| anyhow::anyhow!("signing key {}: {e}", k.kid))?;
        let public = private.to_public_key();
        keys.push(jwk(&k.kid, &public));
        verifiers.insert(k.kid.clone(), VerifyingKey::<Sha512>::new(public));
        if k.signing && signer.is_none() {
            signer = Some(Signer {
                kid: k.kid.clone(),
                key: SigningKey::<Sha512>::new(private),
            });
        }
    }
    let signer = signer.ok_or_else(|| anyhow::anyhow!("no signing key is active"))?;
    Ok(KeySet {
        signer,
        verifiers,
        jwks: json!({ "keys": keys }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kid_is_64_hex_and_follows_the_key() {
        let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 1024).unwrap();
        let kid = kid_of(&key.to_public_key());
        assert_eq!(kid.len(), 64);
        assert!(kid.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(kid, kid_of(&key.to_public_key()));
        let other = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 1024).unwrap();
        assert_ne!(kid, kid_of(&other.to_public_key()));
    }
}
