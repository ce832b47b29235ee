-- +goose NO TRANSACTION
-- +goose Up
-- refunds_exceed_payment (booking check, M3) compares the refunds alone
-- with the payment. What a lost dispute took back is not a refund: a
-- refund made before a dispute that the bank then upholds in full is a
-- double loss the books must show, not a broken rule.
DROP INDEX CONCURRENTLY IF EXISTS bookings_refunds_exceed_idx;
CREATE INDEX CONCURRENTLY bookings_refunds_exceed_idx ON bookings (id) WHERE amount_refunded > amount_paid;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS bookings_refunds_exceed_idx;
CREATE INDEX CONCURRENTLY bookings_refunds_exceed_idx ON bookings (id) WHERE amount_refunded + amount_withdrawn > amount_paid;
