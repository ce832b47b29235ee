package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/payment"
	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

// moneyEvent builds a Stripe-shaped event around data.object.
func moneyEvent(id, typ string, object map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": id, "object": "event", "type": typ, "api_version": stripe.APIVersion,
		"created": 1767225600, "livemode": false, "pending_webhooks": 1,
		"data": map[string]any{"object": object},
	})
	return b
}

func paidSessionPayload(id string, b *booking.Booking, pi string, amount int64) []byte {
	return moneyEvent(id, booking.EventCheckoutCompleted, map[string]any{
		"id": *b.StripeSessionID, "object": "checkout.session", "client_reference_id": b.ID,
		"payment_status": "paid", "status": "complete", "amount_total": amount, "currency": b.Currency,
		"payment_intent": pi,
	})
}

// refundsList is refunds.data of a charge; nil leaves the list out, as
// current API versions do.
func chargeRefundedPayload(id, chargeID, pi string, amount, refunded int64, refundsList []map[string]any) []byte {
	ch := map[string]any{
		"id": chargeID, "object": "charge", "amount": amount, "amount_refunded": refunded, "currency": "eur",
		"payment_intent": pi, "refunded": refunded >= amount,
	}
	if refundsList != nil {
		ch["refunds"] = map[string]any{"object": "list", "data": refundsList}
	}
	return moneyEvent(id, booking.EventChargeRefunded, ch)
}

func disputePayload(id, typ, disputeID, pi string, amount int64, status string) []byte {
	return moneyEvent(id, typ, map[string]any{
		"id": disputeID, "object": "dispute", "amount": amount, "currency": "eur", "reason": "fraudulent",
		"charge": "ch_" + pi, "payment_intent": pi, "status": status,
	})
}

// fakeRefunder is the payment provider's refund API: it records every call,
// answers the same refund for the same idempotency key, refuses to refund
// more than was paid, and fails the first fails calls.
type fakeRefunder struct {
	mu    sync.Mutex
	fails int
	calls []booking.ProviderRefund
	byKey map[string]*booking.Refund
}

func (f *fakeRefunder) Refund(ctx context.Context, req booking.ProviderRefund) (*booking.Refund, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, req)
	if f.fails > 0 {
		f.fails--
		return nil, booking.WrapError(booking.EPaymentProvider, "The payment provider could not be reached.", errors.New("connection refused"))
	}
	if f.byKey == nil {
		f.byKey = map[string]*booking.Refund{}
	}
	if r, ok := f.byKey[req.IdempotencyKey]; ok {
		return r, nil
	}
	r := &booking.Refund{ID: fmt.Sprintf("re_fake_%d", len(f.byKey)+1), Amount: req.Amount, Currency: req.Currency, Status: "succeeded"}
	f.byKey[req.IdempotencyKey] = r
	return r, nil
}

func (f *fakeRefunder) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

type moneyBundle struct {
	db      *postgres.DB
	res     *booking.Resource
	now     time.Time
	ful     *booking.Fulfiller
	refunds *booking.Refunds
	desk    *booking.Desk
}

func newMoneyBundle(t *testing.T, refunder booking.Refunder) *moneyBundle {
	t.Helper()
	db := pgtest.NewDB(t)
	mb := &moneyBundle{db: db, res: pgtest.CreateResource(t, db, pgtest.ResourceOpts{}),
		now: time.Date(2030, 1, 7, 9, 0, 0, 0, time.UTC)}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	clock := func() time.Time { return mb.now }
	mb.refunds = booking.NewRefunds(db, refunder, log, clock)
	mb.ful = &booking.Fulfiller{Store: db, Parse: payment.ParseStored, Refunds: mb.refunds, Logger: log, Now: clock}
	mb.desk = &booking.Desk{Store: db, Refunds: mb.refunds, Logger: log, Now: clock}
	return mb
}

