-- +goose Up
-- Core schema. The invariants of the product live here, not only in Go code:
-- an exclusion constraint forbids overlapping active bookings, a unique key
-- allows one payment per Checkout Session, the webhook ledger is keyed by the
-- Stripe event id, every status change writes an audit row by trigger, and
-- money movements cannot be updated or deleted.
SET lock_timeout = '10s';

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE resources (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug             text NOT NULL,
    name             text NOT NULL,
    description      text NOT NULL DEFAULT '',
    price_amount     bigint NOT NULL,
    currency         text NOT NULL,
    duration_minutes integer NOT NULL,
    timezone         text NOT NULL,
    weekly_hours     jsonb NOT NULL DEFAULT '[]',
    active           boolean NOT NULL DEFAULT true,
    is_default       boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT resources_slug_key UNIQUE (slug),
    CONSTRAINT resources_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    CONSTRAINT resources_price_positive CHECK (price_amount > 0),
    CONSTRAINT resources_currency_format CHECK (currency ~ '^[a-z]{3}$'),
    CONSTRAINT resources_duration_range CHECK (duration_minutes BETWEEN 5 AND 1440),
    CONSTRAINT resources_weekly_hours_array CHECK (jsonb_typeof(weekly_hours) = 'array')
);
CREATE UNIQUE INDEX resources_one_default ON resources (is_default) WHERE is_default;

CREATE TABLE bookings (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    reference           text NOT NULL,
    resource_id         uuid NOT NULL REFERENCES resources (id),
    starts_at           timestamptz NOT NULL,
    ends_at             timestamptz NOT NULL,
    status              text NOT NULL,
    amount_total        bigint NOT NULL,
    currency            text NOT NULL,
    hold_expires_at     timestamptz NOT NULL,
    stripe_session_id   text,
    checkout_url        text,
    customer_first_name text NOT NULL,
    customer_last_name  text NOT NULL,
    customer_email      text NOT NULL,
    customer_token_hash bytea NOT NULL,
    review_reason       text,
    -- Who caused the latest status change; copied to booking_audit by trigger.
    status_cause        text NOT NULL,
    status_cause_ref    text NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bookings_reference_key UNIQUE (reference),
    CONSTRAINT bookings_stripe_session_id_key UNIQUE (stripe_session_id),
    CONSTRAINT bookings_status_check CHECK (status IN ('pending', 'awaiting_payment', 'confirmed',
        'expired', 'payment_failed', 'cancelled', 'refunded', 'needs_review')),
    CONSTRAINT bookings_cause_check CHECK (status_cause IN ('api', 'stripe_event', 'staff', 'system')),
    CONSTRAINT bookings_range_check CHECK (ends_at > starts_at),
    CONSTRAINT bookings_amount_check CHECK (amount_total > 0),
    -- Invariant 1: no two active bookings of one resource overlap.
    CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
        resource_id WITH =,
        tstzrange(starts_at, ends_at, '[)') WITH &&
    ) WHERE (status IN ('pending', 'awaiting_payment', 'confirmed'))
);
CREATE INDEX bookings_status_created_idx ON bookings (status, created_at DESC, id DESC);
CREATE INDEX bookings_created_idx ON bookings (created_at DESC, id DESC);
CREATE INDEX bookings_pending_hold_idx ON bookings (hold_expires_at) WHERE status = 'pending';

