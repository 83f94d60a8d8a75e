//! Organizations and their OAuth2 applications (`organizations`, `applications`): made,
//! found by client id (with the hash of the secret), listed, revoked.

use imports_common::accounts::{Application, Organization};
use imports_common::model::Mode;
use tokio_postgres::Row;

use crate::client::Db;

use crate::rows::parsed;

fn organization(row: &Row) -> Organization {
    Organization {
        id: row.get("org_id"),
        slug: row.get("org_slug"),
        name: row.get("org_name"),
        created_at: row.get("org_created_at"),
        updated_at: row.get("org_updated_at"),
    }
}

fn application(row: &Row) -> Result<Application, tokio_postgres::Error> {
    Ok(Application {
        id: row.get("id"),
        organization: organization(row),
        mode: parsed(row, "mode")?,
        kind: parsed(row, "kind")?,
        name: row.get("name"),
        client_id: row.get("client_id"),
        scopes: row.get("scopes"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        revoked_at: row.get("revoked_at"),
    })
}

/// The organization with this slug, made with `id` and `name` when there is none yet.
pub async fn ensure_organization<C: Db>(
    client: &C,
    id: &str,
    slug: &str,
    name: &str,
) -> Result<Organization, tokio_postgres::Error> {
    // The no-op update makes RETURNING give the existing row too.
    let row = client
        .query_one(
            "INSERT INTO organizations (id, slug, name) VALUES ($1, $2, $3) \
             ON CONFLICT (slug) DO UPDATE SET slug = EXCLUDED.slug \
             RETURNING id AS org_id, slug AS org_slug, name AS org_name, \
             created_at AS org_created_at, updated_at AS org_updated_at",
            &[&id, &slug, &name],
        )
        .await?;
    Ok(organization(&row))
}

/// What a new application is made of (its secret only as a hash).
pub struct NewApplication<'a> {
    /// Its id.
    pub id: &'a str,
    /// The id of its organization.
    pub organization_id: &'a str,
    /// The mode of its tokens.
    pub mode: Mode,
    /// Its name.
    pub name: &'a str,
    /// Its client id.
    pub client_id: &'a str,
    /// The SHA-256 hash of its client secret.
    pub secret_hash: &'a [u8],
}

/// Stores a new integration application.
pub async fn insert_application<C: Db>(
    client: &C,
    new: &NewApplication<'_>,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO applications (id, organization_id, mode, kind, name, client_id, client_secret_hash) \
             VALUES ($1, $2, $3, 'integration', $4, $5, $6)",
            &[
                &new.id,
                &new.organization_id,
                &new.mode.as_str(),
                &new.name,
                &new.client_id,
                &new.secret_hash,
            ],
        )
        .await?;
    Ok(())
}

/// The application with this client id, revoked or not, and the hash of its secret.
pub async fn application_by_client_id<C: Db>(
    client: &C,
    client_id: &str,
) -> Result<Option<(Application, Vec<u8>)>, tokio_postgres::Error> {
    match client
        .query_opt(
            "SELECT * FROM application_accounts WHERE client_id = $1",
            &[&client_id],
        )
        .await?
    {
        Some(row) => Ok(Some((application(&row)?, row.get("client_secret_hash")))),
        None => Ok(None),
    }
}

/// The application with this id, revoked or not.
pub async fn application_by_id<C: Db>(
    client: &C,
    id: &str,
) -> Result<Option<Application>, tokio_postgres::Error> {
    client
        .query_opt("SELECT * FROM application_accounts WHERE id = $1", &[&id])
        .await?
        .map(|row| application(&row))
        .transpose()
}

/// Every application, newest first.
pub async fn list_applications<C: Db>(
    client: &C,
) -> Result<Vec<Application>, tokio_postgres::Error> {
    client
        .query(
            "SELECT * FROM application_accounts ORDER BY created_at DESC, id DESC",
            &[],
        )
        .await?
        .iter()
        .map(application)
        .collect()
}

/// Revokes an application at once, and with it every token it has been given (recorded
/// until the longest of them, `token_lifetime_secs` from now, has expired); `false` if there
/// is no such unrevoked application.
pub async fn revoke_application<C: Db>(
    client: &C,
    id: &str,
    token_lifetime_secs: f64,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .execute(
            "WITH revoked AS ( \
                 UPDATE applications SET revoked_at = now(), updated_at = now() \
                 WHERE id = $1 AND revoked_at IS NULL RETURNING id) \
             INSERT INTO access_revocations (application_id, expires_at) \
             SELECT id, now() + make_interval(secs => $2) FROM revoked",
            &[&id, &token_lifetime_secs],
        )
        .await?
        == 1)
}

/// The organization with this slug.
pub async fn organization_by_slug<C: Db>(
    client: &C,
    slug: &str,
) -> Result<Option<Organization>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT id AS org_id, slug AS org_slug, name AS org_name, \
             created_at AS org_created_at, updated_at AS org_updated_at \
             FROM organizations WHERE slug = $1",
            &[&slug],
        )
        .await?
        .map(|row| organization(&row)))
}
