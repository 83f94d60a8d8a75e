//! OAuth2 applications: made with client credentials (the secret shown once, stored as a
//! SHA-256 hash), found by them, listed and revoked. Their tokens are issued by
//! [`crate::oauth`].

use imports_common::accounts::{check_slug, Application};
use imports_common::model::Mode;
use imports_storage::applications::{self, NewApplication};
use imports_storage::client::Db;
use sha2::{Digest, Sha256};

/// Client ids and secrets are 43 base-62 characters (URL- and form-safe), as long as
/// Commerce Layer's (256 bits of entropy).
const CREDENTIAL_CHARS: usize = 43;

fn random_credential() -> String {
    imports_common::ids::random_chars(CREDENTIAL_CHARS)
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Compares two hashes in time independent of where they differ.
fn same_hash(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new application and its client secret, which is not kept and cannot be shown again.
pub struct Created {
    /// The application.
    pub application: Application,
    /// Its client secret.
    pub client_secret: String,
}

/// Makes an integration application of the organization `slug` (made too, named `slug`,
/// when it is new) in `mode`.
pub async fn create<C: Db>(
    client: &C,
    slug: &str,
    mode: Mode,
    name: &str,
) -> anyhow::Result<Created> {
    check_slug(slug).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        !name.trim().is_empty(),
        "the application's name can't be blank"
    );
    anyhow::ensure!(
        name.chars().count() <= 255,
        "the application's name is over 255 characters"
    );
    let organization =
        applications::ensure_organization(client, &imports_common::ids::new_id(), slug, slug)
            .await?;
    let id = imports_common::ids::new_id();
    let (client_id, client_secret) = (random_credential(), random_credential());
    applications::insert_application(
        client,
        &NewApplication {
            id: &id,
            organization_id: &organization.id,
            mode,
            name,
            client_id: &client_id,
            secret_hash: &hash(&client_secret),
        },
    )
    .await?;
    let application = applications::application_by_id(client, &id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the application {id} vanished as it was made"))?;
    Ok(Created {
        application,
        client_secret,
    })
}

/// The unrevoked application with these client credentials.
pub async fn authenticate<C: Db>(
    client: &C,
    client_id: &str,
    client_secret: &str,
) -> Result<Option<Application>, tokio_postgres::Error> {
    if client_id.len() > 200 || client_secret.len() > 200 {
        return Ok(None);
    }
    let given = hash(client_secret);
    Ok(
        match applications::application_by_client_id(client, client_id).await? {
            Some((app, stored)) if same_hash(&stored, &given) && app.revoked_at.is_none() => {
                Some(app)
            }
            _ => None,
        },
    )
}

/// Every application, newest first.
pub async fn list<C: Db>(client: &C) -> Result<Vec<Application>, tokio_postgres::Error> {
    applications::list_applications(client).await
}

/// Revokes an application and every token it was given, at once on every replica (within
/// the revocation refresh); `false` if there is no such unrevoked application.
pub async fn revoke<C: Db>(
    client: &C,
    id: &str,
    token_lifetime: std::time::Duration,
) -> Result<bool, tokio_postgres::Error> {
    applications::revoke_application(client, id, token_lifetime.as_secs_f64()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_43_alphanumerics_and_differ() {
        let (a, b) = (random_credential(), random_credential());
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn hashes_compare_whole() {
        assert!(same_hash(&hash("x"), &hash("x")));
        assert!(!same_hash(&hash("x"), &hash("y")));
        assert!(!same_hash(&hash("x"), &hash("x")[..31]));
    }
}
