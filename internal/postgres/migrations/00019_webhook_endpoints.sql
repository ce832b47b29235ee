-- +goose Up
-- Outgoing webhooks (issue 12, docs/adr/0010): the endpoints an ADMIN
-- registers and the log of every attempt to deliver an event to one. The
-- deliveries themselves are River jobs, inserted in the transaction of the
-- change that causes them; this table only records what each attempt got.
CREATE TABLE webhook_endpoints (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    url           text NOT NULL,
    events        text[] NOT NULL,
    -- The signing secret (whsec_ + base64), kept in clear: it must be read to
    -- sign; it is shown once, at creation, and never logged.
    secret        text NOT NULL,
    enabled       boolean NOT NULL DEFAULT true,
    -- failing_since is the first failed attempt of the current run of
    -- failures (NULL after a success); failing_at is when the run passed
    -- 24 hours and ADMIN was told. Deliveries keep queuing either way.
    failing_since timestamptz,
    failing_at    timestamptz,
    created_by    uuid REFERENCES staff_users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_endpoints_url_check CHECK (url ~ '^https?://' AND length(url) <= 2000),
    CONSTRAINT webhook_endpoints_events_check CHECK (cardinality(events) > 0 AND events <@ ARRAY['booking.created',
        'booking.confirmed', 'booking.cancelled', 'booking.refunded', 'booking.rescheduled', 'booking.needs_review',
        'payment.disputed']::text[]),
    CONSTRAINT webhook_endpoints_secret_check CHECK (secret LIKE 'whsec\_%')
);

-- One row per attempt. body is the signed payload, so "send again" works
-- after River has deleted the finished job.
CREATE TABLE webhook_deliveries (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    job_id      bigint,
    event_id    text NOT NULL,
    event_type  text NOT NULL,
    booking_id  uuid,
    attempt     int NOT NULL,
    -- delivered (2xx) or failed.
    status      text NOT NULL CHECK (status IN ('delivered', 'failed')),
    http_status int,
    latency_ms  int NOT NULL,
    response    text NOT NULL DEFAULT '' CHECK (length(response) <= 1024),
    error       text NOT NULL DEFAULT '',
    body        bytea NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id DESC);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
