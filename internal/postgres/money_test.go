package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
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
		"created": time.Now().Unix(), "livemode": false, "pending_webhooks": 1,
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

func disputePayload(id, disputeID, chargeID, pi string, amount int64) []byte {
	return moneyEvent(id, booking.EventDisputeCreated, map[string]any{
		"id": disputeID, "object": "dispute", "amount": amount, "currency": "eur", "reason": "fraudulent",
		"charge": chargeID, "payment_intent": pi, "status": "needs_response",
	})
}

type moneyBundle struct {
	db  *postgres.DB
	svc *booking.Service
	res *booking.Resource
}

func newMoneyBundle(t *testing.T, refunder booking.Refunder) *moneyBundle {
	t.Helper()
	db := pgtest.NewDB(t)
	return &moneyBundle{
		db:  db,
		res: pgtest.CreateResource(t, db, pgtest.ResourceOpts{}),
		svc: &booking.Service{Store: db, Refunder: refunder, Hold: 30 * time.Minute, Now: time.Now,
			Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))},
	}
}

// handle parses payload as a stored event and processes it.
func (mb *moneyBundle) handle(t *testing.T, payload []byte, source string) *booking.EventResult {
	t.Helper()
	ev, err := payment.ParseStored(payload)
	if err != nil {
		t.Fatalf("parse event: %v", err)
	}
	ev.Source = source
	res, err := mb.svc.HandleEvent(context.Background(), ev)
	if err != nil {
		t.Fatalf("handle %s: %v", ev.ID, err)
	}
	return res
}

// confirmed creates a booking and pays it through the webhook path.
func (mb *moneyBundle) confirmed(t *testing.T, pi string) *booking.Booking {
	t.Helper()
	b := pgtest.CreateBooking(t, mb.db, mb.res, pgtest.BookingOpts{})
	if res := mb.handle(t, paidSessionPayload("evt_pay_"+pi, b, pi, b.AmountTotal), "webhook"); res.Status != booking.StatusConfirmed {
		t.Fatalf("pay: status %s, want confirmed", res.Status)
	}
	return b
}

func (mb *moneyBundle) status(t *testing.T, id string) (booking.Status, string) {
	t.Helper()
	b, err := mb.db.FindBooking(context.Background(), id)
	if err != nil {
		t.Fatalf("find booking: %v", err)
	}
	return b.Status, b.ReviewReason
}

type auditRow struct{ From, To, Cause, Ref string }

func (mb *moneyBundle) audit(t *testing.T, bookingID string) []auditRow {
	t.Helper()
	rows, err := mb.db.Pool.Query(context.Background(),
		`SELECT coalesce(from_status, ''), to_status, cause, cause_ref FROM booking_audit WHERE booking_id = $1 ORDER BY id`, bookingID)
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.From, &r.To, &r.Cause, &r.Ref); err != nil {
			t.Fatalf("audit scan: %v", err)
		}
		out = append(out, r)
	}
	return out
}

func (mb *moneyBundle) ledger(t *testing.T, eventID string) (outcome, detail string, bookingID *string) {
	t.Helper()
	err := mb.db.Pool.QueryRow(context.Background(),
		`SELECT outcome, detail, booking_id::text FROM webhook_events WHERE stripe_event_id = $1`, eventID).Scan(&outcome, &detail, &bookingID)
	if err != nil {
		t.Fatalf("ledger row %s: %v", eventID, err)
	}
	return outcome, detail, bookingID
}

