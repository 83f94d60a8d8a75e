-- API tokens (stored hashed) and the outbox of imports still to be announced on RabbitMQ.

CREATE TABLE api_tokens (
    id              text PRIMARY KEY,
    organization_id text NOT NULL,
    mode            text NOT NULL CHECK (mode IN ('test', 'live')),
    token_hash      bytea NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);

-- Written in the transaction that creates the import; deleted once RabbitMQ confirmed the
-- announcement. Anything left here is published again.
CREATE TABLE import_outbox (
    import_id     text PRIMARY KEY,
    trace_context jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text
);
