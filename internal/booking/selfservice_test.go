package booking_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
)

// policyResource is a resource of the test booking's price with a cancel
// cut-off of cancelHours and pct refunded after it.
func policyResource(cancelHours, pct int) *booking.Resource {
	return &booking.Resource{ID: "5e0c3f5a-0f55-4c8e-9d1e-3d7c2b7b1a01", Name: "Court", PriceAmount: price, Currency: currency,
		DurationMinutes: 60, Timezone: "Europe/Paris", Active: true,
		WeeklyHours:      []booking.OpenSpan{{Weekday: 1, Start: "08:00", End: "18:00"}, {Weekday: 2, Start: "08:00", End: "18:00"}},
		CancelUntilHours: cancelHours, LateCancelRefundPercent: pct, RescheduleUntilHours: 24}
}

// confirmedAt is a paid, confirmed booking of r starting at start.
func confirmedAt(r *booking.Resource, start time.Time, paid int64) *booking.State {
	st := state(booking.StatusConfirmed, true)
	st.Booking.ResourceID = r.ID
	st.Booking.StartsAt, st.Booking.EndsAt = start, start.Add(time.Hour)
	st.Booking.AmountTotal = paid
	st.Payments[0].Amount = paid
	st.Booking.AmountPaid = paid
	return st
}

// TestQuoteCancel checks the refund at the edges of the policy: until the
// cut-off (that instant included) everything kept, after it the late share
// of the amount paid rounded down, nothing once the booking has started.
func TestQuoteCancel(t *testing.T) {
	t.Parallel()
	start := time.Date(2030, 1, 8, 9, 0, 0, 0, time.UTC) // a Tuesday, 10:00 in Paris
	cutoff := start.Add(-24 * time.Hour)
	for _, c := range []struct {
		name            string
		pct             int
		paid            int64
		at              time.Time
		allowed         bool
		refund, retain  int64
		reasonFragments []string
	}{
		{"a day before the cut-off", 0, 5000, cutoff.Add(-24 * time.Hour), true, 5000, 0, []string{"Free cancellation until 24 hours"}},
		{"one minute before the cut-off", 0, 5000, cutoff.Add(-time.Minute), true, 5000, 0, nil},
		{"exactly at the cut-off", 0, 5000, cutoff, true, 5000, 0, nil},
		{"one minute after the cut-off, 0%", 0, 5000, cutoff.Add(time.Minute), true, 0, 5000, []string{"nothing is refunded"}},
		{"one minute after the cut-off, 100%", 100, 5000, cutoff.Add(time.Minute), true, 5000, 0, []string{"refunds everything"}},
		{"37% rounded down", 37, 4999, cutoff.Add(time.Minute), true, 1849, 3150, []string{"37%"}},
		{"37% of a round amount", 37, 5000, start.Add(-time.Minute), true, 1850, 3150, nil},
		{"at the start", 100, 5000, start, false, 0, 0, []string{"has started"}},
		{"after the start", 100, 5000, start.Add(time.Hour), false, 0, 0, []string{"has started"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := policyResource(24, c.pct)
			st := confirmedAt(r, start, c.paid)
			q := booking.QuoteCancel(st, r, c.at)
			if q.Allowed != c.allowed || q.RefundAmount != c.refund || q.RetainedAmount != c.retain || q.Currency != currency {
				t.Fatalf("quote %+v, want allowed=%v refund=%d retained=%d", q, c.allowed, c.refund, c.retain)
			}
			if q.Reason == "" || strings.Contains(q.Reason, "%!") {
				t.Fatalf("reason %q", q.Reason)
			}
			for _, f := range c.reasonFragments {
				if !strings.Contains(q.Reason, f) {
					t.Errorf("reason %q lacks %q", q.Reason, f)
				}
			}
			if q.Allowed && (q.FreeUntil == nil || !q.FreeUntil.Equal(cutoff)) {
				t.Errorf("free until %v, want %v", q.FreeUntil, cutoff)
			}
		})
	}

	t.Run("unpaid bookings are cancelled without a refund", func(t *testing.T) {
		r := policyResource(24, 0)
		for _, s := range []booking.Status{booking.StatusPending, booking.StatusAwaitingPayment} {
			st := state(s, false)
			st.Booking.StartsAt = start
			if q := booking.QuoteCancel(st, r, now); !q.Allowed || q.RefundAmount != 0 || q.RetainedAmount != 0 {
				t.Errorf("%s: %+v", s, q)
			}
		}
	})
	t.Run("other statuses, a partial refund and a dispute", func(t *testing.T) {
		r := policyResource(24, 50)
		for _, s := range []booking.Status{booking.StatusCancelled, booking.StatusRefunded, booking.StatusExpired,
			booking.StatusPaymentFailed, booking.StatusNeedsReview} {
			st := confirmedAt(r, start, price)
			st.Booking.Status = s
			if q := booking.QuoteCancel(st, r, now); q.Allowed || q.Reason == "" {
				t.Errorf("%s: %+v", s, q)
			}
		}
		// 2000 of 5000 refunded in the Dashboard: the late share is of the
		// amount paid, never more than is kept.
		st := confirmedAt(r, start, price)
		st.Refunds = []booking.Refund{{ID: "re_x", PaymentID: 1, Amount: 3000}}
		st.Booking.AmountRefunded = 3000
		if q := booking.QuoteCancel(st, r, cutoff.Add(time.Minute)); q.RefundAmount != 2000 || q.RetainedAmount != 0 {
			t.Errorf("after a partial refund: %+v, want 2000 refunded, nothing retained", q)
		}
		if q := booking.QuoteCancel(st, r, cutoff); q.RefundAmount != 2000 {
			t.Errorf("free, after a partial refund: %+v", q)
		}
		st = confirmedAt(r, start, price)
		st.Disputes = []booking.Dispute{{ID: "dp_1", PaymentID: 1, Amount: price, Status: "needs_response"}}
		if q := booking.QuoteCancel(st, r, cutoff); q.Allowed {
			t.Errorf("disputed: %+v", q)
		}
	})
}

