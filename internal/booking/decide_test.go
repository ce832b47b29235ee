package booking_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
)

var now = time.Date(2030, 1, 7, 9, 0, 0, 0, time.UTC)

const (
	price    = 5000
	currency = "eur"
)

// state is a booking in status s; paid adds a payment of the whole price
// made through session cs_1 with PaymentIntent pi_1.
func state(s booking.Status, paid bool) *booking.State {
	b := booking.Booking{ID: "8b0e1a52-2a8f-4a4e-9d55-0f4c1f0f4b1a", Status: s, AmountTotal: price, Currency: currency,
		HoldsSlot: s.HoldsSlot()}
	st := &booking.State{Booking: b}
	if paid {
		st.Payments = []booking.Payment{{ID: 1, SessionID: "cs_1", PaymentIntentID: "pi_1", Amount: price, Currency: currency}}
		st.Booking.AmountPaid = price
	}
	return st
}

func sessionEvent(typ, payStatus string) *booking.PaymentEvent {
	return &booking.PaymentEvent{ID: "evt_1", Type: typ, Source: booking.SourceWebhook, SessionID: "cs_1",
		PaymentStatus: payStatus, AmountTotal: price, Currency: currency, PaymentIntentID: "pi_1"}
}

// after is what a plan leaves: the status, whether the slot is held, and
// what was recorded or owed.
type after struct {
	outcome  booking.Outcome
	status   booking.Status // "" for no change of the row
	holds    bool
	payment  bool
	owe      int
	fallback booking.Outcome // outcome of the fallback, when there is one
}

func checkPlan(t *testing.T, st *booking.State, p booking.Plan, w after) {
	t.Helper()
	got := after{outcome: p.Outcome, payment: p.Payment != nil, owe: len(p.Owe)}
	if p.After != nil {
		got.status, got.holds = p.After.Status, p.After.HoldsSlot
	} else {
		got.holds = st.Booking.HoldsSlot
	}
	if p.Fallback != nil {
		got.fallback = p.Fallback.Outcome
	}
	if w.status == "" && p.After != nil && p.After.Status == st.Booking.Status {
		got.status = "" // money recorded, status unchanged
	}
	if got != w {
		t.Errorf("plan %+v\n got %+v\nwant %+v", p, got, w)
	}
}