func TestChargeRefunded(t *testing.T) {
	t.Parallel()

	t.Run("full refund moves a confirmed booking to refunded once", func(t *testing.T) {
		t.Parallel()
		mb := newMoneyBundle(t, nil)
		b := mb.confirmed(t, "pi_full")
		list := []map[string]any{{"id": "re_full", "amount": b.AmountTotal, "currency": "eur", "status": "succeeded"}}
		p := chargeRefundedPayload("evt_ref_full", "ch_full", "pi_full", b.AmountTotal, b.AmountTotal, list)
		if res := mb.handle(t, p, "webhook"); res.Outcome != booking.OutcomeProcessed || res.Status != booking.StatusRefunded || res.BookingID != b.ID {
			t.Fatalf("first delivery: %+v", res)
		}
		if res := mb.handle(t, p, "webhook"); res.Outcome != booking.OutcomeDuplicate {
			t.Fatalf("same event again: outcome %s, want duplicate", res.Outcome)
		}
		// Stripe may send a second Event object for the same change.
		p2 := chargeRefundedPayload("evt_ref_full_2", "ch_full", "pi_full", b.AmountTotal, b.AmountTotal, list)
		if res := mb.handle(t, p2, "webhook"); res.Outcome != booking.OutcomeDuplicate || res.Status != booking.StatusRefunded {
			t.Fatalf("second event object: %+v", res)
		}
		if s, _ := mb.status(t, b.ID); s != booking.StatusRefunded {
			t.Fatalf("status %s", s)
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM refunds WHERE booking_id = $1 AND stripe_refund_id = 're_full' AND source = 'webhook' AND amount = $2`, b.ID, b.AmountTotal); n != 1 {
			t.Fatalf("refund rows: %d, want 1", n)
		}
		a := mb.audit(t, b.ID)
		if last := a[len(a)-1]; last != (auditRow{"confirmed", "refunded", "stripe_event", "evt_ref_full"}) || len(a) != 3 {
			t.Fatalf("audit: %+v", a)
		}
		if out, _, bid := mb.ledger(t, "evt_ref_full"); out != "processed" || bid == nil || *bid != b.ID {
			t.Fatalf("ledger: %s %v", out, bid)
		}
	})

	t.Run("a staff refund already applied is only confirmed", func(t *testing.T) {
		t.Parallel()
		mb := newMoneyBundle(t, nil)
		b := mb.confirmed(t, "pi_staff")
		staff := booking.Refund{ID: "re_staff", Amount: b.AmountTotal, Currency: "eur", Status: "succeeded"}
		if err := mb.db.RecordRefund(context.Background(), b.ID, staff, booking.RefundSourceStaff, booking.Cause{Kind: booking.CauseStaff, Ref: "staff-1"}); err != nil {
			t.Fatal(err)
		}
		list := []map[string]any{{"id": "re_staff", "amount": b.AmountTotal, "currency": "eur", "status": "succeeded"}}
		res := mb.handle(t, chargeRefundedPayload("evt_ref_staff", "ch_staff", "pi_staff", b.AmountTotal, b.AmountTotal, list), "webhook")
		if res.Outcome != booking.OutcomeDuplicate || res.Status != booking.StatusRefunded {
			t.Fatalf("result %+v, want duplicate on a refunded booking", res)
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM refunds WHERE booking_id = $1`, b.ID); n != 1 {
			t.Fatalf("refund rows: %d, want 1 (the staff one)", n)
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM booking_audit WHERE booking_id = $1 AND to_status = 'refunded'`, b.ID); n != 1 {
			t.Fatalf("audit rows to refunded: %d", n)
		}
	})

	t.Run("without the refunds list the cumulative amount is recorded once", func(t *testing.T) {
		t.Parallel()
		mb := newMoneyBundle(t, nil)
		b := mb.confirmed(t, "pi_nolist")
		half := b.AmountTotal / 2
		res := mb.handle(t, chargeRefundedPayload("evt_part", "ch_nolist", "pi_nolist", b.AmountTotal, half, nil), "webhook")
		if res.Outcome != booking.OutcomeProcessed || res.Status != booking.StatusConfirmed || !strings.HasPrefix(res.Detail, "partial refund") {
			t.Fatalf("partial: %+v", res)
		}
		res = mb.handle(t, chargeRefundedPayload("evt_rest", "ch_nolist", "pi_nolist", b.AmountTotal, b.AmountTotal, nil), "webhook")
		if res.Outcome != booking.OutcomeProcessed || res.Status != booking.StatusRefunded {
			t.Fatalf("rest: %+v", res)
		}
		// A second Event object for the last change adds nothing.
		res = mb.handle(t, chargeRefundedPayload("evt_rest_2", "ch_nolist", "pi_nolist", b.AmountTotal, b.AmountTotal, nil), "webhook")
		if res.Outcome != booking.OutcomeDuplicate {
			t.Fatalf("repeat: %+v", res)
		}
		var sum int64
		if err := mb.db.Pool.QueryRow(context.Background(), `SELECT sum(amount) FROM refunds WHERE booking_id = $1`, b.ID).Scan(&sum); err != nil {
			t.Fatal(err)
		}
		if sum != b.AmountTotal || pgtest.Count(t, mb.db, `SELECT count(*) FROM refunds WHERE booking_id = $1`, b.ID) != 2 {
			t.Fatalf("refunded sum %d in rows, want %d in 2 rows", sum, b.AmountTotal)
		}
	})

	t.Run("a charge paying no booking is recorded as unmatched", func(t *testing.T) {
		t.Parallel()
		mb := newMoneyBundle(t, nil)
		res := mb.handle(t, chargeRefundedPayload("evt_ref_other", "ch_other", "pi_other", 1000, 1000, nil), "webhook")
		if res.Outcome != booking.OutcomeUnmatched {
			t.Fatalf("outcome %s", res.Outcome)
		}
		if out, _, bid := mb.ledger(t, "evt_ref_other"); out != "unmatched" || bid != nil {
			t.Fatalf("ledger %s %v", out, bid)
		}
	})

	t.Run("concurrent deliveries of one refund apply it once", func(t *testing.T) {
		t.Parallel()
		mb := newMoneyBundle(t, nil)
		b := mb.confirmed(t, "pi_conc")
		list := []map[string]any{{"id": "re_conc", "amount": b.AmountTotal, "currency": "eur", "status": "succeeded"}}
		var wg sync.WaitGroup
		outcomes := make(chan booking.Outcome, 8)
		for i := range 8 {
			wg.Go(func() {
				// Half the deliveries are distinct Event objects for the same refund.
				id := "evt_conc_a"
				if i%2 == 1 {
					id = "evt_conc_b"
				}
				outcomes <- mb.handle(t, chargeRefundedPayload(id, "ch_conc", "pi_conc", b.AmountTotal, b.AmountTotal, list), "webhook").Outcome
			})
		}
		wg.Wait()
		close(outcomes)
		processed := 0
		for o := range outcomes {
			if o == booking.OutcomeProcessed {
				processed++
			}
		}
		if processed != 1 {
			t.Fatalf("processed %d times, want 1", processed)
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM refunds WHERE booking_id = $1`, b.ID); n != 1 {
			t.Fatalf("refund rows %d", n)
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM booking_audit WHERE booking_id = $1 AND to_status = 'refunded'`, b.ID); n != 1 {
			t.Fatalf("audit rows %d", n)
		}
	})
}

func TestDisputeCreated(t *testing.T) {
	t.Parallel()

	t.Run("flags a confirmed booking for review", func(t *testing.T) {
		t.Parallel()
		mb := newMoneyBundle(t, nil)
		b := mb.confirmed(t, "pi_disp")
		p := disputePayload("evt_disp", "dp_1", "ch_disp", "pi_disp", b.AmountTotal)
		res := mb.handle(t, p, "webhook")
		if res.Outcome != booking.OutcomeDisputed || res.Status != booking.StatusNeedsReview {
			t.Fatalf("result %+v", res)
		}
		if s, reason := mb.status(t, b.ID); s != booking.StatusNeedsReview || reason != booking.ReasonDisputed {
			t.Fatalf("booking %s %q", s, reason)
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM disputes WHERE booking_id = $1 AND stripe_dispute_id = 'dp_1'
			AND stripe_charge_id = 'ch_disp' AND amount = $2 AND currency = 'eur' AND reason = 'fraudulent'`, b.ID, b.AmountTotal); n != 1 {
			t.Fatalf("dispute rows %d", n)
		}
		a := mb.audit(t, b.ID)
		if last := a[len(a)-1]; last != (auditRow{"confirmed", "needs_review", "stripe_event", "evt_disp"}) {
			t.Fatalf("audit %+v", a)
		}
		if out, detail, _ := mb.ledger(t, "evt_disp"); out != "disputed" || !strings.Contains(detail, "fraudulent") {
			t.Fatalf("ledger %s %q", out, detail)
		}
		if res := mb.handle(t, p, "webhook"); res.Outcome != booking.OutcomeDuplicate {
			t.Fatalf("redelivery: %s", res.Outcome)
		}
		if res := mb.handle(t, disputePayload("evt_disp_2", "dp_1", "ch_disp", "pi_disp", b.AmountTotal), "webhook"); res.Outcome != booking.OutcomeDuplicate {
			t.Fatalf("second event object: %s", res.Outcome)
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM disputes`); n != 1 {
			t.Fatalf("dispute rows %d", n)
		}
	})

	t.Run("an unmatched dispute is still recorded", func(t *testing.T) {
		t.Parallel()
		mb := newMoneyBundle(t, nil)
		res := mb.handle(t, disputePayload("evt_disp_x", "dp_x", "ch_x", "pi_unknown", 700), "webhook")
		if res.Outcome != booking.OutcomeUnmatched {
			t.Fatalf("outcome %s", res.Outcome)
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM disputes WHERE stripe_dispute_id = 'dp_x' AND booking_id IS NULL`); n != 1 {
			t.Fatalf("dispute rows %d", n)
		}
	})

	t.Run("a refunded booking keeps its status", func(t *testing.T) {
		t.Parallel()
		mb := newMoneyBundle(t, nil)
		b := mb.confirmed(t, "pi_dr")
		mb.handle(t, chargeRefundedPayload("evt_dr_ref", "ch_dr", "pi_dr", b.AmountTotal, b.AmountTotal, nil), "webhook")
		res := mb.handle(t, disputePayload("evt_dr", "dp_dr", "ch_dr", "pi_dr", b.AmountTotal), "webhook")
		if res.Outcome != booking.OutcomeDisputed || res.Status != booking.StatusRefunded {
			t.Fatalf("result %+v", res)
		}
	})
}

