package booking

import (
	"context"
	"log/slog"
	"time"
)

// EventStore is what fulfilment needs from the database.
type EventStore interface {
	// ApplyEvent locks the booking ev concerns with its money (and the
	// refund and dispute events waiting for its payment), asks decide for a
	// plan for ev and then for each waiting event, and applies the plans
	// with ev's ledger row in one transaction: either everything is
	// committed or nothing is. A replay is recorded beside the original
	// ledger row. Errors: unavailable, internal.
	ApplyEvent(ctx context.Context, ev *PaymentEvent, decide func(st *State, ev *PaymentEvent) Plan) (*EventResult, error)
	// FindStoredEvent returns the raw payload of a ledger row. Errors: not_found.
	FindStoredEvent(ctx context.Context, eventID string) (*StoredEvent, error)
	// FindPaymentEvent returns a ledger row with its replays. Errors: not_found.
	FindPaymentEvent(ctx context.Context, eventID string) (*LedgerEvent, error)
	FindBookingBySession(ctx context.Context, sessionID string) (*Booking, error)
}

// SessionReader reads a Checkout Session from the payment provider.
type SessionReader interface {
	// SessionEvent retrieves a Checkout Session and describes a finished
	// one as a synthetic event; an open session yields nil.
	SessionEvent(ctx context.Context, sessionID string) (*PaymentEvent, error)
}

// Fulfiller applies payment events exactly once: from the webhook, the
// return page, reconciliation and replays, all through the same path.
type Fulfiller struct {
	Store    EventStore
	Sessions SessionReader
	// Parse parses a payload stored in the ledger, for replays.
	Parse   func(payload []byte) (*PaymentEvent, error)
	Refunds *Refunds // woken when an event leaves a refund owed
	Logger  *slog.Logger
	Now     func() time.Time
}

// HandleEvent processes a verified payment event exactly once.
// Errors: unavailable, internal.
func (f *Fulfiller) HandleEvent(ctx context.Context, ev *PaymentEvent) (*EventResult, error) {
	now := f.Now()
	res, err := f.Store.ApplyEvent(ctx, ev, func(st *State, ev *PaymentEvent) Plan { return Decide(st, ev, now) })
	if err != nil {
		return nil, err
	}
	f.Logger.InfoContext(ctx, "stripe event",
		"event_id", ev.ID, "event_type", ev.Type, "session_id", ev.SessionID,
		"booking_id", res.BookingID, "outcome", res.Outcome, "source", ev.Source)
	for _, l := range res.Late {
		f.Logger.InfoContext(ctx, "stripe event applied with its payment",
			"event_id", l.EventID, "payment_event_id", ev.ID, "booking_id", l.BookingID, "outcome", l.Outcome)
	}
	if res.RefundsOwed {
		f.Refunds.Kick()
	}
	return res, nil
}

// ReturnFromCheckout retrieves a Checkout Session and applies the same
// fulfilment as its webhook, then returns the booking (Stripe's "fulfil on
// return"). Errors: validation_failed, not_found, payment_provider_error,
// unavailable.
func (f *Fulfiller) ReturnFromCheckout(ctx context.Context, sessionID string) (*Booking, error) {
	if sessionID == "" || len(sessionID) > 255 {
		return nil, &Error{Code: EValidation, Message: "Some fields are invalid.", Fields: map[string]string{"session_id": "Required."}}
	}
	b, err := f.Store.FindBookingBySession(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	if b.Status != StatusPending && b.Status != StatusAwaitingPayment && b.Status != StatusExpired {
		return b, nil
	}
	ev, err := f.Sessions.SessionEvent(ctx, sessionID)
	if err != nil || ev == nil {
		return b, err
	}
	if _, err := f.HandleEvent(ctx, ev); err != nil {
		return nil, err
	}
	return f.Store.FindBookingBySession(ctx, sessionID)
}

// Replay runs a stored event again through the same idempotent path: an
// effect already applied is not applied again. The replay is recorded
// beside the event's ledger row, which keeps its original outcome.
// Errors: not_found, conflict (the row holds no event that can be replayed),
// unavailable.
func (f *Fulfiller) Replay(ctx context.Context, eventID string, by Cause) (*EventResult, *LedgerEvent, error) {
	if eventID == "" || len(eventID) > 255 {
		return nil, nil, Errorf(ENotFound, "Payment event not found.")
	}
	se, err := f.Store.FindStoredEvent(ctx, eventID)
	if err != nil {
		return nil, nil, err
	}
	ev, err := f.Parse(se.Payload)
	if err != nil || ev.ID != se.ID {
		return nil, nil, WrapError(EConflict, "This ledger entry does not hold a Stripe event that can be replayed.", err)
	}
	ev.Source, ev.ReplayBy = SourceReplay, by.Kind+":"+by.Ref
	res, err := f.HandleEvent(ctx, ev)
	if err != nil {
		return nil, nil, err
	}
	le, err := f.Store.FindPaymentEvent(ctx, eventID)
	if err != nil {
		return nil, nil, err
	}
	return res, le, nil
}

// BookingBySession returns the booking of a Checkout Session, for the pages
// that Checkout returns to. Errors: not_found.
func (f *Fulfiller) BookingBySession(ctx context.Context, sessionID string) (*Booking, error) {
	if sessionID == "" || len(sessionID) > 255 {
		return nil, Errorf(ENotFound, "Booking not found.")
	}
	return f.Store.FindBookingBySession(ctx, sessionID)
}
