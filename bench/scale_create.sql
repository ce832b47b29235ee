-- Hold a slot (POST /api/bookings with an Idempotency-Key) as the minimal
-- SQL for the same effect, in the product's transactions and round trips
-- (internal/postgres booking.go): the resource; then claim the key, release
-- lapsed holds in the slot, insert the pending booking, bind the key; then
-- record the Checkout Session and the sealed answer. Each transaction takes
-- a fresh slot: n = round*10^8 + k*clients + client_id, resource n % 50, the
-- n/50-th hour from :t0. Run by e2e/scalebench with -D t0=... -D round=R
-- -D k=0 -D clients=C.
\set k :k + 1
\set n :round * 100000000 + :k * :clients + :client_id
\set r :n % 50
\set h :n / 50
SELECT id::text, slug, name, description, price_amount, currency, duration_minutes, timezone, weekly_hours, active
FROM resources WHERE id = md5('bulk-resource-' || :r)::uuid;
BEGIN;
INSERT INTO idempotency_keys AS k (key_hash, request_hash, created_at)
VALUES (sha256(convert_to('pgb-key-' || :n, 'UTF8')), sha256(convert_to('pgb-request-' || :n, 'UTF8')), now())
ON CONFLICT (key_hash) DO UPDATE
    SET request_hash = EXCLUDED.request_hash, booking_id = NULL, response = NULL, created_at = EXCLUDED.created_at
    WHERE k.created_at < now() - interval '24 hours'
RETURNING true;
UPDATE bookings
SET status = 'expired', status_cause = 'system', status_cause_ref = 'hold_lapsed', updated_at = now()
WHERE resource_id = md5('bulk-resource-' || :r)::uuid AND status = 'pending' AND hold_expires_at <= now()
  AND tstzrange(starts_at, ends_at, '[)')
      && tstzrange(:t0::timestamptz + :h * interval '1 hour', :t0::timestamptz + (:h + 1) * interval '1 hour', '[)');
INSERT INTO bookings (id, reference, resource_id, starts_at, ends_at, status, amount_total, currency, hold_expires_at,
    customer_first_name, customer_last_name, customer_email, customer_token_hash, status_cause, status_cause_ref)
VALUES (md5('pgb-booking-' || :n)::uuid, 'BK-P' || :n, md5('bulk-resource-' || :r)::uuid,
    :t0::timestamptz + :h * interval '1 hour', :t0::timestamptz + (:h + 1) * interval '1 hour', 'pending', 4500, 'eur',
    now() + interval '30 minutes', 'Bench', 'Customer', 'bench' || :n || '@example.com',
    sha256(convert_to('pgb-token-' || :n, 'UTF8')), 'api', 'pgbench')
RETURNING id::text, reference, created_at;
UPDATE idempotency_keys SET booking_id = md5('pgb-booking-' || :n)::uuid
WHERE key_hash = sha256(convert_to('pgb-key-' || :n, 'UTF8'));
COMMIT;
BEGIN;
UPDATE bookings SET stripe_session_id = 'cs_pgb_' || :n, checkout_url = 'http://127.0.0.1/demo/checkout/cs_pgb_' || :n,
    updated_at = now()
WHERE id = md5('pgb-booking-' || :n)::uuid AND (stripe_session_id IS NULL OR stripe_session_id = 'cs_pgb_' || :n);
UPDATE idempotency_keys SET response = convert_to(repeat('s', 600), 'UTF8')
WHERE key_hash = sha256(convert_to('pgb-key-' || :n, 'UTF8'));
COMMIT;