// TestDecideCheckout covers the lifecycle rules of SPEC §3 and the money
// rules of §3.1 for Checkout Session events.
func TestDecideCheckout(t *testing.T) {
	t.Parallel()
	const (
		completed = booking.EventCheckoutCompleted
		succeeded = booking.EventCheckoutAsyncSucceeded
		failed    = booking.EventCheckoutAsyncFailed
		expired   = booking.EventCheckoutExpired
	)
	confirm := after{outcome: booking.OutcomeProcessed, status: booking.StatusConfirmed, holds: true, payment: true}
	refunding := func(s booking.Status) after {
		return after{outcome: booking.OutcomeRefunding, status: "", holds: s.HoldsSlot(), payment: true, owe: 1}
	}
	tests := []struct {
		name   string
		status booking.Status
		paid   bool // a payment of this session is recorded
		ev     *booking.PaymentEvent
		want   after
	}{
		{"paid pending is confirmed", booking.StatusPending, false, sessionEvent(completed, "paid"), confirm},
		{"async success confirms", booking.StatusAwaitingPayment, false, sessionEvent(succeeded, "paid"), confirm},
		{"no payment required confirms", booking.StatusPending, false, sessionEvent(completed, "no_payment_required"), confirm},
		{"payment already recorded", booking.StatusConfirmed, true, sessionEvent(completed, "paid"),
			after{outcome: booking.OutcomeDuplicate, holds: true}},
		{"paid after expiry takes the slot back, or is refunded", booking.StatusExpired, false, sessionEvent(completed, "paid"),
			after{outcome: booking.OutcomeProcessed, status: booking.StatusConfirmed, holds: true, payment: true, fallback: booking.OutcomeRefunding}},
		{"paid a cancelled booking is refunded (M2)", booking.StatusCancelled, false, sessionEvent(completed, "paid"), refunding(booking.StatusCancelled)},
		{"paid a failed booking is refunded (M2)", booking.StatusPaymentFailed, false, sessionEvent(succeeded, "paid"), refunding(booking.StatusPaymentFailed)},
		{"paid a refunded booking is refunded (M2)", booking.StatusRefunded, false, sessionEvent(completed, "paid"), refunding(booking.StatusRefunded)},
		{"unpaid completion awaits payment", booking.StatusPending, false, sessionEvent(completed, "unpaid"),
			after{outcome: booking.OutcomeProcessed, status: booking.StatusAwaitingPayment, holds: true}},
		{"unpaid completion again", booking.StatusAwaitingPayment, false, sessionEvent(completed, "unpaid"),
			after{outcome: booking.OutcomeDuplicate, holds: true}},
		{"unpaid completion of a confirmed booking", booking.StatusConfirmed, true, sessionEvent(completed, "unpaid"),
			after{outcome: booking.OutcomeIgnored, holds: true}},
		{"async failure releases the slot", booking.StatusAwaitingPayment, false, sessionEvent(failed, "unpaid"),
			after{outcome: booking.OutcomeProcessed, status: booking.StatusPaymentFailed}},
		{"async failure of a confirmed booking", booking.StatusConfirmed, true, sessionEvent(failed, "unpaid"),
			after{outcome: booking.OutcomeIgnored, holds: true}},
		{"expiry releases a hold", booking.StatusPending, false, sessionEvent(expired, "unpaid"),
			after{outcome: booking.OutcomeProcessed, status: booking.StatusExpired}},
		{"expiry of a confirmed booking", booking.StatusConfirmed, true, sessionEvent(expired, "unpaid"),
			after{outcome: booking.OutcomeIgnored, holds: true}},
		{"expiry again", booking.StatusExpired, false, sessionEvent(expired, "unpaid"), after{outcome: booking.OutcomeDuplicate}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := state(tt.status, tt.paid)
			p := booking.Decide(st, tt.ev, now)
			checkPlan(t, st, p, tt.want)
			if p.After != nil && p.After.AmountPaid != st.Booking.AmountPaid+map[bool]int64{true: price}[p.Payment != nil] {
				t.Errorf("paid %d after the plan", p.After.AmountPaid)
			}
		})
	}

	t.Run("a second payment of a confirmed booking is refunded and it stays confirmed", func(t *testing.T) {
		t.Parallel()
		st := state(booking.StatusConfirmed, true)
		ev := sessionEvent(completed, "paid")
		ev.SessionID, ev.PaymentIntentID = "cs_2", "pi_2"
		p := booking.Decide(st, ev, now)
		checkPlan(t, st, p, refunding(booking.StatusConfirmed))
		if p.Owe[0].IdempotencyKey != booking.AutoRefundKey("cs_2") || p.Owe[0].Amount != price || p.Owe[0].PaymentID != 0 {
			t.Errorf("owed %+v", p.Owe[0])
		}
	})

	t.Run("an amount mismatch keeps the slot for review (M1)", func(t *testing.T) {
		t.Parallel()
		for _, s := range []booking.Status{booking.StatusPending, booking.StatusAwaitingPayment} {
			st := state(s, false)
			ev := sessionEvent(completed, "paid")
			ev.AmountTotal = 4000
			p := booking.Decide(st, ev, now)
			checkPlan(t, st, p, after{outcome: booking.OutcomeAmountMismatch, status: booking.StatusNeedsReview, holds: true, payment: true})
			if p.After.ReviewReason == "" {
				t.Error("no review reason")
			}
		}
	})

	t.Run("a payment for a booking under review that holds its slot waits for staff", func(t *testing.T) {
		t.Parallel()
		st := state(booking.StatusNeedsReview, true)
		st.Booking.HoldsSlot = true
		ev := sessionEvent(completed, "paid")
		ev.SessionID, ev.PaymentIntentID = "cs_2", "pi_2"
		checkPlan(t, st, booking.Decide(st, ev, now), after{outcome: booking.OutcomeNeedsReview, holds: true, payment: true})
		st.Booking.HoldsSlot = false
		checkPlan(t, st, booking.Decide(st, ev, now), refunding(booking.StatusNeedsReview))
	})

	t.Run("a known event is a duplicate, unless replayed", func(t *testing.T) {
		t.Parallel()
		st := state(booking.StatusPending, false)
		st.EventKnown = true
		checkPlan(t, st, booking.Decide(st, sessionEvent(completed, "paid"), now), after{outcome: booking.OutcomeDuplicate, holds: true})
		ev := sessionEvent(completed, "paid")
		ev.Source = booking.SourceReplay
		checkPlan(t, st, booking.Decide(st, ev, now), confirm)
	})

	t.Run("events of no known booking", func(t *testing.T) {
		t.Parallel()
		if p := booking.Decide(nil, sessionEvent(completed, "paid"), now); p.Outcome != booking.OutcomeUnmatched || p.Wait {
			t.Errorf("checkout: %+v", p)
		}
		ev := &booking.PaymentEvent{ID: "evt_r", Type: booking.EventChargeRefunded, PaymentIntentID: "pi_9"}
		if p := booking.Decide(nil, ev, now); p.Outcome != booking.OutcomeUnmatched || !p.Wait {
			t.Errorf("refund before its payment: %+v, want unmatched and waiting", p)
		}
		ev.PaymentIntentID = ""
		if p := booking.Decide(nil, ev, now); p.Outcome != booking.OutcomeUnmatched || p.Wait {
			t.Errorf("refund without payment intent: %+v", p)
		}
		if p := booking.Decide(nil, &booking.PaymentEvent{Type: "customer.created"}, now); p.Outcome != booking.OutcomeIgnored {
			t.Errorf("other type: %+v", p)
		}
	})
}

