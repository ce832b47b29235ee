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
INSERT INTO webhook_events (stripe_event_id, type, livemode, api_version, stripe_session_id, outcome, payload, source, stripe_created_at, stripe_payment_intent_id)
VALUES ($1, $2, $3, $4, nullif($5, ''), 'received', $6, $7, $8, nullif($9, ''))
ON CONFLICT (stripe_event_id) DO NOTHING
RETURNING id`

const lockReplayEventSQL = `SELECT id FROM webhook_events WHERE stripe_event_id = $1 FOR UPDATE`

// lockSessionBookingSQL finds the booking of a Checkout Session, by session id
// or, for a booking whose session id is not yet recorded, by the
// client_reference_id, and locks it for the rest of the transaction.
const lockSessionBookingSQL = `
SELECT ` + bookingColumns + `
FROM bookings
WHERE stripe_session_id = $1 OR (id = $2 AND stripe_session_id IS NULL)
ORDER BY stripe_session_id NULLS LAST
LIMIT 1
FOR UPDATE`

// paymentRecordedSQL runs after the booking is locked, as its own statement:
// under READ COMMITTED a new statement sees the payment a concurrent
// transaction committed while this one waited for the lock, which a subquery
// of the locking statement (evaluated with that statement's older snapshot)
// would miss.
const paymentRecordedSQL = `SELECT EXISTS (SELECT 1 FROM payments WHERE stripe_session_id = $1)`

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

// unmatchedMoneyEventsSQL finds the stored refund and dispute events of a
// PaymentIntent that found no booking when they arrived, oldest first.
const unmatchedMoneyEventsSQL = `
SELECT payload FROM webhook_events
WHERE outcome = 'unmatched' AND stripe_payment_intent_id = $1
  AND type IN ('charge.refunded', 'charge.dispute.created')
ORDER BY id`

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
	checkout := ev.IsCheckout() && ev.SessionID != ""
	var ref any
	if booking.IsUUID(ev.BookingRef) {
		ref = ev.BookingRef
	}
	replay := ev.Source == "replay"
	err := db.Transact(ctx, func(tx pgx.Tx) error {
		res = booking.EventResult{}
		// First round trip, pipelined: the ledger row, then the booking lock,
		// then whether the session's payment exists. The statements run one
		// after the other, each with its own snapshot, so the payment check
		// sees whatever a transaction we waited on for the lock committed.
		var first pgx.Batch
		if replay {
			first.Queue(lockReplayEventSQL, ev.ID)
		} else {
			var created any
			if !ev.Created.IsZero() {
				created = ev.Created
			}
			first.Queue(insertEventSQL, ev.ID, ev.Type, ev.Livemode, ev.APIVersion, ev.SessionID,
				ev.Payload, ev.Source, created, ev.PaymentIntentID)
		}
		if checkout {
			first.Queue(lockSessionBookingSQL, ev.SessionID, ref)
			first.Queue(paymentRecordedSQL, ev.SessionID)
		}
		br := tx.SendBatch(ctx, &first)
		var ledgerID int64
		if err := br.QueryRow().Scan(&ledgerID); err != nil {
			br.Close()
			if errors.Is(err, pgx.ErrNoRows) && !replay {
				res.Outcome = booking.OutcomeDuplicate
				return nil
			}
			return err
		}
		var b booking.Booking
		var found, paid bool
		if checkout {
			rows, err := br.Query()
			if err == nil {
				b, err = pgx.CollectExactlyOneRow(rows, scanBooking)
			}
			switch {
			case errors.Is(err, pgx.ErrNoRows):
			case err != nil:
				br.Close()
				return err
			default:
				found = true
			}
			if err := br.QueryRow().Scan(&paid); err != nil {
				br.Close()
				return err
			}
		}
		if err := br.Close(); err != nil {
			return err
		}

		// Second round trip: the effects and the ledger outcome, pipelined.
		var second pgx.Batch
		lookUnmatched := false
		var bookingID *string
		switch {
		case checkout && found:
			bookingID = &b.ID
			res.BookingID, res.Status = b.ID, b.Status
			plan := decide(&b, ev, paid)
			if err := db.applyPlan(ctx, tx, &second, ev, &b, plan, &res); err != nil {
				return err
			}
			lookUnmatched = plan.RecordPayment && ev.PaymentIntentID != ""
		case checkout:
			res.Outcome, res.Detail = booking.OutcomeUnmatched, "no booking for this Checkout Session"
		default:
			var err error
			if bookingID, err = db.applyMoneyEvent(ctx, tx, ev, &res); err != nil {
				return err
			}
		}
		second.Queue(finishEventSQL, ledgerID, string(res.Outcome), res.Detail, bookingID, replay)
		if !lookUnmatched {
			return tx.SendBatch(ctx, &second).Close()
		}
		// A payment was recorded: in the same round trip, fetch refund and
		// dispute events of its PaymentIntent that arrived before it.
		second.Queue(unmatchedMoneyEventsSQL, ev.PaymentIntentID)
		results := tx.SendBatch(ctx, &second)
		for i := 0; i < second.Len()-1; i++ {
			if _, err := results.Exec(); err != nil {
				results.Close()
				return err
			}
		}
		rows, err := results.Query()
		if err == nil {
			res.UnmatchedMoney, err = pgx.CollectRows(rows, pgx.RowTo[[]byte])
		}
		if err != nil {
			results.Close()
			return err
		}
		return results.Close()
	})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// applyPlan queues the effects of plan p on batch. A re-activation that may
// collide with a booking that took the slot is run at once under a
// savepoint, after whatever is already queued.
func (db *DB) applyPlan(ctx context.Context, tx pgx.Tx, batch *pgx.Batch, ev *booking.PaymentEvent, b *booking.Booking, p booking.Plan, res *booking.EventResult) error {
	res.Outcome, res.Detail = p.Outcome, p.Detail
	if p.RecordPayment {
		batch.Queue(insertPaymentSQL, b.ID, ev.SessionID, ev.PaymentIntentID, ev.AmountTotal, ev.Currency, ev.ID)
	}
	if p.Next == "" || p.Next == b.Status {
		return nil
	}
	if p.FallbackNext != "" {
		if batch.Len() > 0 {
			if err := tx.SendBatch(ctx, batch).Close(); err != nil {
				return err
			}
			*batch = pgx.Batch{}
		}
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
	batch.Queue(transitionSQL, b.ID, string(p.Next), ev.ID, p.Detail, ev.SessionID)
	res.Status = p.Next
	return nil
}
