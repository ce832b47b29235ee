-- +goose NO TRANSACTION
-- +goose Up
-- One index per shape of the staff lists (internal/postgres staffview.go,
-- ledgerview.go), so that every page is read from an index in the list's
-- order, whatever the filters: the equality filters lead, the order follows
-- ((created_at, id) newest first; (starts_at, id) in calendar order when a
-- date range is given), and a page reads about as many rows as it returns —
-- also for the rare statuses and deep cursors, under custom and generic
-- plans (internal/postgres plan_test.go checks it).
--
-- Built CONCURRENTLY: bookings and the ledger keep taking writes (holds,
-- webhooks) while a large table is indexed. A build that fails half-way
-- leaves an invalid index behind and goose does not record the migration, so
-- each index is dropped first and the whole file can simply run again.
-- Write cost: each booking row carries seven more index entries; bookings
-- change status rarely (a few times in their life), and status was already
-- indexed, so those updates were not HOT before either.

-- Bookings of one resource, newest first; with a status.
DROP INDEX CONCURRENTLY IF EXISTS bookings_resource_created_idx;
CREATE INDEX CONCURRENTLY bookings_resource_created_idx ON bookings (resource_id, created_at DESC, id DESC);
DROP INDEX CONCURRENTLY IF EXISTS bookings_resource_status_created_idx;
CREATE INDEX CONCURRENTLY bookings_resource_status_created_idx
    ON bookings (resource_id, status, created_at DESC, id DESC);

-- Bookings in a startsAt range, in calendar order: all, of a status, of a
-- resource, of a resource and a status.
DROP INDEX CONCURRENTLY IF EXISTS bookings_starts_idx;
CREATE INDEX CONCURRENTLY bookings_starts_idx ON bookings (starts_at, id);
DROP INDEX CONCURRENTLY IF EXISTS bookings_status_starts_idx;
CREATE INDEX CONCURRENTLY bookings_status_starts_idx ON bookings (status, starts_at, id);
DROP INDEX CONCURRENTLY IF EXISTS bookings_resource_starts_idx;
CREATE INDEX CONCURRENTLY bookings_resource_starts_idx ON bookings (resource_id, starts_at, id);
DROP INDEX CONCURRENTLY IF EXISTS bookings_resource_status_starts_idx;
CREATE INDEX CONCURRENTLY bookings_resource_status_starts_idx ON bookings (resource_id, status, starts_at, id);

-- Bookings of a customer (email, case-insensitive), newest first. The other
-- filters are applied to that customer's bookings.
DROP INDEX CONCURRENTLY IF EXISTS bookings_email_created_idx;
CREATE INDEX CONCURRENTLY bookings_email_created_idx ON bookings (lower(customer_email), created_at DESC, id DESC);

-- The latest dispute of a booking, on every row of the booking list
-- (ORDER BY id DESC LIMIT 1: with the booking id alone the planner would
-- rather walk the disputes' primary key backwards); it replaces the index
-- on the booking id alone. And the disputes of a payment: what a lost
-- dispute withdrew is subtracted from what remains to refund
-- (internal/postgres refund.go), for each refund claimed.
DROP INDEX CONCURRENTLY IF EXISTS disputes_booking_id_idx;
CREATE INDEX CONCURRENTLY disputes_booking_id_idx ON disputes (booking_id, id);
DROP INDEX CONCURRENTLY IF EXISTS disputes_booking_idx;
DROP INDEX CONCURRENTLY IF EXISTS disputes_payment_idx;
CREATE INDEX CONCURRENTLY disputes_payment_idx ON disputes (payment_id);

-- Ledger rows of a type and an outcome, newest first (type alone and
-- outcome alone have theirs since 00005).
DROP INDEX CONCURRENTLY IF EXISTS webhook_events_type_outcome_received_idx;
CREATE INDEX CONCURRENTLY webhook_events_type_outcome_received_idx
    ON webhook_events (type, outcome, received_at DESC, stripe_event_id DESC);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS webhook_events_type_outcome_received_idx;
DROP INDEX CONCURRENTLY IF EXISTS disputes_payment_idx;
CREATE INDEX CONCURRENTLY IF NOT EXISTS disputes_booking_idx ON disputes (booking_id);
DROP INDEX CONCURRENTLY IF EXISTS disputes_booking_id_idx;
DROP INDEX CONCURRENTLY IF EXISTS bookings_email_created_idx;
DROP INDEX CONCURRENTLY IF EXISTS bookings_resource_status_starts_idx;
DROP INDEX CONCURRENTLY IF EXISTS bookings_resource_starts_idx;
DROP INDEX CONCURRENTLY IF EXISTS bookings_status_starts_idx;
DROP INDEX CONCURRENTLY IF EXISTS bookings_starts_idx;
DROP INDEX CONCURRENTLY IF EXISTS bookings_resource_status_created_idx;
DROP INDEX CONCURRENTLY IF EXISTS bookings_resource_created_idx;
