package booking

// Status is the lifecycle state of a booking (SPEC §3).
type Status string

// Booking states.
const (
	StatusPending         Status = "pending"
	StatusAwaitingPayment Status = "awaiting_payment"
	StatusConfirmed       Status = "confirmed"
	StatusExpired         Status = "expired"
	StatusPaymentFailed   Status = "payment_failed"
	StatusCancelled       Status = "cancelled"
	StatusRefunded        Status = "refunded"
	StatusNeedsReview     Status = "needs_review"
)

// Statuses lists every state, in lifecycle order.
var Statuses = []Status{
	StatusPending, StatusAwaitingPayment, StatusConfirmed, StatusExpired,
	StatusPaymentFailed, StatusCancelled, StatusRefunded, StatusNeedsReview,
}

// Valid reports whether s is a known state.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// HoldsSlot reports whether a booking in state s holds its slot. A booking
// in needs_review holds it or not, depending on why it is under review (see
// Booking.HoldsSlot); this method answers false for it.
func (s Status) HoldsSlot() bool {
	return s == StatusPending || s == StatusAwaitingPayment || s == StatusConfirmed
}

// Cause says who or what changed a booking's state; it is written to the audit trail.
type Cause struct {
	Kind string // "api", "stripe_event", "staff", "system"
	Ref  string // request id, Stripe event id, staff user id or job name
}

// Cause kinds.
const (
	CauseAPI   = "api"
	CauseEvent = "stripe_event"
	CauseStaff = "staff"
	CauseSys   = "system"
)