// TestDecideCustomerCancel checks the plan of a cancellation: cancelled at
// once (the slot freed), the refund owed under the customer's key, the fee
// retained, and a confirmed amount that changed refused.
func TestDecideCustomerCancel(t *testing.T) {
	t.Parallel()
	start := time.Date(2030, 1, 8, 9, 0, 0, 0, time.UTC)
	late := start.Add(-time.Hour)
	cause := booking.Cause{Kind: booking.CauseAPI, Ref: "req-1"}
	r := policyResource(24, 37)

	st := confirmedAt(r, start, 4999)
	p, err := booking.DecideCustomerCancel(st, r, late, nil, cause)
	if err != nil {
		t.Fatal(err)
	}
	if p.After == nil || p.After.Status != booking.StatusCancelled || p.After.HoldsSlot || p.After.AmountRetained != 3150 {
		t.Fatalf("after %+v", p.After)
	}
	if len(p.Owe) != 1 || p.Owe[0].Amount != 1849 || p.Owe[0].Reason != booking.RefundSourceCustomer ||
		p.Owe[0].IdempotencyKey != booking.CustomerRefundKey(1) {
		t.Fatalf("owe %+v", p.Owe)
	}

	expected := int64(4999)
	if _, err := booking.DecideCustomerCancel(st, r, late, &expected, cause); booking.ErrorCode(err) != booking.EQuoteChanged {
		t.Fatalf("a changed quote: %v", err)
	}
	expected = 1849
	if _, err := booking.DecideCustomerCancel(st, r, late, &expected, cause); err != nil {
		t.Fatalf("the confirmed quote: %v", err)
	}
	if _, err := booking.DecideCustomerCancel(st, r, start, nil, cause); booking.ErrorCode(err) != booking.EConflict {
		t.Fatalf("after the start: %v", err)
	}

	// A fee of 100%: cancelled, everything retained, nothing owed; the
	// booking keeps no money of its own (M2).
	r0 := policyResource(24, 0)
	st = confirmedAt(r0, start, price)
	p, _ = booking.DecideCustomerCancel(st, r0, late, nil, cause)
	if p.After.Status != booking.StatusCancelled || p.After.AmountRetained != price || len(p.Owe) != 0 {
		t.Fatalf("all retained: %+v owe %+v", p.After, p.Owe)
	}
	// Unpaid: cancelled, nothing owed or retained.
	st = state(booking.StatusPending, false)
	st.Booking.StartsAt = start
	p, _ = booking.DecideCustomerCancel(st, r, late, nil, cause)
	if p.After.Status != booking.StatusCancelled || p.After.AmountRetained != 0 || len(p.Owe) != 0 {
		t.Fatalf("unpaid: %+v", p.After)
	}
}

