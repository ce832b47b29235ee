-- +goose NO TRANSACTION
-- +goose Up
-- The payments taken at the venue, by booking: the desk's schedule marks
-- each booking paid at the venue (desk.go scheduleSQL). Through the index
-- of all payments it read every booking's payment and discarded the ones
-- paid online — one per booking of the week, four buffers each; this
-- index holds only the few taken at the venue. An online payment adds
-- nothing to it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS payments_offline_booking_idx ON payments (booking_id) WHERE method = 'offline';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS payments_offline_booking_idx;
