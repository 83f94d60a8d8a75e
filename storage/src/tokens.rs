//! API tokens (`api_tokens`), stored as hashes: inserting, finding by hash, listing, revoking.

use crate::client::Db;
use imports_common::model::Tenant;

use crate::rows::parsed;

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

/// Stores a new token of `tenant` by the hash of its secret.
pub async fn insert_token<C: Db>(
    client: &C,
    id: &str,
    tenant: &Tenant,
    token_hash: &[u8],
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO api_tokens (id, organization_id, mode, token_hash) VALUES ($1, $2, $3, $4)",
            &[&id, &tenant.organization_id, &tenant.mode.as_str(), &token_hash],
        )
        .await?;
    Ok(())
}

/// The id and tenant of the unrevoked token with this hash.
pub async fn token_by_hash<C: Db>(
    client: &C,
    token_hash: &[u8],
) -> Result<Option<(String, Tenant)>, tokio_postgres::Error> {
    let Some(row) = client
        .query_opt(
            "SELECT id, organization_id, mode FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
            &[&token_hash],
        )
        .await?
    else {
        return Ok(None);
    };
    let tenant = Tenant {
        organization_id: row.get("organization_id"),
        mode: parsed(&row, "mode")?,
    };
    Ok(Some((row.get("id"), tenant)))
}

/// Every token, newest first.
pub async fn list_tokens<C: Db>(client: &C) -> Result<Vec<TokenInfo>, tokio_postgres::Error> {
    client
        .query(
            "SELECT id, organization_id, mode, created_at, revoked_at FROM api_tokens ORDER BY created_at DESC",
            &[],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(TokenInfo {
                id: row.get("id"),
                tenant: Tenant {
                    organization_id: row.get("organization_id"),
                    mode: parsed(row, "mode")?,
                },
                created_at: row.get("created_at"),
                revoked_at: row.get("revoked_at"),
            })
        })
        .collect()
}

/// Revokes a token at once; `false` if there is no such (unrevoked) token.
pub async fn revoke_token<C: Db>(client: &C, id: &str) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .execute(
            "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
            &[&id],
        )
        .await?
        == 1)
}
