package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/booking"
)

// lockIntentBookingSQL finds the booking paid by a PaymentIntent and locks it
// for the rest of the transaction.
const lockIntentBookingSQL = `
SELECT ` + bookingColumns + `
FROM bookings
WHERE id = (SELECT booking_id FROM payments WHERE stripe_payment_intent_id = $1 ORDER BY id LIMIT 1)
FOR UPDATE`

const lockBookingSQL = `SELECT ` + bookingColumns + ` FROM bookings WHERE id = $1 FOR UPDATE`

const insertRefundSQL = `
INSERT INTO refunds (booking_id, stripe_refund_id, amount, currency, source)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (stripe_refund_id) DO NOTHING`

// insertOwnRefundSQL stores a refund the product made itself unless the
// stored refunds already cover everything paid: a charge.refunded event
// without its refunds list, processed between the refund call and this
// insert, has then recorded the same money under the charge's key.
const insertOwnRefundSQL = `
INSERT INTO refunds (booking_id, stripe_refund_id, amount, currency, source)
SELECT $1, $2, $3, $4, $5
WHERE (SELECT coalesce(sum(amount), 0) FROM refunds WHERE booking_id = $1) + $3::bigint
   <= (SELECT coalesce(sum(amount), 0) FROM payments WHERE booking_id = $1)
ON CONFLICT (stripe_refund_id) DO NOTHING`

const sumRefundsSQL = `SELECT coalesce(sum(amount), 0) FROM refunds WHERE booking_id = $1`

const insertDisputeSQL = `
INSERT INTO disputes (booking_id, stripe_dispute_id, stripe_charge_id, amount, currency, reason)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (stripe_dispute_id) DO NOTHING`

// moneyTransitionSQL changes a booking's status for a money event or an
// automatic refund; the audit trigger writes the cause.
const moneyTransitionSQL = `
UPDATE bookings
SET status = $2, status_cause = $3, status_cause_ref = $4,
    review_reason = CASE WHEN $2 = 'needs_review' THEN $5 ELSE review_reason END,
    updated_at = now()
WHERE id = $1`

// applyMoneyEvent applies a charge.refunded or charge.dispute.created event
// inside ApplyEvent's transaction and returns the matched booking id. Any
// other event type is recorded as ignored.
func (db *DB) applyMoneyEvent(ctx context.Context, tx pgx.Tx, ev *booking.PaymentEvent, res *booking.EventResult) (*string, error) {
	switch ev.Type {
	case booking.EventChargeRefunded:
		return applyRefundEvent(ctx, tx, ev, res)
	case booking.EventDisputeCreated:
		return applyDisputeEvent(ctx, tx, ev, res)
	}
	res.Outcome, res.Detail = booking.OutcomeIgnored, "event type not handled"
	return nil, nil
}

// lockIntentBooking returns the booking paid by a PaymentIntent, locked, or
// nil when none is.
func lockIntentBooking(ctx context.Context, tx pgx.Tx, paymentIntentID string) (*booking.Booking, error) {
	if paymentIntentID == "" {
		return nil, nil
	}
	rows, _ := tx.Query(ctx, lockIntentBookingSQL, paymentIntentID)
	b, err := pgx.CollectExactlyOneRow(rows, scanBooking)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &b, nil
}

func applyRefundEvent(ctx context.Context, tx pgx.Tx, ev *booking.PaymentEvent, res *booking.EventResult) (*string, error) {
	b, err := lockIntentBooking(ctx, tx, ev.PaymentIntentID)
	if err != nil {
		return nil, err
	}
	if b == nil {
		res.Outcome, res.Detail = booking.OutcomeUnmatched, "no booking paid by this charge's payment intent"
		return nil, nil
	}
	res.BookingID, res.Status = b.ID, b.Status
	newRows := false
	if len(ev.Refunds) > 0 {
		for _, r := range ev.Refunds {
			if !r.Counts() {
				continue
			}
			tag, err := tx.Exec(ctx, insertRefundSQL, b.ID, r.ID, r.Amount, r.Currency, booking.RefundSourceWebhook)
			if err != nil {
				return nil, err
			}
			newRows = newRows || tag.RowsAffected() > 0
		}
	} else {
		// Without the refunds list only the cumulative amount is known: record
		// what it adds to the refunds already stored, under an id derived from
		// the charge and that cumulative amount (the same for every delivery).
		var known int64
		if err := tx.QueryRow(ctx, sumRefundsSQL, b.ID).Scan(&known); err != nil {
			return nil, err
		}
		if delta := ev.AmountRefunded - known; delta > 0 {
			id := fmt.Sprintf("%s:refunded:%d", ev.ChargeID, ev.AmountRefunded)
			tag, err := tx.Exec(ctx, insertRefundSQL, b.ID, id, delta, ev.Currency, booking.RefundSourceWebhook)
			if err != nil {
				return nil, err
			}
			newRows = tag.RowsAffected() > 0
		}
	}
	p := booking.DecideRefund(b, ev, newRows)
	res.Outcome, res.Detail = p.Outcome, p.Detail
	if p.Next != "" && p.Next != b.Status {
		if _, err := tx.Exec(ctx, moneyTransitionSQL, b.ID, string(p.Next), booking.CauseEvent, ev.ID, p.Detail); err != nil {
			return nil, err
		}
		res.Status = p.Next
	}
	return &b.ID, nil
}

