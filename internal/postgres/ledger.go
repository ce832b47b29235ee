package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookingplatform/booking/internal/booking"
)

// insertEventSQL writes the ledger row first: its unique event id serialises
// concurrent deliveries of one event, and a known id is a duplicate.
const insertEventSQL = `
INSERT INTO webhook_events (stripe_event_id, type, livemode, api_version, stripe_session_id, outcome, payload, source, stripe_created_at)
VALUES ($1, $2, $3, $4, nullif($5, ''), 'received', $6, $7, $8)
ON CONFLICT (stripe_event_id) DO NOTHING
RETURNING id`

const lockReplayEventSQL = `SELECT id FROM webhook_events WHERE stripe_event_id = $1 FOR UPDATE`

// lockSessionBookingSQL finds the booking of a Checkout Session, by session id
// or, for a booking whose session id is not yet recorded, by the
// client_reference_id, and locks it for the rest of the transaction.
const lockSessionBookingSQL = `
SELECT ` + bookingColumns + `, EXISTS (SELECT 1 FROM payments p WHERE p.stripe_session_id = $1)
FROM bookings
WHERE stripe_session_id = $1 OR (id = $2 AND stripe_session_id IS NULL)
ORDER BY stripe_session_id NULLS LAST
LIMIT 1
FOR UPDATE`

const insertPaymentSQL = `
INSERT INTO payments (booking_id, stripe_session_id, stripe_payment_intent_id, amount, currency, stripe_event_id)
VALUES ($1, $2, nullif($3, ''), $4, $5, $6)
ON CONFLICT (stripe_session_id) DO NOTHING`

const transitionSQL = `
UPDATE bookings
SET status = $2, status_cause = 'stripe_event', status_cause_ref = $3,
    review_reason = CASE WHEN $2 = 'needs_review' THEN $4 ELSE review_reason END,
    stripe_session_id = coalesce(stripe_session_id, $5), updated_at = now()
WHERE id = $1`

const finishEventSQL = `
UPDATE webhook_events
SET outcome = $2, detail = $3, booking_id = $4, processed_at = now(),
    replay_count = replay_count + CASE WHEN $5 THEN 1 ELSE 0 END
WHERE id = $1`

// ApplyEvent records ev in the ledger and applies the plan decide makes for its
// booking, all in one transaction: either the ledger row and every effect are
// committed, or nothing is. Errors: unavailable, internal.
func (db *DB) ApplyEvent(ctx context.Context, ev *booking.PaymentEvent, decide booking.DecideFunc) (*booking.EventResult, error) {
	var res booking.EventResult
	err := db.Transact(ctx, func(tx pgx.Tx) error {
		res = booking.EventResult{}
		var ledgerID int64
		replay := ev.Source == "replay"
		var err error
		if replay {
			err = tx.QueryRow(ctx, lockReplayEventSQL, ev.ID).Scan(&ledgerID)
		} else {
			var created any
			if !ev.Created.IsZero() {
				created = ev.Created
			}
			err = tx.QueryRow(ctx, insertEventSQL, ev.ID, ev.Type, ev.Livemode, ev.APIVersion, ev.SessionID,
				ev.Payload, ev.Source, created).Scan(&ledgerID)
			if errors.Is(err, pgx.ErrNoRows) {
				res.Outcome = booking.OutcomeDuplicate
				return nil
			}
		}
		if err != nil {
			return err
		}
		var bookingID *string
		if ev.IsCheckout() && ev.SessionID != "" {
			var ref any
			if booking.IsUUID(ev.BookingRef) {
				ref = ev.BookingRef
			}
			var paid bool
			rows, _ := tx.Query(ctx, lockSessionBookingSQL, ev.SessionID, ref)
			b, err := pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (booking.Booking, error) {
				var b booking.Booking
				err := row.Scan(&b.ID, &b.Reference, &b.ResourceID, &b.StartsAt, &b.EndsAt, &b.Status, &b.AmountTotal,
					&b.Currency, &b.HoldExpiresAt, &b.StripeSessionID, &b.CheckoutURL, &b.Customer.FirstName,
					&b.Customer.LastName, &b.Customer.Email, &b.ReviewReason, &b.CreatedAt, &b.UpdatedAt, &paid)
				return b, err
			})
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				res.Outcome, res.Detail = booking.OutcomeUnmatched, "no booking for this Checkout Session"
			case err != nil:
				return err
			default:
				bookingID = &b.ID
				res.BookingID, res.Status = b.ID, b.Status
				if err := db.applyPlan(ctx, tx, ev, &b, decide(&b, ev, paid), &res); err != nil {
					return err
				}
			}
		} else {
			res.Outcome, res.Detail = booking.OutcomeIgnored, "event type not handled"
		}
		_, err = tx.Exec(ctx, finishEventSQL, ledgerID, string(res.Outcome), res.Detail, bookingID, replay)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

func (db *DB) applyPlan(ctx context.Context, tx pgx.Tx, ev *booking.PaymentEvent, b *booking.Booking, p booking.Plan, res *booking.EventResult) error {
	res.Outcome, res.Detail = p.Outcome, p.Detail
	if p.RecordPayment {
		if _, err := tx.Exec(ctx, insertPaymentSQL, b.ID, ev.SessionID, ev.PaymentIntentID, ev.AmountTotal, ev.Currency, ev.ID); err != nil {
			return err
		}
	}
	if p.Next == "" || p.Next == b.Status {
		return nil
	}
	if p.FallbackNext != "" {
		// Re-activating a booking can collide with a booking that took its
		// slot meanwhile; try it under a savepoint and fall back on conflict.
		sp, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		_, err = sp.Exec(ctx, transitionSQL, b.ID, string(p.Next), ev.ID, p.Detail, ev.SessionID)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23P01" {
			if err := sp.Rollback(ctx); err != nil {
				return err
			}
			res.Outcome, res.Detail = p.FallbackOutcome, p.FallbackDetail
			p.Next, p.Detail = p.FallbackNext, p.FallbackDetail
		} else if err != nil {
			return err
		} else {
			res.Status = p.Next
			return sp.Commit(ctx)
		}
	}
	if _, err := tx.Exec(ctx, transitionSQL, b.ID, string(p.Next), ev.ID, p.Detail, ev.SessionID); err != nil {
		return err
	}
	res.Status = p.Next
	return nil
}