func refundEvent(cumulative int64, list ...booking.Refund) *booking.PaymentEvent {
	return &booking.PaymentEvent{ID: "evt_ref", Type: booking.EventChargeRefunded, PaymentIntentID: "pi_1",
		Money: booking.MoneyFacts{ChargeID: "ch_1", ChargeAmount: price, AmountRefunded: cumulative, Currency: currency, Refunds: list}}
}

// TestDecideRefunded covers M3: refunds recorded once, never above the
// payment; a full refund frees the slot, a partial one changes nothing else.
func TestDecideRefunded(t *testing.T) {
	t.Parallel()
	t.Run("full refund", func(t *testing.T) {
		t.Parallel()
		st := state(booking.StatusConfirmed, true)
		st.Owed = []booking.RefundRequest{{ID: 7, PaymentID: 1, Amount: price, State: booking.RequestOwed}}
		p := booking.Decide(st, refundEvent(price), now)
		checkPlan(t, st, p, after{outcome: booking.OutcomeProcessed, status: booking.StatusRefunded})
		if len(p.Refunds) != 1 || p.Refunds[0].ID != "ch_1:refunded:5000" || p.Refunds[0].Amount != price || p.After.AmountRefunded != price {
			t.Errorf("refunds %+v", p.Refunds)
		}
		if len(p.Requests) != 1 || p.Requests[0].ID != 7 || p.Requests[0].State != booking.RequestDone {
			t.Errorf("the owed refund is not settled: %+v", p.Requests)
		}
	})
	t.Run("partial refund leaves the booking confirmed", func(t *testing.T) {
		t.Parallel()
		st := state(booking.StatusConfirmed, true)
		p := booking.Decide(st, refundEvent(2000), now)
		checkPlan(t, st, p, after{outcome: booking.OutcomeProcessed, holds: true})
		if p.After.AmountRefunded != 2000 || p.After.Status != booking.StatusConfirmed {
			t.Errorf("after %+v", p.After)
		}
		st.Refunds = []booking.Refund{{ID: "ch_1:refunded:2000", PaymentID: 1, Amount: 2000}}
		st.Booking.AmountRefunded = 2000
		if p := booking.Decide(st, refundEvent(2000), now); p.Outcome != booking.OutcomeDuplicate || len(p.Refunds) != 0 {
			t.Errorf("the same cumulative amount: %+v", p)
		}
	})
	t.Run("listed refunds are recorded by id, known ones skipped, excess refused", func(t *testing.T) {
		t.Parallel()
		st := state(booking.StatusConfirmed, true)
		st.Refunds = []booking.Refund{{ID: "re_own", PaymentID: 1, Amount: 1000}}
		st.Booking.AmountRefunded = 1000
		ev := refundEvent(6000,
			booking.Refund{ID: "re_own", Amount: 1000, Currency: currency, Status: "succeeded"},
			booking.Refund{ID: "re_failed", Amount: 500, Currency: currency, Status: "failed"},
			booking.Refund{ID: "re_a", Amount: 3000, Currency: currency, Status: "succeeded"},
			booking.Refund{ID: "re_b", Amount: 2000, Currency: currency, Status: "pending"})
		p := booking.Decide(st, ev, now)
		if len(p.Refunds) != 1 || p.Refunds[0].ID != "re_a" || p.After.AmountRefunded != 4000 || p.After.Status != booking.StatusConfirmed {
			t.Errorf("plan %+v refunds %+v", p.After, p.Refunds)
		}
	})
	t.Run("a refund reported after a dispute lost in full is still recorded", func(t *testing.T) {
		t.Parallel()
		// Refunded 1000 in the Dashboard, then disputed for the whole
		// payment and lost; the refund's event comes last.
		st := state(booking.StatusConfirmed, true)
		st.Disputes = []booking.Dispute{{ID: "dp_1", PaymentID: 1, Amount: price, Status: "lost", Closed: true, Withdrawn: price}}
		st.Booking.AmountWithdrawn = price
		p := booking.Decide(st, refundEvent(1000), now)
		if len(p.Refunds) != 1 || p.Refunds[0].Amount != 1000 || p.After.AmountRefunded != 1000 {
			t.Errorf("plan %+v refunds %+v", p.After, p.Refunds)
		}
	})
	t.Run("refunds learnt from the charge are not counted again from a list", func(t *testing.T) {
		t.Parallel()
		st := state(booking.StatusConfirmed, true)
		st.Refunds = []booking.Refund{{ID: "ch_1:refunded:1000", PaymentID: 1, Amount: 1000}}
		st.Booking.AmountRefunded = 1000
		ev := refundEvent(1000, booking.Refund{ID: "re_dash", Amount: 1000, Currency: currency, Status: "succeeded"})
		if p := booking.Decide(st, ev, now); len(p.Refunds) != 0 {
			t.Errorf("counted twice: %+v", p.Refunds)
		}
	})
	t.Run("a refund of a cancelled booking owed its money makes it refunded", func(t *testing.T) {
		t.Parallel()
		st := state(booking.StatusCancelled, true)
		checkPlan(t, st, booking.Decide(st, refundEvent(price), now), after{outcome: booking.OutcomeProcessed, status: booking.StatusRefunded})
	})
}

