package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/booking"
)

// The ledger row of an event is written once, with its outcome, in the
// transaction of its effect. Concurrent deliveries of one event lock the
// same booking, so the second one sees the first's row and is a duplicate;
// should two ever race past that (an event that matched no booking), the
// unique event id refuses the second row and its transaction rolls back.

const insertEventSQL = `
INSERT INTO webhook_events (stripe_event_id, type, livemode, api_version, stripe_session_id, booking_id, outcome, detail,
    payload, source, stripe_created_at, stripe_payment_intent_id)
VALUES ($1, $2, $3, $4, nullif($5, ''), $6, $7, $8, $9, $10, $11, nullif($12, ''))`

// insertUnmatchedEventSQL records an event that concerns no booking; a
// known id is a duplicate.
const insertUnmatchedEventSQL = insertEventSQL + `
ON CONFLICT (stripe_event_id) DO NOTHING
RETURNING true`

const insertReplaySQL = `
INSERT INTO webhook_event_replays (stripe_event_id, source, outcome, detail, booking_id, cause_ref)
VALUES ($1, $2, $3, $4, $5, $6)`

const insertWaitingSQL = `
INSERT INTO pending_money_events (stripe_event_id, payment_intent_id, event_type, facts) VALUES ($1, $2, $3, $4)
ON CONFLICT (stripe_event_id) DO NOTHING`

const deleteWaitingSQL = `DELETE FROM pending_money_events WHERE stripe_event_id = $1`

// errDuplicateEvent ends a transaction whose ledger row another one wrote.
var errDuplicateEvent = errors.New("event recorded by a concurrent delivery")

// ApplyEvent records ev and applies the plans decide makes for it and for
// the refund and dispute events waiting for its payment, in one
// transaction. A serialization failure or deadlock is retried.
// Errors: unavailable, internal.
func (db *DB) ApplyEvent(ctx context.Context, ev *booking.PaymentEvent, decide func(*booking.State, *booking.PaymentEvent) booking.Plan) (*booking.EventResult, error) {
	var res *booking.EventResult
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		res, err = db.applyEvent(ctx, ev, decide)
		if !retryable(err) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, interpretError(err)
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
	if errors.Is(err, errDuplicateEvent) {
		return &booking.EventResult{Outcome: booking.OutcomeDuplicate, Detail: "event already recorded"}, nil
	}
	if err != nil {
		return nil, interpretError(err)
	}
	return res, nil
}

