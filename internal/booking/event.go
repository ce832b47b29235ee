package booking

import (
	"time"
)

// Stripe event types the product acts on (SPEC §5).
const (
	EventCheckoutCompleted      = "checkout.session.completed"
	EventCheckoutAsyncSucceeded = "checkout.session.async_payment_succeeded"
	EventCheckoutAsyncFailed    = "checkout.session.async_payment_failed"
	EventCheckoutExpired        = "checkout.session.expired"
	EventChargeRefunded         = "charge.refunded"
	EventDisputeCreated         = "charge.dispute.created"
	EventDisputeClosed          = "charge.dispute.closed"
)

// HandledEventTypes lists every event type the product acts on.
var HandledEventTypes = []string{
	EventCheckoutCompleted, EventCheckoutAsyncSucceeded, EventCheckoutAsyncFailed, EventCheckoutExpired,
	EventChargeRefunded, EventDisputeCreated, EventDisputeClosed,
}

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
	// OutcomeRefunding: money arrived for a booking that will not happen
	// (SPEC §3.1 M2); it is being refunded.
	OutcomeRefunding Outcome = "refunding"
	// OutcomeDisputed: a dispute was recorded on the booking (M1).
	OutcomeDisputed Outcome = "disputed"
)

// Event sources: how an event reached the product.
const (
	SourceWebhook   = "webhook"   // delivered by Stripe
	SourceReturn    = "return"    // the Checkout Session read on the return page
	SourceReconcile = "reconcile" // listed from the Events API
	SourceReplay    = "replay"    // a stored event run again by staff
	// SourceLate: a refund or dispute event that arrived before its
	// payment, applied in the transaction that records the payment.
	SourceLate = "late"
)

// PaymentEvent is a verified Stripe event reduced to what the product reads.
type PaymentEvent struct {
	ID         string
	Type       string
	Livemode   bool
	APIVersion string
	Created    time.Time
	Payload    []byte // raw JSON as received
	Source     string
	// ReplayBy says who asked for a replay ("staff:<id>", "system:cli").
	ReplayBy string

	// Checkout Session fields (checkout.session.* events).
	SessionID     string
	BookingRef    string // client_reference_id, or metadata booking_id
	PaymentStatus string // paid, unpaid, no_payment_required
	AmountTotal   int64
	Currency      string

	// PaymentIntentID is the PaymentIntent the session paid with, or the one
	// a charge or dispute belongs to.
	PaymentIntentID string

	// Money holds the charge or dispute of a money event.
	Money MoneyFacts
}

// MoneyFacts are the fields of a charge.refunded or charge.dispute.* event.
// They are also what a refund or dispute event that arrives before its
// payment is kept as, so their JSON names are part of the schema.
type MoneyFacts struct {
	ChargeID       string   `json:"chargeId,omitempty"`
	ChargeAmount   int64    `json:"chargeAmount,omitempty"`
	AmountRefunded int64    `json:"amountRefunded,omitempty"` // cumulative, as Stripe reports it
	Refunds        []Refund `json:"refunds,omitempty"`        // refunds.data, when the payload has the list
	DisputeID      string   `json:"disputeId,omitempty"`
	DisputeAmount  int64    `json:"disputeAmount,omitempty"`
	DisputeReason  string   `json:"disputeReason,omitempty"`
	DisputeStatus  string   `json:"disputeStatus,omitempty"`
	Currency       string   `json:"currency,omitempty"`
}

// IsCheckout reports whether the event concerns a Checkout Session.
func (e *PaymentEvent) IsCheckout() bool {
	switch e.Type {
	case EventCheckoutCompleted, EventCheckoutAsyncSucceeded, EventCheckoutAsyncFailed, EventCheckoutExpired:
		return true
	}
	return false
}

// IsMoney reports whether the event concerns a charge's refunds or disputes.
func (e *PaymentEvent) IsMoney() bool {
	switch e.Type {
	case EventChargeRefunded, EventDisputeCreated, EventDisputeClosed:
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

// IntentLock is the PaymentIntent whose events this one must be serialised
// with: a payment and the refund and dispute events of its PaymentIntent
// are applied one at a time, so that an event arriving before its payment
// is always found by the transaction that records the payment.
func (e *PaymentEvent) IntentLock() string {
	if e.PaymentIntentID == "" || (!e.bringsMoney() && !e.IsMoney()) {
		return ""
	}
	return e.PaymentIntentID
}

// EventResult is the outcome of processing one event.
type EventResult struct {
	Outcome   Outcome
	BookingID string
	Status    Status // booking status after the event, when matched
	Detail    string
	// Late lists the refund and dispute events that had arrived before
	// this payment and were applied with it.
	Late []EventResult
	// EventID is the event the result is about (set for Late results).
	EventID string
	// RefundsOwed says the event left refunds for the product to make.
	RefundsOwed bool
}
