package booking_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bookingplatform/booking/internal/booking"
)

// want is the part of a Plan a rule fixes; Detail is checked for presence only.
type want struct {
	next            booking.Status
	record          bool
	outcome         booking.Outcome
	fallbackNext    booking.Status
	fallbackOutcome booking.Outcome
	detail          bool // a review reason or ignore reason is given
}

func checkPlan(t *testing.T, name string, got booking.Plan, w want) {
	t.Helper()
	if got.Next != w.next || got.RecordPayment != w.record || got.Outcome != w.outcome ||
		got.FallbackNext != w.fallbackNext || got.FallbackOutcome != w.fallbackOutcome {
		t.Errorf("%s:\n got %+v\nwant %+v", name, got, w)
	}
	if w.detail && got.Detail == "" {
		t.Errorf("%s: no detail", name)
	}
	if (got.FallbackNext != "") != (got.FallbackDetail != "") {
		t.Errorf("%s: fallback %q with detail %q", name, got.FallbackNext, got.FallbackDetail)
	}
}

const (
	price    = 5000
	currency = "eur"
)

func bookingIn(s booking.Status) *booking.Booking {
	return &booking.Booking{ID: "8b0e1a52-2a8f-4a4e-9d55-0f4c1f0f4b1a", Status: s, AmountTotal: price, Currency: currency}
}

func event(typ, paymentStatus string) *booking.PaymentEvent {
	return &booking.PaymentEvent{ID: "evt_1", Type: typ, SessionID: "cs_test_1", PaymentStatus: paymentStatus,
		AmountTotal: price, Currency: currency}
}

// TestDecide covers every lifecycle rule of SPEC §3 for Checkout Session
// events, one row per (status, event type, payment status).
func TestDecide(t *testing.T) {
	t.Parallel()
	const (
		completed = booking.EventCheckoutCompleted
		succeeded = booking.EventCheckoutAsyncSucceeded
		failed    = booking.EventCheckoutAsyncFailed
		expired   = booking.EventCheckoutExpired
	)
	var (
		confirm  = want{next: booking.StatusConfirmed, record: true, outcome: booking.OutcomeProcessed}
		review   = want{next: booking.StatusNeedsReview, record: true, outcome: booking.OutcomeNeedsReview, detail: true}
		ignore   = want{outcome: booking.OutcomeIgnored, detail: true}
		dup      = want{outcome: booking.OutcomeDuplicate}
		reActive = want{next: booking.StatusConfirmed, record: true, outcome: booking.OutcomeProcessed, detail: true,
			fallbackNext: booking.StatusNeedsReview, fallbackOutcome: booking.OutcomeNeedsReview}
	)
	type row struct {
		status  booking.Status
		typ     string
		payment string
		want    want
	}
	var rows []row
	// Money arrives: completed with paid or no_payment_required, or async success
	// (whatever payment_status it carries).
	for _, money := range []struct{ typ, payment string }{
		{completed, "paid"}, {completed, "no_payment_required"}, {succeeded, "paid"}, {succeeded, "unpaid"},
	} {
		rows = append(rows,
			row{booking.StatusPending, money.typ, money.payment, confirm},
			row{booking.StatusAwaitingPayment, money.typ, money.payment, confirm},
			row{booking.StatusConfirmed, money.typ, money.payment, review},
			row{booking.StatusExpired, money.typ, money.payment, reActive},
			row{booking.StatusPaymentFailed, money.typ, money.payment, review},
			row{booking.StatusCancelled, money.typ, money.payment, review},
			row{booking.StatusRefunded, money.typ, money.payment, review},
			// Already flagged: the payment is recorded, the status stays.
			row{booking.StatusNeedsReview, money.typ, money.payment,
				want{record: true, outcome: booking.OutcomeNeedsReview, detail: true}},
		)
	}
	// Completed with a delayed payment method: hold the slot until the result.
	rows = append(rows,
		row{booking.StatusPending, completed, "unpaid", want{next: booking.StatusAwaitingPayment, outcome: booking.OutcomeProcessed}},
		row{booking.StatusAwaitingPayment, completed, "unpaid", dup},
	)
	for _, s := range []booking.Status{booking.StatusConfirmed, booking.StatusExpired, booking.StatusPaymentFailed,
		booking.StatusCancelled, booking.StatusRefunded, booking.StatusNeedsReview} {
		rows = append(rows, row{s, completed, "unpaid", ignore})
	}
	// Async failure releases the slot of a booking still waiting for money.
	rows = append(rows,
		row{booking.StatusPending, failed, "unpaid", want{next: booking.StatusPaymentFailed, outcome: booking.OutcomeProcessed}},
		row{booking.StatusAwaitingPayment, failed, "unpaid", want{next: booking.StatusPaymentFailed, outcome: booking.OutcomeProcessed}},
		row{booking.StatusPaymentFailed, failed, "unpaid", dup},
	)
	for _, s := range []booking.Status{booking.StatusConfirmed, booking.StatusExpired, booking.StatusCancelled,
		booking.StatusRefunded, booking.StatusNeedsReview} {
		rows = append(rows, row{s, failed, "unpaid", ignore})
	}
	// Expiry releases only a pending hold; a completed session never expires.
	rows = append(rows,
		row{booking.StatusPending, expired, "unpaid", want{next: booking.StatusExpired, outcome: booking.OutcomeProcessed}},
		row{booking.StatusExpired, expired, "unpaid", dup},
	)
	for _, s := range []booking.Status{booking.StatusAwaitingPayment, booking.StatusConfirmed, booking.StatusPaymentFailed,
		booking.StatusCancelled, booking.StatusRefunded, booking.StatusNeedsReview} {
		rows = append(rows, row{s, expired, "unpaid", ignore})
	}
	// Event types without a rule are recorded and ignored in every state.
	for _, s := range booking.Statuses {
		rows = append(rows, row{s, "customer.created", "", ignore}, row{s, "checkout.session.updated", "paid", ignore})
	}

	for _, r := range rows {
		name := fmt.Sprintf("%s + %s(%s)", r.status, r.typ, r.payment)
		got := booking.Decide(bookingIn(r.status), event(r.typ, r.payment), false)
		checkPlan(t, name, got, r.want)
	}

	// Every state is covered for the four Checkout Session events.
	for _, typ := range []string{completed, succeeded, failed, expired} {
		for _, s := range booking.Statuses {
			found := false
			for _, r := range rows {
				found = found || (r.status == s && r.typ == typ)
			}
			if !found {
				t.Errorf("no rule tested for %s + %s", s, typ)
			}
		}
	}
}

