package booking

import (
	"context"
	"fmt"
	"time"
)

// Violation kinds: every way the database can break §2 and the money rules
// M1–M4 (SPEC §3.1 M5). On a healthy database there are none.
const (
	// §2.1, M1: two bookings hold overlapping times of one resource.
	ViolationOverlap = "slot_overlap"
	// M1, M2: money is kept for a booking that holds no slot, and no refund
	// of it is owed. A late-cancellation fee retained under the resource's
	// policy is not money kept for the booking (Booking.Kept).
	ViolationKeptWithoutSlot = "money_kept_without_slot"
	// M3: everything paid was refunded, yet the booking holds its slot.
	ViolationRefundedHolding = "refunded_still_holding"
	// M2: the booking says refunded, yet money is kept (beyond a retained
	// fee) and no refund is owed.
	ViolationRefundedKept = "refunded_with_money_kept"
	// §3: a confirmed booking with no payment.
	ViolationConfirmedUnpaid = "confirmed_without_payment"
	// M3: a payment's refunds exceed it (or a booking's refunds its payments).
	ViolationRefundsExceed = "refunds_exceed_payment"
	// §2.6: a booking's money sums differ from its payment and refund rows.
	ViolationSumsMismatch = "money_sums_mismatch"
	// §2.3: a ledger row whose effect is missing (a processed payment event
	// without its payment row, a refund or dispute outcome without its row).
	ViolationLedgerEffect = "ledger_effect_missing"
	// A refund or dispute event still waits for a payment that was recorded.
	ViolationEarlyEvent = "early_event_not_applied"
)

// ViolationKinds lists every kind, in report order.
var ViolationKinds = []string{
	ViolationOverlap, ViolationKeptWithoutSlot, ViolationRefundedHolding, ViolationRefundedKept,
	ViolationConfirmedUnpaid, ViolationRefundsExceed, ViolationSumsMismatch, ViolationLedgerEffect,
	ViolationEarlyEvent,
}

// Violation is one breach of the rules found in the database.
type Violation struct {
	Kind      string
	BookingID string // the booking concerned, when there is one
	Ref       string // the other booking, payment or event concerned
	Detail    string
}

func (v Violation) String() string {
	s := v.Kind
	if v.BookingID != "" {
		s += " booking=" + v.BookingID
	}
	if v.Ref != "" {
		s += " ref=" + v.Ref
	}
	if v.Detail != "" {
		s += ": " + v.Detail
	}
	return s
}

// CheckStore finds violations. The fast checks are index lookups whose
// indexes are empty on a healthy database; the full check also reads whole
// tables (every booking's sums against its rows, every ledger row against
// its effect, every pair of slot holders).
type CheckStore interface {
	FindViolations(ctx context.Context, full bool, limit int) ([]Violation, error)
	// MoneyFigures counts the bookings under review and the refunds owed.
	MoneyFigures(ctx context.Context, now time.Time) (*MoneyFigures, error)
}

// MoneyFigures are the figures staff and metrics watch besides violations.
type MoneyFigures struct {
	NeedsReview int `json:"needsReview"`
	// RefundsOwed counts the refunds the product still has to make, and
	// RefundsFailing those whose attempts failed RefundReviewAfter times.
	RefundsOwed    int `json:"refundsOwed"`
	RefundsFailing int `json:"refundsFailing"`
	// OldestOwedSeconds is the age of the oldest refund owed (0: none).
	OldestOwedSeconds float64 `json:"oldestOwedSeconds"`
}

// Checker reports the violations of SPEC §2 and §3.1 M1–M4 (M5).
type Checker struct {
	Store CheckStore
	Now   func() time.Time
}

// CheckLimit caps the violations one check reports per kind.
const CheckLimit = 1000

// Report is the result of a check.
type Report struct {
	Full       bool
	Violations []Violation
	Figures    MoneyFigures
	At         time.Time
	Took       time.Duration
}

// Counts returns the number of violations of each kind (every kind present).
func (r *Report) Counts() map[string]int {
	out := make(map[string]int, len(ViolationKinds))
	for _, k := range ViolationKinds {
		out[k] = 0
	}
	for _, v := range r.Violations {
		out[v.Kind]++
	}
	return out
}

// Summary is the one line a check ends with.
func (r *Report) Summary() string {
	if len(r.Violations) == 0 {
		return "no problems found"
	}
	return fmt.Sprintf("%d problem(s) found", len(r.Violations))
}

// Check runs the checks; full adds those that read whole tables.
// Errors: unavailable.
func (c *Checker) Check(ctx context.Context, full bool) (*Report, error) {
	start := time.Now()
	vs, err := c.Store.FindViolations(ctx, full, CheckLimit)
	if err != nil {
		return nil, err
	}
	fig, err := c.Store.MoneyFigures(ctx, c.Now())
	if err != nil {
		return nil, err
	}
	return &Report{Full: full, Violations: vs, Figures: *fig, At: c.Now(), Took: time.Since(start)}, nil
}