// stripeMockURL is the local stripe-mock (STRIPE_MOCK_URL).
func stripeMockURL() string {
	if u := os.Getenv("STRIPE_MOCK_URL"); u != "" {
		return u
	}
	return "http://127.0.0.1:12111"
}

// keyRecorder wraps a refunder and records the idempotency keys it is asked for.
type keyRecorder struct {
	mu   sync.Mutex
	keys []string
	next booking.Refunder
	fail bool
}

func (k *keyRecorder) Refund(ctx context.Context, req booking.RefundRequest) (*booking.Refund, error) {
	k.mu.Lock()
	k.keys = append(k.keys, req.IdempotencyKey)
	fail := k.fail
	k.mu.Unlock()
	if fail {
		return nil, booking.WrapError(booking.EPaymentProvider, "The payment provider could not be reached.", errors.New("refund refused"))
	}
	return k.next.Refund(ctx, req)
}

func TestLatePaymentAutoRefund(t *testing.T) {
	t.Parallel()
	mock := payment.NewStripe(payment.StripeOpts{SecretKey: "sk_test_123", APIBase: stripeMockURL(), Timeout: 5 * time.Second})

	// latePaid returns an expired booking whose slot another booking took,
	// and the event paying it.
	latePaid := func(t *testing.T, mb *moneyBundle) (*booking.Booking, []byte) {
		t.Helper()
		start := time.Now().UTC().Truncate(time.Hour).Add(72 * time.Hour)
		late := pgtest.CreateBooking(t, mb.db, mb.res, pgtest.BookingOpts{StartsAt: start, Status: booking.StatusExpired, HoldUntil: time.Now().Add(-time.Minute)})
		pgtest.CreateBooking(t, mb.db, mb.res, pgtest.BookingOpts{StartsAt: start, Status: booking.StatusConfirmed})
		return late, paidSessionPayload("evt_late", late, "pi_late", late.AmountTotal)
	}

	t.Run("refunded after commit with the session's idempotency key", func(t *testing.T) {
		t.Parallel()
		rec := &keyRecorder{next: mock}
		mb := newMoneyBundle(t, rec)
		late, p := latePaid(t, mb)
		res := mb.handle(t, p, "webhook")
		if res.Outcome != booking.OutcomeNeedsReview || res.Status != booking.StatusRefunded {
			t.Fatalf("result %+v, want outcome needs_review and status refunded", res)
		}
		if len(rec.keys) != 1 || rec.keys[0] != "auto-refund-"+*late.StripeSessionID {
			t.Fatalf("idempotency keys %v", rec.keys)
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM refunds WHERE booking_id = $1 AND source = 'auto'`, late.ID); n != 1 {
			t.Fatalf("auto refund rows %d", n)
		}
		a := mb.audit(t, late.ID)
		want := []auditRow{{"", "expired", "system", "test"}, {"expired", "needs_review", "stripe_event", "evt_late"},
			{"needs_review", "refunded", "system", "auto_refund"}}
		if len(a) != 3 || a[0] != want[0] || a[1] != want[1] || a[2] != want[2] {
			t.Fatalf("audit %+v", a)
		}
		// A replay finds nothing left to do.
		if res := mb.handle(t, p, "replay"); res.Outcome != booking.OutcomeDuplicate || len(rec.keys) != 1 {
			t.Fatalf("replay: %+v, refund calls %d", res, len(rec.keys))
		}
	})

	t.Run("a refused refund leaves the booking for review and a replay retries it", func(t *testing.T) {
		t.Parallel()
		rec := &keyRecorder{next: mock, fail: true}
		mb := newMoneyBundle(t, rec)
		late, p := latePaid(t, mb)
		res := mb.handle(t, p, "webhook")
		if res.Outcome != booking.OutcomeNeedsReview || res.Status != booking.StatusNeedsReview {
			t.Fatalf("result %+v", res)
		}
		if s, reason := mb.status(t, late.ID); s != booking.StatusNeedsReview || reason != booking.ReasonSlotTaken {
			t.Fatalf("booking %s %q", s, reason)
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM refunds`); n != 0 {
			t.Fatalf("refund rows %d", n)
		}
		rec.mu.Lock()
		rec.fail = false
		rec.mu.Unlock()
		res = mb.handle(t, p, "replay")
		if res.Status != booking.StatusRefunded {
			t.Fatalf("replay: %+v", res)
		}
		if len(rec.keys) != 2 || rec.keys[0] != rec.keys[1] {
			t.Fatalf("keys %v: a retry must reuse the key", rec.keys)
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM refunds WHERE source = 'auto'`); n != 1 {
			t.Fatalf("refund rows %d", n)
		}
	})

	t.Run("a refused refund is retried by RetryAutoRefunds with the same key", func(t *testing.T) {
		t.Parallel()
		rec := &keyRecorder{next: mock, fail: true}
		mb := newMoneyBundle(t, rec)
		late, p := latePaid(t, mb)
		if res := mb.handle(t, p, "webhook"); res.Status != booking.StatusNeedsReview {
			t.Fatalf("result %+v", res)
		}
		ctx := context.Background()
		// A booking changed less than olderThan ago is left to its own event.
		if n, err := mb.svc.RetryAutoRefunds(ctx, time.Hour); err != nil || n != 0 || len(rec.keys) != 1 {
			t.Fatalf("fresh booking retried: n %d err %v calls %d", n, err, len(rec.keys))
		}
		// Stripe still refusing: nothing changes, the next round tries again.
		if n, err := mb.svc.RetryAutoRefunds(ctx, 0); err != nil || n != 0 {
			t.Fatalf("refused retry: n %d err %v", n, err)
		}
		rec.mu.Lock()
		rec.fail = false
		rec.mu.Unlock()
		if n, err := mb.svc.RetryAutoRefunds(ctx, 0); err != nil || n != 1 {
			t.Fatalf("retry: n %d err %v", n, err)
		}
		if s, _ := mb.status(t, late.ID); s != booking.StatusRefunded {
			t.Fatalf("status %s, want refunded", s)
		}
		want := "auto-refund-" + *late.StripeSessionID
		for _, k := range rec.keys {
			if k != want {
				t.Fatalf("keys %v, want all %s", rec.keys, want)
			}
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM refunds WHERE booking_id = $1 AND source = 'auto'`, late.ID); n != 1 {
			t.Fatalf("auto refund rows %d", n)
		}
		// Nothing left to retry.
		if n, err := mb.svc.RetryAutoRefunds(ctx, 0); err != nil || n != 0 || len(rec.keys) != 3 {
			t.Fatalf("after refund: n %d err %v calls %d", n, err, len(rec.keys))
		}
	})

	t.Run("no refunder configured leaves it for review", func(t *testing.T) {
		t.Parallel()
		mb := newMoneyBundle(t, nil)
		late, p := latePaid(t, mb)
		if res := mb.handle(t, p, "webhook"); res.Status != booking.StatusNeedsReview {
			t.Fatalf("result %+v", res)
		}
		if s, _ := mb.status(t, late.ID); s != booking.StatusNeedsReview {
			t.Fatalf("status %s", s)
		}
	})
}

