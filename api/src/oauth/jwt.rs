//! Access tokens as Commerce Layer issues them: JWTs signed RS512, the `kid` in the header,
//! the claims its clients read. Encoding, and decoding with every check a token must pass.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use serde::{Deserialize, Serialize};
use sha2::Sha512;

/// The organization a token acts for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationClaim {
    /// Its id.
    pub id: String,
    /// Its slug: the host name part of its API URL, which the clients derive.
    pub slug: String,
    /// Commerce Layer's plan flag; always false here.
    pub enterprise: bool,
    /// Commerce Layer's hosting region; the one this system reports.
    pub region: String,
}

/// The application a token was issued to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationClaim {
    /// Its id.
    pub id: String,
    /// Its client id.
    pub client_id: String,
    /// `integration`: the CLI imports plugin refuses other kinds.
    pub kind: String,
    /// Whether it is a public (sales channel) application; always false here.
    pub public: bool,
}

/// The claims of an access token, as Commerce Layer's integration tokens carry them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Whose data the token reaches.
    pub organization: OrganizationClaim,
    /// Who it was issued to.
    pub application: ApplicationClaim,
    /// What it was granted (`market:all`).
    pub scope: String,
    /// True in test mode, false in live mode.
    pub test: bool,
    /// When it expires, seconds since the epoch.
    pub exp: i64,
    /// When it was issued, seconds since the epoch.
    pub iat: i64,
    /// A random number that tells this token from others (its revocation key).
    pub rand: f64,
    /// The issuer: the public auth URL, `https://auth.<domain>`.
    pub iss: String,
}

impl Claims {
    /// The key revocations know this token by.
    pub fn rand_key(&self) -> String {
        self.rand.to_string()
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
}

/// Serialises `value` as JSON whose base64 has neither `-` nor `_`: Commerce Layer's SDK
/// decodes a token's payload with `atob`, which refuses both. Only the bytes `>`, `?`, `~`
/// and DEL at the third place of a three-byte group, and bytes over 127, encode to them; in
/// JSON they can only stand inside strings, where `\uXXXX` says the same.
fn atob_safe_json(value: &impl Serialize) -> Result<String, serde_json::Error> {
    let raw = serde_json::to_string(value)?;
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '>' | '?' | '~' | '\u{7f}') || !c.is_ascii() {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Signs `claims` with `key`, naming it `kid`. (Serialising plain structs of strings, numbers
/// and booleans does not fail; the error is passed on rather than assumed away.)
pub fn encode(
    claims: &Claims,
    kid: &str,
    key: &SigningKey<Sha512>,
) -> Result<String, serde_json::Error> {
    let header = Header {
        alg: "RS512".into(),
        typ: Some("JWT".into()),
        kid: Some(kid.into()),
    };
    let mut token = URL_SAFE_NO_PAD.encode(atob_safe_json(&header)?);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(atob_safe_json(claims)?));
    let signature = key.sign(token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
    Ok(token)
}

/// Why a token was refused (all of them a 401 to the client; the reason is for logs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// Not three base64url parts of JSON.
    #[error("malformed token")]
    Malformed,
    /// An algorithm other than RS512 (`none` included).
    #[error("algorithm {0} is not accepted")]
    Algorithm(String),
    /// No key of ours has this id.
    #[error("unknown key id")]
    UnknownKey,
    /// The signature does not verify.
    #[error("bad signature")]
    Signature,
    /// Past its `exp`.
    #[error("expired")]
    Expired,
    /// Issued by someone else.
    #[error("issued by another issuer")]
    Issuer,
    /// Revoked, or its application was.
    #[error("revoked")]
    Revoked,
}

/// The parts of a token before its signature is checked.
pub struct Unverified<'a> {
    signing_input: &'a str,
    signature: Vec<u8>,
    /// The key id it names.
    pub kid: String,
    payload: Vec<u8>,
}

/// Splits a token and reads its header: RS512 with a `kid`, or refused.
pub fn parse(token: &str) -> Result<Unverified<'_>, Invalid> {
    let (signing_input, signature) = token.rsplit_once('.').ok_or(Invalid::Malformed)?;
    let (header, payload) = signing_input.split_once('.').ok_or(Invalid::Malformed)?;
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| Invalid::Malformed);
    let header: Header =
        serde_json::from_slice(&decode(header)?).map_err(|_| Invalid::Malformed)?;
    if header.alg != "RS512" {
        return Err(Invalid::Algorithm(header.alg));
    }
    Ok(Unverified {
        signing_input,
        signature: decode(signature)?,
        kid: header.kid.ok_or(Invalid::UnknownKey)?,
        payload: decode(payload)?,
    })
}

impl Unverified<'_> {
    /// Checks the signature with `key`, then the issuer and the expiry (at `now`, seconds).
    pub fn verify(
        self,
        key: &VerifyingKey<Sha512>,
        issuer: &str,
        now: i64,
    ) -> Result<Claims, Invalid> {
        let signature =
            Signature::try_from(self.signature.as_slice()).map_err(|_| Invalid::Signature)?;
        key.verify(self.signing_input.as_bytes(), &signature)
            .map_err(|_| Invalid::Signature)?;
        let claims: Claims =
            serde_json::from_slice(&self.payload).map_err(|_| Invalid::Malformed)?;
        if claims.iss != issuer {
            return Err(Invalid::Issuer);
        }
        claims.unexpired(now)?;
        Ok(claims)
    }
}

impl Claims {
    /// `Ok` while the token is unexpired at `now` (seconds): at its `exp` it is not.
    pub fn unexpired(&self, now: i64) -> Result<(), Invalid> {
        if now >= self.exp {
            return Err(Invalid::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_of_the_json_never_has_the_characters_atob_refuses() {
        let samples = [
            "plain",
            "a>b?c~d\u{7f}",
            "ünïcødé ✓ 🦀",
            "???>>>~~~",
            "x?",
            "xx?",
        ];
        for (i, s) in samples.iter().enumerate() {
            for pad in 0..3 {
                let value = serde_json::json!({"p": "-".repeat(pad), "s": s, "i": i});
                let json = atob_safe_json(&value).unwrap();
                let b64 = URL_SAFE_NO_PAD.encode(&json);
                assert!(!b64.contains(['-', '_']), "{json} -> {b64}");
                let back: serde_json::Value = serde_json::from_str(&json).unwrap();
                assert_eq!(back, value);
            }
        }
    }

    #[test]
    fn a_header_without_rs512_or_kid_is_refused() {
        let part = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let none = format!(
            "{}.{}.",
            part(serde_json::json!({"alg": "none"})),
            part(serde_json::json!({}))
        );
        assert_eq!(parse(&none).err(), Some(Invalid::Algorithm("none".into())));
        let hs = format!(
            "{}.{}.c2ln",
            part(serde_json::json!({"alg": "HS512", "kid": "k"})),
            part(serde_json::json!({}))
        );
        assert_eq!(parse(&hs).err(), Some(Invalid::Algorithm("HS512".into())));
        let no_kid = format!(
            "{}.{}.c2ln",
            part(serde_json::json!({"alg": "RS512"})),
            part(serde_json::json!({}))
        );
        assert_eq!(parse(&no_kid).err(), Some(Invalid::UnknownKey));
        for junk in ["", "a", "a.b", "a.b.c", "!!.??.##"] {
            assert!(parse(junk).is_err(), "{junk}");
        }
    }
}