// handle parses payload as a stored event and processes it.
func (mb *moneyBundle) handle(t *testing.T, payload []byte) *booking.EventResult {
	t.Helper()
	ev, err := payment.ParseStored(payload)
	if err != nil {
		t.Fatalf("parse event: %v", err)
	}
	res, err := mb.ful.HandleEvent(context.Background(), ev)
	if err != nil {
		t.Fatalf("handle %s: %v", ev.ID, err)
	}
	return res
}

// pending creates a pending booking with a Checkout Session.
func (mb *moneyBundle) pending(t *testing.T) *booking.Booking {
	t.Helper()
	return pgtest.CreateBooking(t, mb.db, mb.res, pgtest.BookingOpts{HoldUntil: mb.now.Add(30 * time.Minute)})
}

// confirmed creates a booking and pays it through the webhook path.
func (mb *moneyBundle) confirmed(t *testing.T, pi string) *booking.Booking {
	t.Helper()
	b := mb.pending(t)
	if res := mb.handle(t, paidSessionPayload("evt_pay_"+pi, b, pi, b.AmountTotal)); res.Status != booking.StatusConfirmed {
		t.Fatalf("pay: %+v, want confirmed", res)
	}
	return b
}

func (mb *moneyBundle) booking(t *testing.T, id string) *booking.Booking {
	t.Helper()
	b, err := mb.db.FindBooking(context.Background(), id)
	if err != nil {
		t.Fatalf("find booking: %v", err)
	}
	return b
}

func (mb *moneyBundle) ledger(t *testing.T, eventID string) (outcome string, bookingID *string) {
	t.Helper()
	err := mb.db.Pool.QueryRow(context.Background(),
		`SELECT outcome, booking_id::text FROM webhook_events WHERE stripe_event_id = $1`, eventID).Scan(&outcome, &bookingID)
	if err != nil {
		t.Fatalf("ledger row %s: %v", eventID, err)
	}
	return outcome, bookingID
}

// check fails t when the fast or full check finds anything.
func (mb *moneyBundle) check(t *testing.T) {
	t.Helper()
	r, err := (&booking.Checker{Store: mb.db, Now: func() time.Time { return mb.now }}).Check(context.Background(), true)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	for _, v := range r.Violations {
		t.Errorf("check: %s", v)
	}
}

func want(t *testing.T, b *booking.Booking, status booking.Status, holds bool, paid, refunded int64) {
	t.Helper()
	if b.Status != status || b.HoldsSlot != holds || b.AmountPaid != paid || b.AmountRefunded != refunded {
		t.Fatalf("booking %s holds=%v paid=%d refunded=%d, want %s holds=%v paid=%d refunded=%d",
			b.Status, b.HoldsSlot, b.AmountPaid, b.AmountRefunded, status, holds, paid, refunded)
	}
}

