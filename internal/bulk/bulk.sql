-- Statements of bulk.Load, run in order in one transaction, separated by
-- lines holding only "-- ;". They read their settings from the temporary
-- table bulk_params (n bookings, r resources, l ledger rows, p payload
-- bytes, t now, f fresh holds) and draw every choice from hashes of the booking's number
-- g, so a given n always gives the same data.

-- Resources: open all week, round the clock, 60-minute slots, 45.00 EUR.
INSERT INTO resources (id, slug, name, price_amount, currency, duration_minutes, timezone, weekly_hours)
SELECT md5('bulk-resource-' || i)::uuid, 'bulk-' || i, 'Room ' || i, 4500, 'eur', 60, 'UTC',
    (SELECT jsonb_agg(jsonb_build_object('weekday', d, 'start', '00:00', 'end', '24:00')) FROM generate_series(0, 6) d)
FROM bulk_params, generate_series(0, r - 1) i
-- ;
-- The bookings, first as a plain table: g, its draws u1..u6 in [0, 1), its
-- resource, slot, status, creation time and customer. Each resource's
-- bookings sit on distinct whole hours spread over three years (two past,
-- one ahead), so the no-overlap constraint holds whatever their status.
-- Status mix: about 77% confirmed, 6% refunded, 10% expired, 4% cancelled,
-- 3% payment failed; rare: awaiting payment (0.1%), needs review (0.05%),
-- pending (0.002%: the holds of the last half hour, for slots ahead). Paid: confirmed,
-- refunded and needs review (about 83%).
CREATE TEMPORARY TABLE bulk_b ON COMMIT DROP AS
SELECT g, id, resource_id, starts_at, u2, u5, u6,
    CASE
        WHEN u1 < 0.0005 THEN 'needs_review'
        WHEN u1 < 0.0015 THEN CASE WHEN starts_at > t THEN 'awaiting_payment' ELSE 'payment_failed' END
        WHEN u1 < 0.00156 THEN CASE WHEN starts_at > t THEN 'pending' ELSE 'expired' END
        WHEN u1 < 0.1000 THEN 'expired'
        WHEN u1 < 0.1400 THEN 'cancelled'
        WHEN u1 < 0.1650 THEN 'payment_failed'
        WHEN u1 < 0.2250 THEN 'refunded'
        ELSE 'confirmed' END AS status,
    -- Booked between an hour and 60 days ahead (mostly close to the day);
    -- bookings of days ahead were made in the last 60 days.
    CASE WHEN starts_at > t THEN t - u3 * interval '60 days' - interval '10 minutes'
        ELSE starts_at - interval '1 hour' - u3 * u3 * interval '60 days' END AS created_at,
    -- About four bookings per customer.
    floor(u4 * greatest(n / 4, 1))::int AS customer
FROM (
    SELECT g, n, t, md5('bulk-booking-' || g)::uuid AS id, md5('bulk-resource-' || (g % r))::uuid AS resource_id,
        date_trunc('hour', t) - interval '730 days'
            + ((g / r) * 26280 / greatest((n + r - 1) / r, 1)) * interval '1 hour' AS starts_at,
        (hashint8extended(g, 1) & 2147483647)::float8 / 2147483648 AS u1,
        (hashint8extended(g, 2) & 2147483647)::float8 / 2147483648 AS u2,
        (hashint8extended(g, 3) & 2147483647)::float8 / 2147483648 AS u3,
        (hashint8extended(g, 4) & 2147483647)::float8 / 2147483648 AS u4,
        (hashint8extended(g, 5) & 2147483647)::float8 / 2147483648 AS u5,
        (hashint8extended(g, 6) & 2147483647)::float8 / 2147483648 AS u6
    FROM bulk_params, generate_series(0::bigint, n - 1) g
) s
-- ;
-- One busy resource, number r (the others are 0 to r-1), the same at every
-- size: of its 720 hours from 60 days ahead (UTC days), 415 are booked and
-- confirmed (a draw of 62% per hour), numbered from n. It lets the month view be
-- measured on a month as full at a thousand bookings as at a million.
INSERT INTO resources (id, slug, name, price_amount, currency, duration_minutes, timezone, weekly_hours)
SELECT md5('bulk-resource-' || r)::uuid, 'bulk-busy', 'Busy room', 4500, 'eur', 60, 'UTC',
    (SELECT jsonb_agg(jsonb_build_object('weekday', d, 'start', '00:00', 'end', '24:00')) FROM generate_series(0, 6) d)
