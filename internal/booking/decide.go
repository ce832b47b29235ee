package booking

import (
	"fmt"
	"strings"
	"time"
)

// Review reasons and ledger details shared by several rules.
const (
	// ReasonSlotTaken: a payment arrived after the hold lapsed and another
	// booking holds the slot; the payment is refunded (M2).
	ReasonSlotTaken = "paid after hold expiry; slot taken meanwhile"
	// ReasonRefundFailing prefixes the review reason of a booking whose
	// refund keeps failing (M2).
	ReasonRefundFailing = "refund failing"
)

// AutoRefundKey is the idempotency key of the automatic refund of a
// Checkout Session's payment (M2): retries never refund twice.
func AutoRefundKey(sessionID string) string { return "auto-refund-" + sessionID }

// StaffRefundKey is the idempotency key of a refund staff (or the
// customer) ask for on payment paymentID. Each call adds the amount asked
// (what remains of the payment), so asking again for the same amount is the
// same refund.
func StaffRefundKey(paymentID int64) string {
	return fmt.Sprintf("refund-%d", paymentID)
}

// Decide returns what event ev does to the booking in st at now. st is nil
// when the event matched no booking. Decide is pure: every rule of the
// lifecycle (SPEC §3) and of the money rules (§3.1) for Stripe events is
// here, and a transition that no longer applies is ignored, never an error.
func Decide(st *State, ev *PaymentEvent, now time.Time) Plan {
	if st == nil {
		return decideUnmatched(ev)
	}
	if st.EventKnown && ev.Source != SourceReplay && ev.Source != SourceLate {
		return Plan{Outcome: OutcomeDuplicate, Detail: "event already recorded"}
	}
	var p Plan
	switch {
	case ev.IsCheckout():
		p = decideCheckout(st, ev, now)
	case ev.Type == EventChargeRefunded:
		p = decideRefunded(st, ev)
	case ev.Type == EventDisputeCreated || ev.Type == EventDisputeClosed:
		p = decideDispute(st, ev)
	default:
		p = Plan{Outcome: OutcomeIgnored, Detail: "event type not handled"}
	}
	return *st.finish(&p, now)
}

// decideUnmatched: the event concerns no booking we know. A refund or
// dispute event whose payment has not arrived yet waits for it.
func decideUnmatched(ev *PaymentEvent) Plan {
	switch {
	case ev.IsCheckout():
		return Plan{Outcome: OutcomeUnmatched, Detail: "no booking for this Checkout Session"}
	case ev.IsMoney() && ev.PaymentIntentID != "":
		return Plan{Outcome: OutcomeUnmatched, Detail: "no payment recorded for this payment intent yet; applied when it arrives", Wait: true}
	case ev.IsMoney():
		return Plan{Outcome: OutcomeUnmatched, Detail: "no payment intent on this event"}
	}
	return Plan{Outcome: OutcomeIgnored, Detail: "event type not handled"}
}

func eventCause(ev *PaymentEvent) Cause { return Cause{Kind: CauseEvent, Ref: ev.ID} }

func decideCheckout(st *State, ev *PaymentEvent, now time.Time) Plan {
	b := &st.Booking
	if ev.bringsMoney() {
		return decidePaid(st, ev, now)
	}
	ignored := Plan{Outcome: OutcomeIgnored, Detail: "booking is " + string(b.Status)}
	switch ev.Type {
	case EventCheckoutCompleted: // unpaid: a delayed payment method
		switch b.Status {
		case StatusPending:
			return Plan{Outcome: OutcomeProcessed, Move: &Move{To: StatusAwaitingPayment, Cause: eventCause(ev)}}
		case StatusAwaitingPayment:
			return Plan{Outcome: OutcomeDuplicate}
		}
	case EventCheckoutAsyncFailed:
		switch b.Status {
		case StatusPending, StatusAwaitingPayment:
			return Plan{Outcome: OutcomeProcessed, Move: &Move{To: StatusPaymentFailed, Cause: eventCause(ev)}}
		case StatusPaymentFailed:
			return Plan{Outcome: OutcomeDuplicate}
		}
	case EventCheckoutExpired:
		switch b.Status {
		case StatusPending:
			return Plan{Outcome: OutcomeProcessed, Move: &Move{To: StatusExpired, Cause: eventCause(ev)}}
		case StatusExpired:
			return Plan{Outcome: OutcomeDuplicate}
		}
	}
	return ignored
}

