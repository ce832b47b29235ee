-- +goose Up
-- Staff accounts and their sessions. Passwords are stored as argon2id hashes
-- in PHC string form; a per-account failure counter and lock make the login
-- throttle hold across replicas. Sessions live here too (the table layout of
-- the scs pgxstore), so any replica serves any request and a restart logs
-- nobody out.
SET lock_timeout = '10s';

CREATE TABLE staff_users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL,
    password_hash text NOT NULL,
    role          text NOT NULL,
    active        boolean NOT NULL DEFAULT true,
    failed_logins integer NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    last_login_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT staff_users_email_key UNIQUE (email),
    CONSTRAINT staff_users_email_lower CHECK (email = lower(email) AND email <> ''),
    CONSTRAINT staff_users_role_check CHECK (role IN ('ADMIN', 'OPS', 'READONLY')),
    CONSTRAINT staff_users_password_hash_format CHECK (password_hash LIKE '$argon2id$%'),
    CONSTRAINT staff_users_failed_logins_check CHECK (failed_logins >= 0)
);

CREATE TABLE sessions (
    token  text PRIMARY KEY,
    data   bytea NOT NULL,
    expiry timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);

-- Staff filters of the payment ledger.
CREATE INDEX webhook_events_type_received_idx ON webhook_events (type, received_at DESC, id DESC);

-- +goose Down
DROP INDEX webhook_events_type_received_idx;
DROP TABLE sessions;
DROP TABLE staff_users;