FROM bulk_params
-- ;
INSERT INTO bulk_b (g, id, resource_id, starts_at, u2, u5, u6, status, created_at, customer)
SELECT n + h, md5('bulk-booking-' || (n + h))::uuid, md5('bulk-resource-' || r)::uuid,
    date_trunc('day', t, 'UTC') + interval '60 days' + h * interval '1 hour',
    (hashint8extended(n + h, 2) & 2147483647)::float8 / 2147483648,
    (hashint8extended(n + h, 5) & 2147483647)::float8 / 2147483648,
    (hashint8extended(n + h, 6) & 2147483647)::float8 / 2147483648,
    'confirmed', t - ((hashint8extended(n + h, 3) & 2147483647)::float8 / 2147483648) * interval '59 days',
    floor((hashint8extended(n + h, 4) & 2147483647)::float8 / 2147483648 * greatest(n / 4, 1))::int
FROM bulk_params, generate_series(0::bigint, 719) h
WHERE (hashint8extended(h, 8) & 2147483647)::float8 / 2147483648 < 0.62
-- ;
-- Pending holds were made in the last half hour.
UPDATE bulk_b b SET created_at = p.t - (b.u2 * 20 + 5) * interval '1 minute' FROM bulk_params p WHERE b.status = 'pending'
-- ;
INSERT INTO bookings (id, reference, resource_id, starts_at, ends_at, status, amount_total, currency, hold_expires_at,
    stripe_session_id, checkout_url, customer_first_name, customer_last_name, customer_email, customer_token_hash,
    review_reason, status_cause, status_cause_ref, holds_slot, amount_paid, amount_refunded, created_at, updated_at)
SELECT id, 'BK-B' || lpad(g::text, 8, '0'), resource_id, starts_at, starts_at + interval '1 hour', status, 4500, 'eur',
    CASE WHEN status = 'pending' THEN t + interval '20 minutes' ELSE created_at + interval '30 minutes' END,
    'cs_test_b' || g, 'https://checkout.stripe.com/c/pay/cs_test_b' || g || '#fidkdWxOYHwnPyd1blpxYHZxWjA0',
    'Alex', 'Customer ' || customer,
    -- Emails as customers type them: some capitalised.
    CASE WHEN customer % 7 = 0 THEN 'Customer' || customer || '@Example.com' ELSE 'customer' || customer || '@example.com' END,
    sha256(convert_to('bulk-token-' || g, 'UTF8')),
    CASE WHEN status = 'needs_review' THEN 'amount or currency differs from the booking' END,
    CASE status WHEN 'pending' THEN 'api' WHEN 'expired' THEN 'system' WHEN 'cancelled' THEN 'staff'
        WHEN 'refunded' THEN 'staff' ELSE 'stripe_event' END,
    CASE WHEN status = 'pending' THEN '' ELSE 'evt_b' || g END,
    status IN ('pending', 'awaiting_payment', 'confirmed', 'needs_review'),
    CASE WHEN status IN ('confirmed', 'refunded', 'needs_review') THEN 4500 ELSE 0 END,
    CASE WHEN status = 'refunded' THEN 4500 ELSE 0 END,
    created_at, CASE WHEN status = 'pending' THEN created_at ELSE created_at + interval '31 minutes' END
FROM bulk_b, bulk_params
ORDER BY created_at
-- ;
-- A burst of fresh holds (f of them, a sale): the newest bookings, all
-- pending, on slots beyond the year ahead; with it the newest ledger rows,
-- half as many, are lapsed Checkout Sessions nobody knew. The newest rows
-- then differ from the rest, as they do in life: a list that walks the
-- newest-first index and filters must read through them.
INSERT INTO bookings (id, reference, resource_id, starts_at, ends_at, status, amount_total, currency, hold_expires_at,
    stripe_session_id, checkout_url, customer_first_name, customer_last_name, customer_email, customer_token_hash,
    status_cause, status_cause_ref, holds_slot, created_at, updated_at)
SELECT md5('bulk-fresh-' || k)::uuid, 'BK-F' || lpad(k::text, 8, '0'), md5('bulk-resource-' || (k % r))::uuid,
    date_trunc('hour', t) + interval '400 days' + (k / r) * interval '1 hour',
    date_trunc('hour', t) + interval '400 days' + (k / r + 1) * interval '1 hour', 'pending', 4500, 'eur',
    t + interval '30 minutes', 'cs_test_f' || k, 'https://checkout.stripe.com/c/pay/cs_test_f' || k, 'Sam', 'Fresh',
    'fresh' || k || '@example.com', sha256(convert_to('bulk-fresh-token-' || k, 'UTF8')), 'api', '', true,
    t - (k % 1800) * interval '1 second', t - (k % 1800) * interval '1 second'
