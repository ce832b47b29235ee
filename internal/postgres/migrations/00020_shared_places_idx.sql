-- +goose NO TRANSACTION
-- +goose Up
-- The places of capacity resources that hold their slot, by resource and
-- start: the second half of the busy-ranges read (availability, month
-- view, hold checks). Without it that half walked every booking of the
-- day's range to find the shared ones — none, for most resources — one
-- heap page each at a million bookings (2.6x the availability p50 of a
-- thousand; 1.3x with it, docs/BENCHMARKS.md).
DROP INDEX CONCURRENTLY IF EXISTS bookings_shared_starts_idx;
CREATE INDEX CONCURRENTLY bookings_shared_starts_idx ON bookings (resource_id, starts_at) WHERE holds_slot AND shared;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS bookings_shared_starts_idx;