// TestRetainedFee checks the money rules with a fee: the refund made ends
// the booking refunded; a refund made elsewhere takes the fee down first;
// a booking that holds its slot retains nothing; staff can give the fee
// back.
func TestRetainedFee(t *testing.T) {
	t.Parallel()
	start := time.Date(2030, 1, 8, 9, 0, 0, 0, time.UTC)
	cancelled := func() *booking.State {
		st := confirmedAt(policyResource(24, 37), start, 4999)
		st.Booking.Status, st.Booking.HoldsSlot, st.Booking.AmountRetained = booking.StatusCancelled, false, 3150
		st.Owed = []booking.RefundRequest{{ID: 7, PaymentID: 1, Amount: 1849, Reason: booking.RefundSourceCustomer, State: booking.RequestOwed}}
		return st
	}
	if k := cancelled().Booking.Kept(); k != 1849 {
		t.Fatalf("kept %d, want the refund owed (1849)", k)
	}
	req := booking.RefundRequest{ID: 7, PaymentID: 1, Amount: 1849, Reason: booking.RefundSourceCustomer}
	p := booking.DecideRefundMade(cancelled(), req, &booking.Refund{ID: "re_1", Amount: 1849, Currency: currency}, nil, now)
	if p.After == nil || p.After.Status != booking.StatusRefunded || p.After.AmountRetained != 3150 ||
		p.After.Cause.Ref != "customer" {
		t.Fatalf("refund made: %+v", p.After)
	}

	// The whole payment refunded in the Dashboard meanwhile: the fee goes.
	ev := &booking.PaymentEvent{ID: "evt_r", Type: booking.EventChargeRefunded, PaymentIntentID: "pi_1",
		Money: booking.MoneyFacts{ChargeID: "ch_1", AmountRefunded: 4999, Currency: currency}}
	p = booking.Decide(cancelled(), ev, now)
	if p.After == nil || p.After.Status != booking.StatusRefunded || p.After.AmountRetained != 0 || p.After.AmountRefunded != 4999 {
		t.Fatalf("refunded elsewhere: %+v", p.After)
	}

	// Staff give the fee back: owed with what remains, retained cleared.
	st := cancelled()
	st.Owed = nil
	st.Refunds = []booking.Refund{{ID: "re_1", PaymentID: 1, Amount: 1849}}
	st.Booking.AmountRefunded, st.Booking.Status = 1849, booking.StatusRefunded
	if acts := booking.StaffActions(st); len(acts) != 1 || acts[0] != "refund" {
		t.Fatalf("staff actions %v", acts)
	}
	p, err := booking.DecideCancel(st, booking.Cause{Kind: booking.CauseStaff, Ref: "staff-1"}, now)
	if err != nil || p.After == nil || p.After.AmountRetained != 0 || len(p.Owe) != 1 || p.Owe[0].Amount != 3150 {
		t.Fatalf("fee given back: %+v %+v %v", p.After, p.Owe, err)
	}
}

