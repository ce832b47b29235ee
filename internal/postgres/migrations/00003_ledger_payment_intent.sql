-- +goose Up
-- The PaymentIntent of each ledger event, so that refund and dispute events
-- that arrived before their payment (recorded as unmatched) can be found and
-- applied once the payment is recorded.
SET lock_timeout = '10s';
ALTER TABLE webhook_events ADD COLUMN stripe_payment_intent_id text;
CREATE INDEX webhook_events_unmatched_intent_idx ON webhook_events (stripe_payment_intent_id)
    WHERE outcome = 'unmatched';

-- +goose Down
DROP INDEX webhook_events_unmatched_intent_idx;
ALTER TABLE webhook_events DROP COLUMN stripe_payment_intent_id;
