-- +goose Up
-- Availability rules per resource, date overrides, and group sessions
-- (docs/adr/0009).
--
-- Rules: a start every slot_interval_minutes (0: every duration), a buffer
-- before and after each booking, a minimum notice and a booking horizon.
-- Constant defaults: adding them rewrites nothing.
--
-- Buffers: the time a booking keeps from others is its blocked range, fixed
-- when the booking is made (so changing a buffer later never invalidates an
-- existing booking). Existing rows keep blocked NULL, which means "the
-- booking's own range": the no-overlap constraint is rebuilt on
-- coalesce(blocked, tstzrange(starts_at, ends_at)), so no row is rewritten
-- (no table-wide UPDATE, no bloat) and every row keeps exactly the range it
-- held. A move of a booking (reschedule) shifts its blocked range with it,
-- by trigger, keeping the buffers it was made with.
--
-- Group sessions: a resource with capacity > 1 sells places. Its bookings
-- are "shared" and take `quantity` places of the slot starting at their
-- starts_at; they are counted in slot_places (one row per slot) by an
-- AFTER trigger whose guarded UPDATE refuses to go past the capacity, and
-- they stay out of the exclusion constraint. Bookings of capacity-1
-- resources are unchanged: the exclusion constraint alone settles them.
--
-- Lock: the constraint swap takes an ACCESS EXCLUSIVE lock on bookings
-- while the new GiST index is built (an exclusion constraint cannot be
-- added NOT VALID nor from an index built CONCURRENTLY). Dropping the old
-- one and adding the new one in this transaction leaves no instant without
-- the rule. On 1,000,000 bookings the build takes a few seconds: run it
-- in a quiet moment (RUNBOOK).
SET lock_timeout = '10s';

ALTER TABLE resources
    ADD COLUMN slot_interval_minutes integer NOT NULL DEFAULT 0,
    ADD COLUMN buffer_before_minutes integer NOT NULL DEFAULT 0,
    ADD COLUMN buffer_after_minutes integer NOT NULL DEFAULT 0,
    ADD COLUMN min_notice_minutes integer NOT NULL DEFAULT 0,
    ADD COLUMN max_advance_days integer NOT NULL DEFAULT 0,
    ADD COLUMN capacity integer NOT NULL DEFAULT 1,
    ADD CONSTRAINT resources_slot_interval_range CHECK (slot_interval_minutes = 0 OR slot_interval_minutes BETWEEN 5 AND 1440),
    ADD CONSTRAINT resources_buffers_range CHECK (buffer_before_minutes BETWEEN 0 AND 1440 AND buffer_after_minutes BETWEEN 0 AND 1440),
    ADD CONSTRAINT resources_min_notice_range CHECK (min_notice_minutes BETWEEN 0 AND 525600),
    ADD CONSTRAINT resources_max_advance_range CHECK (max_advance_days BETWEEN 0 AND 3650),
    ADD CONSTRAINT resources_capacity_range CHECK (capacity BETWEEN 1 AND 10000);

-- Closed days and special opening hours, for a date or a date range (local
-- dates of the resource's zone). Ranges of one resource never overlap.
CREATE TABLE resource_overrides (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    resource_id uuid NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    from_date   date NOT NULL,
    to_date     date NOT NULL,
    closed      boolean NOT NULL,
    hours       jsonb NOT NULL DEFAULT '[]',
    note        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT resource_overrides_range_check CHECK (to_date >= from_date AND to_date - from_date <= 366),
    CONSTRAINT resource_overrides_hours_array CHECK (jsonb_typeof(hours) = 'array'),
    CONSTRAINT resource_overrides_closed_check CHECK (NOT closed OR hours = '[]'::jsonb),
    CONSTRAINT resource_overrides_note_length CHECK (char_length(note) <= 200),
    CONSTRAINT resource_overrides_no_overlap EXCLUDE USING gist (
        resource_id WITH =, daterange(from_date, to_date, '[]') WITH &&)
);
-- Overrides are part of what the resource caches hold (postgres.ResourceCache).
CREATE TRIGGER resource_overrides_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON resource_overrides
    FOR EACH STATEMENT EXECUTE FUNCTION resources_notify();

ALTER TABLE bookings
    ADD COLUMN blocked tstzrange,
    ADD COLUMN quantity integer NOT NULL DEFAULT 1,
    ADD COLUMN shared boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT bookings_quantity_check CHECK (quantity >= 1 AND (shared OR quantity = 1)) NOT VALID,
    ADD CONSTRAINT bookings_blocked_check CHECK (blocked IS NULL OR blocked @> tstzrange(starts_at, ends_at, '[)')) NOT VALID;
-- Defaults only: no row can break them, validated without blocking writes.
ALTER TABLE bookings VALIDATE CONSTRAINT bookings_quantity_check;
ALTER TABLE bookings VALIDATE CONSTRAINT bookings_blocked_check;

ALTER TABLE bookings DROP CONSTRAINT bookings_no_overlap;
ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
    resource_id WITH =,
    coalesce(blocked, tstzrange(starts_at, ends_at, '[)')) WITH &&
) WHERE (holds_slot AND NOT shared);

