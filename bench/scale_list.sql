-- First page of the staff booking list (GET /api/admin/bookings), newest
-- first, as the minimal SQL for the same answer: 51 bookings (a page of 50
-- and the one that says another page follows) with their latest dispute and
-- the refund owed.
-- Like the product (internal/postgres staffview.go), a shape without a status
-- filter reads whole rows straight from its index.
-- Run by e2e/scalebench (scripts/scale-bench.sh).
SELECT b.id::text, b.reference, b.resource_id::text, b.starts_at, b.ends_at, b.status, b.amount_total, b.currency,
    b.hold_expires_at, b.stripe_session_id, coalesce(b.checkout_url, ''), b.customer_first_name, b.customer_last_name,
    b.customer_email, coalesce(b.review_reason, ''), b.holds_slot, b.amount_paid, b.amount_refunded, b.created_at, b.updated_at,
    (SELECT json_build_object('id', d.stripe_dispute_id, 'paymentId', d.payment_id, 'amount', d.amount,
        'currency', d.currency, 'reason', d.reason, 'status', coalesce(c.status, d.status), 'closed', c.id IS NOT NULL,
        'withdrawn', coalesce(c.amount, 0), 'createdAt', d.created_at)
     FROM disputes d LEFT JOIN dispute_closures c ON c.stripe_dispute_id = d.stripe_dispute_id
     WHERE d.booking_id = b.id ORDER BY d.id DESC LIMIT 1),
    (SELECT coalesce(sum(p.amount - (SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.payment_id = p.id)), 0)
     FROM refund_requests q JOIN payments p ON p.id = q.payment_id WHERE q.booking_id = b.id AND q.state = 'owed')
FROM bookings b
ORDER BY b.created_at DESC, b.id DESC
LIMIT 51;
