package payment

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/bookingplatform/booking/internal/booking"
)

// Demo is the payment provider of development mode without a Stripe account:
// checkout URLs lead to a local demo page that sends correctly signed,
// Stripe-shaped events through the real webhook path.
type Demo struct {
	AppURL string
}

// CreateCheckout returns a local demo checkout session.
func (d *Demo) CreateCheckout(ctx context.Context, req booking.CheckoutRequest) (*booking.Checkout, error) {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	id := "cs_demo_" + hex.EncodeToString(b)
	return &booking.Checkout{SessionID: id, URL: d.AppURL + "/demo/checkout/" + id}, nil
}

// SessionEvent has nothing to add for demo sessions: their events arrive
// through the webhook as soon as the demo page is used.
func (d *Demo) SessionEvent(ctx context.Context, sessionID string) (*booking.PaymentEvent, error) {
	return nil, nil
}
