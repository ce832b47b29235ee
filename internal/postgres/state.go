package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookingplatform/booking/internal/booking"
)

// A decision about a booking runs in one transaction: the booking row is
// locked (FOR UPDATE), then its money rows are read in a statement of their
// own. Under READ COMMITTED that second statement takes a new snapshot, so
// it sees whatever the transaction we waited on for the lock committed; a
// subquery of the locking statement would use that statement's older
// snapshot and could miss a payment (docs/adr/0001).

// dbtx runs statements: a pgx.Tx, or a pooled connection inside a
// transaction the caller began (ApplyEvent folds BEGIN and COMMIT into its
// pipelines).
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Statements that lock the booking a decision is about.
const (
	lockBookingByIDSQL = `SELECT ` + bookingColumns + ` FROM bookings b WHERE b.id = $1 FOR UPDATE`
	// A Checkout Session's booking: by session id or, for a booking whose
	// session id is not recorded yet, by the client_reference_id.
	lockBookingBySessionSQL = `SELECT ` + bookingColumns + ` FROM bookings b
WHERE b.stripe_session_id = $1 OR (b.id = $2 AND b.stripe_session_id IS NULL)
ORDER BY b.stripe_session_id NULLS LAST LIMIT 1 FOR UPDATE`
	// The booking a PaymentIntent paid.
	lockBookingByIntentSQL = `SELECT ` + bookingColumns + ` FROM bookings b
WHERE b.id = (SELECT booking_id FROM payments WHERE stripe_payment_intent_id = $1 ORDER BY id LIMIT 1) FOR UPDATE`
	// lockIntentSQL serialises the payment of a PaymentIntent with its
	// refund and dispute events (booking.PaymentEvent.IntentLock). A
	// transaction-scoped lock: safe behind a transaction-pooling PgBouncer.
	lockIntentSQL = `SELECT pg_advisory_xact_lock(hashtextextended('payment_intent:' || $1, 0))`
)

// moneySQL reads a locked booking's money rows as JSON, whether the ledger
// holds event $2, the refund and dispute events of PaymentIntent $3
// waiting for their payment, and its resource's reminderHours (for the
// reminder a confirmation schedules, without another look-up inside the
// transaction). The booking is the one {{key}} finds, with $1
// (and $4): the same look-up as the statement that locked it, so both can
// go in one round trip.
const moneySQL = `
WITH k(id) AS ({{key}})
SELECT
  EXISTS (SELECT 1 FROM webhook_events WHERE stripe_event_id = $2),
  coalesce((SELECT json_agg(json_build_object('id', p.id, 'sessionId', coalesce(p.stripe_session_id, ''),
      'paymentIntentId', coalesce(p.stripe_payment_intent_id, ''), 'amount', p.amount, 'currency', p.currency,
      'eventId', coalesce(p.stripe_event_id, ''), 'createdAt', p.created_at, 'method', p.method,
      'recordedBy', coalesce(p.recorded_by::text, '')) ORDER BY p.id)
    FROM payments p WHERE p.booking_id = (SELECT id FROM k)), '[]'),
  coalesce((SELECT json_agg(json_build_object('id', coalesce(r.stripe_refund_id, 'offline-' || r.id), 'paymentId', r.payment_id,
      'amount', r.amount, 'currency', r.currency, 'source', r.source, 'createdAt', r.created_at, 'method', r.method,
      'recordedBy', coalesce(r.recorded_by::text, '')) ORDER BY r.id)
    FROM refunds r WHERE r.booking_id = (SELECT id FROM k)), '[]'),
  coalesce((SELECT json_agg(json_build_object('id', d.stripe_dispute_id, 'paymentId', d.payment_id, 'amount', d.amount,
      'currency', d.currency, 'reason', d.reason, 'status', coalesce(c.status, d.status), 'closed', c.id IS NOT NULL,
      'withdrawn', coalesce(c.amount, 0), 'createdAt', d.created_at) ORDER BY d.id)
    FROM disputes d LEFT JOIN dispute_closures c ON c.stripe_dispute_id = d.stripe_dispute_id
    WHERE d.booking_id = (SELECT id FROM k)), '[]'),
  coalesce((SELECT json_agg(json_build_object('id', q.id, 'bookingId', q.booking_id, 'paymentId', q.payment_id,
      'amount', q.amount, 'currency', q.currency, 'reason', q.reason, 'state', q.state, 'attempts', q.attempts,
      'lastError', q.last_error, 'refusals', q.refusals, 'nextAttemptAt', q.next_attempt_at, 'requestedBy', q.requested_by,
      'createdAt', q.created_at) ORDER BY q.id)
    FROM refund_requests q WHERE q.booking_id = (SELECT id FROM k) AND q.state = 'owed'), '[]'),
  coalesce((SELECT json_agg(json_build_object('id', w.stripe_event_id, 'type', w.event_type, 'facts', w.facts)
      ORDER BY w.created_at, w.stripe_event_id)
    FROM pending_money_events w WHERE $3 <> '' AND w.payment_intent_id = $3), '[]'),
  (SELECT r.reminder_hours FROM bookings b JOIN resources r ON r.id = b.resource_id WHERE b.id = (SELECT id FROM k))`