func applyDisputeEvent(ctx context.Context, tx pgx.Tx, ev *booking.PaymentEvent, res *booking.EventResult) (*string, error) {
	b, err := lockIntentBooking(ctx, tx, ev.PaymentIntentID)
	if err != nil {
		return nil, err
	}
	var bookingID *string
	if b != nil {
		bookingID = &b.ID
	}
	tag, err := tx.Exec(ctx, insertDisputeSQL, bookingID, ev.DisputeID, ev.ChargeID, ev.DisputeAmount, ev.Currency, ev.DisputeReason)
	if err != nil {
		return nil, err
	}
	if b == nil {
		res.Outcome, res.Detail = booking.OutcomeUnmatched, "dispute recorded; no booking paid by its payment intent"
		return nil, nil
	}
	res.BookingID, res.Status = b.ID, b.Status
	p := booking.DecideDispute(b, ev, tag.RowsAffected() > 0)
	res.Outcome, res.Detail = p.Outcome, p.Detail
	if p.Next != "" && p.Next != b.Status {
		if _, err := tx.Exec(ctx, moneyTransitionSQL, b.ID, string(p.Next), booking.CauseEvent, ev.ID, booking.ReasonDisputed); err != nil {
			return nil, err
		}
		res.Status = p.Next
	}
	return &b.ID, nil
}

// RecordRefund stores a refund the product made itself (automatic or staff)
// and moves the booking to refunded when it is confirmed or needs review, in
// one transaction; the audit trail gets cause. A refund id already stored
// (for instance from its charge.refunded event) is not stored twice.
// Errors: not_found, unavailable.
func (db *DB) RecordRefund(ctx context.Context, bookingID string, r booking.Refund, source string, cause booking.Cause) error {
	if !booking.IsUUID(bookingID) {
		return booking.Errorf(booking.ENotFound, "Booking not found.")
	}
	return db.Transact(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, lockBookingSQL, bookingID)
		b, err := pgx.CollectExactlyOneRow(rows, scanBooking)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, insertOwnRefundSQL, b.ID, r.ID, r.Amount, r.Currency, source); err != nil {
			return err
		}
		if b.Status != booking.StatusConfirmed && b.Status != booking.StatusNeedsReview {
			return nil
		}
		_, err = tx.Exec(ctx, moneyTransitionSQL, b.ID, string(booking.StatusRefunded), cause.Kind, cause.Ref, "")
		return err
	})
}

// pendingAutoRefundsSQL finds bookings whose automatic refund has not been
// made: left for review because their slot was taken, paid, nothing refunded.
const pendingAutoRefundsSQL = `
SELECT b.id::text, p.stripe_event_id, p.stripe_session_id, coalesce(p.stripe_payment_intent_id, ''), p.amount, p.currency
FROM bookings b
JOIN payments p ON p.booking_id = b.id
WHERE b.status = 'needs_review' AND b.review_reason = $1
  AND b.updated_at < now() - make_interval(secs => $2)
  AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.booking_id = b.id)
ORDER BY b.updated_at
LIMIT $3`

// PendingAutoRefunds lists automatic refunds still to make.
func (db *DB) PendingAutoRefunds(ctx context.Context, olderThan time.Duration, limit int) ([]booking.PendingRefund, error) {
	rows, _ := db.Pool.Query(ctx, pendingAutoRefundsSQL, booking.ReasonSlotTaken, olderThan.Seconds(), limit)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (booking.PendingRefund, error) {
		var p booking.PendingRefund
		ev := &p.Payment
		err := row.Scan(&p.BookingID, &ev.ID, &ev.SessionID, &ev.PaymentIntentID, &ev.AmountTotal, &ev.Currency)
		ev.Type, ev.Source = booking.EventCheckoutCompleted, "auto_refund_retry"
		return p, err
	})
	return out, interpretError(err)
}

const knownEventsSQL = `SELECT stripe_event_id FROM webhook_events WHERE stripe_event_id = ANY($1)`

// KnownEvents returns which of the Stripe event ids the ledger already holds.
func (db *DB) KnownEvents(ctx context.Context, ids []string) (map[string]bool, error) {
	rows, _ := db.Pool.Query(ctx, knownEventsSQL, ids)
	known, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, interpretError(err)
	}
	out := make(map[string]bool, len(known))
	for _, id := range known {
		out[id] = true
	}
	return out, nil
}
