//! Webhook deliveries: written with their event (one per webhook of its tenant and topic),
//! found when due, claimed by the process that sends one, and settled with the attempt's
//! outcome, the webhook's circuit and its `event_callbacks` in one transaction.

use std::time::Duration;

use serde_json::Value;
use tokio_postgres::Row;

use crate::client::Db;
use uuid::Uuid;

use imports_common::events::MAX_INCLUDED_PER_IMPORT;
use imports_common::jsonapi::import_attributes;
use imports_common::model::Mode;
use imports_common::webhooks::{CircuitState, EventCallback};

use crate::events::events_of_imports;
use crate::import_rows::get_import;
use crate::rows::parsed;

/// The `event_callbacks` kept per webhook: older ones are deleted as new ones are written.
pub const CALLBACKS_KEPT: i64 = 100;

/// Writes the deliveries of event `event_id` (named `topic`) of import `import_id`: one for
/// each enabled webhook of the import's tenant and topic whose circuit is closed, holding
/// the import's attributes as they are now. Call it in the event's transaction (a delivery
/// exists exactly when its event does); it costs one indexed query when there is no such
/// webhook. Returns how many it wrote.
pub async fn enqueue<C: Db>(
    client: &C,
    event_id: i64,
    import_id: &str,
    topic: &str,
) -> Result<u64, tokio_postgres::Error> {
    const LISTENING: &str = "FROM webhooks w JOIN imports i \
        ON i.organization_id = w.organization_id AND i.mode = w.mode \
        WHERE i.id = $1 AND w.topic = $2 AND w.disabled_at IS NULL AND w.circuit_state = 'closed'";
    let row = client
        .query_one(
            &format!(
                "SELECT count(*) > 0, COALESCE(bool_or('events' = ANY(w.include_resources)), false) \
                 {LISTENING}"
            ),
            &[&import_id, &topic],
        )
        .await?;
    let (any, with_events): (bool, bool) = (row.get(0), row.get(1));
    if !any {
        return Ok(0);
    }
    let Some(import) = get_import(client, import_id).await? else {
        return Ok(0);
    };
    let resource = Value::Object(import_attributes(&import));
    let events: Option<Value> = match with_events {
        true => {
            let ids = [import_id.to_owned()];
            let events = events_of_imports(client, &ids, MAX_INCLUDED_PER_IMPORT).await?;
            Some(serde_json::to_value(events).unwrap_or(Value::Null))
        }
        false => None,
    };
    client
        .execute(
            &format!(
                "INSERT INTO webhook_deliveries \
                    (id, webhook_id, event_id, topic, import_id, resource, events, trace_context) \
                 SELECT gen_random_uuid(), w.id, $3, $2, i.id, $4, \
                    CASE WHEN 'events' = ANY(w.include_resources) THEN $5::jsonb END, \
                    i.trace_context {LISTENING}"
            ),
            &[&import_id, &topic, &event_id, &resource, &events],
        )
        .await
}

/// Makes `client` receive a notification whenever deliveries are committed.
pub async fn listen_for_new(client: &tokio_postgres::Client) -> Result<(), tokio_postgres::Error> {
    client.batch_execute("LISTEN webhook_deliveries").await
}