// The money statement for each way of finding the booking.
var (
	moneyByIDSQL      = strings.Replace(moneySQL, "{{key}}", `SELECT $1::uuid`, 1)
	moneyBySessionSQL = strings.Replace(moneySQL, "{{key}}", `SELECT id FROM bookings
    WHERE stripe_session_id = $1 OR (id = $4::uuid AND stripe_session_id IS NULL)
    ORDER BY stripe_session_id NULLS LAST LIMIT 1`, 1)
	moneyByIntentSQL = strings.Replace(moneySQL, "{{key}}", `SELECT booking_id FROM payments
    WHERE stripe_payment_intent_id = $1 ORDER BY id LIMIT 1`, 1)
)

// waitingEvent is a refund or dispute event kept until its payment arrives.
type waitingEvent struct {
	ID    string             `json:"id"`
	Type  string             `json:"type"`
	Facts booking.MoneyFacts `json:"facts"`
}

// lockState locks booking id and reads its state (see moneySQL).
func lockState(ctx context.Context, tx dbtx, id, eventID, intent string) (*booking.State, []waitingEvent, error) {
	var b pgx.Batch
	b.Queue(lockBookingByIDSQL, id)
	b.Queue(moneyByIDSQL, id, eventID, intent)
	br := tx.SendBatch(ctx, &b)
	defer br.Close()
	st, err := readLocked(br)
	if err != nil || st == nil {
		return st, nil, err
	}
	waiting, err := readMoney(br, st)
	return st, waiting, err
}

// readLocked reads the result of a lock statement: the booking, or nil.
func readLocked(br pgx.BatchResults) (*booking.State, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	b, err := pgx.CollectExactlyOneRow(rows, scanBooking)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &booking.State{Booking: b}, nil
}

// readMoney reads the result of moneySQL into st.
func readMoney(br pgx.BatchResults, st *booking.State) ([]waitingEvent, error) {
	var payments, refunds, disputes, owed, waiting []byte
	var reminder *int
	if err := br.QueryRow().Scan(&st.EventKnown, &payments, &refunds, &disputes, &owed, &waiting, &reminder); err != nil {
		return nil, err
	}
	if reminder != nil {
		st.ReminderHours = *reminder
	}
	var w []waitingEvent
	for _, d := range []struct {
		raw []byte
		dst any
	}{{payments, &st.Payments}, {refunds, &st.Refunds}, {disputes, &st.Disputes}, {owed, &st.Owed}, {waiting, &w}} {
		if err := json.Unmarshal(d.raw, d.dst); err != nil {
			return nil, fmt.Errorf("decode booking money: %w", err)
		}
	}
	return w, nil
}

// Statements that apply a plan.
const (
	insertPaymentSQL = `
INSERT INTO payments (booking_id, stripe_session_id, stripe_payment_intent_id, amount, currency, stripe_event_id,
    method, recorded_by)
VALUES ($1, nullif($2, ''), nullif($3, ''), $4, $5, nullif($6, ''), coalesce(nullif($7, ''), 'stripe'), nullif($8, '')::uuid)`

	insertRefundSQL = `
INSERT INTO refunds (booking_id, payment_id, stripe_refund_id, amount, currency, source, method, recorded_by)
VALUES ($1, $2, nullif($3, ''), $4, $5, $6, coalesce(nullif($7, ''), 'stripe'), nullif($8, '')::uuid)`

	insertDisputeSQL = `
INSERT INTO disputes (booking_id, payment_id, stripe_dispute_id, stripe_charge_id, payment_intent_id, amount, currency,
    reason, status, stripe_event_id)
VALUES ($1, $2, $3, $4, nullif($5, ''), $6, $7, $8, $9, $10)`

	insertClosureSQL = `INSERT INTO dispute_closures (stripe_dispute_id, status, amount, stripe_event_id) VALUES ($1, $2, $3, $4)`

	// updateBookingSQL writes a booking's row after a plan; the audit
	// trigger records a status change with its cause, and the money sums
	// are checked against the money rows at commit.
	updateBookingSQL = `
UPDATE bookings
SET status = $2, holds_slot = $3, review_reason = nullif($4, ''), status_cause = $5, status_cause_ref = $6,
    amount_paid = $7, amount_refunded = $8, amount_withdrawn = $10, amount_retained = $11,
    stripe_session_id = coalesce(stripe_session_id, nullif($9, '')), updated_at = now()
WHERE id = $1`

	// insertRequestSQL owes a refund. A payment id of 0 is the payment of
	// session $10, recorded earlier in the same transaction. A request with
	// the same key that was cancelled is owed again.
	insertRequestSQL = `
INSERT INTO refund_requests AS q (booking_id, payment_id, amount, currency, reason, idempotency_key, next_attempt_at, requested_by)
VALUES ($1, coalesce(nullif($2, 0::bigint), (SELECT id FROM payments WHERE stripe_session_id = $8)), $3, $4, $5, $6, $7, $9)
ON CONFLICT (idempotency_key) DO UPDATE
    SET state = 'owed', attempts = 0, last_error = '', next_attempt_at = EXCLUDED.next_attempt_at,
        amount = EXCLUDED.amount, requested_by = EXCLUDED.requested_by, updated_at = now()
    WHERE q.state = 'cancelled'`

	updateRequestSQL = `
UPDATE refund_requests
SET state = $2, attempts = CASE WHEN $2 = 'owed' THEN $3 ELSE attempts END,
    refusals = CASE WHEN $2 = 'owed' THEN $7 ELSE refusals END,
    next_attempt_at = coalesce($4, next_attempt_at), last_error = CASE WHEN $2 = 'owed' THEN $5 ELSE last_error END,
    stripe_refund_id = coalesce(nullif($6, ''), stripe_refund_id), claimed_until = NULL, updated_at = now()
WHERE id = $1`
)

