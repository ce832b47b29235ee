-- The minimal durable work for one Stripe event on this schema, the limit the
-- product's write path is measured against (docs/BENCHMARKS.md): one
-- transaction that writes the event's ledger row with its 1.7 KB payload and
-- moves the booking it pays to confirmed (the database's own triggers run:
-- the audit row, the slot flag), nothing read, nothing checked, one round
-- trip per statement.
-- Run by e2e/webhookbench (scripts/bench.sh) with pgbench -M prepared and
--   -D k=0 -D clients=<c> -D base=<b> -D prefix=<p>  booking n = base + k*clients + client_id,
--                                                    session p||n, id md5(p||n)::uuid
--   -D payload=\x...                                 the event's raw bytes
\set k :k + 1
\set n :base + :k * :clients + :client_id
BEGIN;
INSERT INTO webhook_events (stripe_event_id, type, stripe_session_id, booking_id, outcome, payload, source)
VALUES ('evt_' || :prefix || :n, 'checkout.session.completed', :prefix || :n, md5(:prefix || :n)::uuid, 'processed', :payload, 'webhook');
UPDATE bookings SET status = 'confirmed', status_cause = 'stripe_event', status_cause_ref = 'evt_' || :prefix || :n, updated_at = now()
WHERE id = md5(:prefix || :n)::uuid;
COMMIT;
