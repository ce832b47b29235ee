package booking

import (
	"fmt"
	"strings"
	"time"
)

// Stripe event types the product acts on.
const (
	EventCheckoutCompleted      = "checkout.session.completed"
	EventCheckoutAsyncSucceeded = "checkout.session.async_payment_succeeded"
	EventCheckoutAsyncFailed    = "checkout.session.async_payment_failed"
	EventCheckoutExpired        = "checkout.session.expired"
	EventChargeRefunded         = "charge.refunded"
	EventDisputeCreated         = "charge.dispute.created"
)

// Outcome is what processing an event did; it is stored in the ledger and
// returned in the webhook answer.
type Outcome string

// Event outcomes.
const (
	OutcomeProcessed      Outcome = "processed"
	OutcomeDuplicate      Outcome = "duplicate"
	OutcomeIgnored        Outcome = "ignored"
	OutcomeUnmatched      Outcome = "unmatched"
	OutcomeAmountMismatch Outcome = "amount_mismatch"
	OutcomeNeedsReview    Outcome = "needs_review"
)

// PaymentEvent is a verified Stripe event reduced to what fulfilment needs.
type PaymentEvent struct {
	ID         string
	Type       string
	Livemode   bool
	APIVersion string
	Created    time.Time
	Payload    []byte // raw JSON as received
	Source     string // "webhook", "return", "replay", "reconcile"

	// Checkout Session fields (for checkout.session.* events).
	SessionID       string
	BookingRef      string // client_reference_id, or metadata booking_id
	PaymentStatus   string // paid, unpaid, no_payment_required
	AmountTotal     int64
	Currency        string
	PaymentIntentID string

	// Charge fields (charge.refunded); PaymentIntentID and Currency are shared.
	ChargeID       string
	ChargeAmount   int64    // amount captured
	AmountRefunded int64    // cumulative, as Stripe reports it
	Refunds        []Refund // refunds.data, when the payload includes the list

	// Dispute fields (charge.dispute.created); PaymentIntentID, ChargeID and
	// Currency are shared.
	DisputeID     string
	DisputeAmount int64
	DisputeReason string
}

// IsCheckout reports whether the event concerns a Checkout Session.
func (e *PaymentEvent) IsCheckout() bool {
	switch e.Type {
	case EventCheckoutCompleted, EventCheckoutAsyncSucceeded, EventCheckoutAsyncFailed, EventCheckoutExpired:
		return true
	}
	return false
}

// bringsMoney reports whether the event says money was received.
func (e *PaymentEvent) bringsMoney() bool {
	switch e.Type {
	case EventCheckoutCompleted:
		return e.PaymentStatus == "paid" || e.PaymentStatus == "no_payment_required"
	case EventCheckoutAsyncSucceeded:
		return true
	}
	return false
}

// Plan is the decision for one event on one booking. The store applies it in
// the same transaction as the ledger row.
type Plan struct {
	Next          Status  // new status, or "" for none
	RecordPayment bool    // write the payment row (unique per session)
	Outcome       Outcome // ledger outcome
	Detail        string  // ledger detail / review reason
	// Fallback applies when Next is an active status for a booking that had
	// released its slot and the slot has been taken meanwhile.
	FallbackNext    Status
	FallbackOutcome Outcome
	FallbackDetail  string
	// AutoRefund asks for the payment to be refunded automatically, after the
	// transaction commits, when the booking ends in needs_review.
	AutoRefund bool
}

// Decide returns what event ev does to booking b. paymentRecorded says whether
// a payment row already exists for ev's session. Decide is pure: every rule of
// the lifecycle (SPEC §3) is here, and stale transitions are ignored, never errors.
func Decide(b *Booking, ev *PaymentEvent, paymentRecorded bool) Plan {
	if ev.bringsMoney() {
		return decidePaid(b, ev, paymentRecorded)
	}
	switch ev.Type {
	case EventCheckoutCompleted: // unpaid: delayed payment method
		if b.Status == StatusPending {
			return Plan{Next: StatusAwaitingPayment, Outcome: OutcomeProcessed}
		}
		if b.Status == StatusAwaitingPayment {
			return Plan{Outcome: OutcomeDuplicate}
		}
		return Plan{Outcome: OutcomeIgnored, Detail: "booking is " + string(b.Status)}
	case EventCheckoutAsyncFailed:
		switch b.Status {
		case StatusPending, StatusAwaitingPayment:
			return Plan{Next: StatusPaymentFailed, Outcome: OutcomeProcessed}
		case StatusPaymentFailed:
			return Plan{Outcome: OutcomeDuplicate}
		}
		return Plan{Outcome: OutcomeIgnored, Detail: "booking is " + string(b.Status)}
	case EventCheckoutExpired:
		switch b.Status {
		case StatusPending:
			return Plan{Next: StatusExpired, Outcome: OutcomeProcessed}
		case StatusExpired:
			return Plan{Outcome: OutcomeDuplicate}
		}
		return Plan{Outcome: OutcomeIgnored, Detail: "booking is " + string(b.Status)}
	}
	return Plan{Outcome: OutcomeIgnored, Detail: "event type not handled"}
}

func decidePaid(b *Booking, ev *PaymentEvent, paymentRecorded bool) Plan {
	if paymentRecorded {
		// The effect of this session was applied by an earlier event. A late
		// payment still waiting for its automatic refund is retried.
		return Plan{Outcome: OutcomeDuplicate, AutoRefund: b.Status == StatusNeedsReview && b.ReviewReason == ReasonSlotTaken}
	}
	if ev.AmountTotal != b.AmountTotal || ev.Currency != b.Currency {
		detail := "paid " + formatMoney(ev.AmountTotal, ev.Currency) + ", expected " + formatMoney(b.AmountTotal, b.Currency)
		return Plan{Next: StatusNeedsReview, RecordPayment: true, Outcome: OutcomeAmountMismatch, Detail: detail}
	}
	switch b.Status {
	case StatusPending, StatusAwaitingPayment:
		return Plan{Next: StatusConfirmed, RecordPayment: true, Outcome: OutcomeProcessed}
	case StatusConfirmed:
		// Confirmed through another session of the same booking (should not happen:
		// one session per booking) — money arrived twice.
		return Plan{Next: StatusNeedsReview, RecordPayment: true, Outcome: OutcomeNeedsReview,
			Detail: "second payment for a confirmed booking"}
	case StatusExpired:
		return Plan{
			Next: StatusConfirmed, RecordPayment: true, Outcome: OutcomeProcessed, Detail: "paid after hold expiry; slot still free",
			FallbackNext: StatusNeedsReview, FallbackOutcome: OutcomeNeedsReview, FallbackDetail: ReasonSlotTaken,
			AutoRefund: true,
		}
	default: // cancelled, payment_failed, refunded, needs_review
		next := StatusNeedsReview
		if b.Status == StatusNeedsReview {
			next = ""
		}
		return Plan{Next: next, RecordPayment: true, Outcome: OutcomeNeedsReview,
			Detail: "payment received for a " + string(b.Status) + " booking"}
	}
}

func formatMoney(amount int64, currency string) string {
	return fmt.Sprintf("%d.%02d %s", amount/100, amount%100, strings.ToUpper(currency))
}
