-- +goose NO TRANSACTION
-- +goose Up
-- Calendar feeds (issue 12): one secret key per resource, stored only as
-- its SHA-256 (the key is 256 random bits, so a fast hash is enough); a new
-- key replaces the row, so the old one stops working at once. The feed
-- reads a resource's bookings by start time, so bookings get an index on
-- (resource_id, starts_at), built CONCURRENTLY (bookings keep taking
-- writes), hence no transaction; every statement can run again.
CREATE TABLE IF NOT EXISTS calendar_keys (
    resource_id uuid PRIMARY KEY REFERENCES resources (id) ON DELETE CASCADE,
    key_hash    bytea NOT NULL,
    created_by  uuid REFERENCES staff_users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT calendar_keys_key_hash_len CHECK (length(key_hash) = 32)
);
CREATE INDEX CONCURRENTLY IF NOT EXISTS bookings_resource_starts_idx ON bookings (resource_id, starts_at);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS bookings_resource_starts_idx;
DROP TABLE IF EXISTS calendar_keys;
