-- +goose NO TRANSACTION
-- +goose Up
-- GDPR export and erasure (issue 12). An erasure replaces a customer's
-- names and address by a tombstone ("erased", "erased-<12 hex of the
-- address's SHA-256>@invalid") and is recorded here: who (NULL: the
-- retention loop), when, how many rows, and the SHA-256 of the address,
-- never the address itself. Bookings are found by their address in any
-- case, and the retention loop finds the ended bookings not yet erased,
-- through two indexes built CONCURRENTLY (no transaction; every statement
-- can run again). Ledger rows are found by booking, Checkout Session and
-- PaymentIntent; the last gets its index back.
CREATE TABLE IF NOT EXISTS customer_erasures (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email_hash bytea,
    cause      text NOT NULL,
    staff_id   uuid REFERENCES staff_users (id),
    bookings   integer NOT NULL,
    messages   integer NOT NULL,
    tokens     integer NOT NULL,
    events     integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customer_erasures_cause_check CHECK (cause IN ('staff', 'retention')),
    CONSTRAINT customer_erasures_staff_check CHECK ((cause = 'staff') = (staff_id IS NOT NULL))
);
CREATE INDEX CONCURRENTLY IF NOT EXISTS bookings_customer_email_idx ON bookings (lower(customer_email));
CREATE INDEX CONCURRENTLY IF NOT EXISTS bookings_retention_idx ON bookings (ends_at)
    WHERE customer_email NOT LIKE 'erased-%@invalid';
CREATE INDEX CONCURRENTLY IF NOT EXISTS messages_recipient_idx ON messages (lower(recipient));
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_events_payment_intent_idx ON webhook_events (stripe_payment_intent_id)
    WHERE stripe_payment_intent_id IS NOT NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS webhook_events_payment_intent_idx;
DROP INDEX CONCURRENTLY IF EXISTS messages_recipient_idx;
DROP INDEX CONCURRENTLY IF EXISTS bookings_retention_idx;
DROP INDEX CONCURRENTLY IF EXISTS bookings_customer_email_idx;
DROP TABLE IF EXISTS customer_erasures;
