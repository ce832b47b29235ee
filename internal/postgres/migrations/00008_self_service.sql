-- +goose NO TRANSACTION
-- +goose Up
-- Customer self-service (docs/adr/0007): each resource's policy, the
-- calendar SEQUENCE of a booking, the late-cancellation fee a customer's
-- cancellation may leave kept, and moves of a booking in the audit trail.
--
-- The fee is money kept on purpose for a booking that will not happen, so
-- the money rules count it: what a booking keeps (booking.Booking.Kept) is
-- paid less refunded, withdrawn and retained. The two checks of `booking
-- check` that read "money kept" get new partial indexes whose predicate is
-- the new rule, built CONCURRENTLY (bookings keep taking writes) before the
-- old ones go, so the file has no transaction. Every statement can run
-- again: a build that fails half-way is finished by running the file again.

-- Each resource's policy: where it takes place, when the reminder goes out
-- (0: none), and until how many hours before the start a customer may
-- cancel with a full refund and move the booking; between that cut-off and
-- the start a cancellation refunds late_cancel_refund_percent of the amount
-- paid (rounded down) and the rest is the fee. A small table: constraints
-- are added at once.
ALTER TABLE resources
    ADD COLUMN IF NOT EXISTS location text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS reminder_hours integer NOT NULL DEFAULT 24,
    ADD COLUMN IF NOT EXISTS cancel_until_hours integer NOT NULL DEFAULT 24,
    ADD COLUMN IF NOT EXISTS late_cancel_refund_percent integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS reschedule_until_hours integer NOT NULL DEFAULT 24;
ALTER TABLE resources
    DROP CONSTRAINT IF EXISTS resources_location_length,
    ADD CONSTRAINT resources_location_length CHECK (char_length(location) <= 300),
    DROP CONSTRAINT IF EXISTS resources_reminder_hours_range,
    ADD CONSTRAINT resources_reminder_hours_range CHECK (reminder_hours BETWEEN 0 AND 720),
    DROP CONSTRAINT IF EXISTS resources_cancel_until_hours_range,
    ADD CONSTRAINT resources_cancel_until_hours_range CHECK (cancel_until_hours BETWEEN 0 AND 8760),
    DROP CONSTRAINT IF EXISTS resources_late_cancel_refund_percent_range,
    ADD CONSTRAINT resources_late_cancel_refund_percent_range CHECK (late_cancel_refund_percent BETWEEN 0 AND 100),
    DROP CONSTRAINT IF EXISTS resources_reschedule_until_hours_range,
    ADD CONSTRAINT resources_reschedule_until_hours_range CHECK (reschedule_until_hours BETWEEN 0 AND 8760);

-- The iCalendar SEQUENCE (raised by one on every reschedule) and the fee a
-- late cancellation retained. Constant defaults: no table rewrite.
ALTER TABLE bookings
    ADD COLUMN IF NOT EXISTS sequence integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS amount_retained bigint NOT NULL DEFAULT 0;
-- The fee is part of what was paid and neither refunded nor withdrawn, and
-- a booking that holds its slot retains none. Added NOT VALID (no scan
-- under the table lock), then validated without blocking writes.
ALTER TABLE bookings
    DROP CONSTRAINT IF EXISTS bookings_sequence_check,
    ADD CONSTRAINT bookings_sequence_check CHECK (sequence >= 0) NOT VALID,
    DROP CONSTRAINT IF EXISTS bookings_retained_check,
    ADD CONSTRAINT bookings_retained_check CHECK (amount_retained = 0 OR (amount_retained > 0 AND NOT holds_slot
        AND amount_retained <= amount_paid - amount_refunded - amount_withdrawn)) NOT VALID;
ALTER TABLE bookings VALIDATE CONSTRAINT bookings_sequence_check;
ALTER TABLE bookings VALIDATE CONSTRAINT bookings_retained_check;

