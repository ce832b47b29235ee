-- +goose Up
-- The webhook ledger, written once per event on the payment write path,
-- carries only the indexes something reads: its key (the Stripe event id,
-- which makes deliveries exactly-once), the order staff list it in, the
-- filters of that list, and the booking it matched. The surrogate id, the
-- Checkout Session index (nothing looks events up by session) and their
-- composite indexes go.
SET lock_timeout = '10s';

ALTER TABLE webhook_event_replays DROP CONSTRAINT webhook_event_replays_stripe_event_id_fkey;
ALTER TABLE pending_money_events DROP CONSTRAINT pending_money_events_stripe_event_id_fkey;
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_pkey;
ALTER TABLE webhook_events DROP COLUMN id;
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_stripe_event_id_key;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_pkey PRIMARY KEY (stripe_event_id);
ALTER TABLE webhook_event_replays ADD CONSTRAINT webhook_event_replays_stripe_event_id_fkey
    FOREIGN KEY (stripe_event_id) REFERENCES webhook_events (stripe_event_id);
ALTER TABLE pending_money_events ADD CONSTRAINT pending_money_events_stripe_event_id_fkey
    FOREIGN KEY (stripe_event_id) REFERENCES webhook_events (stripe_event_id);

DROP INDEX IF EXISTS webhook_events_session_idx;
DROP INDEX IF EXISTS webhook_events_received_idx;
DROP INDEX IF EXISTS webhook_events_type_received_idx;
DROP INDEX IF EXISTS webhook_events_booking_idx;
CREATE INDEX webhook_events_received_idx ON webhook_events (received_at DESC, stripe_event_id DESC);
CREATE INDEX webhook_events_type_received_idx ON webhook_events (type, received_at DESC, stripe_event_id DESC);
CREATE INDEX webhook_events_outcome_received_idx ON webhook_events (outcome, received_at DESC, stripe_event_id DESC);
CREATE INDEX webhook_events_booking_idx ON webhook_events (booking_id) WHERE booking_id IS NOT NULL;

-- +goose Down
DROP INDEX webhook_events_booking_idx;
DROP INDEX webhook_events_outcome_received_idx;
DROP INDEX webhook_events_type_received_idx;
DROP INDEX webhook_events_received_idx;
ALTER TABLE webhook_event_replays DROP CONSTRAINT webhook_event_replays_stripe_event_id_fkey;
ALTER TABLE pending_money_events DROP CONSTRAINT pending_money_events_stripe_event_id_fkey;
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_pkey;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_stripe_event_id_key UNIQUE (stripe_event_id);
ALTER TABLE webhook_events ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
ALTER TABLE webhook_event_replays ADD CONSTRAINT webhook_event_replays_stripe_event_id_fkey
    FOREIGN KEY (stripe_event_id) REFERENCES webhook_events (stripe_event_id);
ALTER TABLE pending_money_events ADD CONSTRAINT pending_money_events_stripe_event_id_fkey
    FOREIGN KEY (stripe_event_id) REFERENCES webhook_events (stripe_event_id);
CREATE INDEX webhook_events_received_idx ON webhook_events (received_at DESC, id DESC);
CREATE INDEX webhook_events_session_idx ON webhook_events (stripe_session_id);
CREATE INDEX webhook_events_booking_idx ON webhook_events (booking_id);
CREATE INDEX webhook_events_type_received_idx ON webhook_events (type, received_at DESC, id DESC);