// applyEvent is one attempt of ApplyEvent. The common case takes two round
// trips: BEGIN with the locks and reads, then the effects and the ledger
// row with COMMIT (deferred constraint checks run then). A plan that takes
// a slot back, and refund or dispute events waiting for the payment, add
// round trips of their own before the COMMIT.
func (db *DB) applyEvent(ctx context.Context, ev *booking.PaymentEvent, decide func(*booking.State, *booking.PaymentEvent) booking.Plan) (*booking.EventResult, error) {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	done := false
	defer func() {
		// Whatever went wrong, leave no transaction open on the connection
		// (a pooled connection in a transaction is closed on release anyway).
		if !done && conn.Conn().PgConn().TxStatus() != 'I' && !conn.Conn().IsClosed() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, _ = conn.Exec(rctx, "ROLLBACK")
			cancel()
		}
	}()
	replay := ev.Source == booking.SourceReplay
	res := &booking.EventResult{}

	var first pgx.Batch
	first.Queue("BEGIN")
	lookup := queueEventState(&first, ev)
	if lookup {
		// The webhook endpoints the change's events may go to, read in this
		// round trip rather than in one of their own (docs/adr/0010).
		first.Queue(enabledEndpointsSQL)
	}
	br := conn.SendBatch(ctx, &first)
	_, err = br.Exec()
	var st *booking.State
	var waiting []waitingEvent
	var endpoints []booking.WebhookEndpoint
	if err == nil && lookup {
		st, waiting, err = readEventState(br, ev)
		if err == nil {
			rows, _ := br.Query()
			endpoints, err = readEndpoints(rows)
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}

	p := decide(st, ev)
	var last pgx.Batch
	if st == nil {
		res.Outcome, res.Detail = p.Outcome, p.Detail
		if replay {
			queueRecord(&last, ev, &p, nil)
			last.Queue("COMMIT")
			err = runBatch(ctx, conn, &last)
			done = err == nil
			return res, err
		}
		var created any
		if !ev.Created.IsZero() {
			created = ev.Created
		}
		last.Queue(insertUnmatchedEventSQL, ev.ID, ev.Type, ev.Livemode, ev.APIVersion, ev.SessionID, nil, string(p.Outcome),
			p.Detail, ev.Payload, ev.Source, created, ev.PaymentIntentID)
		if p.Wait {
			last.Queue(insertWaitingSQL, ev.ID, ev.PaymentIntentID, ev.Type, ev.Money)
		}
		last.Queue("COMMIT")
		br := conn.SendBatch(ctx, &last)
		var inserted bool
		err := br.QueryRow().Scan(&inserted)
		if errors.Is(err, pgx.ErrNoRows) {
			res.Outcome, res.Detail = booking.OutcomeDuplicate, "event already recorded"
			err = nil
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		done = err == nil
		return res, err
	}

	res.BookingID = st.Booking.ID
	if p.Outcome == booking.OutcomeDuplicate && !replay && st.EventKnown {
		res.Outcome, res.Status = p.Outcome, st.Booking.Status
		_, err := conn.Exec(ctx, "COMMIT")
		done = err == nil
		return res, err
	}
	p, rowDone, err := takeSlot(ctx, conn, st, p, ev.SessionID)
	if err != nil {
		return nil, err
	}
	if err := db.enqueueNotices(ctx, openTx{conn.Conn()}, st, &p, &endpoints); err != nil {
		return nil, err
	}
	queuePlan(&last, st, &p, ev.SessionID, rowDone)
	queueRecord(&last, ev, &p, &st.Booking.ID)
	late := p.Payment != nil && len(waiting) > 0
	if !late {
		last.Queue("COMMIT")
	}
	if err := runBatch(ctx, conn, &last); err != nil {
		if !replay && isConstraint(err, "23505", constraintEventID) {
			return nil, errDuplicateEvent
		}
		return nil, err
	}
	res.Outcome, res.Detail, res.Status = p.Outcome, p.Detail, st.Booking.Status
	if p.After != nil {
		res.Status = p.After.Status
	}
	res.RefundsOwed = len(p.Owe) > 0
	if !late {
		done = true
		return res, nil
	}
	// The payment is recorded: apply the refund and dispute events of its
	// PaymentIntent that arrived before it, in arrival order.
	for _, w := range waiting {
		st, _, err := lockState(ctx, conn, res.BookingID, w.ID, "")
		if err != nil {
			return nil, err
		}
		lateEv := &booking.PaymentEvent{ID: w.ID, Type: w.Type, PaymentIntentID: ev.PaymentIntentID, Money: w.Facts,
			Source: booking.SourceLate}
		lp := decide(st, lateEv)
		lp, rowDone, err := takeSlot(ctx, conn, st, lp, "")
		if err != nil {
			return nil, err
		}
		if err := db.enqueueNotices(ctx, openTx{conn.Conn()}, st, &lp, &endpoints); err != nil {
			return nil, err
		}
		var b pgx.Batch
		queuePlan(&b, st, &lp, "", rowDone)
		queueRecord(&b, lateEv, &lp, &st.Booking.ID)
		if err := runBatch(ctx, conn, &b); err != nil {
			return nil, err
		}
		lr := booking.EventResult{EventID: w.ID, Outcome: lp.Outcome, Detail: lp.Detail, BookingID: st.Booking.ID,
			Status: st.Booking.Status}
		if lp.After != nil {
			lr.Status = lp.After.Status
			res.Status = lp.After.Status
		}
		res.RefundsOwed = res.RefundsOwed || len(lp.Owe) > 0
		res.Late = append(res.Late, lr)
	}
	if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
		return nil, err
	}
	done = true
	return res, nil
}

// queueRecord queues what records event ev with plan p: its ledger row, or
// for a replay or a late application a row beside it; a refund or dispute
// event that waits for its payment is kept, and one applied no longer is.
func queueRecord(b *pgx.Batch, ev *booking.PaymentEvent, p *booking.Plan, bookingID *string) {
	switch ev.Source {
	case booking.SourceReplay, booking.SourceLate:
		b.Queue(insertReplaySQL, ev.ID, ev.Source, string(p.Outcome), p.Detail, bookingID, ev.ReplayBy)
	default:
		var created any
		if !ev.Created.IsZero() {
			created = ev.Created
		}
		b.Queue(insertEventSQL, ev.ID, ev.Type, ev.Livemode, ev.APIVersion, ev.SessionID, bookingID, string(p.Outcome),
			p.Detail, ev.Payload, ev.Source, created, ev.PaymentIntentID)
	}
	switch {
	case p.Wait:
		b.Queue(insertWaitingSQL, ev.ID, ev.PaymentIntentID, ev.Type, ev.Money)
	case ev.Source == booking.SourceReplay || ev.Source == booking.SourceLate:
		b.Queue(deleteWaitingSQL, ev.ID)
	}
}
