-- OAuth2: organizations, their applications (client credentials, the secret stored hashed),
-- the keys access tokens are signed with, and revoked access tokens.

CREATE TABLE organizations (
    id         text PRIMARY KEY,
    slug       text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE applications (
    id                 text PRIMARY KEY,
    organization_id    text NOT NULL REFERENCES organizations (id),
    mode               text NOT NULL CHECK (mode IN ('test', 'live')),
    kind               text NOT NULL CHECK (kind IN ('integration')),
    name               text NOT NULL,
    client_id          text NOT NULL UNIQUE,
    client_secret_hash bytea NOT NULL,
    scopes             text NOT NULL DEFAULT 'market:all',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    revoked_at         timestamptz
);
CREATE INDEX applications_organization ON applications (organization_id, created_at DESC);

-- RS512 signing keys. A key signs from activates_at (a moment after it is made, so every
-- replica knows it before a token signed with it arrives) until a newer one activates; it
-- stays published (and verifies) until retired_at plus the longest token lifetime.
CREATE TABLE signing_keys (
    kid             text PRIMARY KEY,
    private_key_pem text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    activates_at    timestamptz NOT NULL DEFAULT now(),
    retired_at      timestamptz
);

-- Access tokens revoked before their expiry, by their `rand` claim, and applications whose
-- every token was revoked (application_id with no rand). Kept until the tokens expire.
CREATE TABLE access_revocations (
    id             bigserial PRIMARY KEY,
    token_rand     text,
    application_id text NOT NULL,
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX access_revocations_expiry ON access_revocations (expires_at);

-- An application with its organization, as every read of one wants it.
CREATE VIEW application_accounts AS
SELECT a.id, a.mode, a.kind, a.name, a.client_id, a.client_secret_hash, a.scopes,
       a.created_at, a.updated_at, a.revoked_at,
       o.id AS org_id, o.slug AS org_slug, o.name AS org_name,
       o.created_at AS org_created_at, o.updated_at AS org_updated_at
FROM applications a JOIN organizations o ON o.id = a.organization_id;