// TestDecideDispute covers M1: a dispute flags the booking and changes
// neither its status nor its slot, in any order.
func TestDecideDispute(t *testing.T) {
	t.Parallel()
	ev := func(typ, status string) *booking.PaymentEvent {
		return &booking.PaymentEvent{ID: "evt_" + status, Type: typ, PaymentIntentID: "pi_1",
			Money: booking.MoneyFacts{DisputeID: "dp_1", DisputeAmount: price, DisputeReason: "fraudulent", DisputeStatus: status, Currency: currency}}
	}
	st := state(booking.StatusConfirmed, true)
	p := booking.Decide(st, ev(booking.EventDisputeCreated, "needs_response"), now)
	if p.Outcome != booking.OutcomeDisputed || p.Dispute == nil || p.Dispute.ID != "dp_1" || p.After != nil {
		t.Errorf("created: %+v", p)
	}
	p = booking.Decide(st, ev(booking.EventDisputeClosed, "lost"), now)
	if p.Outcome != booking.OutcomeProcessed || p.Dispute == nil || p.Closure == nil || p.Closure.Status != "lost" ||
		p.Closure.Withdrawn != price || p.After == nil || p.After.AmountWithdrawn != price ||
		p.After.Status != booking.StatusConfirmed || !p.After.HoldsSlot {
		t.Errorf("closed first, lost: %+v", p)
	}
	if p := booking.Decide(st, ev(booking.EventDisputeClosed, "won"), now); p.Closure == nil || p.Closure.Withdrawn != 0 || p.After != nil {
		t.Errorf("closed first, won: %+v", p)
	}
	st.Disputes = []booking.Dispute{{ID: "dp_1", PaymentID: 1, Status: "lost", Closed: true}}
	if p := booking.Decide(st, ev(booking.EventDisputeCreated, "needs_response"), now); p.Outcome != booking.OutcomeDuplicate {
		t.Errorf("created after closed: %+v", p)
	}
	if p := booking.Decide(st, ev(booking.EventDisputeClosed, "lost"), now); p.Outcome != booking.OutcomeDuplicate {
		t.Errorf("closed again: %+v", p)
	}
}

