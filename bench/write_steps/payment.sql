-- The minimal durable work (bench/minimal_event.sql) plus the payment row a
-- paid event records (SPEC §3.1, M5: the books can be checked) and the paid
-- amount on the booking: one round trip per statement, like the minimal
-- work. Run by `webhookbench steps` (scripts/write-steps.sh).
\set k :k + 1
\set n :base + :k * :clients + :client_id
BEGIN;
INSERT INTO webhook_events (stripe_event_id, type, stripe_session_id, booking_id, outcome, payload, source)
VALUES ('evt_' || :prefix || :n, 'checkout.session.completed', :prefix || :n, md5(:prefix || :n)::uuid, 'processed', :payload, 'webhook');
INSERT INTO payments (booking_id, stripe_session_id, stripe_payment_intent_id, amount, currency, stripe_event_id, method)
VALUES (md5(:prefix || :n)::uuid, :prefix || :n, 'pi_' || :prefix || :n, :amount, :currency, 'evt_' || :prefix || :n, 'stripe');
UPDATE bookings SET status = 'confirmed', amount_paid = :amount, status_cause = 'stripe_event', status_cause_ref = 'evt_' || :prefix || :n,
    updated_at = now()
WHERE id = md5(:prefix || :n)::uuid;
COMMIT;
