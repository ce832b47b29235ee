-- +goose Up
-- API keys for integrations (issue 12): a bearer token per key, stored only
-- as its SHA-256 (the token is 256 random bits, so a fast hash is enough).
-- A key acts for the staff account that created it, never above that
-- account's current role, and only within its scopes; revoked keys stay
-- for the record.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL,
    token_hash   bytea NOT NULL,
    -- The first characters of the token, to tell keys apart in a list.
    prefix       text NOT NULL,
    scopes       text[] NOT NULL,
    created_by   uuid NOT NULL REFERENCES staff_users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    CONSTRAINT api_keys_token_hash_key UNIQUE (token_hash),
    CONSTRAINT api_keys_token_hash_len CHECK (length(token_hash) = 32),
    CONSTRAINT api_keys_name_check CHECK (length(name) BETWEEN 1 AND 100),
    CONSTRAINT api_keys_scopes_check CHECK (cardinality(scopes) > 0
        AND scopes <@ ARRAY['bookings:read', 'bookings:write', 'admin']::text[])
);

-- +goose Down
DROP TABLE api_keys;