/// Locks up to `limit` deliveries that are due (new, to retry, or whose sender or
/// announcement was lost), skipping those another announcer has locked; their ids. Of each
/// webhook, only as many as make `per_webhook` with those already announced or being sent
/// (by any process), the oldest first: a webhook at its share waits for a call to end
/// rather than being announced and given back over and over. Call it in a transaction,
/// announce them, then [`mark_announced`] and commit: if the announcer dies before the
/// commit, they are still due, and announced again at once.
pub async fn lock_due<C: Db>(
    client: &C,
    limit: i64,
    per_webhook: i64,
) -> Result<Vec<Uuid>, tokio_postgres::Error> {
    let rows = client
        .query(
            "WITH due AS ( \
                 SELECT d.id, d.next_attempt_at, d.n + ( \
                     SELECT count(*) FROM webhook_deliveries b \
                     WHERE b.webhook_id = w.id AND b.status = 'pending' \
                        AND (b.claim IS NOT NULL OR b.announced_at IS NOT NULL) \
                        AND b.next_attempt_at > now() \
                        AND (b.claimed_until > now() OR b.announced_at IS NOT NULL)) AS place \
                 FROM webhooks w CROSS JOIN LATERAL ( \
                     SELECT id, next_attempt_at, \
                        row_number() OVER (ORDER BY next_attempt_at) AS n \
                     FROM (SELECT id, next_attempt_at FROM webhook_deliveries \
                         WHERE webhook_id = w.id AND status = 'pending' \
                            AND next_attempt_at <= now() \
                         ORDER BY next_attempt_at LIMIT $2) oldest) d) \
             SELECT id FROM webhook_deliveries \
             WHERE status = 'pending' AND next_attempt_at <= now() AND id IN ( \
                 SELECT id FROM due WHERE place <= $2 ORDER BY next_attempt_at LIMIT $1) \
             ORDER BY next_attempt_at FOR UPDATE SKIP LOCKED",
            &[&limit, &per_webhook],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Pushes announced deliveries `reannounce_after` into the future: unless a sender claims
/// them first, they are announced again then (their message was lost).
pub async fn mark_announced<C: Db>(
    client: &C,
    ids: &[Uuid],
    reannounce_after: Duration,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE webhook_deliveries SET announced_at = now(), \
                next_attempt_at = now() + $2 * interval '1 second' \
             WHERE id = ANY($1)",
            &[&ids, &reannounce_after.as_secs_f64()],
        )
        .await?;
    Ok(())
}

/// A delivery a sender holds, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The delivery's id: the receivers' key for duplicates.
    pub id: Uuid,
    /// The claim that fences what this sender writes of it.
    pub claim: Uuid,
    /// The webhook.
    pub webhook_id: String,
    /// Its tenant's mode (https is required in live mode).
    pub mode: Mode,
    /// Its topic.
    pub topic: String,
    /// The import, as it was at the event.
    pub import_id: String,
    /// The import's attributes at the event.
    pub resource: Value,
    /// The import's events at the event, when the webhook includes them.
    pub events: Option<Value>,
    /// The import's trace (the create request's W3C trace context).
    pub trace_context: Value,
    /// The body sent by an earlier attempt, sent again as it was.
    pub body: Option<String>,
    /// Attempts made so far.
    pub attempts: i32,
    /// Where to send it.
    pub callback_url: String,
    /// What to include besides the import.
    pub include_resources: Vec<String>,
    /// The key of its signature.
    pub shared_secret: String,
    /// Whether the webhook is disabled now.
    pub disabled: bool,
    /// The webhook's circuit now.
    pub circuit_state: CircuitState,
}

fn claimed(row: &Row) -> Result<Claimed, tokio_postgres::Error> {
    Ok(Claimed {
        id: row.try_get("id")?,
        claim: row.try_get("claim")?,
        webhook_id: row.try_get("webhook_id")?,
        mode: parsed(row, "mode")?,
        topic: row.try_get("topic")?,
        import_id: row.try_get("import_id")?,
        resource: row.try_get("resource")?,
        events: row.try_get("events")?,
        trace_context: row.try_get("trace_context")?,
        body: row.try_get("body")?,
        attempts: row.try_get("attempts")?,
        callback_url: row.try_get("callback_url")?,
        include_resources: row.try_get("include_resources")?,
        shared_secret: row.try_get("shared_secret")?,
        disabled: row.try_get("disabled")?,
        circuit_state: parsed(row, "circuit_state")?,
    })
}

