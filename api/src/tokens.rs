//! API tokens: each belongs to one organization and one mode. Only a SHA-256 hash of a token
//! is stored (see [`imports_storage::tokens`]); the token itself is shown once, when it is
//! created.

use std::time::Instant;

use deadpool_postgres::Pool;
use imports_common::model::Tenant;
use imports_storage::client::Db;
use imports_storage::tokens;
use sha2::{Digest, Sha256};

use crate::errors::ApiError;
use crate::known_tokens::{KnownTokens, TokenHash};

/// A token as listed (never the secret itself).
pub use imports_storage::tokens::TokenInfo;

/// The longest token looked up (ours are 49 bytes): a longer one is refused unread.
const MAX_TOKEN_BYTES: usize = 200;

/// A token's SHA-256 hash, as stored.
fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// Creates a token for a tenant; returns its id and the secret token (shown only now).
pub async fn create<C: Db>(
    client: &C,
    tenant: &Tenant,
) -> Result<(String, String), tokio_postgres::Error> {
    let secret = imports_common::ids::random_chars(40);
    let token = format!("imp_{}_{secret}", tenant.mode.as_str());
    let id = imports_common::ids::new_id();
    tokens::insert_token(client, &id, tenant, &hash(&token)).await?;
    Ok((id, token))
}

/// The tenant a token belongs to, if it is a valid, unrevoked token.
pub async fn authenticate<C: Db>(
    client: &C,
    token: &str,
) -> Result<Option<Tenant>, tokio_postgres::Error> {
    Ok(identify(client, token).await?.map(|(_, tenant)| tenant))
}

/// The hash a token is looked up by; `None` for one too long to be ours.
fn lookup_hash(token: &str) -> Option<TokenHash> {
    (token.len() <= MAX_TOKEN_BYTES).then(|| hash(token))
}

/// The id and tenant of a valid, unrevoked token. The lookup is by the token's hash, so the
/// secret is never compared byte by byte in our code (no timing signal on its content).
pub async fn identify<C: Db>(
    client: &C,
    token: &str,
) -> Result<Option<(String, Tenant)>, tokio_postgres::Error> {
    match lookup_hash(token) {
        Some(hash) => tokens::token_by_hash(client, &hash).await,
        None => Ok(None),
    }
}

/// As [`identify`], answered from `known` when this process found the token in the last
/// [`crate::known_tokens::RECHECK_AFTER`]: a connection is taken from the pool only to look
/// it up again.
pub async fn identify_known(
    pool: &Pool,
    known: &KnownTokens,
    token: &str,
) -> Result<Option<(String, Tenant)>, ApiError> {
    let Some(hash) = lookup_hash(token) else {
        return Ok(None);
    };
    let now = Instant::now();
    if let Some(found) = known.get(&hash, now) {
        return Ok(Some(found));
    }
    let client = pool.get().await?;
    let found = tokens::token_by_hash(&*client, &hash).await?;
    known.remember(hash, found.as_ref(), now);
    Ok(found)
}

/// Every token, newest first.
pub async fn list<C: Db>(client: &C) -> Result<Vec<TokenInfo>, tokio_postgres::Error> {
    tokens::list_tokens(client).await
}

/// Revokes a token: at once for new lookups, within
/// [`crate::known_tokens::RECHECK_AFTER`] for an API process that found it just before;
/// `false` if there is no such (unrevoked) token.
pub async fn revoke<C: Db>(client: &C, id: &str) -> Result<bool, tokio_postgres::Error> {
    tokens::revoke_token(client, id).await
}