// A charge.refunded event without its refunds list can be processed between
// a staff refund call and the recording of that refund; the money must be
// counted once either way round.
func TestOwnRefundAfterListlessChargeRefundedCountsOnce(t *testing.T) {
	t.Parallel()
	mb := newMoneyBundle(t, nil)
	ctx := context.Background()
	for _, order := range []string{"event first", "refund first"} {
		t.Run(order, func(t *testing.T) {
			pi := "pi_once_" + strings.ReplaceAll(order, " ", "_")
			b := mb.confirmed(t, pi)
			event := func() {
				mb.handle(t, chargeRefundedPayload("evt_rf_"+pi, "ch_"+pi, pi, b.AmountTotal, b.AmountTotal, nil), "webhook")
			}
			own := func() {
				r := booking.Refund{ID: "re_" + pi, Amount: b.AmountTotal, Currency: b.Currency}
				if err := mb.db.RecordRefund(ctx, b.ID, r, booking.RefundSourceStaff, booking.Cause{Kind: booking.CauseStaff, Ref: "u1"}); err != nil {
					t.Fatal(err)
				}
			}
			if order == "event first" {
				event()
				own()
			} else {
				own()
				event()
			}
			if sum := pgtest.Count(t, mb.db, `SELECT coalesce(sum(amount), 0)::int FROM refunds WHERE booking_id = $1`, b.ID); sum != int(b.AmountTotal) {
				t.Fatalf("refunded %d, want %d (counted once)", sum, b.AmountTotal)
			}
			if st, _ := mb.status(t, b.ID); st != booking.StatusRefunded {
				t.Fatalf("status %s, want refunded", st)
			}
		})
	}
}