FROM bulk_params, generate_series(0, f - 1) k
-- ;
INSERT INTO webhook_events (stripe_event_id, type, livemode, api_version, stripe_session_id, outcome, detail, payload,
    source, stripe_created_at, received_at, processed_at)
SELECT 'evt_f' || k, 'checkout.session.expired', false, '2026-05-27.dahlia', 'cs_test_gone' || k, 'unmatched', '',
    convert_to(rpad('{"id":"evt_f' || k || '","object":"event","type":"checkout.session.expired","pad":"', p - 6, 'x')
        || '"}', 'UTF8'), 'webhook', t - (k % 1800) * interval '1 second', t - (k % 1800) * interval '1 second',
    t - (k % 1800) * interval '1 second'
FROM bulk_params, generate_series(0, f / 2 - 1) k
-- ;
-- Audit: the row of the insert, and the status change of every booking
-- that left pending.
INSERT INTO booking_audit (booking_id, from_status, to_status, cause, cause_ref, created_at)
SELECT id, NULL, 'pending', 'api', '', created_at FROM bulk_b
UNION ALL
SELECT id, 'pending', status, 'stripe_event', 'evt_b' || g, created_at + interval '31 minutes'
FROM bulk_b WHERE status <> 'pending'
-- ;
-- One payment per paid booking (its id is g), a refund of every refunded
-- one, a dispute on 0.2% of the confirmed ones.
INSERT INTO payments (id, booking_id, stripe_session_id, stripe_payment_intent_id, amount, currency, stripe_event_id, created_at)
OVERRIDING SYSTEM VALUE
SELECT g + 1, id, 'cs_test_b' || g, 'pi_b' || g, 4500, 'eur', 'evt_b' || g, created_at + interval '2 minutes'
FROM bulk_b WHERE status IN ('confirmed', 'refunded', 'needs_review')
-- ;
SELECT setval(pg_get_serial_sequence('payments', 'id'), (SELECT max(g) + 1 FROM bulk_b))
-- ;
INSERT INTO refunds (booking_id, payment_id, stripe_refund_id, amount, currency, source, created_at)
SELECT id, g + 1, 're_b' || g, 4500, 'eur', CASE WHEN u2 < 0.5 THEN 'staff' ELSE 'webhook' END,
    created_at + interval '31 minutes'
FROM bulk_b WHERE status = 'refunded'
-- ;
INSERT INTO disputes (booking_id, payment_id, stripe_dispute_id, stripe_charge_id, payment_intent_id, amount, currency,
    reason, status, stripe_event_id, created_at)
SELECT id, g + 1, 'dp_b' || g, 'ch_b' || g, 'pi_b' || g, 4500, 'eur', 'fraudulent', 'needs_response', 'evt_dp_b' || g,
    created_at + interval '3 days'
FROM bulk_b WHERE status = 'confirmed' AND u2 < 0.002
-- ;
-- Refund requests: done for the staff refunds; owed for a few bookings
-- under review (the product refunds them shortly).
INSERT INTO refund_requests (booking_id, payment_id, amount, currency, reason, idempotency_key, state, attempts,
    next_attempt_at, stripe_refund_id, requested_by, created_at, updated_at)
SELECT id, g + 1, 4500, 'eur', 'staff', 'refund-' || (g + 1), 'done', 1, created_at + interval '31 minutes', 're_b' || g,
    'bulk', created_at + interval '30 minutes', created_at + interval '31 minutes'
FROM bulk_b WHERE status = 'refunded' AND u2 < 0.5
UNION ALL
SELECT id, g + 1, 4500, 'eur', 'auto', 'auto-refund-cs_test_b' || g, 'owed', (u2 * 10)::int, t + interval '5 minutes',
    NULL, 'system', t - interval '1 hour', t - interval '10 minutes'
