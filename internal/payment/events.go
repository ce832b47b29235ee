package payment

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/stripe/stripe-go/v85"

	"github.com/bookingplatform/booking/internal/booking"
)

// HandledEventTypes are the Stripe event types the product acts on (SPEC §5);
// reconciliation lists only these.
var HandledEventTypes = booking.HandledEventTypes

// ListedEvent is one event from the Events API: parsed when its type is
// handled (Event non-nil), otherwise only its id and type.
type ListedEvent struct {
	ID    string
	Type  string
	Event *booking.PaymentEvent // nil for a type the product does not handle
}

// eventsPageSize is the page size of the Events API listing (Stripe's maximum).
const eventsPageSize = 100

// ListEvents lists the events of the handled types created at or after since,
// newest first, as the Events API returns them (it keeps 30 days). Pages are
// fetched as the sequence is consumed. Each parsed event has Source
// "reconcile" and, as payload, the event's JSON. Errors: payment_provider_error
// (listing), or an error wrapping ErrPayload for an event that cannot be read.
func (s *Stripe) ListEvents(ctx context.Context, since time.Time) iter.Seq2[ListedEvent, error] {
	return func(yield func(ListedEvent, error) bool) {
		p := &stripe.EventListParams{
			Types:        stripe.StringSlice(HandledEventTypes),
			CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: since.Unix()},
		}
		p.Limit = stripe.Int64(eventsPageSize)
		for e, err := range s.sc.V1Events.List(ctx, p).All(ctx) {
			if err != nil {
				yield(ListedEvent{}, providerError("list events", err))
				return
			}
			le, err := listedEvent(e)
			if !yield(le, err) {
				return
			}
		}
	}
}

// listedEvent parses a listed event whose type the product handles. The
// listing filters by type already; the check here keeps a server that
// ignores the filter (stripe-mock returns fixtures) from feeding us others.
func listedEvent(e *stripe.Event) (ListedEvent, error) {
	le := ListedEvent{ID: e.ID, Type: string(e.Type)}
	if !slices.Contains(HandledEventTypes, le.Type) {
		return le, nil
	}
	payload, err := json.Marshal(e)
	if err != nil {
		return le, fmt.Errorf("%w: encode event %s: %w", ErrPayload, e.ID, err)
	}
	pe, err := ParseEvent(payload, *e)
	if err != nil {
		return le, fmt.Errorf("event %s: %w", e.ID, err)
	}
	pe.Source = booking.SourceReconcile
	le.Event = pe
	return le, nil
}