-- A move keeps the buffers the booking was made with.
-- +goose StatementBegin
CREATE FUNCTION bookings_move_blocked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.blocked IS NOT DISTINCT FROM OLD.blocked AND OLD.blocked IS NOT NULL THEN
        NEW.blocked := tstzrange(lower(OLD.blocked) + (NEW.starts_at - OLD.starts_at),
                                 upper(OLD.blocked) + (NEW.ends_at - OLD.ends_at), '[)');
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER bookings_move_blocked BEFORE UPDATE OF starts_at, ends_at ON bookings
    FOR EACH ROW WHEN (OLD.starts_at IS DISTINCT FROM NEW.starts_at OR OLD.ends_at IS DISTINCT FROM NEW.ends_at)
    EXECUTE FUNCTION bookings_move_blocked();

-- Places taken per slot of a shared resource, by the bookings that hold it.
CREATE TABLE slot_places (
    resource_id uuid NOT NULL REFERENCES resources (id),
    starts_at   timestamptz NOT NULL,
    taken       integer NOT NULL,
    PRIMARY KEY (resource_id, starts_at),
    CONSTRAINT slot_places_taken_check CHECK (taken >= 0)
);

-- Every change of a shared booking that takes or gives back places goes
-- through here, whatever the path (hold, webhook, sweep, lazy release,
-- staff, reschedule). Taking places is one guarded UPDATE of the slot's
-- row: the row lock serialises concurrent takers, and under READ COMMITTED
-- a waiting UPDATE re-checks its WHERE on the row as the winner committed
-- it, so `taken + quantity <= capacity` holds for every committed state.
-- A refusal is raised as an exclusion violation of slot_places_capacity,
-- which the application translates like bookings_no_overlap.
-- +goose StatementBegin
CREATE FUNCTION bookings_count_places() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    held  boolean := TG_OP = 'UPDATE' AND OLD.holds_slot AND OLD.shared;
    moved boolean := TG_OP = 'UPDATE' AND (OLD.starts_at IS DISTINCT FROM NEW.starts_at
                                          OR OLD.resource_id IS DISTINCT FROM NEW.resource_id
                                          OR OLD.quantity IS DISTINCT FROM NEW.quantity);
    cap   integer;
BEGIN
    IF held AND (NOT NEW.holds_slot OR NOT NEW.shared OR moved) THEN
        UPDATE slot_places SET taken = taken - OLD.quantity
        WHERE resource_id = OLD.resource_id AND starts_at = OLD.starts_at;
    END IF;
    IF NEW.holds_slot AND NEW.shared AND (NOT held OR moved) THEN
        SELECT capacity INTO cap FROM resources WHERE id = NEW.resource_id;
        INSERT INTO slot_places (resource_id, starts_at, taken) VALUES (NEW.resource_id, NEW.starts_at, 0)
        ON CONFLICT DO NOTHING;
        UPDATE slot_places SET taken = taken + NEW.quantity
        WHERE resource_id = NEW.resource_id AND starts_at = NEW.starts_at AND taken + NEW.quantity <= cap;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'not enough places left at % for booking %', NEW.starts_at, NEW.id
                USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'slot_places_capacity';
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER bookings_count_places_insert AFTER INSERT ON bookings
    FOR EACH ROW WHEN (NEW.shared) EXECUTE FUNCTION bookings_count_places();
CREATE TRIGGER bookings_count_places AFTER UPDATE OF status, holds_slot, starts_at, resource_id, quantity, shared
    ON bookings FOR EACH ROW WHEN (NEW.shared OR OLD.shared) EXECUTE FUNCTION bookings_count_places();

-- +goose Down
DROP TRIGGER bookings_count_places ON bookings;
DROP TRIGGER bookings_count_places_insert ON bookings;
DROP FUNCTION bookings_count_places();
DROP TABLE slot_places;
DROP TRIGGER bookings_move_blocked ON bookings;
DROP FUNCTION bookings_move_blocked();
ALTER TABLE bookings DROP CONSTRAINT bookings_no_overlap;
ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
    resource_id WITH =,
    tstzrange(starts_at, ends_at, '[)') WITH &&
) WHERE (holds_slot);
ALTER TABLE bookings
    DROP CONSTRAINT bookings_blocked_check,
    DROP CONSTRAINT bookings_quantity_check,
    DROP COLUMN shared,
    DROP COLUMN quantity,
    DROP COLUMN blocked;
DROP TABLE resource_overrides;
ALTER TABLE resources
    DROP CONSTRAINT resources_capacity_range,
    DROP CONSTRAINT resources_max_advance_range,
    DROP CONSTRAINT resources_min_notice_range,
    DROP CONSTRAINT resources_buffers_range,
    DROP CONSTRAINT resources_slot_interval_range,
    DROP COLUMN capacity,
    DROP COLUMN max_advance_days,
    DROP COLUMN min_notice_minutes,
    DROP COLUMN buffer_after_minutes,
    DROP COLUMN buffer_before_minutes,
    DROP COLUMN slot_interval_minutes;
