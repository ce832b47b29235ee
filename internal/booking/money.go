package booking

import (
	"fmt"
	"strings"
	"time"
)

// Payment is money received for a booking through one Checkout Session.
type Payment struct {
	ID              int64     `json:"id"`
	SessionID       string    `json:"sessionId"`
	PaymentIntentID string    `json:"paymentIntentId"`
	Amount          int64     `json:"amount"`
	Currency        string    `json:"currency"`
	EventID         string    `json:"eventId"`
	CreatedAt       time.Time `json:"createdAt"`
	// Method is PaymentStripe, or PaymentOffline for money taken at the
	// venue (no session, PaymentIntent or event); RecordedBy is then the
	// staff user who took it.
	Method     string `json:"method"`
	RecordedBy string `json:"recordedBy,omitempty"`
}

// Payment methods.
const (
	PaymentStripe  = "stripe"
	PaymentOffline = "offline"
)

// Offline reports whether p was taken at the venue: it is never refunded
// through Stripe, only handed back and recorded by staff.
func (p *Payment) Offline() bool { return p.Method == PaymentOffline }

// Refund is money returned to the customer against one payment. Its ID is
// Stripe's refund id, or, when a charge.refunded event gives only the
// cumulative amount, an id derived from the charge and that amount.
type Refund struct {
	ID        string    `json:"id"`
	PaymentID int64     `json:"paymentId,omitempty"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	Status    string    `json:"status,omitempty"` // Stripe's: pending, succeeded, failed, canceled, requires_action
	Source    string    `json:"source,omitempty"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
	// Method is the method of its payment; an offline refund was handed
	// back at the venue by RecordedBy.
	Method     string `json:"method,omitempty"`
	RecordedBy string `json:"recordedBy,omitempty"`
}

// Refund sources, stored with each refund row.
const (
	RefundSourceWebhook  = "webhook"  // learnt from a charge.refunded event
	RefundSourceAuto     = "auto"     // a payment for a booking that will not happen (M2)
	RefundSourceStaff    = "staff"    // a staff cancellation or refund
	RefundSourceCustomer = "customer" // a customer's own cancellation
	RefundSourceProvider = "provider" // read from the payment provider's API (its event had not arrived)
)

// Counts reports whether the refund moves (or is moving) money back to the
// customer; failed and canceled refunds do not.
func (r Refund) Counts() bool { return r.Status != "failed" && r.Status != "canceled" }

// Dispute is a customer's dispute of a payment with their bank. It flags the
// booking and changes neither its status nor its slot (M1).
type Dispute struct {
	ID        string `json:"id"`
	PaymentID int64  `json:"paymentId"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Reason    string `json:"reason"`
	Status    string `json:"status"` // Stripe's status when opened, or won/lost/warning_closed once closed
	Closed    bool   `json:"closed"`
	// Withdrawn is what the dispute, lost, took back from the payment.
	Withdrawn int64     `json:"withdrawn"`
	ChargeID  string    `json:"chargeId,omitempty"`
	EventID   string    `json:"-"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
}

// DisputeClosure records the end of a dispute (charge.dispute.closed).
type DisputeClosure struct {
	DisputeID string
	Status    string // won, lost, warning_closed
	// Withdrawn is what a lost dispute took back from the payment: the
	// disputed amount, at most what remained of it.
	Withdrawn int64
	EventID   string
}

// Refund request states.
const (
	RequestOwed      = "owed"      // the product still has to make it
	RequestDone      = "done"      // made (or covered by a refund recorded otherwise)
	RequestCancelled = "cancelled" // no longer owed: staff kept the payment
)

// RefundRequest is a refund the product owes: made through the payment
// provider with a fixed idempotency key, retried until it is accepted.
type RefundRequest struct {
	ID             int64  `json:"id"`
	BookingID      string `json:"bookingId"`
	PaymentID      int64  `json:"paymentId"`
	Amount         int64  `json:"amount"`
	Currency       string `json:"currency"`
	Reason         string `json:"reason"` // auto, staff or customer (a refund source)
	IdempotencyKey string `json:"-"`
	State          string `json:"state"`
	Attempts       int    `json:"attempts"`
	// Refusals counts the attempts the provider refused; each asks under a
	// key of its own.
	Refusals       int       `json:"refusals"`
	LastError      string    `json:"lastError,omitempty"`
	NextAttemptAt  time.Time `json:"nextAttemptAt"`
	StripeRefundID string    `json:"stripeRefundId,omitempty"`
	RequestedBy    string    `json:"requestedBy"`
	CreatedAt      time.Time `json:"createdAt,omitzero"`

	// Set when the request is claimed to be made now.
	PaymentIntentID string `json:"-"`
	Remaining       int64  `json:"-"` // what is left of the payment, unrefunded
	// Refundable is what the booking may still give back: paid, less its
	// refunds, what lost disputes took back and the fee its cancellation
	// policy retains (Booking.Kept).
	Refundable int64 `json:"-"`
}

