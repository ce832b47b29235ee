package booking

import (
	"context"
	"strings"
	"time"
)

// OutcomeDisputed is the ledger outcome of a charge.dispute.created event
// that matched a booking.
const OutcomeDisputed Outcome = "disputed"

// Review reasons written with the needs_review status.
const (
	// ReasonDisputed flags a booking whose charge the customer disputed.
	ReasonDisputed = "disputed"
	// ReasonSlotTaken marks a late payment for a slot taken meanwhile; the
	// payment is refunded automatically.
	ReasonSlotTaken = "paid after hold expiry; slot taken meanwhile"
)

// Refund sources, stored with each refund row.
const (
	RefundSourceWebhook = "webhook" // learnt from a charge.refunded event
	RefundSourceAuto    = "auto"    // a late payment refunded automatically
	RefundSourceStaff   = "staff"   // a staff cancellation
)

// AutoRefundIdempotencyKey is the Stripe Idempotency-Key of the automatic
// refund of a Checkout Session's payment: retries never refund twice.
func AutoRefundIdempotencyKey(sessionID string) string { return "auto-refund-" + sessionID }

// Counts reports whether the refund moves (or is moving) money back to the
// customer; failed and canceled refunds do not. Status is Stripe's: pending,
// succeeded, failed, canceled or requires_action.
func (r Refund) Counts() bool { return r.Status != "failed" && r.Status != "canceled" }

// IsMoney reports whether the event concerns a charge's refunds or disputes.
func (e *PaymentEvent) IsMoney() bool {
	return e.Type == EventChargeRefunded || e.Type == EventDisputeCreated
}

// FullyRefunded reports whether a charge.refunded event says the whole
// charge has been refunded.
func (e *PaymentEvent) FullyRefunded() bool {
	return e.ChargeAmount > 0 && e.AmountRefunded >= e.ChargeAmount
}

// DecideRefund returns what a charge.refunded event does to booking b.
// newRows says whether the event recorded refund rows that were not known
// yet. A full refund moves a confirmed booking, or one waiting for review, to
// refunded; a booking already refunded (by a staff cancellation or the
// automatic refund) only has it confirmed, as a duplicate. A partial refund
// is recorded without a status change.
func DecideRefund(b *Booking, ev *PaymentEvent, newRows bool) Plan {
	recorded := OutcomeDuplicate
	if newRows {
		recorded = OutcomeProcessed
	}
	if !ev.FullyRefunded() {
		return Plan{Outcome: recorded, Detail: "partial refund: " + formatMoney(ev.AmountRefunded, ev.Currency) +
			" of " + formatMoney(ev.ChargeAmount, ev.Currency)}
	}
	switch b.Status {
	case StatusConfirmed, StatusNeedsReview:
		return Plan{Next: StatusRefunded, Outcome: OutcomeProcessed, Detail: "refunded " + formatMoney(ev.AmountRefunded, ev.Currency)}
	case StatusRefunded:
		return Plan{Outcome: OutcomeDuplicate, Detail: "booking already refunded"}
	}
	return Plan{Outcome: recorded, Detail: "refund recorded; booking is " + string(b.Status)}
}

// DecideDispute returns what a charge.dispute.created event does to booking
// b. newRow says whether the dispute was not known yet. A confirmed booking
// is flagged for review (needs_review, review reason "disputed"): the state
// change is audited, shows up in the staff list filtered by status, and the
// disputed amount is already withdrawn from the balance. A booking in any
// other state keeps it; the dispute row and the ledger say what happened.
func DecideDispute(b *Booking, ev *PaymentEvent, newRow bool) Plan {
	if !newRow {
		return Plan{Outcome: OutcomeDuplicate, Detail: "dispute already recorded"}
	}
	detail := ReasonDisputed
	if ev.DisputeReason != "" {
		detail += ": " + strings.ReplaceAll(ev.DisputeReason, "_", " ")
	}
	detail += ", " + formatMoney(ev.DisputeAmount, ev.Currency)
	if b.Status == StatusConfirmed {
		return Plan{Next: StatusNeedsReview, Outcome: OutcomeDisputed, Detail: detail}
	}
	return Plan{Outcome: OutcomeDisputed, Detail: detail + "; booking is " + string(b.Status)}
}

