//! Webhooks themselves: create (bounded per tenant), read, list, change and delete, always
//! within one tenant (organization and mode).

use serde_json::Value;
use tokio_postgres::Row;

use crate::client::Db;

use imports_common::model::Tenant;
use imports_common::webhooks::{Topic, Webhook, MAX_WEBHOOKS_PER_TENANT};

use crate::listing::ImportQuery;
use crate::rows::parsed;

/// The columns a [`Webhook`] is read from.
const WEBHOOK_COLUMNS: &str = "id, organization_id, mode, name, topic, callback_url, \
    include_resources, shared_secret, disabled_at, circuit_state, circuit_failure_count, \
    reference, reference_origin, metadata, created_at, updated_at";

fn webhook_from_row(row: &Row, with_secret: bool) -> Result<Webhook, tokio_postgres::Error> {
    Ok(Webhook {
        id: row.try_get("id")?,
        tenant: Tenant {
            organization_id: row.try_get("organization_id")?,
            mode: parsed(row, "mode")?,
        },
        name: row.try_get("name")?,
        topic: parsed(row, "topic")?,
        callback_url: row.try_get("callback_url")?,
        include_resources: row.try_get("include_resources")?,
        shared_secret: match with_secret {
            true => Some(row.try_get("shared_secret")?),
            false => None,
        },
        disabled_at: row.try_get("disabled_at")?,
        circuit_state: parsed(row, "circuit_state")?,
        circuit_failure_count: row.try_get("circuit_failure_count")?,
        reference: row.try_get("reference")?,
        reference_origin: row.try_get("reference_origin")?,
        metadata: row.try_get("metadata")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Everything a webhook is created with.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    /// Whose events it receives.
    pub tenant: Tenant,
    /// A name for people.
    pub name: Option<String>,
    /// The event it is called on.
    pub topic: Topic,
    /// Where the import is POSTed.
    pub callback_url: String,
    /// What the payload includes besides the import.
    pub include_resources: Vec<String>,
    /// The key of the payload's signature.
    pub shared_secret: String,
    /// Created disabled (`_disable`).
    pub disabled: bool,
    /// External identifier.
    pub reference: Option<String>,
    /// System of the external identifier.
    pub reference_origin: Option<String>,
    /// Free key-value pairs.
    pub metadata: Value,
}

/// Creates a webhook, shown with its secret; `None` when its tenant already has
/// [`MAX_WEBHOOKS_PER_TENANT`]. Call it inside a transaction: the count and the insert are
/// serialised per tenant by an advisory lock held until the commit.
pub async fn create_webhook<C: Db>(
    client: &C,
    id: &str,
    new: &NewWebhook,
) -> Result<Option<Webhook>, tokio_postgres::Error> {
    let (org, mode) = (&new.tenant.organization_id, new.tenant.mode.as_str());
    // The count in a statement of its own: one statement's snapshot is taken before it waits
    // for the lock, so it would miss the webhooks committed by the holder it waited for.
    client
        .execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('webhooks/' || $1 || '/' || $2, 0))",
            &[org, &mode],
        )
        .await?;
    let count: i64 = client
        .query_one(
            "SELECT count(*) FROM webhooks WHERE organization_id = $1 AND mode = $2",
            &[org, &mode],
        )
        .await?
        .get(0);
    if count >= MAX_WEBHOOKS_PER_TENANT {
        return Ok(None);
    }
    let row = client
        .query_one(
            &format!(
                "INSERT INTO webhooks (id, organization_id, mode, name, topic, callback_url, \
                    include_resources, shared_secret, disabled_at, reference, reference_origin, \
                    metadata) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $9 THEN now() END, $10, $11, \
                    $12) \
                 RETURNING {WEBHOOK_COLUMNS}"
            ),
            &[
                &id,
                org,
                &mode,
                &new.name,
                &new.topic.as_str(),
                &new.callback_url,
                &new.include_resources,
                &new.shared_secret,
                &new.disabled,
                &new.reference,
                &new.reference_origin,
                &new.metadata,
            ],
        )
        .await?;
    webhook_from_row(&row, true).map(Some)
}

/// A webhook of `tenant` (without its secret); `None` when it has none of that id.
pub async fn get_webhook<C: Db>(
    client: &C,
    tenant: &Tenant,
    id: &str,
) -> Result<Option<Webhook>, tokio_postgres::Error> {
    client
        .query_opt(
            &format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks \
                 WHERE id = $1 AND organization_id = $2 AND mode = $3"
            ),
            &[&id, &tenant.organization_id, &tenant.mode.as_str()],
        )
        .await?
        .map(|r| webhook_from_row(&r, false))
        .transpose()
}