// asked is what a claimed request asks the provider for: what remains of
// its payment, never more than the request's amount (a customer's
// cancellation refunds part of a payment) nor than the booking may still
// give back (a refund made elsewhere meanwhile counts towards it).
func (r *RefundRequest) asked() int64 {
	return max(min(r.Remaining, r.Amount, r.Refundable), 0)
}

// RequestUpdate changes a refund request: its state, or the record of a
// failed attempt.
type RequestUpdate struct {
	ID             int64
	State          string
	Attempts       int
	Refusals       int
	NextAttemptAt  time.Time
	LastError      string
	StripeRefundID string
}

// State is a booking, locked for the length of a decision, with its money:
// everything the money rules (SPEC §3.1) decide on.
type State struct {
	Booking  Booking
	Payments []Payment
	Refunds  []Refund
	Disputes []Dispute
	Owed     []RefundRequest // refund requests in state owed
	// EventKnown says the ledger already holds the event being decided.
	EventKnown bool
	// ReminderHours is the resource's reminderHours: how long before the
	// start a confirmed booking's reminder is sent (0: none).
	ReminderHours int
}

// payment returns the payment of a Checkout Session, or nil.
func (st *State) payment(sessionID string) *Payment {
	for i := range st.Payments {
		if st.Payments[i].SessionID == sessionID {
			return &st.Payments[i]
		}
	}
	return nil
}

// paymentByIntent returns the payment made with a PaymentIntent, or nil.
func (st *State) paymentByIntent(pi string) *Payment {
	for i := range st.Payments {
		if pi != "" && st.Payments[i].PaymentIntentID == pi {
			return &st.Payments[i]
		}
	}
	return nil
}

// refunded returns the sum of the refunds of payment id.
func (st *State) refunded(paymentID int64) int64 {
	var n int64
	for _, r := range st.Refunds {
		if r.PaymentID == paymentID {
			n += r.Amount
		}
	}
	return n
}

// withdrawn returns what lost disputes took back from payment id.
func (st *State) withdrawn(paymentID int64) int64 {
	var n int64
	for _, d := range st.Disputes {
		if d.PaymentID == paymentID {
			n += d.Withdrawn
		}
	}
	return n
}

// remaining returns what is left of payment p once its refunds and the
// money lost disputes took back are taken off: what can still be refunded.
func (st *State) remaining(p *Payment) int64 {
	return p.Amount - st.refunded(p.ID) - st.withdrawn(p.ID)
}

// owedFor returns the refund request owed for payment id, or nil.
// disputeClosed reports whether dispute id is recorded as closed.
func (st *State) disputeClosed(id string) bool {
	for _, d := range st.Disputes {
		if d.ID == id {
			return d.Closed
		}
	}
	return false
}

func (st *State) owedFor(paymentID int64) *RefundRequest {
	for i := range st.Owed {
		if st.Owed[i].PaymentID == paymentID {
			return &st.Owed[i]
		}
	}
	return nil
}

// Kept is the money the product holds for the booking: paid, neither
// refunded nor taken back by a lost dispute, nor retained as a
// late-cancellation fee. A booking that will not happen keeps none (M2):
// its fee is not kept for it, it is the price of its cancellation.
func (b *Booking) Kept() int64 {
	return b.AmountPaid - b.AmountRefunded - b.AmountWithdrawn - b.AmountRetained
}

// settledBy reports whether refunded (the booking's refunds after a plan)
// returns everything paid that the booking does not retain as a fee: the
// booking is then refunded (M3).
func (b *Booking) settledBy(refunded int64) bool {
	return b.AmountPaid > 0 && refunded+b.AmountRetained >= b.AmountPaid
}

// Move is a change of a booking's status.
type Move struct {
	To Status
	// HoldsSlot, for needs_review, says whether the booking keeps (or takes)
	// its slot; every other status decides it by itself.
	HoldsSlot bool
	Reason    string // review reason, for needs_review
	Cause     Cause
}

