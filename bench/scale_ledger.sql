-- First page of the webhook ledger (GET /api/admin/payment-events), newest
-- first, as the minimal SQL for the same answer: 51 rows with their replays.
-- Run by e2e/scalebench (scripts/scale-bench.sh).
SELECT w.stripe_event_id, w.type, w.outcome, w.detail, w.booking_id::text, w.stripe_session_id, w.source, w.livemode,
    w.stripe_created_at, w.received_at, w.processed_at,
    coalesce((SELECT json_agg(json_build_object('source', r.source, 'outcome', r.outcome, 'detail', r.detail,
        'bookingId', r.booking_id, 'causeRef', r.cause_ref, 'createdAt', r.created_at) ORDER BY r.id)
      FROM webhook_event_replays r WHERE r.stripe_event_id = w.stripe_event_id), '[]')
FROM webhook_events w
WHERE w.stripe_event_id = ANY (ARRAY(
    SELECT w.stripe_event_id FROM webhook_events w ORDER BY w.received_at DESC, w.stripe_event_id DESC LIMIT 51))
ORDER BY w.received_at DESC, w.stripe_event_id DESC;
