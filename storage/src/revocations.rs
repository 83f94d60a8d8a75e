//! Access tokens revoked before they expire (`access_revocations`): one row per revoked
//! token (by application and `rand` claim), or per revoked application (every token it was
//! given). Every API replica reads the unexpired ones into memory, so checking a token needs
//! no query.

use crate::client::Db;

/// A revocation in force.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Revocation {
    /// The application whose token (or tokens) it revokes.
    pub application_id: String,
    /// The revoked token's `rand` claim; `None`: every token of the application.
    pub token_rand: Option<String>,
}

/// Records the revocation of one token until it expires.
pub async fn revoke_token<C: Db>(
    client: &C,
    revocation: &Revocation,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO access_revocations (application_id, token_rand, expires_at) VALUES ($1, $2, $3)",
            &[&revocation.application_id, &revocation.token_rand, &expires_at],
        )
        .await?;
    Ok(())
}

/// Every revocation whose tokens have not expired yet.
pub async fn in_force<C: Db>(client: &C) -> Result<Vec<Revocation>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT application_id, token_rand FROM access_revocations WHERE expires_at > now()",
            &[],
        )
        .await?
        .iter()
        .map(|row| Revocation {
            application_id: row.get("application_id"),
            token_rand: row.get("token_rand"),
        })
        .collect())
}

/// Deletes revocations whose tokens expired more than an hour ago.
pub async fn purge_expired<C: Db>(client: &C) -> Result<u64, tokio_postgres::Error> {
    client
        .execute(
            "DELETE FROM access_revocations WHERE expires_at < now() - interval '1 hour'",
            &[],
        )
        .await
}