// RefundStore records refunds made by the product itself.
type RefundStore interface {
	// RecordRefund stores refund r of booking bookingID (keyed by its Stripe
	// id; a known id changes nothing) and moves a booking that is confirmed
	// or needs review to refunded, with cause, in one transaction.
	RecordRefund(ctx context.Context, bookingID string, r Refund, source string, cause Cause) error
	// PendingAutoRefunds lists paid bookings left in needs_review because
	// their slot was taken (ReasonSlotTaken) with no refund recorded, last
	// changed more than olderThan ago, as the payment events that paid them.
	PendingAutoRefunds(ctx context.Context, olderThan time.Duration, limit int) ([]PendingRefund, error)
}

// PendingRefund is an automatic refund still to make: the booking and the
// payment (as its paying event) to refund.
type PendingRefund struct {
	BookingID string
	Payment   PaymentEvent
}

// RetryAutoRefunds makes the automatic refunds that failed earlier (Stripe
// unreachable, say), with the same idempotency key per Checkout Session, so
// a refund that in fact went through is not made twice. It returns how many
// bookings it refunded. Run periodically by serve.
func (s *Service) RetryAutoRefunds(ctx context.Context, olderThan time.Duration) (int, error) {
	if s.Refunder == nil {
		return 0, nil
	}
	pending, err := s.Store.PendingAutoRefunds(ctx, olderThan, 50)
	if err != nil {
		return 0, err
	}
	done := 0
	for i := range pending {
		p := &pending[i]
		res := &EventResult{BookingID: p.BookingID, Status: StatusNeedsReview}
		s.autoRefund(ctx, &p.Payment, res)
		if res.Status == StatusRefunded {
			done++
		}
	}
	return done, nil
}

// autoRefund refunds the payment of ev in full, with an idempotency key per
// Checkout Session, and records the refund, moving the booking from
// needs_review to refunded. It runs after the event's transaction committed.
// A failure is logged and leaves the booking in needs_review: replaying the
// event retries it, and the key keeps a retry from refunding twice.
func (s *Service) autoRefund(ctx context.Context, ev *PaymentEvent, res *EventResult) {
	if s.Refunder == nil {
		return
	}
	log := s.Logger.With("event_id", ev.ID, "session_id", ev.SessionID, "booking_id", res.BookingID)
	if ev.PaymentIntentID == "" || ev.SessionID == "" {
		log.WarnContext(ctx, "automatic refund impossible: no payment intent; booking left for review")
		return
	}
	// The money moves whatever happens to the caller: finish the job.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), autoRefundTimeout)
	defer cancel()
	r, err := s.Refunder.Refund(ctx, RefundRequest{
		BookingID: res.BookingID, PaymentIntentID: ev.PaymentIntentID, Amount: ev.AmountTotal, Currency: ev.Currency,
		IdempotencyKey: AutoRefundIdempotencyKey(ev.SessionID),
	})
	if err != nil {
		log.ErrorContext(ctx, "automatic refund failed; booking left in needs_review, replay the event to retry", "err", err)
		return
	}
	if err := s.Store.RecordRefund(ctx, res.BookingID, *r, RefundSourceAuto, Cause{Kind: CauseSys, Ref: "auto_refund"}); err != nil {
		log.ErrorContext(ctx, "automatic refund made but not recorded; replay the event to record it", "refund_id", r.ID, "err", err)
		return
	}
	res.Status = StatusRefunded
	log.InfoContext(ctx, "late payment refunded automatically", "refund_id", r.ID, "amount", r.Amount, "currency", r.Currency)
}

// autoRefundTimeout bounds the refund call and its recording. It runs inside
// the webhook request, which Stripe wants answered within seconds; a refund
// that does not finish in time is made by the periodic retry
// (RetryAutoRefunds) with the same idempotency key.
const autoRefundTimeout = 8 * time.Second
