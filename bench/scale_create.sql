-- Hold a slot (POST /api/bookings with an Idempotency-Key) as the minimal
-- durable work for the same effect: one transaction that inserts the
-- pending booking (the schema's triggers and the no-overlap constraint
-- run), nothing read, no idempotency key, no payment provider. The product
-- does more per create (internal/postgres booking.go): claim the key and
-- read the busy ranges, create the Checkout Session, then one transaction
-- that releases lapsed holds in the slot, inserts the booking with its
-- session, and stores the sealed answer. Each transaction takes a fresh
-- slot: n = round*10^8 + k*clients + client_id, resource n % 50, the
-- n/50-th hour from :t0. Run by e2e/scalebench with -D t0=... -D round=R
-- -D k=0 -D clients=C.
\set k :k + 1
\set n :round * 100000000 + :k * :clients + :client_id
\set r :n % 50
\set h :n / 50
BEGIN;
INSERT INTO bookings (id, reference, resource_id, starts_at, ends_at, status, amount_total, currency, hold_expires_at,
    stripe_session_id, checkout_url, customer_first_name, customer_last_name, customer_email, customer_token_hash,
    status_cause, status_cause_ref)
VALUES (md5('pgb-booking-' || :n)::uuid, 'BK-P' || :n, md5('bulk-resource-' || :r)::uuid,
    :t0::timestamptz + :h * interval '1 hour', :t0::timestamptz + (:h + 1) * interval '1 hour', 'pending', 4500, 'eur',
    now() + interval '30 minutes', 'cs_pgb_' || :n, 'http://127.0.0.1/demo/checkout/cs_pgb_' || :n,
    'Bench', 'Customer', 'bench' || :n || '@example.com', sha256(convert_to('pgb-token-' || :n, 'UTF8')), 'api', 'pgbench');
COMMIT;