// TestDecideReschedule checks the rules of a move: a free future slot of
// the resource's grid at the price paid, before the cut-off unless staff
// override it (noted for the audit trail).
func TestDecideReschedule(t *testing.T) {
	t.Parallel()
	paris, _ := time.LoadLocation("Europe/Paris")
	start := time.Date(2030, 1, 8, 10, 0, 0, 0, paris) // Tuesday
	to := time.Date(2030, 1, 8, 15, 0, 0, 0, paris)
	r := policyResource(24, 0)
	by := booking.Cause{Kind: booking.CauseAPI, Ref: "req"}
	early := start.Add(-48 * time.Hour)

	p, err := booking.DecideReschedule(confirmedAt(r, start, price), r, to, early, by, false)
	if err != nil {
		t.Fatal(err)
	}
	if m := p.Reschedule; m == nil || !m.StartsAt.Equal(to) || !m.EndsAt.Equal(to.Add(time.Hour)) || m.Note != "" || p.After != nil {
		t.Fatalf("plan %+v", p)
	}
	for _, c := range []struct {
		name     string
		st       func() *booking.State
		r        func() *booking.Resource
		to, at   time.Time
		override bool
		code     string
		note     string
	}{
		{name: "past the cut-off", at: start.Add(-2 * time.Hour), code: booking.EConflict},
		{name: "past the cut-off, staff override", at: start.Add(-2 * time.Hour), override: true, note: "cut-off overridden"},
		{name: "started, even for staff", at: start, override: true, code: booking.EConflict},
		{name: "price changed", code: booking.EPriceChanged, r: func() *booking.Resource {
			r := policyResource(24, 0)
			r.PriceAmount = 6000
			return r
		}},
		{name: "not on the grid", to: to.Add(30 * time.Minute), code: booking.EValidation},
		{name: "outside the weekly hours", to: time.Date(2030, 1, 8, 19, 0, 0, 0, paris), code: booking.EValidation},
		{name: "the current slot", to: start, code: booking.EValidation},
		{name: "in the past", to: time.Date(2030, 1, 7, 9, 0, 0, 0, paris), at: start.Add(-25 * time.Hour), code: booking.EValidation},
		{name: "not confirmed", code: booking.EConflict, st: func() *booking.State {
			st := confirmedAt(r, start, price)
			st.Booking.Status = booking.StatusPending
			return st
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := confirmedAt(r, start, price)
			if c.st != nil {
				st = c.st()
			}
			res := r
			if c.r != nil {
				res = c.r()
			}
			target, at := to, early
			if !c.to.IsZero() {
				target = c.to
			}
			if !c.at.IsZero() {
				at = c.at
			}
			p, err := booking.DecideReschedule(st, res, target, at, by, c.override)
			switch {
			case c.code == "" && err != nil:
				t.Fatalf("err %v, want none", err)
			case c.code != "" && booking.ErrorCode(err) != c.code:
				t.Fatalf("err %v, want %s", err, c.code)
			}
			if c.code == "" && (p.Reschedule == nil || p.Reschedule.Note != c.note) {
				t.Fatalf("plan %+v, want note %q", p.Reschedule, c.note)
			}
		})
	}
}

func TestCalendarMethod(t *testing.T) {
	t.Parallel()
	b := state(booking.StatusConfirmed, true).Booking
	b.Sequence = 2
	if cancel, seq, ok := booking.CalendarMethod(&b); cancel || seq != 2 || !ok {
		t.Errorf("confirmed: %v %d %v", cancel, seq, ok)
	}
	b.Status = booking.StatusRefunded
	if cancel, seq, ok := booking.CalendarMethod(&b); !cancel || seq != 3 || !ok {
		t.Errorf("refunded: %v %d %v", cancel, seq, ok)
	}
	b = state(booking.StatusCancelled, false).Booking
	if _, _, ok := booking.CalendarMethod(&b); ok {
		t.Error("a booking never paid has a calendar file")
	}
}

func TestCheckoutCancelKey(t *testing.T) {
	t.Parallel()
	a, b := booking.CheckoutCancelKey(booking.HashToken("one")), booking.CheckoutCancelKey(booking.HashToken("two"))
	if a == b || len(a) != 22 || a != booking.CheckoutCancelKey(booking.HashToken("one")) {
		t.Fatalf("keys %q %q", a, b)
	}
}
