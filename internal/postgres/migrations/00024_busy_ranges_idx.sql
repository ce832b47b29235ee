-- +goose NO TRANSACTION
-- +goose Up
-- The bookings holding time of a resource, by start, with every column the
-- busy-ranges read needs (availability, month view, hold checks, the
-- desk's schedule): read from the index alone, without visiting the
-- table. Through the no-overlap GiST index every booking of a month was a
-- heap page of its own at a million bookings (439 pages for 443 bookings,
-- 3.9 ms; 9 pages and 0.7 ms from this index, docs/BENCHMARKS.md). It also
-- holds the shared places read by start, so the index of those goes.
--
-- An index by start finds the bookings whose blocked range meets a time
-- range only if a blocked range cannot reach far from its start: a slot
-- lasts at most 1,440 minutes and each buffer at most 1,440 (resources'
-- checks), and bookings_span_check makes that a rule of every booking, so a
-- range [from, to) is met only by bookings starting in (from - 48 hours,
-- to + 24 hours). Hours, not days: timestamptz + '1 day' follows the
-- session's time zone, 23 or 25 hours across a change of clocks.
ALTER TABLE bookings DROP CONSTRAINT IF EXISTS bookings_span_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_span_check CHECK (
    ends_at <= starts_at + interval '24 hours'
    AND (blocked IS NULL OR blocked <@ tstzrange(starts_at - interval '24 hours', ends_at + interval '24 hours', '[]'))
) NOT VALID;
ALTER TABLE bookings VALIDATE CONSTRAINT bookings_span_check;
CREATE INDEX CONCURRENTLY IF NOT EXISTS bookings_busy_idx ON bookings (resource_id, starts_at)
    INCLUDE (ends_at, blocked, quantity, shared, status, hold_expires_at) WHERE holds_slot;
DROP INDEX CONCURRENTLY IF EXISTS bookings_shared_starts_idx;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS bookings_shared_starts_idx ON bookings (resource_id, starts_at) WHERE holds_slot AND shared;
DROP INDEX CONCURRENTLY IF EXISTS bookings_busy_idx;
ALTER TABLE bookings DROP CONSTRAINT IF EXISTS bookings_span_check;