// takeSlot applies the booking row of a plan that takes back a slot, under
// a savepoint, before the rest of the plan: when another booking holds the
// slot, the plan's fallback applies instead. It returns the plan to apply
// and whether its booking row is written already.
func takeSlot(ctx context.Context, tx dbtx, st *booking.State, p booking.Plan, sessionID string) (booking.Plan, bool, error) {
	if p.After == nil || !p.After.TakesSlot {
		return p, false, nil
	}
	if p.Fallback == nil {
		// No fallback: release the lapsed holds in the way; a collision with
		// a live holder is the caller's error (slot_unavailable).
		b := &st.Booking
		_, err := tx.Exec(ctx, releaseLapsedSQL, b.ResourceID, b.StartsAt, b.EndsAt, p.After.ReleaseLapsed)
		return p, false, err
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT take_slot"); err != nil {
		return p, false, err
	}
	b := &st.Booking
	if _, err := tx.Exec(ctx, releaseLapsedSQL, b.ResourceID, b.StartsAt, b.EndsAt, p.After.ReleaseLapsed); err != nil {
		return p, false, err
	}
	_, err := tx.Exec(ctx, updateBookingSQL, bookingArgs(st, p.After, sessionID)...)
	if slotTaken(err) {
		if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT take_slot"); err != nil {
			return p, false, err
		}
		return *p.Fallback, false, nil
	}
	if err != nil {
		return p, false, err
	}
	_, err = tx.Exec(ctx, "RELEASE SAVEPOINT take_slot")
	return p, true, err
}

func bookingArgs(st *booking.State, c *booking.BookingChange, sessionID string) []any {
	cause := c.Cause
	if cause.Kind == "" { // money recorded without a status change: keep the last cause
		cause = booking.Cause{Kind: booking.CauseSys, Ref: "money"}
	}
	return []any{st.Booking.ID, string(c.Status), c.HoldsSlot, c.ReviewReason, cause.Kind, cause.Ref,
		c.AmountPaid, c.AmountRefunded, sessionID, c.AmountWithdrawn, c.AmountRetained}
}

// queuePlan queues the statements of plan p on b. sessionID is the
// Checkout Session of the event being applied, if any; rowDone says the
// booking row was written already (takeSlot).
func queuePlan(b *pgx.Batch, st *booking.State, p *booking.Plan, sessionID string, rowDone bool) {
	id := st.Booking.ID
	if pay := p.Payment; pay != nil {
		b.Queue(insertPaymentSQL, id, pay.SessionID, pay.PaymentIntentID, pay.Amount, pay.Currency, pay.EventID,
			pay.Method, pay.RecordedBy)
	}
	for _, r := range p.Refunds {
		b.Queue(insertRefundSQL, id, r.PaymentID, r.ID, r.Amount, r.Currency, r.Source, r.Method, r.RecordedBy)
	}
	if d := p.Dispute; d != nil {
		b.Queue(insertDisputeSQL, id, d.PaymentID, d.ID, d.ChargeID, paymentIntentOf(st, d.PaymentID), d.Amount, d.Currency,
			d.Reason, d.Status, d.EventID)
	}
	if c := p.Closure; c != nil {
		b.Queue(insertClosureSQL, c.DisputeID, c.Status, c.Withdrawn, c.EventID)
	}
	if p.After != nil && !rowDone {
		b.Queue(updateBookingSQL, bookingArgs(st, p.After, sessionID)...)
	}
	if m := p.Reschedule; m != nil {
		queueReschedule(b, st, m)
	}
	for _, r := range p.Owe {
		paySession := ""
		if r.PaymentID == 0 && p.Payment != nil {
			paySession = p.Payment.SessionID
		}
		b.Queue(insertRequestSQL, id, r.PaymentID, r.Amount, r.Currency, r.Reason, r.IdempotencyKey, r.NextAttemptAt,
			paySession, r.RequestedBy)
	}
	for _, u := range p.Requests {
		var next *time.Time
		if !u.NextAttemptAt.IsZero() {
			next = &u.NextAttemptAt
		}
		b.Queue(updateRequestSQL, u.ID, u.State, u.Attempts, next, u.LastError, u.StripeRefundID, u.Refusals)
	}
}

