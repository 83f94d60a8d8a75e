//! The RSA keys access tokens are signed with (`signing_keys`), shared by every API replica:
//! the first replica to start makes one, rotation makes the next.

use tokio_postgres::Client;

use crate::client::Db;

/// A stored key, as the key set reads it.
#[derive(Debug, Clone)]
pub struct StoredKey {
    /// Its key id (the `kid` of tokens and of the JWK set).
    pub kid: String,
    /// The private key, PKCS#8 PEM.
    pub private_key_pem: String,
    /// Whether it may sign now (its activation has passed and it is not retired).
    pub signing: bool,
    /// When it was activated, for picking the newest signing key.
    pub activates_at: chrono::DateTime<chrono::Utc>,
}

/// The keys still published: unretired, or retired less than `lifetime_secs` ago (tokens
/// they signed may still be in use), newest first.
pub async fn published_keys<C: Db>(
    client: &C,
    lifetime_secs: f64,
) -> Result<Vec<StoredKey>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT kid, private_key_pem, activates_at, \
                    activates_at <= now() AND (retired_at IS NULL OR retired_at > now()) AS signing \
             FROM signing_keys \
             WHERE retired_at IS NULL OR retired_at > now() - make_interval(secs => $1) \
             ORDER BY activates_at DESC, kid",
            &[&lifetime_secs],
        )
        .await?
        .iter()
        .map(|row| StoredKey {
            kid: row.get("kid"),
            private_key_pem: row.get("private_key_pem"),
            signing: row.get("signing"),
            activates_at: row.get("activates_at"),
        })
        .collect())
}

/// Stores `kid` as the first key, active at once, unless an unretired key exists; `true` if
/// it was stored. Two replicas starting at once may both store theirs: both then verify, and
/// the newer signs.
pub async fn insert_first_key<C: Db>(
    client: &C,
    kid: &str,
    private_key_pem: &str,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .execute(
            "INSERT INTO signing_keys (kid, private_key_pem) SELECT $1, $2 \
             WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE retired_at IS NULL)",
            &[&kid, &private_key_pem],
        )
        .await?
        == 1)
}

/// Makes `kid` the signing key `delay_secs` from now, retiring every other key at that
/// moment; a key already stored under `kid` is left as it is. `true` if it was stored.
pub async fn rotate_to(
    client: &mut Client,
    kid: &str,
    private_key_pem: &str,
    delay_secs: f64,
) -> Result<bool, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    let inserted = tx
        .execute(
            "INSERT INTO signing_keys (kid, private_key_pem, activates_at) \
             VALUES ($1, $2, now() + make_interval(secs => $3)) ON CONFLICT (kid) DO NOTHING",
            &[&kid, &private_key_pem, &delay_secs],
        )
        .await?
        == 1;
    if inserted {
        tx.execute(
            "UPDATE signing_keys SET retired_at = now() + make_interval(secs => $2) \
             WHERE kid <> $1 AND (retired_at IS NULL OR retired_at > now() + make_interval(secs => $2))",
            &[&kid, &delay_secs],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(inserted)
}
