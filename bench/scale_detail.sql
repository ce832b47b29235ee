-- One booking as staff see it (GET /api/admin/bookings/{id}) as the minimal
-- SQL for the same answer, in the product's round trips (BEGIN; one pipeline;
-- COMMIT): the booking, its payments, refunds, disputes and refunds owed, its
-- audit trail, its ledger rows (with their replays) and its refund requests.
-- Each transaction picks booking k of -D bookings=N: internal/bulk gives it
-- the id md5('bulk-booking-' || k). Run by e2e/scalebench.
\set k random(0, :bookings - 1)
BEGIN;
\startpipeline
SELECT b.id::text, b.reference, b.resource_id::text, b.starts_at, b.ends_at, b.status, b.amount_total, b.currency,
    b.hold_expires_at, b.stripe_session_id, coalesce(b.checkout_url, ''), b.customer_first_name, b.customer_last_name,
    b.customer_email, coalesce(b.review_reason, ''), b.holds_slot, b.amount_paid, b.amount_refunded, b.created_at, b.updated_at
FROM bookings b WHERE b.id = md5('bulk-booking-' || :k)::uuid;
SELECT
  coalesce((SELECT json_agg(json_build_object('id', p.id, 'sessionId', p.stripe_session_id,
      'paymentIntentId', coalesce(p.stripe_payment_intent_id, ''), 'amount', p.amount, 'currency', p.currency,
      'eventId', p.stripe_event_id, 'createdAt', p.created_at) ORDER BY p.id)
    FROM payments p WHERE p.booking_id = md5('bulk-booking-' || :k)::uuid), '[]'),
  coalesce((SELECT json_agg(json_build_object('id', r.stripe_refund_id, 'paymentId', r.payment_id, 'amount', r.amount,
      'currency', r.currency, 'source', r.source, 'createdAt', r.created_at) ORDER BY r.id)
    FROM refunds r WHERE r.booking_id = md5('bulk-booking-' || :k)::uuid), '[]'),
  coalesce((SELECT json_agg(json_build_object('id', d.stripe_dispute_id, 'paymentId', d.payment_id, 'amount', d.amount,
      'currency', d.currency, 'reason', d.reason, 'status', coalesce(c.status, d.status), 'closed', c.id IS NOT NULL,
      'createdAt', d.created_at) ORDER BY d.id)
    FROM disputes d LEFT JOIN dispute_closures c ON c.stripe_dispute_id = d.stripe_dispute_id
    WHERE d.booking_id = md5('bulk-booking-' || :k)::uuid), '[]'),
  coalesce((SELECT json_agg(json_build_object('id', q.id, 'amount', q.amount, 'state', q.state) ORDER BY q.id)
    FROM refund_requests q WHERE q.booking_id = md5('bulk-booking-' || :k)::uuid AND q.state = 'owed'), '[]');
SELECT from_status, to_status, cause, cause_ref, created_at FROM booking_audit
WHERE booking_id = md5('bulk-booking-' || :k)::uuid ORDER BY id;
SELECT w.stripe_event_id, w.type, w.outcome, w.detail, w.booking_id::text, w.stripe_session_id, w.source, w.livemode,
    w.stripe_created_at, w.received_at, w.processed_at,
    coalesce((SELECT json_agg(json_build_object('source', r.source, 'outcome', r.outcome, 'detail', r.detail,
        'bookingId', r.booking_id, 'causeRef', r.cause_ref, 'createdAt', r.created_at) ORDER BY r.id)
      FROM webhook_event_replays r WHERE r.stripe_event_id = w.stripe_event_id), '[]')
FROM webhook_events w
WHERE w.stripe_event_id IN (
    SELECT stripe_event_id FROM webhook_events WHERE booking_id = md5('bulk-booking-' || :k)::uuid
    UNION
    SELECT stripe_event_id FROM webhook_event_replays WHERE booking_id = md5('bulk-booking-' || :k)::uuid)
ORDER BY w.received_at, w.stripe_event_id;
SELECT id, booking_id::text, payment_id, amount, currency, reason, state, attempts, last_error, next_attempt_at,
    coalesce(stripe_refund_id, ''), requested_by, created_at
FROM refund_requests WHERE booking_id = md5('bulk-booking-' || :k)::uuid ORDER BY id;
\endpipeline
COMMIT;
