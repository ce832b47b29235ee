package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/booking"
)

// claimedColumns are the columns of a claimed refund request, with what
// remains of its payment, the payment's PaymentIntent, and what its
// booking may still give back (paid, less refunds, withdrawals and the fee
// retained: booking.Booking.Kept).
const claimedColumns = `q.id, q.booking_id::text, q.payment_id, q.amount, q.currency, q.reason, q.idempotency_key, q.state,
	q.attempts, q.refusals, q.last_error, q.next_attempt_at, coalesce(q.stripe_refund_id, ''), q.requested_by, q.created_at,
	coalesce(p.stripe_payment_intent_id, ''),
	p.amount - (SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.payment_id = p.id)
	  - (SELECT coalesce(sum(c.amount), 0) FROM disputes d JOIN dispute_closures c ON c.stripe_dispute_id = d.stripe_dispute_id
	     WHERE d.payment_id = p.id),
	(SELECT k.amount_paid - k.amount_refunded - k.amount_withdrawn - k.amount_retained FROM bookings k WHERE k.id = q.booking_id)`

// claimDueRefundsSQL leases the owed refund requests that are due, oldest
// first; rows another replica is claiming are skipped, not waited for.
const claimDueRefundsSQL = `
WITH due AS (
    SELECT id FROM refund_requests
    WHERE state = 'owed' AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
    ORDER BY next_attempt_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED)
UPDATE refund_requests q SET claimed_until = $1::timestamptz + make_interval(secs => $2), updated_at = now()
FROM due, payments p
WHERE q.id = due.id AND p.id = q.payment_id
RETURNING ` + claimedColumns

// claimBookingRefundsSQL leases the owed refund requests of one booking,
// due or not, unless another maker holds their lease.
const claimBookingRefundsSQL = `
WITH due AS (
    SELECT id FROM refund_requests
    WHERE booking_id = $4 AND state = 'owed' AND (claimed_until IS NULL OR claimed_until <= $1)
    ORDER BY id
    LIMIT $3
    FOR UPDATE SKIP LOCKED)
UPDATE refund_requests q SET claimed_until = $1::timestamptz + make_interval(secs => $2), updated_at = now()
FROM due, payments p
WHERE q.id = due.id AND p.id = q.payment_id
RETURNING ` + claimedColumns

func scanClaimed(row pgx.CollectableRow) (booking.RefundRequest, error) {
	var r booking.RefundRequest
	err := row.Scan(&r.ID, &r.BookingID, &r.PaymentID, &r.Amount, &r.Currency, &r.Reason, &r.IdempotencyKey, &r.State,
		&r.Attempts, &r.Refusals, &r.LastError, &r.NextAttemptAt, &r.StripeRefundID, &r.RequestedBy, &r.CreatedAt,
		&r.PaymentIntentID, &r.Remaining, &r.Refundable)
	return r, err
}

// ClaimRefunds leases owed refund requests (see booking.RefundClaim).
// Errors: unavailable.
func (db *DB) ClaimRefunds(ctx context.Context, c booking.RefundClaim) ([]booking.RefundRequest, error) {
	var rows pgx.Rows
	if c.BookingID != "" {
		if !booking.IsUUID(c.BookingID) {
			return nil, nil
		}
		rows, _ = db.Pool.Query(ctx, claimBookingRefundsSQL, c.Now, c.Lease.Seconds(), c.Limit, c.BookingID)
	} else {
		rows, _ = db.Pool.Query(ctx, claimDueRefundsSQL, c.Now, c.Lease.Seconds(), c.Limit)
	}
	out, err := pgx.CollectRows(rows, scanClaimed)
	return out, interpretError(err)
}