// decidePaid: money arrived through the booking's Checkout Session.
func decidePaid(st *State, ev *PaymentEvent, now time.Time) Plan {
	b := &st.Booking
	if st.payment(ev.SessionID) != nil {
		return Plan{Outcome: OutcomeDuplicate, Detail: "payment already recorded"}
	}
	pay := &Payment{SessionID: ev.SessionID, PaymentIntentID: ev.PaymentIntentID, Amount: ev.AmountTotal,
		Currency: ev.Currency, EventID: ev.ID}
	cause := eventCause(ev)
	mismatch := ev.AmountTotal != b.AmountTotal || ev.Currency != b.Currency
	mismatchDetail := "paid " + formatMoney(ev.AmountTotal, ev.Currency) + ", expected " + formatMoney(b.AmountTotal, b.Currency)
	// take is the plan that gives the booking its slot with the payment.
	take := func() Plan {
		if mismatch {
			return Plan{Outcome: OutcomeAmountMismatch, Detail: mismatchDetail, Payment: pay,
				Move: &Move{To: StatusNeedsReview, HoldsSlot: true, Reason: mismatchDetail, Cause: cause}}
		}
		return Plan{Outcome: OutcomeProcessed, Payment: pay, Move: &Move{To: StatusConfirmed, Cause: cause}}
	}
	// refund is the plan that records the payment and owes it back (M2).
	refund := func(detail string) Plan {
		if ev.AmountTotal <= 0 {
			return Plan{Outcome: OutcomeIgnored, Payment: pay, Detail: detail + "; nothing was paid"}
		}
		return Plan{Outcome: OutcomeRefunding, Detail: detail + "; refunding " + formatMoney(ev.AmountTotal, ev.Currency),
			Payment: pay, Owe: []RefundRequest{{
				Amount: ev.AmountTotal, Currency: ev.Currency, Reason: RefundSourceAuto,
				IdempotencyKey: AutoRefundKey(ev.SessionID), State: RequestOwed, NextAttemptAt: now, RequestedBy: CauseSys,
			}}}
	}
	switch b.Status {
	case StatusPending, StatusAwaitingPayment:
		// The booking holds its slot: a hold that lapsed unnoticed is still
		// in place until something expires it.
		return take()
	case StatusExpired:
		p := take()
		if p.Detail == "" {
			p.Detail = "paid after hold expiry; slot still free"
		}
		fb := refund(ReasonSlotTaken)
		p.Fallback = &fb
		return p
	case StatusConfirmed:
		return refund("second payment for a confirmed booking")
	case StatusNeedsReview:
		if b.HoldsSlot {
			return Plan{Outcome: OutcomeNeedsReview, Detail: "another payment for a booking under review", Payment: pay}
		}
	}
	// cancelled, payment_failed, refunded, and a review without its slot:
	// the booking will not happen.
	return refund("payment received for a " + string(b.Status) + " booking")
}

// decideRefunded records the refunds a charge.refunded event reports. A
// full refund of everything paid moves the booking to refunded and frees
// its slot; a partial one changes nothing but the refunded amount (M3).
func decideRefunded(st *State, ev *PaymentEvent) Plan {
	b := &st.Booking
	pay := st.paymentByIntent(ev.PaymentIntentID)
	if pay == nil {
		return Plan{Outcome: OutcomeUnmatched, Detail: "no payment of this booking has this payment intent"}
	}
	known := map[string]bool{}
	for _, r := range st.Refunds {
		known[r.ID] = true
	}
	var found []Refund
	m := ev.Money
	if len(m.Refunds) > 0 {
		for _, r := range m.Refunds {
			if r.ID == "" || known[r.ID] || !r.Counts() {
				continue
			}
			cur := r.Currency
			if cur == "" {
				cur = m.Currency
			}
			found = append(found, Refund{ID: r.ID, PaymentID: pay.ID, Amount: r.Amount, Currency: cur, Source: RefundSourceWebhook})
		}
	} else if delta := m.AmountRefunded - st.refunded(pay.ID); delta > 0 {
		// Without the refunds list only the cumulative amount is known:
		// record what it adds, under an id derived from the charge and that
		// amount (the same for every delivery of this change).
		found = append(found, Refund{ID: fmt.Sprintf("%s:refunded:%d", m.ChargeID, m.AmountRefunded),
			PaymentID: pay.ID, Amount: delta, Currency: m.Currency, Source: RefundSourceWebhook})
	}
	// Refunds the provider made are facts, recorded up to the payment (M3)
	// whatever a lost dispute took back meanwhile: a refund made before a
	// dispute and reported after its close is money returned all the same,
	// and the books show both losses in whichever order the events came.
	// Never more than the charge's own cumulative refunded amount either:
	// refunds learnt from a read of the charge (DecideChargeState) carry no
	// provider ids, so the ids of a list cannot tell them apart.
	left := pay.Amount - st.refunded(pay.ID)
	if m.AmountRefunded > 0 {
		left = min(left, m.AmountRefunded-st.refunded(pay.ID))
	}
	var rows []Refund
	var skipped []string
	var added int64
	for _, r := range found {
		if r.Amount <= 0 || r.Amount > left || !strings.EqualFold(r.Currency, pay.Currency) {
			skipped = append(skipped, r.ID)
			continue
		}
		r.Currency = pay.Currency
		left -= r.Amount
		added += r.Amount
		rows = append(rows, r)
	}
	p := Plan{Refunds: rows}
	switch {
	case len(rows) == 0 && len(skipped) == 0:
		p.Outcome, p.Detail = OutcomeDuplicate, "refunds already recorded"
	case len(rows) == 0:
		p.Outcome, p.Detail = OutcomeDuplicate, "refunds "+strings.Join(skipped, ", ")+" exceed what is left of the payment; not recorded"
	default:
		p.Outcome = OutcomeProcessed
	}
	if pay.Amount-st.refunded(pay.ID)-added-st.withdrawn(pay.ID) <= 0 {
		if r := st.owedFor(pay.ID); r != nil {
			p.Requests = append(p.Requests, RequestUpdate{ID: r.ID, State: RequestDone})
		}
	}
	refunded := b.AmountRefunded + added
	if b.settledBy(refunded) {
		if b.Status != StatusRefunded {
			p.Move = &Move{To: StatusRefunded, Cause: eventCause(ev)}
			p.Detail = joinDetail(p.Detail, "refunded "+formatMoney(refunded, b.Currency))
		}
	} else if len(rows) > 0 {
		p.Detail = joinDetail(p.Detail, "partial refund: "+formatMoney(refunded, b.Currency)+" of "+formatMoney(b.AmountPaid, b.Currency))
	}
	return p
}