// TestDecideStaff covers the staff exits of M4.
func TestDecideStaff(t *testing.T) {
	t.Parallel()
	by := booking.Cause{Kind: booking.CauseStaff, Ref: "staff-1"}
	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		for _, s := range []booking.Status{booking.StatusPending, booking.StatusAwaitingPayment} {
			st := state(s, false)
			p, err := booking.DecideCancel(st, by, now)
			if err != nil || p.After == nil || p.After.Status != booking.StatusCancelled || p.After.HoldsSlot || p.After.Cause != by {
				t.Errorf("%s: %+v %v", s, p.After, err)
			}
		}
		for _, s := range []booking.Status{booking.StatusConfirmed, booking.StatusNeedsReview} {
			st := state(s, true)
			st.Refunds = []booking.Refund{{ID: "re_dash", PaymentID: 1, Amount: 1500}}
			st.Booking.AmountRefunded = 1500
			p, err := booking.DecideCancel(st, by, now)
			if err != nil || len(p.Owe) != 1 || p.After != nil {
				t.Fatalf("%s: %+v %v", s, p, err)
			}
			if o := p.Owe[0]; o.Amount != price-1500 || o.PaymentID != 1 || o.Reason != booking.RefundSourceStaff ||
				o.IdempotencyKey != booking.StaffRefundKey(1) || o.RequestedBy != "staff-1" {
				t.Errorf("%s: owed %+v, want what remains", s, o)
			}
			st.Owed = []booking.RefundRequest{{ID: 3, PaymentID: 1, Amount: price - 1500, State: booking.RequestOwed}}
			if p, err := booking.DecideCancel(st, by, now); err != nil || len(p.Owe) != 0 {
				t.Errorf("%s with a refund owed: %+v %v, want nothing new", s, p, err)
			}
		}
		for _, s := range []booking.Status{booking.StatusExpired, booking.StatusPaymentFailed, booking.StatusRefunded} {
			if _, err := booking.DecideCancel(state(s, false), by, now); booking.ErrorCode(err) != booking.EConflict {
				t.Errorf("%s: %v, want conflict", s, err)
			}
		}
	})
	t.Run("accept", func(t *testing.T) {
		t.Parallel()
		st := state(booking.StatusNeedsReview, true)
		st.Owed = []booking.RefundRequest{{ID: 4, PaymentID: 1, State: booking.RequestOwed}}
		p, err := booking.DecideAccept(st, by, now)
		if err != nil || p.After.Status != booking.StatusConfirmed || !p.After.HoldsSlot || !p.After.TakesSlot ||
			len(p.Requests) != 1 || p.Requests[0].State != booking.RequestCancelled {
			t.Errorf("accept: %+v %+v %v", p.After, p.Requests, err)
		}
		if _, err := booking.DecideAccept(state(booking.StatusConfirmed, true), by, now); booking.ErrorCode(err) != booking.EConflict {
			t.Errorf("accept a confirmed booking: %v", err)
		}
		if _, err := booking.DecideAccept(state(booking.StatusNeedsReview, false), by, now); booking.ErrorCode(err) != booking.EConflict {
			t.Errorf("accept with nothing kept: %v", err)
		}
	})
}