func TestChargeRefunded(t *testing.T) {
	t.Parallel()

	t.Run("a full refund moves a confirmed booking to refunded once and frees its slot", func(t *testing.T) {
		t.Parallel()
		mb := newMoneyBundle(t, nil)
		b := mb.confirmed(t, "pi_full")
		list := []map[string]any{{"id": "re_full", "amount": b.AmountTotal, "currency": "eur", "status": "succeeded"}}
		p := chargeRefundedPayload("evt_ref_full", "ch_full", "pi_full", b.AmountTotal, b.AmountTotal, list)
		if res := mb.handle(t, p); res.Outcome != booking.OutcomeProcessed || res.Status != booking.StatusRefunded || res.BookingID != b.ID {
			t.Fatalf("first delivery: %+v", res)
		}
		if res := mb.handle(t, p); res.Outcome != booking.OutcomeDuplicate {
			t.Fatalf("same event again: %+v, want duplicate", res)
		}
		// Stripe may send a second Event object for the same change.
		p2 := chargeRefundedPayload("evt_ref_full_2", "ch_full", "pi_full", b.AmountTotal, b.AmountTotal, list)
		if res := mb.handle(t, p2); res.Outcome != booking.OutcomeDuplicate || res.Status != booking.StatusRefunded {
			t.Fatalf("second event object: %+v", res)
		}
		want(t, mb.booking(t, b.ID), booking.StatusRefunded, false, b.AmountTotal, b.AmountTotal)
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM refunds WHERE booking_id = $1`, b.ID); n != 1 {
			t.Fatalf("refund rows %d, want 1", n)
		}
		if out, bid := mb.ledger(t, "evt_ref_full"); out != "processed" || bid == nil || *bid != b.ID {
			t.Fatalf("ledger: %s %v", out, bid)
		}
		mb.check(t)
	})

	t.Run("a partial Dashboard refund leaves the booking confirmed with its refunded amount", func(t *testing.T) {
		t.Parallel()
		mb := newMoneyBundle(t, nil)
		b := mb.confirmed(t, "pi_part")
		res := mb.handle(t, chargeRefundedPayload("evt_part", "ch_part", "pi_part", b.AmountTotal, 2000, nil))
		if res.Outcome != booking.OutcomeProcessed || res.Status != booking.StatusConfirmed {
			t.Fatalf("partial refund: %+v", res)
		}
		want(t, mb.booking(t, b.ID), booking.StatusConfirmed, true, b.AmountTotal, 2000)
		// The same cumulative amount again adds nothing; a larger one adds the difference.
		if res := mb.handle(t, chargeRefundedPayload("evt_part_again", "ch_part", "pi_part", b.AmountTotal, 2000, nil)); res.Outcome != booking.OutcomeDuplicate {
			t.Fatalf("same cumulative amount: %+v", res)
		}
		mb.handle(t, chargeRefundedPayload("evt_part_rest", "ch_part", "pi_part", b.AmountTotal, b.AmountTotal, nil))
		want(t, mb.booking(t, b.ID), booking.StatusRefunded, false, b.AmountTotal, b.AmountTotal)
		mb.check(t)
	})

	t.Run("a refund list beyond what remains is not recorded", func(t *testing.T) {
		t.Parallel()
		mb := newMoneyBundle(t, nil)
		b := mb.confirmed(t, "pi_over")
		mb.handle(t, chargeRefundedPayload("evt_over_1", "ch_over", "pi_over", b.AmountTotal, 3000, nil))
		list := []map[string]any{{"id": "re_big", "amount": 3000, "currency": "eur", "status": "succeeded"}}
		res := mb.handle(t, chargeRefundedPayload("evt_over_2", "ch_over", "pi_over", b.AmountTotal, b.AmountTotal, list))
		if res.Outcome != booking.OutcomeDuplicate {
			t.Fatalf("over-refund: %+v, want duplicate (not recorded)", res)
		}
		want(t, mb.booking(t, b.ID), booking.StatusConfirmed, true, b.AmountTotal, 3000)
		mb.check(t)
	})

	t.Run("concurrent deliveries of one refund apply it once", func(t *testing.T) {
		t.Parallel()
		mb := newMoneyBundle(t, nil)
		b := mb.confirmed(t, "pi_conc")
		p := chargeRefundedPayload("evt_ref_conc", "ch_conc", "pi_conc", b.AmountTotal, b.AmountTotal, nil)
		ev, _ := payment.ParseStored(p)
		var wg sync.WaitGroup
		outcomes := make(chan booking.Outcome, 20)
		for range 20 {
			wg.Go(func() {
				e := *ev
				res, err := mb.ful.HandleEvent(context.Background(), &e)
				if err != nil {
					t.Errorf("handle: %v", err)
					return
				}
				outcomes <- res.Outcome
			})
		}
		wg.Wait()
		close(outcomes)
		n := map[booking.Outcome]int{}
		for o := range outcomes {
			n[o]++
		}
		if n[booking.OutcomeProcessed] != 1 || n[booking.OutcomeDuplicate] != 19 {
			t.Fatalf("outcomes %v, want 1 processed and 19 duplicates", n)
		}
		want(t, mb.booking(t, b.ID), booking.StatusRefunded, false, b.AmountTotal, b.AmountTotal)
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM booking_audit WHERE booking_id = $1 AND to_status = 'refunded'`, b.ID); n != 1 {
			t.Fatalf("audit rows to refunded: %d", n)
		}
		mb.check(t)
	})

	t.Run("a refund that arrives before its payment is applied in the payment's transaction", func(t *testing.T) {
		t.Parallel()
		mb := newMoneyBundle(t, nil)
		b := mb.pending(t)
		list := []map[string]any{{"id": "re_early", "amount": b.AmountTotal, "currency": "eur", "status": "succeeded"}}
		if res := mb.handle(t, chargeRefundedPayload("evt_early", "ch_early", "pi_early", b.AmountTotal, b.AmountTotal, list)); res.Outcome != booking.OutcomeUnmatched {
			t.Fatalf("early refund: %+v, want unmatched", res)
		}
		res := mb.handle(t, paidSessionPayload("evt_early_pay", b, "pi_early", b.AmountTotal))
		if res.Outcome != booking.OutcomeProcessed || len(res.Late) != 1 || res.Late[0].Outcome != booking.OutcomeProcessed {
			t.Fatalf("payment: %+v, want processed with the early refund applied", res)
		}
		want(t, mb.booking(t, b.ID), booking.StatusRefunded, false, b.AmountTotal, b.AmountTotal)
		// The original ledger row keeps its outcome; the application is beside it.
		if out, bid := mb.ledger(t, "evt_early"); out != "unmatched" || bid != nil {
			t.Fatalf("early refund ledger row: %s %v", out, bid)
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM webhook_event_replays WHERE stripe_event_id = 'evt_early'
			AND source = 'late' AND outcome = 'processed' AND booking_id = $1`, b.ID); n != 1 {
			t.Fatalf("late application rows %d, want 1", n)
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM pending_money_events`); n != 0 {
			t.Fatalf("%d events still waiting", n)
		}
		if res := mb.handle(t, paidSessionPayload("evt_early_pay", b, "pi_early", b.AmountTotal)); res.Outcome != booking.OutcomeDuplicate {
			t.Fatalf("redelivery: %+v", res)
		}
		mb.check(t)
	})
}