// decideDispute flags the booking with a dispute, or records how the
// dispute ended; neither changes the booking's status or slot (M1).
func decideDispute(st *State, ev *PaymentEvent) Plan {
	pay := st.paymentByIntent(ev.PaymentIntentID)
	if pay == nil {
		return Plan{Outcome: OutcomeUnmatched, Detail: "no payment of this booking has this payment intent"}
	}
	m := ev.Money
	var known *Dispute
	for i := range st.Disputes {
		if st.Disputes[i].ID == m.DisputeID {
			known = &st.Disputes[i]
		}
	}
	d := &Dispute{ID: m.DisputeID, PaymentID: pay.ID, Amount: m.DisputeAmount, Currency: m.Currency,
		Reason: m.DisputeReason, Status: m.DisputeStatus, ChargeID: m.ChargeID, EventID: ev.ID}
	describe := "dispute"
	if m.DisputeReason != "" {
		describe += " (" + strings.ReplaceAll(m.DisputeReason, "_", " ") + ")"
	}
	describe += " of " + formatMoney(m.DisputeAmount, m.Currency)
	if ev.Type == EventDisputeCreated {
		if known != nil {
			return Plan{Outcome: OutcomeDuplicate, Detail: "dispute already recorded"}
		}
		return Plan{Outcome: OutcomeDisputed, Detail: describe + "; booking is " + string(st.Booking.Status), Dispute: d}
	}
	if known != nil && known.Closed {
		return Plan{Outcome: OutcomeDuplicate, Detail: "dispute close already recorded"}
	}
	p := Plan{Outcome: OutcomeProcessed, Detail: describe + " closed: " + m.DisputeStatus,
		Closure: &DisputeClosure{DisputeID: m.DisputeID, Status: m.DisputeStatus, EventID: ev.ID}}
	if known == nil {
		// The close arrived first: it carries the whole dispute.
		p.Dispute = d
	}
	if m.DisputeStatus == "lost" {
		// The bank took the money back to the customer: nothing of it is
		// kept, and no refund of it can (or need) be made.
		left := st.remaining(pay)
		p.Closure.Withdrawn = max(min(m.DisputeAmount, left), 0)
		if left-p.Closure.Withdrawn <= 0 {
			if r := st.owedFor(pay.ID); r != nil {
				// The refund owed (the booking will not happen) is made by
				// the bank: the booking ends as the refund would have left it.
				p.Requests = append(p.Requests, RequestUpdate{ID: r.ID, State: RequestDone})
				b := &st.Booking
				if b.AmountPaid > 0 && b.AmountRefunded+b.AmountWithdrawn+p.Closure.Withdrawn >= b.AmountPaid &&
					b.Status != StatusRefunded {
					p.Move = &Move{To: StatusRefunded, Cause: Cause{Kind: CauseSys, Ref: "dispute_lost"}}
				}
			}
		}
		p.Detail += "; " + formatMoney(p.Closure.Withdrawn, m.Currency) + " taken back by the bank"
	}
	return p
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