-- A move of a booking is audited like a status change, by trigger: its
-- row keeps the status (from = to), the cause of the move, and a detail
-- naming both slots, with the note the mover set for this transaction
-- (booking.audit_note: e.g. staff overriding the cut-off).
ALTER TABLE booking_audit ADD COLUMN IF NOT EXISTS detail text NOT NULL DEFAULT '';
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION booking_audit_move() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    note text := coalesce(current_setting('booking.audit_note', true), '');
BEGIN
    INSERT INTO booking_audit (booking_id, from_status, to_status, cause, cause_ref, detail)
    VALUES (NEW.id, OLD.status, NEW.status, NEW.status_cause, NEW.status_cause_ref,
            'rescheduled from ' || to_char(OLD.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            || ' to ' || to_char(NEW.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            || CASE WHEN note <> '' THEN ' (' || note || ')' ELSE '' END);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE OR REPLACE TRIGGER bookings_audit_move AFTER UPDATE OF starts_at, ends_at ON bookings
    FOR EACH ROW WHEN (OLD.starts_at IS DISTINCT FROM NEW.starts_at OR OLD.ends_at IS DISTINCT FROM NEW.ends_at)
    EXECUTE FUNCTION booking_audit_move();

-- The checks of money kept (M2, M5), with the fee counted.
DROP INDEX CONCURRENTLY IF EXISTS bookings_money_unreturned_idx;
CREATE INDEX CONCURRENTLY bookings_money_unreturned_idx ON bookings (id)
    WHERE amount_paid > amount_refunded + amount_withdrawn + amount_retained AND NOT holds_slot;
DROP INDEX CONCURRENTLY IF EXISTS bookings_money_kept_idx;
DROP INDEX CONCURRENTLY IF EXISTS bookings_refunded_unreturned_idx;
CREATE INDEX CONCURRENTLY bookings_refunded_unreturned_idx ON bookings (id)
    WHERE status = 'refunded' AND amount_refunded + amount_withdrawn + amount_retained < amount_paid;
DROP INDEX CONCURRENTLY IF EXISTS bookings_refunded_status_idx;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS bookings_refunded_status_idx ON bookings (id)
    WHERE status = 'refunded' AND amount_refunded + amount_withdrawn < amount_paid;
DROP INDEX CONCURRENTLY IF EXISTS bookings_refunded_unreturned_idx;
CREATE INDEX CONCURRENTLY IF NOT EXISTS bookings_money_kept_idx ON bookings (id)
    WHERE amount_paid > amount_refunded + amount_withdrawn AND NOT holds_slot;
DROP INDEX CONCURRENTLY IF EXISTS bookings_money_unreturned_idx;
DROP TRIGGER IF EXISTS bookings_audit_move ON bookings;
DROP FUNCTION IF EXISTS booking_audit_move();
ALTER TABLE booking_audit DROP COLUMN IF EXISTS detail;
ALTER TABLE bookings
    DROP CONSTRAINT IF EXISTS bookings_retained_check,
    DROP CONSTRAINT IF EXISTS bookings_sequence_check,
    DROP COLUMN IF EXISTS amount_retained,
    DROP COLUMN IF EXISTS sequence;
ALTER TABLE resources
    DROP CONSTRAINT IF EXISTS resources_reschedule_until_hours_range,
    DROP CONSTRAINT IF EXISTS resources_late_cancel_refund_percent_range,
    DROP CONSTRAINT IF EXISTS resources_cancel_until_hours_range,
    DROP CONSTRAINT IF EXISTS resources_reminder_hours_range,
    DROP CONSTRAINT IF EXISTS resources_location_length,
    DROP COLUMN IF EXISTS reschedule_until_hours,
    DROP COLUMN IF EXISTS late_cancel_refund_percent,
    DROP COLUMN IF EXISTS cancel_until_hours,
    DROP COLUMN IF EXISTS reminder_hours,
    DROP COLUMN IF EXISTS location;