// TestDecidePaymentRecorded: once a payment row exists for the session, any
// further money event for it is a duplicate, whatever the booking's state,
// amount or event id — the effect happens once.
func TestDecidePaymentRecorded(t *testing.T) {
	t.Parallel()
	for _, s := range booking.Statuses {
		for _, money := range []struct{ typ, payment string }{
			{booking.EventCheckoutCompleted, "paid"}, {booking.EventCheckoutCompleted, "no_payment_required"},
			{booking.EventCheckoutAsyncSucceeded, "paid"},
		} {
			ev := event(money.typ, money.payment)
			got := booking.Decide(bookingIn(s), ev, true)
			checkPlan(t, fmt.Sprintf("recorded: %s + %s(%s)", s, money.typ, money.payment), got,
				want{outcome: booking.OutcomeDuplicate})
			ev.AmountTotal = 1 // even a mismatching amount
			got = booking.Decide(bookingIn(s), ev, true)
			checkPlan(t, fmt.Sprintf("recorded, other amount: %s + %s", s, money.typ), got, want{outcome: booking.OutcomeDuplicate})
		}
	}
	// A recorded payment does not turn non-money events into duplicates.
	got := booking.Decide(bookingIn(booking.StatusPending), event(booking.EventCheckoutExpired, "unpaid"), true)
	checkPlan(t, "recorded: pending + expired", got, want{next: booking.StatusExpired, outcome: booking.OutcomeProcessed})
}

// TestDecideAmountMismatch: money that differs in amount or currency from
// the booking is recorded and the booking flagged, in every state.
func TestDecideAmountMismatch(t *testing.T) {
	t.Parallel()
	mismatch := want{next: booking.StatusNeedsReview, record: true, outcome: booking.OutcomeAmountMismatch, detail: true}
	cases := []struct {
		name     string
		amount   int64
		currency string
	}{
		{"less", price - 1, currency},
		{"more", price + 100, currency},
		{"zero", 0, currency},
		{"other currency", price, "usd"},
	}
	for _, c := range cases {
		for _, s := range booking.Statuses {
			for _, typ := range []string{booking.EventCheckoutCompleted, booking.EventCheckoutAsyncSucceeded} {
				ev := event(typ, "paid")
				ev.AmountTotal, ev.Currency = c.amount, c.currency
				got := booking.Decide(bookingIn(s), ev, false)
				checkPlan(t, fmt.Sprintf("%s: %s + %s", c.name, s, typ), got, mismatch)
			}
		}
	}
	// An unpaid completion carries no money: its amount is not checked.
	ev := event(booking.EventCheckoutCompleted, "unpaid")
	ev.AmountTotal = 1
	checkPlan(t, "unpaid with other amount", booking.Decide(bookingIn(booking.StatusPending), ev, false),
		want{next: booking.StatusAwaitingPayment, outcome: booking.OutcomeProcessed})
	// The reason names both amounts for staff.
	ev = event(booking.EventCheckoutCompleted, "paid")
	ev.AmountTotal = 4250
	if got := booking.Decide(bookingIn(booking.StatusPending), ev, false); !strings.Contains(got.Detail, "42.50") || !strings.Contains(got.Detail, "50.00") {
		t.Errorf("detail %q does not name both amounts", got.Detail)
	}
}

// TestDecideActiveTransitions: a plan never moves a booking from a state that
// released its slot to an active one without a fallback for a taken slot.
func TestDecideActiveTransitions(t *testing.T) {
	t.Parallel()
	types := []string{booking.EventCheckoutCompleted, booking.EventCheckoutAsyncSucceeded,
		booking.EventCheckoutAsyncFailed, booking.EventCheckoutExpired, "charge.refunded", "customer.created"}
	for _, s := range booking.Statuses {
		for _, typ := range types {
			for _, ps := range []string{"paid", "unpaid", "no_payment_required"} {
				for _, recorded := range []bool{false, true} {
					p := booking.Decide(bookingIn(s), event(typ, ps), recorded)
					if p.Outcome == "" {
						t.Errorf("%s + %s(%s): empty outcome", s, typ, ps)
					}
					if !s.Active() && p.Next.Active() && !(p.FallbackNext != "" && !p.FallbackNext.Active()) {
						t.Errorf("%s + %s(%s): reactivates to %s without a safe fallback", s, typ, ps, p.Next)
					}
					if p.Next != "" && !p.Next.Valid() {
						t.Errorf("%s + %s(%s): invalid next %q", s, typ, ps, p.Next)
					}
					if p.Outcome == booking.OutcomeDuplicate && (p.Next != "" || p.RecordPayment) {
						t.Errorf("%s + %s(%s): a duplicate has effects %+v", s, typ, ps, p)
					}
				}
			}
		}
	}
}