// TestDecideRefundMade covers M2: a refund made is recorded once and ends
// the booking refunded; failures are retried with backoff and flag the
// booking after RefundReviewAfter of them, keeping its slot if it held one.
func TestDecideRefundMade(t *testing.T) {
	t.Parallel()
	req := booking.RefundRequest{ID: 9, PaymentID: 1, Amount: price, Reason: booking.RefundSourceAuto, Remaining: price}
	owed := func(s booking.Status, attempts int) *booking.State {
		st := state(s, true)
		st.Owed = []booking.RefundRequest{{ID: 9, PaymentID: 1, Amount: price, State: booking.RequestOwed, Attempts: attempts}}
		return st
	}
	st := owed(booking.StatusCancelled, 0)
	p := booking.DecideRefundMade(st, req, &booking.Refund{ID: "re_1", Amount: price, Currency: currency}, nil, now)
	if p.After == nil || p.After.Status != booking.StatusRefunded || len(p.Refunds) != 1 || p.Requests[0].State != booking.RequestDone ||
		p.Requests[0].StripeRefundID != "re_1" || p.After.Cause.Ref != "auto_refund" {
		t.Errorf("made: %+v %+v", p.After, p.Requests)
	}
	// Recorded already (its event came first): not again.
	st.Refunds = []booking.Refund{{ID: "re_1", PaymentID: 1, Amount: price}}
	st.Booking.AmountRefunded = price
	if p := booking.DecideRefundMade(st, req, &booking.Refund{ID: "re_1", Amount: price, Currency: currency}, nil, now); len(p.Refunds) != 0 {
		t.Errorf("recorded twice: %+v", p.Refunds)
	}
	fail := errors.New("connection refused")
	for attempts := 0; attempts < booking.RefundReviewAfter; attempts++ {
		st := owed(booking.StatusConfirmed, attempts)
		p := booking.DecideRefundMade(st, req, nil, fail, now)
		u := p.Requests[0]
		if u.State != booking.RequestOwed || u.Attempts != attempts+1 || !u.NextAttemptAt.After(now) || u.LastError == "" {
			t.Errorf("attempt %d: %+v", attempts+1, u)
		}
		flagged := p.After != nil && p.After.Status == booking.StatusNeedsReview
		if flagged != (attempts+1 >= booking.RefundReviewAfter) {
			t.Errorf("attempt %d: flagged %v", attempts+1, flagged)
		}
		if flagged && !p.After.HoldsSlot {
			t.Error("a confirmed booking flagged for review released its slot")
		}
	}
}

// TestDecideChargeState covers what the product learns from the provider
// when a refund it asks for is refused.
func TestDecideChargeState(t *testing.T) {
	t.Parallel()
	st := state(booking.StatusCancelled, true)
	st.Owed = []booking.RefundRequest{{ID: 2, PaymentID: 1, State: booking.RequestOwed}}
	p := booking.DecideChargeState(st, 1, &booking.ChargeState{ChargeID: "ch_1", Amount: price, AmountRefunded: price, Currency: currency}, now)
	if len(p.Refunds) != 1 || p.Refunds[0].ID != "ch_1:refunded:5000" || p.After.Status != booking.StatusRefunded || len(p.Requests) != 1 {
		t.Errorf("learnt a full refund: %+v %+v %+v", p.Refunds, p.After, p.Requests)
	}
	p = booking.DecideChargeState(st, 1, &booking.ChargeState{ChargeID: "ch_1", Amount: price, AmountRefunded: 1000, Currency: currency}, now)
	if len(p.Refunds) != 1 || p.Refunds[0].Amount != 1000 || p.After.Status != booking.StatusCancelled || len(p.Requests) != 0 {
		t.Errorf("learnt a partial refund: %+v %+v", p.Refunds, p.After)
	}
	st.Refunds = []booking.Refund{{ID: "x", PaymentID: 1, Amount: 1000}}
	if p := booking.DecideChargeState(st, 1, &booking.ChargeState{ChargeID: "ch_1", AmountRefunded: 1000, Currency: currency}, now); len(p.Refunds) != 0 {
		t.Errorf("nothing new: %+v", p)
	}
}

