-- One Stripe event as internal/postgres/ledger.go ApplyEvent processes a paid
-- checkout.session.completed for a pending booking: the same statements, in
-- the same order and the same round trips — BEGIN; one pipeline with the
-- ledger insert, the booking lock and the payment check; one pipeline with
-- the payment insert, the status change, the ledger outcome and the look-up
-- of refund or dispute events that came before the payment; COMMIT.
-- Run by e2e/webhookbench (scripts/bench.sh) with:
--   -D k=0 -D clients=<c> -D base=<b>   booking n = base + k*clients + client_id
--   -D apiver=... -D payload=\x...      the event's API version and raw bytes
-- pgbench cannot read results inside a pipeline (\gset), so the values the
-- handler reads back (ledger row id, booking id, amount) are addressed by
-- their unique keys here: the booking id is md5('cs_pgb_'||n) by
-- construction, the ledger row is found by its unique Stripe event id.
\set k :k + 1
\set n :base + :k * :clients + :client_id
BEGIN;
\startpipeline
INSERT INTO webhook_events (stripe_event_id, type, livemode, api_version, stripe_session_id, outcome, payload, source, stripe_created_at, stripe_payment_intent_id)
VALUES ('evt_pgb_' || :n, :etype, :livemode, :apiver, nullif('cs_pgb_' || :n, ''), 'received', :payload, :source, :created, nullif('pi_pgb_' || :n, ''))
ON CONFLICT (stripe_event_id) DO NOTHING
RETURNING id;
SELECT id::text, reference, resource_id::text, starts_at, ends_at, status, amount_total, currency,
    hold_expires_at, stripe_session_id, coalesce(checkout_url, ''), customer_first_name, customer_last_name,
    customer_email, coalesce(review_reason, ''), created_at, updated_at
FROM bookings
WHERE stripe_session_id = 'cs_pgb_' || :n OR (id = md5('cs_pgb_' || :n)::uuid AND stripe_session_id IS NULL)
ORDER BY stripe_session_id NULLS LAST
LIMIT 1
FOR UPDATE;
SELECT EXISTS (SELECT 1 FROM payments WHERE stripe_session_id = 'cs_pgb_' || :n);
\endpipeline
\startpipeline
INSERT INTO payments (booking_id, stripe_session_id, stripe_payment_intent_id, amount, currency, stripe_event_id)
VALUES (md5('cs_pgb_' || :n)::uuid, 'cs_pgb_' || :n, nullif('pi_pgb_' || :n, ''), 4500, 'eur', 'evt_pgb_' || :n)
ON CONFLICT (stripe_session_id) DO NOTHING;
UPDATE bookings
SET status = :next, status_cause = 'stripe_event', status_cause_ref = 'evt_pgb_' || :n,
    review_reason = CASE WHEN :next = 'needs_review' THEN '' ELSE review_reason END,
    stripe_session_id = coalesce(stripe_session_id, 'cs_pgb_' || :n), updated_at = now()
WHERE id = md5('cs_pgb_' || :n)::uuid;
UPDATE webhook_events
SET outcome = :outcome, detail = '', booking_id = md5('cs_pgb_' || :n)::uuid, processed_at = now(),
    replay_count = replay_count + CASE WHEN :replay THEN 1 ELSE 0 END
WHERE stripe_event_id = 'evt_pgb_' || :n;
SELECT payload FROM webhook_events
WHERE outcome = 'unmatched' AND stripe_payment_intent_id = 'pi_pgb_' || :n
  AND type IN ('charge.refunded', 'charge.dispute.created')
ORDER BY id;
\endpipeline
COMMIT;
