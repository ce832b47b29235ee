-- +goose Up
-- What was sent, per booking: one row per (booking, kind, version), written
-- by the message job after the mail server accepted the message. A job that
-- runs again (a retry, a second replica, a replayed event's job) finds the
-- row and sends nothing. What waits to be sent, and what failed, is in
-- River's river_job table (migration 10, internal/jobs).
CREATE TABLE messages (
    id          bigserial PRIMARY KEY,
    booking_id  uuid NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind ~ '^[a-z_]{1,40}$'),
    version     bigint NOT NULL,
    recipient   text NOT NULL,
    subject     text NOT NULL,
    message_id  text NOT NULL,
    job_id      bigint,
    sent_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (booking_id, kind, version)
);

-- Links in messages carry a token of their own, so that no customer token
-- is ever stored in clear: a token per message, its SHA-256 here, accepted
-- wherever the booking's customer token is.
CREATE TABLE manage_tokens (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    booking_id  uuid NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX manage_tokens_booking_idx ON manage_tokens (booking_id);

-- +goose Down
DROP TABLE manage_tokens;
DROP TABLE messages;