/// Claims delivery `id` for `hold`: `None` when it is settled, unknown, or held by another
/// sender (a duplicate announcement). While held it is not due; if the sender dies it is due
/// again once the hold ends.
pub async fn claim<C: Db>(
    client: &C,
    id: Uuid,
    hold: Duration,
) -> Result<Option<Claimed>, tokio_postgres::Error> {
    client
        .query_opt(
            "UPDATE webhook_deliveries d SET claim = gen_random_uuid(), announced_at = NULL, \
                claimed_until = now() + $2 * interval '1 second', \
                next_attempt_at = now() + $2 * interval '1 second' \
             FROM webhooks w \
             WHERE d.id = $1 AND w.id = d.webhook_id AND d.status = 'pending' \
                AND (d.claimed_until IS NULL OR d.claimed_until < now()) \
             RETURNING d.id, d.claim, d.webhook_id, w.mode, d.topic, d.import_id, d.resource, d.events, \
                d.trace_context, d.body, d.attempts, w.callback_url, w.include_resources, \
                w.shared_secret, w.disabled_at IS NOT NULL AS disabled, w.circuit_state",
            &[&id, &hold.as_secs_f64()],
        )
        .await?
        .map(|r| claimed(&r))
        .transpose()
}

/// Gives a claimed delivery back unsent, due again after `after`; not an attempt (its
/// webhook had as many calls in flight as it may).
pub async fn release<C: Db>(
    client: &C,
    held: &Claimed,
    after: Duration,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE webhook_deliveries SET claim = NULL, claimed_until = NULL, \
                next_attempt_at = now() + $3 * interval '1 second' \
             WHERE id = $1 AND claim = $2",
            &[&held.id, &held.claim, &after.as_secs_f64()],
        )
        .await?;
    Ok(())
}

/// Settles a claimed delivery unsent: its webhook was disabled, or its circuit opened,
/// before its turn came.
pub async fn abandon<C: Db>(client: &C, held: &Claimed) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE webhook_deliveries SET status = 'abandoned', finished_at = now(), \
                claim = NULL, claimed_until = NULL \
             WHERE id = $1 AND claim = $2",
            &[&held.id, &held.claim],
        )
        .await?;
    Ok(())
}

/// What one attempt to send a delivery gave.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The body sent.
    pub body: String,
    /// Whether the receiver answered 2xx in time.
    pub delivered: bool,
    /// The HTTP status answered, if any.
    pub response_code: Option<String>,
    /// The start of the answer, or why there was none.
    pub response_message: Option<String>,
    /// After a failure: when to try again, or `None` when it is out of attempts.
    pub retry_after: Option<Duration>,
    /// Consecutive failures that open the webhook's circuit.
    pub circuit_threshold: i32,
}

/// What settling an attempt did to the webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Whether this sender still held the delivery (otherwise another sender took it over
    /// and only the callback and the circuit were written).
    pub held: bool,
    /// Whether this attempt opened the webhook's circuit.
    pub opened_circuit: bool,
}

/// Records an attempt in one transaction: its `event_callback` (older ones past
/// [`CALLBACKS_KEPT`] deleted), the delivery delivered, due again or failed, and the
/// webhook's circuit (a success zeroes its failures; a failure counts one, opening the
/// circuit at the threshold).
pub async fn settle(
    client: &mut tokio_postgres::Client,
    held: &Claimed,
    attempt: &Attempt,
) -> Result<Settled, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    // Losing this commit in a crash only sends the delivery again (at least once): the
    // commit need not wait for its WAL to reach the disk.
    tx.batch_execute("SET LOCAL synchronous_commit = off")
        .await?;
    let payload: Option<Value> = serde_json::from_str(&attempt.body).ok();
    tx.execute(
        "INSERT INTO webhook_callbacks (id, webhook_id, delivery_id, callback_url, payload, \
            response_code, response_message) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &imports_common::ids::new_id(),
            &held.webhook_id,
            &held.id,
            &held.callback_url,
            &payload,
            &attempt.response_code,
            &attempt.response_message,
        ],
    )
    .await?;
    tx.execute(
        "DELETE FROM webhook_callbacks WHERE webhook_id = $1 AND seq <= ( \
             SELECT seq FROM webhook_callbacks WHERE webhook_id = $1 \
             ORDER BY seq DESC OFFSET $2 LIMIT 1)",
        &[&held.webhook_id, &CALLBACKS_KEPT],
    )
    .await?;
    let retry = attempt.retry_after.map(|d| d.as_secs_f64());
    let held_still = tx
        .execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, body = $3, \
                claim = NULL, claimed_until = NULL, \
                status = CASE WHEN $4 THEN 'delivered' WHEN $5::float8 IS NULL THEN 'failed' \
                    ELSE 'pending' END, \
                finished_at = CASE WHEN $4 OR $5::float8 IS NULL THEN now() END, \
                next_attempt_at = CASE WHEN $4 OR $5::float8 IS NULL THEN next_attempt_at \
                    ELSE now() + $5 * interval '1 second' END \
             WHERE id = $1 AND claim = $2",
            &[
                &held.id,
                &held.claim,
                &attempt.body,
                &attempt.delivered,
                &retry,
            ],
        )
        .await?
        > 0;
    let opened = match attempt.delivered {
        true => {
            tx.execute(
                "UPDATE webhooks SET circuit_failure_count = 0 \
                 WHERE id = $1 AND circuit_failure_count <> 0",
                &[&held.webhook_id],
            )
            .await?;
            false
        }
        false => tx
            .query_opt(
                "UPDATE webhooks SET circuit_failure_count = circuit_failure_count + 1, \
                    circuit_state = CASE WHEN circuit_failure_count + 1 >= $2 THEN 'open' \
                        ELSE circuit_state END \
                 WHERE id = $1 \
                 RETURNING circuit_state = 'open' AND circuit_failure_count = $2",
                &[&held.webhook_id, &attempt.circuit_threshold],
            )
            .await?
            .is_some_and(|r| r.get::<_, bool>(0)),
    };
    tx.commit().await?;
    Ok(Settled {
        held: held_still,
        opened_circuit: opened,
    })
}

