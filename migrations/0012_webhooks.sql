-- Webhooks on the imports topics (Commerce Layer's `webhooks` resource), the deliveries each
-- event makes for them, and every attempt to send one (`last_event_callbacks`).

-- The W3C trace context of the request that created an import: its webhook deliveries are
-- spans of the same trace.
ALTER TABLE imports ADD COLUMN trace_context jsonb NOT NULL DEFAULT '{}'::jsonb;

CREATE TABLE webhooks (
    id text PRIMARY KEY,
    organization_id text NOT NULL,
    mode text NOT NULL CHECK (mode IN ('test', 'live')),
    name text,
    topic text NOT NULL,
    callback_url text NOT NULL,
    include_resources text[] NOT NULL DEFAULT '{}',
    shared_secret text NOT NULL,
    disabled_at timestamptz,
    circuit_state text NOT NULL DEFAULT 'closed' CHECK (circuit_state IN ('closed', 'open')),
    circuit_failure_count integer NOT NULL DEFAULT 0,
    reference text,
    reference_origin text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The webhooks an event goes to: enabled, circuit closed, of its tenant and topic.
CREATE INDEX webhooks_by_topic ON webhooks (organization_id, mode, topic)
    WHERE disabled_at IS NULL AND circuit_state = 'closed';
CREATE INDEX webhooks_by_tenant ON webhooks (organization_id, mode, created_at, id);

-- One row per event and webhook, written in the event's transaction. `resource` is the
-- import's attributes at the event, `events` its events then (for a webhook that includes
-- them) (the import may be deleted, or have moved on, before
-- the delivery is sent). A delivery is `pending` until it is `delivered`, `failed` (out of
-- attempts) or `abandoned` (its webhook disabled or its circuit open when its turn came).
-- `claim` and `claimed_until` belong to the delivery process sending it; `announced_at` is
-- when it was last announced on RabbitMQ and not yet claimed; `next_attempt_at` is when it
-- is due (again).
CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY,
    webhook_id text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id bigint NOT NULL,
    topic text NOT NULL,
    import_id text NOT NULL,
    resource jsonb NOT NULL,
    events jsonb,
    trace_context jsonb NOT NULL DEFAULT '{}'::jsonb,
    body text,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed', 'abandoned')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    announced_at timestamptz,
    claim uuid,
    claimed_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);

-- A webhook's deliveries (its deletes cascade through it), oldest due first: announcing
-- finds them webhook by webhook, so a round costs a probe per webhook, not a read of every
-- pending delivery.
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, next_attempt_at);
-- The deliveries being sent or announced, counted per webhook against its share.
CREATE INDEX webhook_deliveries_in_flight ON webhook_deliveries (webhook_id)
    WHERE status = 'pending' AND (claim IS NOT NULL OR announced_at IS NOT NULL);
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_at)
    WHERE status <> 'pending';

-- Each attempt to send a delivery, as `event_callbacks` show it; the latest few per webhook
-- are kept.
CREATE TABLE webhook_callbacks (
    seq bigserial PRIMARY KEY,
    id text NOT NULL UNIQUE,
    webhook_id text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    delivery_id uuid NOT NULL,
    callback_url text NOT NULL,
    payload jsonb,
    response_code text,
    response_message text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhook_callbacks_by_webhook ON webhook_callbacks (webhook_id, seq);

-- New deliveries wake the delivery processes (LISTEN webhook_deliveries) at commit, so an
-- event is sent in milliseconds rather than at the next poll.
CREATE FUNCTION notify_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('webhook_deliveries', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER webhook_deliveries_notify AFTER INSERT ON webhook_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION notify_webhook_deliveries();