// A refund event that arrives before the payment it refunds is stored as
// unmatched, then applied as soon as the payment is recorded.
func TestRefundBeforePaymentAppliedWithThePayment(t *testing.T) {
	t.Parallel()
	mb := newMoneyBundle(t, nil)
	mb.svc.ParseStored = payment.ParseStored
	b := pgtest.CreateBooking(t, mb.db, mb.res, pgtest.BookingOpts{})
	refunds := []map[string]any{{"id": "re_early", "object": "refund", "amount": b.AmountTotal, "currency": "eur", "status": "succeeded"}}
	if res := mb.handle(t, chargeRefundedPayload("evt_early_refund", "ch_early", "pi_early", b.AmountTotal, b.AmountTotal, refunds), "webhook"); res.Outcome != booking.OutcomeUnmatched {
		t.Fatalf("early refund: %+v, want unmatched", res)
	}
	if res := mb.handle(t, paidSessionPayload("evt_early_pay", b, "pi_early", b.AmountTotal), "webhook"); res.Outcome != booking.OutcomeProcessed || len(res.UnmatchedMoney) != 1 {
		t.Fatalf("payment: %+v, want processed with one early event", res)
	}
	if st, _ := mb.status(t, b.ID); st != booking.StatusRefunded {
		t.Fatalf("status %s, want refunded", st)
	}
	if outcome, _, id := mb.ledger(t, "evt_early_refund"); outcome != string(booking.OutcomeProcessed) || id == nil || *id != b.ID {
		t.Fatalf("early refund ledger row: %s %v", outcome, id)
	}
	if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM refunds WHERE booking_id = $1 AND stripe_refund_id = 're_early'`, b.ID); n != 1 {
		t.Fatalf("refund rows %d, want 1", n)
	}
	// The payment's redelivery finds nothing more to do.
	if res := mb.handle(t, paidSessionPayload("evt_early_pay", b, "pi_early", b.AmountTotal), "webhook"); res.Outcome != booking.OutcomeDuplicate {
		t.Fatalf("redelivery: %+v", res)
	}
	if n := pgtest.Count(t, mb.db, `SELECT replay_count FROM webhook_events WHERE stripe_event_id = 'evt_early_refund'`); n != 1 {
		t.Fatalf("early refund applied %d times after arrival, want 1", n)
	}
}
