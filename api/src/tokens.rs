//! API tokens: each belongs to one organization and one mode. Only a SHA-256 hash of a token
//! is stored; the token itself is shown once, when it is created.

use imports_common::model::{Mode, Tenant};
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio_postgres::GenericClient;

/// A token as listed (never the secret itself).
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// The token's id (for revocation).
    pub id: String,
    /// Whose it is.
    pub tenant: Tenant,
    /// When it was made.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it was revoked.
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Creates a token for a tenant; returns its id and the secret token (shown only now).
pub async fn create<C: GenericClient>(
    client: &C,
    tenant: &Tenant,
) -> Result<(String, String), tokio_postgres::Error> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let secret: String = (0..40)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    let token = format!("imp_{}_{secret}", tenant.mode.as_str());
    let id = imports_common::ids::new_id();
    client
        .execute(
            "INSERT INTO api_tokens (id, organization_id, mode, token_hash) VALUES ($1, $2, $3, $4)",
            &[&id, &tenant.organization_id, &tenant.mode.as_str(), &hash(&token)],
        )
        .await?;
    Ok((id, token))
}

/// The tenant a token belongs to, if it is a valid, unrevoked token.
pub async fn authenticate<C: GenericClient>(
    client: &C,
    token: &str,
) -> Result<Option<Tenant>, tokio_postgres::Error> {
    Ok(identify(client, token).await?.map(|(_, tenant)| tenant))
}

/// The id and tenant of a valid, unrevoked token. The lookup is by the token's hash, so the
/// secret is never compared byte by byte in our code (no timing signal on its content).
pub async fn identify<C: GenericClient>(
    client: &C,
    token: &str,
) -> Result<Option<(String, Tenant)>, tokio_postgres::Error> {
    if token.len() > 200 {
        return Ok(None);
    }
    Ok(client
        .query_opt(
            "SELECT id, organization_id, mode FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
            &[&hash(token)],
        )
        .await?
        .map(|r| {
            let tenant = Tenant {
                organization_id: r.get(1),
                mode: r.get::<_, &str>(2).parse().unwrap_or(Mode::Test),
            };
            (r.get(0), tenant)
        }))
}

/// Every token, newest first.
pub async fn list<C: GenericClient>(client: &C) -> Result<Vec<TokenInfo>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT id, organization_id, mode, created_at, revoked_at FROM api_tokens ORDER BY created_at DESC",
            &[],
        )
        .await?
        .iter()
        .map(|r| TokenInfo {
            id: r.get(0),
            tenant: Tenant {
                organization_id: r.get(1),
                mode: r.get::<_, &str>(2).parse().unwrap_or(Mode::Test),
            },
            created_at: r.get(3),
            revoked_at: r.get(4),
        })
        .collect())
}

/// Revokes a token at once; `false` if there is no such (unrevoked) token.
pub async fn revoke<C: GenericClient>(client: &C, id: &str) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .execute(
            "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
            &[&id],
        )
        .await?
        == 1)
}