/// What an update changes; `None` leaves an attribute as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookChanges {
    /// The new `name` (`Some(None)` clears it).
    pub name: Option<Option<String>>,
    /// The new `topic`.
    pub topic: Option<Topic>,
    /// The new `callback_url`.
    pub callback_url: Option<String>,
    /// The new `include_resources`.
    pub include_resources: Option<Vec<String>>,
    /// The new `reference` (`Some(None)` clears it).
    pub reference: Option<Option<String>>,
    /// The new `reference_origin` (`Some(None)` clears it).
    pub reference_origin: Option<Option<String>>,
    /// The new `metadata`.
    pub metadata: Option<Value>,
    /// `Some(true)` disables it (`_disable`), `Some(false)` enables it (`_enable`).
    pub disable: Option<bool>,
    /// Closes its circuit and zeroes its failures (`_reset_circuit`).
    pub reset_circuit: bool,
}

/// Applies an update's changes to a webhook of `tenant`; the webhook after them, or `None`
/// when the tenant has no webhook of that id.
pub async fn update_webhook<C: Db>(
    client: &C,
    tenant: &Tenant,
    id: &str,
    changes: &WebhookChanges,
) -> Result<Option<Webhook>, tokio_postgres::Error> {
    let topic = changes.topic.map(Topic::as_str);
    client
        .query_opt(
            &format!(
                "UPDATE webhooks SET \
                    name = CASE WHEN $4 THEN $5 ELSE name END, \
                    topic = COALESCE($6, topic), \
                    callback_url = COALESCE($7, callback_url), \
                    include_resources = COALESCE($8, include_resources), \
                    reference = CASE WHEN $9 THEN $10 ELSE reference END, \
                    reference_origin = CASE WHEN $11 THEN $12 ELSE reference_origin END, \
                    metadata = COALESCE($13, metadata), \
                    disabled_at = CASE WHEN $14::bool IS NULL THEN disabled_at \
                        WHEN $14 THEN COALESCE(disabled_at, now()) ELSE NULL END, \
                    circuit_state = CASE WHEN $15 THEN 'closed' ELSE circuit_state END, \
                    circuit_failure_count = CASE WHEN $15 THEN 0 ELSE circuit_failure_count END, \
                    updated_at = now() \
                 WHERE id = $1 AND organization_id = $2 AND mode = $3 \
                 RETURNING {WEBHOOK_COLUMNS}"
            ),
            &[
                &id,
                &tenant.organization_id,
                &tenant.mode.as_str(),
                &changes.name.is_some(),
                &changes.name.clone().flatten(),
                &topic,
                &changes.callback_url,
                &changes.include_resources,
                &changes.reference.is_some(),
                &changes.reference.clone().flatten(),
                &changes.reference_origin.is_some(),
                &changes.reference_origin.clone().flatten(),
                &changes.metadata,
                &changes.disable,
                &changes.reset_circuit,
            ],
        )
        .await?
        .map(|r| webhook_from_row(&r, false))
        .transpose()
}

/// Deletes a webhook of `tenant` with its deliveries and callbacks; whether there was one.
pub async fn delete_webhook<C: Db>(
    client: &C,
    tenant: &Tenant,
    id: &str,
) -> Result<bool, tokio_postgres::Error> {
    let n = client
        .execute(
            "DELETE FROM webhooks WHERE id = $1 AND organization_id = $2 AND mode = $3",
            &[&id, &tenant.organization_id, &tenant.mode.as_str()],
        )
        .await?;
    Ok(n > 0)
}

/// One page of `tenant`'s webhooks as `query` asks (its conditions from `$3`), and how many
/// meet its conditions in all.
pub async fn list_webhooks<C: Db>(
    client: &C,
    tenant: &Tenant,
    query: &ImportQuery,
) -> Result<(i64, Vec<Webhook>), tokio_postgres::Error> {
    let (conditions, params) = query.conditions();
    let mut filter = String::from("organization_id = $1 AND mode = $2");
    for c in &conditions {
        filter.push_str(" AND ");
        filter.push_str(c);
    }
    let mode = tenant.mode.as_str();
    let mut all: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        vec![&tenant.organization_id, &mode];
    all.extend(
        params
            .iter()
            .map(|p| &**p as &(dyn tokio_postgres::types::ToSql + Sync)),
    );
    // The filter's text varies with the query: neither statement is kept.
    let total: i64 = client
        .query_once(
            &format!("SELECT count(*) FROM webhooks WHERE {filter}"),
            &all,
        )
        .await?
        .first()
        .map_or(0, |r| r.get(0));
    let (limit, offset) = (query.size, (query.page - 1).saturating_mul(query.size));
    all.push(&limit);
    all.push(&offset);
    let n = all.len();
    let rows = client
        .query_once(
            &format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE {filter} ORDER BY {} \
                 LIMIT ${} OFFSET ${n}",
                query.order_by(),
                n - 1
            ),
            &all,
        )
        .await?;
    let page = rows
        .iter()
        .map(|r| webhook_from_row(r, false))
        .collect::<Result<_, _>>()?;
    Ok((total, page))
}
