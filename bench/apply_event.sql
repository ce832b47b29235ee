-- One Stripe event as internal/postgres/ledger.go ApplyEvent processes a paid
-- checkout.session.completed for a pending booking: the same statements, in
-- the same order, one round trip each, in one transaction. Run by
-- cmd/webhookbench (scripts/bench.sh) with:
--   -D k=0 -D clients=<c> -D base=<b>   booking n = base + k*clients + client_id
--   -D apiver=... -D payload=\x...      the event's API version and raw bytes
-- Constants the handler passes as parameters (type, source, status, outcome)
-- are parameters here too; the ids are built from n in SQL.
\set k :k + 1
\set n :base + :k * :clients + :client_id
BEGIN;
INSERT INTO webhook_events (stripe_event_id, type, livemode, api_version, stripe_session_id, outcome, payload, source, stripe_created_at)
VALUES ('evt_pgb_' || :n, :etype, :livemode, :apiver, nullif('cs_pgb_' || :n, ''), 'received', :payload, :source, :created)
ON CONFLICT (stripe_event_id) DO NOTHING
RETURNING id \gset ev_
SELECT id::text, reference, resource_id::text, starts_at, ends_at, status, amount_total, currency,
    hold_expires_at, stripe_session_id, coalesce(checkout_url, ''), customer_first_name, customer_last_name,
    customer_email, coalesce(review_reason, ''), created_at, updated_at
FROM bookings
WHERE stripe_session_id = 'cs_pgb_' || :n OR (id = md5('cs_pgb_' || :n)::uuid AND stripe_session_id IS NULL)
ORDER BY stripe_session_id NULLS LAST
LIMIT 1
FOR UPDATE \gset b_
SELECT EXISTS (SELECT 1 FROM payments WHERE stripe_session_id = 'cs_pgb_' || :n);
INSERT INTO payments (booking_id, stripe_session_id, stripe_payment_intent_id, amount, currency, stripe_event_id)
VALUES (:b_id, 'cs_pgb_' || :n, nullif('pi_pgb_' || :n, ''), :b_amount_total, :b_currency, 'evt_pgb_' || :n)
ON CONFLICT (stripe_session_id) DO NOTHING;
UPDATE bookings
SET status = :next, status_cause = 'stripe_event', status_cause_ref = 'evt_pgb_' || :n,
    review_reason = CASE WHEN :next = 'needs_review' THEN '' ELSE review_reason END,
    stripe_session_id = coalesce(stripe_session_id, 'cs_pgb_' || :n), updated_at = now()
WHERE id = :b_id;
UPDATE webhook_events
SET outcome = :outcome, detail = '', booking_id = :b_id, processed_at = now(),
    replay_count = replay_count + CASE WHEN :replay THEN 1 ELSE 0 END
WHERE id = :ev_id;
COMMIT;