// BookingChange is the booking's row after a plan: absolute values,
// computed by the domain, written by the store.
type BookingChange struct {
	Status          Status
	HoldsSlot       bool
	ReviewReason    string
	Cause           Cause
	AmountPaid      int64
	AmountRefunded  int64
	AmountWithdrawn int64
	// AmountRetained is the fee kept under the cancellation policy: never
	// more than what is paid and neither refunded nor withdrawn, and 0 for
	// a booking that holds its slot.
	AmountRetained int64
	// TakesSlot says the change makes the booking hold a slot it did not:
	// it may collide with a booking that took that slot meanwhile. Pending
	// holds of that slot that lapsed by ReleaseLapsed are released first: a
	// lapsed hold never blocks anyone (SPEC §3).
	TakesSlot     bool
	ReleaseLapsed time.Time
}

// Plan is a decision about one booking: what to record and what to change.
// The store applies it in the transaction that locked the booking.
type Plan struct {
	Outcome Outcome
	Detail  string

	Payment *Payment        // record this payment; its ID comes from the store
	Refunds []Refund        // record these refunds
	Dispute *Dispute        // record this dispute
	Closure *DisputeClosure // record the close of a dispute
	Move    *Move           // change the status
	// Retain changes the late-cancellation fee the booking keeps
	// (Booking.AmountRetained) by this amount; finish keeps the result
	// within what is paid and not returned.
	Retain int64
	// Reschedule moves the booking to another slot of its resource.
	Reschedule *Reschedule

	// Owe lists refunds the product now owes. A PaymentID of 0 means the
	// payment this plan records.
	Owe []RefundRequest
	// Requests changes refund requests already stored.
	Requests []RequestUpdate
	// Wait keeps a refund or dispute event until its payment arrives.
	Wait bool

	// After is the booking row once the plan is applied; nil when the plan
	// changes nothing on it. Set by the domain (State.finish).
	After *BookingChange
	// Fallback replaces the plan when After.TakesSlot and the slot is held
	// by another booking.
	Fallback *Plan
}

// Reschedule moves a booking to another slot of its resource: one update
// of the same booking under the no-overlap constraint (slot_unavailable
// when the new slot is held), which raises its calendar Sequence by one.
// Its payment, status and money stay as they are.
type Reschedule struct {
	StartsAt time.Time
	EndsAt   time.Time
	Cause    Cause
	// Note is written with the move to the audit trail (why a rule was
	// set aside, e.g. staff overriding the cut-off).
	Note string
	// ReleaseLapsed: pending holds of the new slot that lapsed by then are
	// released first (a lapsed hold never blocks anyone).
	ReleaseLapsed time.Time
}

// finish computes p.After (and its fallback's) from the booking in st;
// now is when a slot it takes back is taken.
func (st *State) finish(p *Plan, now time.Time) *Plan {
	b := &st.Booking
	c := BookingChange{Status: b.Status, HoldsSlot: b.HoldsSlot, ReviewReason: b.ReviewReason,
		AmountPaid: b.AmountPaid, AmountRefunded: b.AmountRefunded, AmountWithdrawn: b.AmountWithdrawn,
		AmountRetained: b.AmountRetained}
	changed := p.Retain != 0
	if p.Payment != nil {
		c.AmountPaid += p.Payment.Amount
		changed = true
	}
	for _, r := range p.Refunds {
		c.AmountRefunded += r.Amount
		changed = true
	}
	if p.Closure != nil && p.Closure.Withdrawn > 0 {
		c.AmountWithdrawn += p.Closure.Withdrawn
		changed = true
	}
	if m := p.Move; m != nil {
		c.Status, c.Cause, changed = m.To, m.Cause, true
		if m.To == StatusNeedsReview {
			c.HoldsSlot, c.ReviewReason = m.HoldsSlot, m.Reason
		} else {
			c.HoldsSlot = m.To.HoldsSlot()
		}
		c.TakesSlot = c.HoldsSlot && !b.HoldsSlot
		if c.TakesSlot {
			c.ReleaseLapsed = now
		}
	}
	// The fee retained is money kept for a booking that will not happen:
	// none once it holds its slot again, never more than what is paid and
	// not returned (a refund made elsewhere takes it down first).
	c.AmountRetained += p.Retain
	if c.HoldsSlot {
		c.AmountRetained = 0
	}
	c.AmountRetained = max(min(c.AmountRetained, c.AmountPaid-c.AmountRefunded-c.AmountWithdrawn), 0)
	if changed {
		p.After = &c
	}
	if p.Fallback != nil {
		st.finish(p.Fallback, now)
	}
	return p
}

// formatMoney renders an amount in minor units, like "50.00 EUR".
func formatMoney(amount int64, currency string) string {
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	return fmt.Sprintf("%s%d.%02d %s", sign, amount/100, amount%100, strings.ToUpper(currency))
}