FROM bulk_b, bulk_params WHERE status = 'needs_review' AND u2 < 0.2
-- ;
-- The ledger: about l rows. A share of the bookings have the event that
-- decided their status; 2% of the rows matched no booking, 1% were
-- ignored, and a few refunds wait for a payment that never came. Payloads
-- of p bytes.
CREATE TEMPORARY TABLE bulk_w ON COMMIT DROP AS
SELECT CASE status WHEN 'refunded' THEN 'evt_rf_b' ELSE 'evt_b' END || g AS stripe_event_id,
    CASE status
        WHEN 'refunded' THEN 'charge.refunded'
        WHEN 'expired' THEN 'checkout.session.expired'
        WHEN 'cancelled' THEN 'checkout.session.expired'
        WHEN 'payment_failed' THEN 'checkout.session.async_payment_failed'
        ELSE 'checkout.session.completed' END AS type,
    'cs_test_b' || g AS stripe_session_id, id AS booking_id,
    CASE status WHEN 'needs_review' THEN 'amount_mismatch' ELSE 'processed' END AS outcome,
    CASE WHEN status IN ('confirmed', 'refunded', 'needs_review') THEN 'pi_b' || g END AS stripe_payment_intent_id,
    least(created_at + interval '2 minutes' + u6 * interval '40 minutes', t) AS received_at
FROM bulk_b, bulk_params WHERE u5 < l::float8 * 0.97 / n
UNION ALL
SELECT 'evt_x' || j, CASE WHEN j % 3 = 0 THEN 'payment_intent.created' ELSE 'checkout.session.expired' END,
    CASE WHEN j % 3 = 0 THEN NULL ELSE 'cs_test_x' || j END, NULL,
    CASE WHEN j % 3 = 0 THEN 'ignored' ELSE 'unmatched' END, NULL,
    t - ((hashint8extended(j, 7) & 2147483647)::float8 / 2147483648) * interval '730 days'
FROM bulk_params, generate_series(1, greatest(l * 3 / 100, 1)) j
UNION ALL
SELECT 'evt_w' || j, 'charge.refunded', NULL, NULL, 'unmatched', 'pi_orphan_' || j, t - j * interval '1 hour'
FROM bulk_params, generate_series(1, greatest(l / 5000, 1)) j
-- ;
INSERT INTO webhook_events (stripe_event_id, type, livemode, api_version, stripe_session_id, booking_id, outcome, detail,
    payload, source, stripe_created_at, received_at, processed_at, stripe_payment_intent_id)
SELECT w.stripe_event_id, w.type, false, '2026-05-27.dahlia', w.stripe_session_id, w.booking_id, w.outcome, '',
    convert_to(rpad(format('{"id":"%s","object":"event","api_version":"2026-05-27.dahlia","created":%s,"data":{"object":'
        '{"id":"%s","object":"checkout.session","payment_intent":"%s","currency":"eur","amount_total":4500,'
        '"customer_details":{"email":"customer@example.com","name":"Alex Customer"},"pad":"',
        w.stripe_event_id, extract(epoch FROM w.received_at)::bigint, coalesce(w.stripe_session_id, ''),
        coalesce(w.stripe_payment_intent_id, '')), p - 6, 'x') || '"}},"type":"' || w.type || '"}', 'UTF8'),
    'webhook', w.received_at - interval '1 second', w.received_at, w.received_at, w.stripe_payment_intent_id
FROM bulk_w w, bulk_params
ORDER BY w.received_at
-- ;
INSERT INTO pending_money_events (stripe_event_id, payment_intent_id, event_type, facts, created_at)
SELECT stripe_event_id, stripe_payment_intent_id, type,
    jsonb_build_object('chargeId', 'ch_' || stripe_event_id, 'chargeAmount', 4500, 'amountRefunded', 4500,
        'currency', 'eur', 'refunds', jsonb_build_array(jsonb_build_object('id', 're_' || stripe_event_id,
        'amount', 4500, 'currency', 'eur', 'status', 'succeeded'))),
    received_at
FROM bulk_w WHERE stripe_event_id LIKE 'evt_w%'
-- ;
-- A few events replayed by staff.
INSERT INTO webhook_event_replays (stripe_event_id, source, outcome, detail, booking_id, cause_ref, created_at)
SELECT stripe_event_id, 'replay', 'duplicate', 'replayed', booking_id, 'bulk', received_at + interval '1 day'
FROM bulk_w WHERE booking_id IS NOT NULL AND (hashtext(stripe_event_id) & 1023) < 2
-- ;
-- Idempotency-Key answers of the last day.
INSERT INTO idempotency_keys (key_hash, request_hash, booking_id, response, created_at)
SELECT sha256(convert_to('bulk-key-' || g, 'UTF8')), sha256(convert_to('bulk-request-' || g, 'UTF8')), id,
    convert_to(repeat('s', 300), 'UTF8'), t - u6 * interval '1 day'
FROM bulk_b, bulk_params WHERE u5 > 0.99
