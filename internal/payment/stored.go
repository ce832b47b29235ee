package payment

import (
	"github.com/bookingplatform/booking/internal/booking"
)

// ParseStored parses an event payload kept in the webhook ledger. The
// signature was verified when the event was first received, so none is
// checked here; the result has Source "webhook" and callers that replay it set
// their own. Errors wrap ErrPayload.
func ParseStored(payload []byte) (*booking.PaymentEvent, error) {
	return parsePayload(payload)
}