func paymentIntentOf(st *booking.State, paymentID int64) string {
	for _, p := range st.Payments {
		if p.ID == paymentID {
			return p.PaymentIntentID
		}
	}
	return ""
}

// runBatch sends b and reads every result, returning the first error.
func runBatch(ctx context.Context, tx dbtx, b *pgx.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, b).Close()
}

// ChangeBooking locks booking id with its money, asks decide for a plan,
// applies it and returns the booking's state afterwards, in one
// transaction. Errors: not_found, slot_unavailable, those of decide,
// unavailable.
func (db *DB) ChangeBooking(ctx context.Context, id string, decide func(st *booking.State) (booking.Plan, error)) (*booking.State, error) {
	if !booking.IsUUID(id) {
		return nil, booking.Errorf(booking.ENotFound, "Booking not found.")
	}
	var after *booking.State
	err := db.Transact(ctx, func(tx pgx.Tx) error {
		var err error
		after, err = db.decideIn(ctx, tx, id, decide)
		return err
	})
	if err != nil {
		return nil, err
	}
	return after, nil
}

// decideIn locks booking id with its money in tx, asks decide for a plan,
// applies it with its messages and outgoing webhooks, and returns the
// booking's state afterwards. Errors: not_found, slot_unavailable, those of
// decide.
func (db *DB) decideIn(ctx context.Context, tx pgx.Tx, id string,
	decide func(st *booking.State) (booking.Plan, error),
) (*booking.State, error) {
	st, _, err := lockState(ctx, tx, id, "", "")
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, booking.Errorf(booking.ENotFound, "Booking not found.")
	}
	p, err := decide(st)
	if err != nil {
		return nil, err
	}
	p, rowDone, err := takeSlot(ctx, tx, st, p, "")
	if err != nil {
		return nil, err
	}
	if err := db.enqueueNotices(ctx, tx, st, &p, nil); err != nil {
		return nil, err
	}
	var b pgx.Batch
	queuePlan(&b, st, &p, "", rowDone)
	if err := runBatch(ctx, tx, &b); err != nil {
		return nil, err
	}
	after, _, err := lockState(ctx, tx, id, "", "")
	return after, err
}

// queueEventState queues on b what locks the booking event ev concerns
// (after the intent lock, when ev needs it) and reads its state and the
// events waiting for its payment; readEventState reads the results. It
// returns false when ev concerns no booking to look up.
func queueEventState(b *pgx.Batch, ev *booking.PaymentEvent) bool {
	pi := ev.IntentLock()
	if pi != "" {
		b.Queue(lockIntentSQL, pi)
	}
	switch {
	case ev.IsCheckout() && ev.SessionID != "":
		var ref any
		if booking.IsUUID(ev.BookingRef) {
			ref = strings.ToLower(ev.BookingRef)
		}
		b.Queue(lockBookingBySessionSQL, ev.SessionID, ref)
		b.Queue(moneyBySessionSQL, ev.SessionID, ev.ID, pi, ref)
	case ev.IsMoney() && ev.PaymentIntentID != "":
		b.Queue(lockBookingByIntentSQL, ev.PaymentIntentID)
		b.Queue(moneyByIntentSQL, ev.PaymentIntentID, ev.ID, "")
	default:
		return false
	}
	return true
}

// readEventState reads what queueEventState queued: the locked booking's
// state (nil when there is none) and the events waiting for its payment.
func readEventState(br pgx.BatchResults, ev *booking.PaymentEvent) (*booking.State, []waitingEvent, error) {
	if ev.IntentLock() != "" {
		if _, err := br.Exec(); err != nil {
			return nil, nil, err
		}
	}
	st, err := readLocked(br)
	if err != nil {
		return nil, nil, err
	}
	var scratch booking.State
	target := st
	if target == nil {
		target = &scratch
	}
	waiting, err := readMoney(br, target)
	if err != nil || st == nil {
		return nil, nil, err
	}
	return st, waiting, nil
}