-- Invariant 5: every state change is audited.
CREATE TABLE booking_audit (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id  uuid NOT NULL REFERENCES bookings (id),
    from_status text,
    to_status   text NOT NULL,
    cause       text NOT NULL,
    cause_ref   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX booking_audit_booking_idx ON booking_audit (booking_id, id);

-- +goose StatementBegin
CREATE FUNCTION booking_audit_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO booking_audit (booking_id, from_status, to_status, cause, cause_ref)
        VALUES (NEW.id, NULL, NEW.status, NEW.status_cause, NEW.status_cause_ref);
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO booking_audit (booking_id, from_status, to_status, cause, cause_ref)
        VALUES (NEW.id, OLD.status, NEW.status, NEW.status_cause, NEW.status_cause_ref);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER bookings_audit AFTER INSERT OR UPDATE OF status ON bookings
    FOR EACH ROW EXECUTE FUNCTION booking_audit_status();

-- Invariants 2 and 6: one payment per Checkout Session; money rows are append-only.
CREATE TABLE payments (
    id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id               uuid NOT NULL REFERENCES bookings (id),
    stripe_session_id        text NOT NULL,
    stripe_payment_intent_id text,
    amount                   bigint NOT NULL,
    currency                 text NOT NULL,
    stripe_event_id          text NOT NULL,
    created_at               timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payments_stripe_session_id_key UNIQUE (stripe_session_id)
);
CREATE INDEX payments_booking_idx ON payments (booking_id);
CREATE INDEX payments_payment_intent_idx ON payments (stripe_payment_intent_id);

CREATE TABLE refunds (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id       uuid NOT NULL REFERENCES bookings (id),
    stripe_refund_id text NOT NULL,
    amount           bigint NOT NULL,
    currency         text NOT NULL,
    source           text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT refunds_stripe_refund_id_key UNIQUE (stripe_refund_id)
);
CREATE INDEX refunds_booking_idx ON refunds (booking_id);

CREATE TABLE disputes (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id        uuid REFERENCES bookings (id),
    stripe_dispute_id text NOT NULL,
    stripe_charge_id  text NOT NULL,
    amount            bigint NOT NULL,
    currency          text NOT NULL,
    reason            text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT disputes_stripe_dispute_id_key UNIQUE (stripe_dispute_id)
);

-- +goose StatementBegin
CREATE FUNCTION money_rows_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER payments_append_only BEFORE UPDATE OR DELETE ON payments
    FOR EACH ROW EXECUTE FUNCTION money_rows_append_only();
CREATE TRIGGER refunds_append_only BEFORE UPDATE OR DELETE ON refunds
    FOR EACH ROW EXECUTE FUNCTION money_rows_append_only();
CREATE TRIGGER disputes_append_only BEFORE UPDATE OR DELETE ON disputes
    FOR EACH ROW EXECUTE FUNCTION money_rows_append_only();

-- Invariant 3: the webhook event ledger, one row per Stripe event id.
CREATE TABLE webhook_events (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stripe_event_id   text NOT NULL,
    type              text NOT NULL,
    livemode          boolean NOT NULL DEFAULT false,
    api_version       text NOT NULL DEFAULT '',
    stripe_session_id text,
    booking_id        uuid REFERENCES bookings (id),
    outcome           text NOT NULL,
    detail            text NOT NULL DEFAULT '',
    payload           bytea NOT NULL,
    source            text NOT NULL DEFAULT 'webhook',
    stripe_created_at timestamptz,
    received_at       timestamptz NOT NULL DEFAULT now(),
    processed_at      timestamptz NOT NULL DEFAULT now(),
    replay_count      integer NOT NULL DEFAULT 0,
    CONSTRAINT webhook_events_stripe_event_id_key UNIQUE (stripe_event_id)
);
CREATE INDEX webhook_events_received_idx ON webhook_events (received_at DESC, id DESC);
CREATE INDEX webhook_events_session_idx ON webhook_events (stripe_session_id);
CREATE INDEX webhook_events_booking_idx ON webhook_events (booking_id);

-- Idempotency-Key answers of POST /api/bookings, kept for 24 hours.
CREATE TABLE idempotency_keys (
    key          text PRIMARY KEY,
    request_hash bytea NOT NULL,
    booking_id   uuid REFERENCES bookings (id),
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE webhook_events;
DROP TABLE disputes;
DROP TABLE refunds;
DROP TABLE payments;
DROP FUNCTION money_rows_append_only();
DROP TABLE booking_audit;
DROP TABLE bookings;
DROP FUNCTION booking_audit_status();
DROP TABLE resources;