/// Deletes up to `limit` deliveries settled more than `older_than` ago; how many.
pub async fn prune_settled<C: Db>(
    client: &C,
    older_than: Duration,
    limit: i64,
) -> Result<u64, tokio_postgres::Error> {
    client
        .execute(
            "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
                 WHERE status <> 'pending' \
                    AND finished_at < now() - $1 * interval '1 second' LIMIT $2)",
            &[&older_than.as_secs_f64(), &limit],
        )
        .await
}

/// How many webhooks have their circuit open (for the open-circuits gauge).
pub async fn open_circuits<C: Db>(client: &C) -> Result<i64, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "SELECT count(*) FROM webhooks WHERE circuit_state = 'open'",
            &[],
        )
        .await?
        .get(0))
}

/// One delivery as stored, for the tests and operators.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Its id.
    pub id: Uuid,
    /// Its webhook.
    pub webhook_id: String,
    /// Its topic.
    pub topic: String,
    /// Its import.
    pub import_id: String,
    /// `pending`, `delivered`, `failed` or `abandoned`.
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
}

/// The deliveries of a webhook, oldest first.
pub async fn deliveries_of<C: Db>(
    client: &C,
    webhook_id: &str,
) -> Result<Vec<Delivery>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT id, webhook_id, topic, import_id, status, attempts FROM webhook_deliveries \
             WHERE webhook_id = $1 ORDER BY created_at, id",
            &[&webhook_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Delivery {
            id: r.get(0),
            webhook_id: r.get(1),
            topic: r.get(2),
            import_id: r.get(3),
            status: r.get(4),
            attempts: r.get(5),
        })
        .collect())
}

/// One page of a webhook's `last_event_callbacks`, newest first, and how many it has.
pub async fn callbacks_page<C: Db>(
    client: &C,
    webhook_id: &str,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<EventCallback>), tokio_postgres::Error> {
    let total: i64 = client
        .query_one(
            "SELECT count(*) FROM webhook_callbacks WHERE webhook_id = $1",
            &[&webhook_id],
        )
        .await?
        .get(0);
    let rows = client
        .query(
            "SELECT id, webhook_id, callback_url, payload, response_code, response_message, \
                created_at FROM webhook_callbacks WHERE webhook_id = $1 \
             ORDER BY seq DESC LIMIT $2 OFFSET $3",
            &[&webhook_id, &limit, &offset],
        )
        .await?;
    Ok((
        total,
        rows.iter()
            .map(|r| EventCallback {
                id: r.get(0),
                webhook_id: r.get(1),
                callback_url: r.get(2),
                payload: r.get(3),
                response_code: r.get(4),
                response_message: r.get(5),
                created_at: r.get(6),
            })
            .collect(),
    ))
}
