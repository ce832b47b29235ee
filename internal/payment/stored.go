package payment

import (
	"encoding/json"
	"fmt"

	"github.com/stripe/stripe-go/v85"

	"github.com/bookingplatform/booking/internal/booking"
)

// ParseStored parses an event payload kept in the webhook ledger. The
// signature was verified when the event was first received, so none is
// checked here; the result has Source "webhook" and callers that replay it set
// their own. Errors wrap ErrPayload.
func ParseStored(payload []byte) (*booking.PaymentEvent, error) {
	var ev stripe.Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPayload, err)
	}
	if ev.Object != "" && ev.Object != "event" {
		return nil, fmt.Errorf("%w: stored payload is a %s, not an event", ErrPayload, ev.Object)
	}
	return ParseEvent(payload, ev)
}
