-- Imports, their raw inputs, their per-input log entries and their lifecycle events.

CREATE TABLE imports (
    id                  text PRIMARY KEY,
    organization_id     text NOT NULL,
    mode                text NOT NULL CHECK (mode IN ('test', 'live')),
    resource_type       text NOT NULL,
    format              text NOT NULL CHECK (format IN ('json', 'csv')),
    parent_resource_id  text,
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'in_progress', 'interrupted', 'completed')),
    started_at          timestamptz,
    completed_at        timestamptz,
    interrupted_at      timestamptz,
    inputs_size         bigint NOT NULL CHECK (inputs_size >= 0),
    processed_count     bigint NOT NULL DEFAULT 0,
    errors_count        bigint NOT NULL DEFAULT 0,
    warnings_count      bigint NOT NULL DEFAULT 0,
    skip_errors         boolean NOT NULL DEFAULT false,
    interrupt_requested boolean NOT NULL DEFAULT false,
    -- Why the import stopped when nobody asked it to (error threshold, unreadable inputs).
    failure_reason      text,
    -- Number of inputs handled by committed batches: where a worker resumes.
    cursor              bigint NOT NULL DEFAULT 0,
    -- Which worker holds the import, until when (renewed by its heartbeat).
    lease_owner         uuid,
    lease_expires_at    timestamptz,
    -- How many times a worker claimed it (1 unless a worker died or stopped).
    attempts            integer NOT NULL DEFAULT 0,
    reference           text,
    reference_origin    text,
    metadata            jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX imports_tenant_created ON imports (organization_id, mode, created_at DESC);
CREATE INDEX imports_unfinished ON imports (lease_expires_at) WHERE status IN ('pending', 'in_progress');

-- The raw inputs as uploaded, in chunks so that neither writer nor reader holds them whole.
CREATE TABLE import_inputs (
    import_id text NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    seq       integer NOT NULL,
    data      bytea NOT NULL,
    PRIMARY KEY (import_id, seq)
);

-- Errors and warnings, one row per message; errors_log and warnings_log are built from them.
CREATE TABLE import_log_entries (
    import_id  text NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    position   bigint NOT NULL,
    severity   text NOT NULL CHECK (severity IN ('error', 'warning')),
    key        text NOT NULL,
    attribute  text,
    message    text NOT NULL
);

CREATE INDEX import_log_entries_by_import ON import_log_entries (import_id, severity, position);

-- Lifecycle events: imports.create, imports.start, imports.complete, imports.interrupt, imports.destroy.
CREATE TABLE import_events (
    id         bigserial PRIMARY KEY,
    import_id  text NOT NULL,
    name       text NOT NULL,
    payload    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX import_events_by_import ON import_events (import_id, id);
