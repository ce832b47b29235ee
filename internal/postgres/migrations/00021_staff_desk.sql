-- +goose Up
-- The staff desk (docs/adr/0011): payments taken at the venue, staff blocks
-- of a resource's time, and notes on bookings.
SET lock_timeout = '10s';

-- Offline payments and refunds -------------------------------------------
-- Money a staff member took (or handed back) at the venue: no Checkout
-- Session, no event, no PaymentIntent, but who recorded it. Such a payment
-- is never refunded through Stripe: its refunds are offline too, recorded
-- by the staff member who hands the money back (M2, M3 hold as for any
-- payment: the same triggers count them). Dropping NOT NULL and adding the
-- checks rewrite nothing; validating them reads payments and refunds once,
-- under the migration's lock (about a second for a million payments: run it
-- in a quiet moment, RUNBOOK "Migrations").
ALTER TABLE payments
    ADD COLUMN method text NOT NULL DEFAULT 'stripe',
    ADD COLUMN recorded_by uuid REFERENCES staff_users (id),
    ALTER COLUMN stripe_session_id DROP NOT NULL,
    ALTER COLUMN stripe_event_id DROP NOT NULL,
    ADD CONSTRAINT payments_method_check CHECK (
        (method = 'stripe' AND stripe_session_id IS NOT NULL AND stripe_event_id IS NOT NULL)
        OR (method = 'offline' AND recorded_by IS NOT NULL AND stripe_session_id IS NULL
            AND stripe_payment_intent_id IS NULL AND stripe_event_id IS NULL)) NOT VALID;
ALTER TABLE payments VALIDATE CONSTRAINT payments_method_check;

ALTER TABLE refunds
    ADD COLUMN method text NOT NULL DEFAULT 'stripe',
    ADD COLUMN recorded_by uuid REFERENCES staff_users (id),
    ALTER COLUMN stripe_refund_id DROP NOT NULL,
    ADD CONSTRAINT refunds_method_check CHECK (
        (method = 'stripe' AND stripe_refund_id IS NOT NULL)
        OR (method = 'offline' AND recorded_by IS NOT NULL AND stripe_refund_id IS NULL)) NOT VALID;
ALTER TABLE refunds VALIDATE CONSTRAINT refunds_method_check;

-- A refund has the method of its payment: an offline payment is never
-- refunded through Stripe, nor a card payment in cash.
-- +goose StatementBegin
CREATE FUNCTION refunds_method_matches() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.method <> (SELECT method FROM payments WHERE id = NEW.payment_id) THEN
        RAISE EXCEPTION 'refund of method % does not match its payment %', NEW.method, NEW.payment_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'refunds_method_matches';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER refunds_method_matches BEFORE INSERT ON refunds
    FOR EACH ROW EXECUTE FUNCTION refunds_method_matches();

-- Staff blocks ------------------------------------------------------------
-- Time of a resource nobody can book (maintenance, a private event). The
-- no-overlap rule respects them: a block and a booking that holds its slot
-- never overlap, whichever is written first, under any concurrency.
--
-- An exclusion constraint cannot span two tables, so the two sides meet on
-- a per-resource advisory lock, transaction-scoped (safe behind a
-- transaction-pooling PgBouncer): a booking that takes time takes it
-- SHARED (bookings never wait for each other here), a block EXCLUSIVE.
-- Whoever gets the lock second checks the other table with a fresh
-- snapshot (each statement of a volatile function takes one under READ
-- COMMITTED), which sees what the first committed, because the first held
-- the lock until it committed. Blocks of one resource never overlap each
-- other (the exclusion constraint below).
CREATE TABLE resource_blocks (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    resource_id uuid NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    period      tstzrange NOT NULL,
    reason      text NOT NULL DEFAULT '',
    created_by  uuid NOT NULL REFERENCES staff_users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT resource_blocks_period_check CHECK (NOT isempty(period) AND lower_inc(period) AND NOT upper_inc(period)
        AND NOT lower_inf(period) AND NOT upper_inf(period) AND upper(period) - lower(period) <= interval '366 days'),
    CONSTRAINT resource_blocks_reason_length CHECK (char_length(reason) <= 200),
    CONSTRAINT resource_blocks_no_overlap EXCLUDE USING gist (resource_id WITH =, period WITH &&)
);

-- +goose StatementBegin
CREATE FUNCTION bookings_respect_blocks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('resource_blocks:' || NEW.resource_id::text, 0));
    IF EXISTS (SELECT 1 FROM resource_blocks k WHERE k.resource_id = NEW.resource_id
               AND k.period && coalesce(NEW.blocked, tstzrange(NEW.starts_at, NEW.ends_at, '[)'))) THEN
        RAISE EXCEPTION 'booking % meets a staff block of its resource', NEW.id
            USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'resource_blocks_respected';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER bookings_respect_blocks_insert BEFORE INSERT ON bookings
    FOR EACH ROW WHEN (NEW.holds_slot IS DISTINCT FROM false) EXECUTE FUNCTION bookings_respect_blocks();
CREATE TRIGGER bookings_respect_blocks BEFORE UPDATE OF status, holds_slot, starts_at, ends_at, blocked, resource_id
    ON bookings FOR EACH ROW
    WHEN (NEW.holds_slot AND (NOT OLD.holds_slot OR OLD.starts_at IS DISTINCT FROM NEW.starts_at
          OR OLD.ends_at IS DISTINCT FROM NEW.ends_at OR OLD.blocked IS DISTINCT FROM NEW.blocked
          OR OLD.resource_id IS DISTINCT FROM NEW.resource_id))
    EXECUTE FUNCTION bookings_respect_blocks();

-- +goose StatementBegin
CREATE FUNCTION resource_blocks_respect_bookings() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    other uuid;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('resource_blocks:' || NEW.resource_id::text, 0));
    SELECT b.id INTO other FROM bookings b
    WHERE b.resource_id = NEW.resource_id AND b.holds_slot
      AND coalesce(b.blocked, tstzrange(b.starts_at, b.ends_at, '[)')) && NEW.period
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'booking % holds time of this block', other
            USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'resource_blocks_bookings', DETAIL = other::text;
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER resource_blocks_respect_bookings BEFORE INSERT OR UPDATE OF period, resource_id ON resource_blocks
    FOR EACH ROW EXECUTE FUNCTION resource_blocks_respect_bookings();

-- Blocks are read with the bookings of a range (availability, the week
-- calendar): by resource and period, which the constraint's index serves.

-- Notes -----------------------------------------------------------------------
CREATE TABLE booking_notes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id uuid NOT NULL REFERENCES bookings (id),
    author_id  uuid NOT NULL REFERENCES staff_users (id),
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT booking_notes_body_length CHECK (char_length(body) BETWEEN 1 AND 2000)
);
CREATE INDEX booking_notes_booking_idx ON booking_notes (booking_id, id);

-- +goose Down
DROP TABLE booking_notes;
DROP TRIGGER resource_blocks_respect_bookings ON resource_blocks;
DROP FUNCTION resource_blocks_respect_bookings();
DROP TRIGGER bookings_respect_blocks ON bookings;
DROP TRIGGER bookings_respect_blocks_insert ON bookings;
DROP FUNCTION bookings_respect_blocks();
DROP TABLE resource_blocks;
DROP TRIGGER refunds_method_matches ON refunds;
DROP FUNCTION refunds_method_matches();
ALTER TABLE refunds DROP CONSTRAINT refunds_method_check, DROP COLUMN recorded_by, DROP COLUMN method;
ALTER TABLE payments DROP CONSTRAINT payments_method_check, DROP COLUMN recorded_by, DROP COLUMN method;