// A dispute whose close event was lost is learnt from the provider when a
// refund of its payment is refused: lost, it takes the money back and
// settles the refund owed; won, the refund can be asked again.
func TestDecideChargeStateDispute(t *testing.T) {
	t.Parallel()
	disputed := func() *booking.State {
		st := state(booking.StatusConfirmed, true)
		st.Disputes = []booking.Dispute{{ID: "dp_1", PaymentID: 1, Amount: price, Currency: currency, Status: "needs_response"}}
		st.Owed = []booking.RefundRequest{{ID: 2, PaymentID: 1, State: booking.RequestOwed}}
		return st
	}
	charge := func(status string) *booking.ChargeState {
		return &booking.ChargeState{ChargeID: "ch_1", Amount: price, Currency: currency,
			Dispute: &booking.ChargeDispute{ID: "dp_1", Amount: price, Currency: currency, Status: status}}
	}

	p := booking.DecideChargeState(disputed(), 1, charge("lost"), now)
	if p.Closure == nil || p.Closure.Withdrawn != price || p.Closure.Status != "lost" {
		t.Errorf("lost: closure %+v", p.Closure)
	}
	if len(p.Requests) != 1 || p.Requests[0].State != booking.RequestDone {
		t.Errorf("lost: requests %+v, want the owed refund settled", p.Requests)
	}
	if p.After == nil || p.After.Status != booking.StatusRefunded || p.After.HoldsSlot || p.After.AmountWithdrawn != price {
		t.Errorf("lost: after %+v, want refunded, slot freed, all withdrawn", p.After)
	}

	p = booking.DecideChargeState(disputed(), 1, charge("won"), now)
	if p.Closure == nil || p.Closure.Withdrawn != 0 || len(p.Requests) != 0 || p.Move != nil {
		t.Errorf("won: %+v, want a closure only", p)
	}

	if p := booking.DecideChargeState(disputed(), 1, charge("needs_response"), now); p.Closure != nil || p.After != nil {
		t.Errorf("still open: %+v, want nothing", p)
	}
	st := disputed()
	st.Disputes[0].Closed, st.Disputes[0].Status = true, "lost"
	if p := booking.DecideChargeState(st, 1, charge("lost"), now); p.Closure != nil {
		t.Errorf("close known already: %+v", p)
	}
}

// TestDecideVenue: a desk hold paid at the venue is confirmed with an
// offline payment of its price; cancelling it hands the money back at once
// (an offline refund, nothing owed to Stripe), and its customer cannot
// cancel it online.
func TestDecideVenue(t *testing.T) {
	t.Parallel()
	by := booking.Cause{Kind: booking.CauseStaff, Ref: "staff-1"}
	st := state(booking.StatusPending, false)
	p, err := booking.DecidePaidAtVenue(st, by, now)
	if err != nil || p.Payment == nil || !p.Payment.Offline() || p.Payment.Amount != price || p.Payment.RecordedBy != "staff-1" ||
		p.After == nil || p.After.Status != booking.StatusConfirmed || p.After.AmountPaid != price || !p.After.HoldsSlot {
		t.Fatalf("paid at the venue: %+v %v", p, err)
	}
	if _, err := booking.DecidePaidAtVenue(state(booking.StatusConfirmed, true), by, now); booking.ErrorCode(err) != booking.EConflict {
		t.Errorf("paid twice: %v, want conflict", err)
	}

	paid := state(booking.StatusConfirmed, false)
	paid.Payments = []booking.Payment{{ID: 7, Amount: price, Currency: currency, Method: booking.PaymentOffline, RecordedBy: "staff-2"}}
	paid.Booking.AmountPaid = price
	p, err = booking.DecideCancel(paid, by, now)
	if err != nil || len(p.Owe) != 0 || len(p.Refunds) != 1 || p.After == nil || p.After.Status != booking.StatusRefunded ||
		p.After.AmountRefunded != price || p.After.HoldsSlot {
		t.Fatalf("cancel: %+v %v", p, err)
	}
	if r := p.Refunds[0]; r.Method != booking.PaymentOffline || r.PaymentID != 7 || r.Amount != price || r.RecordedBy != "staff-1" || r.ID != "" {
		t.Errorf("offline refund %+v", r)
	}
	paid.Booking.StartsAt = now.Add(72 * time.Hour)
	res := &booking.Resource{CancelUntilHours: 0}
	if q := booking.QuoteCancel(paid, res, now); q.Allowed || !strings.Contains(q.Reason, "paid at the venue") {
		t.Errorf("customer cancel of a booking paid at the venue: %+v, want refused for that reason", q)
	}
	paid.Payments[0].Method = booking.PaymentStripe
	if q := booking.QuoteCancel(paid, res, now); !q.Allowed {
		t.Errorf("the same booking paid by card cannot be cancelled: %+v", q)
	}
}