func TestDisputes(t *testing.T) {
	t.Parallel()

	t.Run("a dispute flags a confirmed booking and keeps its status and slot", func(t *testing.T) {
		t.Parallel()
		mb := newMoneyBundle(t, nil)
		b := mb.confirmed(t, "pi_dp")
		res := mb.handle(t, disputePayload("evt_dp", booking.EventDisputeCreated, "dp_1", "pi_dp", b.AmountTotal, "needs_response"))
		if res.Outcome != booking.OutcomeDisputed || res.Status != booking.StatusConfirmed {
			t.Fatalf("dispute: %+v", res)
		}
		want(t, mb.booking(t, b.ID), booking.StatusConfirmed, true, b.AmountTotal, 0)
		if res := mb.handle(t, disputePayload("evt_dp", booking.EventDisputeCreated, "dp_1", "pi_dp", b.AmountTotal, "needs_response")); res.Outcome != booking.OutcomeDuplicate {
			t.Fatalf("redelivery: %+v", res)
		}
		res = mb.handle(t, disputePayload("evt_dp_closed", booking.EventDisputeClosed, "dp_1", "pi_dp", b.AmountTotal, "lost"))
		if res.Outcome != booking.OutcomeProcessed || res.Status != booking.StatusConfirmed {
			t.Fatalf("closed: %+v", res)
		}
		d, _, err := mb.db.FindBookingDetail(context.Background(), b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Booking.Dispute; got == nil || got.ID != "dp_1" || got.Status != "lost" || !got.Closed || got.Amount != b.AmountTotal || got.Reason != "fraudulent" {
			t.Fatalf("dispute on the booking: %+v", got)
		}
		mb.check(t)
	})

	for _, order := range []string{"payment first", "dispute first", "close first"} {
		t.Run("payment and dispute end the same with the "+order, func(t *testing.T) {
			t.Parallel()
			mb := newMoneyBundle(t, nil)
			b := mb.pending(t)
			pay := paidSessionPayload("evt_o_pay", b, "pi_o", b.AmountTotal)
			created := disputePayload("evt_o_dp", booking.EventDisputeCreated, "dp_o", "pi_o", b.AmountTotal, "needs_response")
			closed := disputePayload("evt_o_cl", booking.EventDisputeClosed, "dp_o", "pi_o", b.AmountTotal, "won")
			var seq [][]byte
			switch order {
			case "payment first":
				seq = [][]byte{pay, created, closed}
			case "dispute first":
				seq = [][]byte{created, pay, closed}
			default:
				seq = [][]byte{closed, created, pay}
			}
			for _, p := range seq {
				mb.handle(t, p)
			}
			want(t, mb.booking(t, b.ID), booking.StatusConfirmed, true, b.AmountTotal, 0)
			d, _, err := mb.db.FindBookingDetail(context.Background(), b.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Booking.Dispute; got == nil || got.Status != "won" || !got.Closed {
				t.Fatalf("dispute: %+v", got)
			}
			mb.check(t)
		})
	}
}

// M2: money for a booking that will not happen is refunded automatically,
// with one idempotency key per payment, retried until the provider accepts.
func TestOwedRefunds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a payment after a staff cancel reaches the provider as one refund with an idempotency key", func(t *testing.T) {
		t.Parallel()
		fr := &fakeRefunder{}
		mb := newMoneyBundle(t, fr)
		b := mb.pending(t)
		if _, err := mb.desk.Cancel(ctx, b.ID, &booking.Staff{ID: "staff-1"}); err != nil {
			t.Fatal(err)
		}
		pay := paidSessionPayload("evt_late", b, "pi_late", b.AmountTotal)
		if res := mb.handle(t, pay); res.Outcome != booking.OutcomeRefunding || !res.RefundsOwed {
			t.Fatalf("payment after cancel: %+v", res)
		}
		want(t, mb.booking(t, b.ID), booking.StatusCancelled, false, b.AmountTotal, 0)
		mb.check(t) // owed, so not a violation
		for range 3 {
			if _, err := mb.refunds.RunDue(ctx); err != nil {
				t.Fatal(err)
			}
		}
		mb.handle(t, pay) // a redelivery changes nothing
		if n := fr.callCount(); n != 1 || fr.calls[0].IdempotencyKey != booking.AutoRefundKey(*b.StripeSessionID)+"-5000" ||
			fr.calls[0].Amount != b.AmountTotal || fr.calls[0].PaymentIntentID != "pi_late" {
			t.Fatalf("provider calls %+v, want one for the whole payment with the session's key", fr.calls)
		}
		want(t, mb.booking(t, b.ID), booking.StatusRefunded, false, b.AmountTotal, b.AmountTotal)
		mb.check(t)
	})

	t.Run("a refund that keeps failing flags the booking for review, then succeeds", func(t *testing.T) {
		t.Parallel()
		fr := &fakeRefunder{fails: booking.RefundReviewAfter}
		mb := newMoneyBundle(t, fr)
		b := mb.pending(t)
		if _, err := mb.db.Pool.Exec(ctx, `UPDATE bookings SET status = 'payment_failed' WHERE id = $1`, b.ID); err != nil {
			t.Fatal(err)
		}
		mb.handle(t, paidSessionPayload("evt_pf", b, "pi_pf", b.AmountTotal))
		for i := 1; i <= booking.RefundReviewAfter; i++ {
			mb.now = mb.now.Add(7 * time.Hour) // past any backoff
			if _, err := mb.refunds.RunDue(ctx); err != nil {
				t.Fatal(err)
			}
			got := mb.booking(t, b.ID)
			if i < booking.RefundReviewAfter && got.Status != booking.StatusPaymentFailed {
				t.Fatalf("after %d failures: %s", i, got.Status)
			}
		}
		got := mb.booking(t, b.ID)
		want(t, got, booking.StatusNeedsReview, false, b.AmountTotal, 0)
		if got.ReviewReason == "" {
			t.Fatal("no review reason")
		}
		mb.check(t) // still owed, retried
		mb.now = mb.now.Add(7 * time.Hour)
		if n, err := mb.refunds.RunDue(ctx); err != nil || n != 1 {
			t.Fatalf("retry: %d, %v", n, err)
		}
		want(t, mb.booking(t, b.ID), booking.StatusRefunded, false, b.AmountTotal, b.AmountTotal)
		keys := map[string]bool{}
		for _, c := range fr.calls {
			keys[c.IdempotencyKey] = true
		}
		if len(fr.calls) != booking.RefundReviewAfter+1 || len(keys) != 1 {
			t.Fatalf("calls %d with %d keys, want %d with one key", len(fr.calls), len(keys), booking.RefundReviewAfter+1)
		}
		mb.check(t)
	})

	t.Run("accepting a booking under review keeps the money and cancels its owed refund", func(t *testing.T) {
		t.Parallel()
		fr := &fakeRefunder{fails: 100}
		mb := newMoneyBundle(t, fr)
		b := mb.pending(t)
		mb.handle(t, paidSessionPayload("evt_mm", b, "pi_mm", b.AmountTotal-1000)) // amount mismatch
		got := mb.booking(t, b.ID)
		want(t, got, booking.StatusNeedsReview, true, b.AmountTotal-1000, 0)
		st, err := mb.desk.Accept(ctx, b.ID, &booking.Staff{ID: "staff-2"})
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != booking.StatusConfirmed || !st.HoldsSlot {
			t.Fatalf("accepted: %+v", st)
		}
		if _, err := mb.desk.Accept(ctx, b.ID, &booking.Staff{ID: "staff-2"}); booking.ErrorCode(err) != booking.EConflict {
			t.Fatalf("second accept: %v, want conflict", err)
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM booking_audit WHERE booking_id = $1 AND to_status = 'confirmed'
			AND cause = 'staff' AND cause_ref = 'staff-2'`, b.ID); n != 1 {
			t.Fatalf("accept audit rows %d", n)
		}
		mb.check(t)
	})
}

// A refund the product makes and the charge.refunded event that reports
// it count once, whichever is recorded first.
func TestOwnRefundAndItsEventCountOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, order := range []string{"event first", "refund first"} {
		t.Run(order, func(t *testing.T) {
			t.Parallel()
			fr := &fakeRefunder{}
			mb := newMoneyBundle(t, fr)
			b := mb.confirmed(t, "pi_once")
			event := func() {
				mb.handle(t, chargeRefundedPayload("evt_rf_once", "ch_once", "pi_once", b.AmountTotal, b.AmountTotal, nil))
			}
			if order == "event first" {
				// The Dashboard refunds while staff ask for a refund.
				event()
			}
			_, err := mb.desk.Cancel(ctx, b.ID, &booking.Staff{ID: "staff-3"})
			if order == "event first" {
				if booking.ErrorCode(err) != booking.EConflict {
					t.Fatalf("cancel of a refunded booking: %v, want conflict", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if order == "refund first" {
				event()
			}
			want(t, mb.booking(t, b.ID), booking.StatusRefunded, false, b.AmountTotal, b.AmountTotal)
			mb.check(t)
		})
	}
}
