package payment

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/bookingplatform/booking/internal/booking"
)

// Demo is the payment provider of development mode without a Stripe account:
// checkout URLs lead to a local demo page that sends correctly signed,
// Stripe-shaped events through the real webhook path.
type Demo struct {
	AppURL string
	// WebhookSecret signs the demo events; it must be a secret the webhook
	// verifier accepts.
	WebhookSecret string
}

// demoSessionPrefix starts the id of every demo Checkout Session.
const demoSessionPrefix = "cs_demo_"

// CreateCheckout returns a local demo checkout session.
func (d *Demo) CreateCheckout(ctx context.Context, req booking.CheckoutRequest) (*booking.Checkout, error) {
	id := demoSessionPrefix + randomHex(12)
	return &booking.Checkout{SessionID: id, URL: d.AppURL + "/demo/checkout/" + id}, nil
}

// SessionEvent has nothing to add for demo sessions: their events arrive
// through the webhook as soon as the demo page is used.
func (d *Demo) SessionEvent(ctx context.Context, sessionID string) (*booking.PaymentEvent, error) {
	return nil, nil
}

// IsDemoSession reports whether id looks like a demo Checkout Session id.
func IsDemoSession(id string) bool {
	rest, ok := strings.CutPrefix(id, demoSessionPrefix)
	if !ok || rest == "" || len(rest) > 64 {
		return false
	}
	_, err := hex.DecodeString(rest)
	return err == nil
}

// SuccessURL is where Stripe would send the customer after paying: the same
// success_url the real Checkout Sessions carry.
func (d *Demo) SuccessURL(sessionID string) string {
	return d.AppURL + "/checkout/return?session_id=" + url.QueryEscape(sessionID)
}

// CancelURL is where Stripe would send a customer who leaves the checkout:
// the same cancel_url the real Checkout Sessions carry.
func (d *Demo) CancelURL(bookingID string) string {
	return d.AppURL + "/cancel?booking=" + url.QueryEscape(bookingID)
}

// DemoEvent is one event the demo checkout sends: an event type and the
// session's payment_status at that moment.
type DemoEvent struct {
	Type          string // booking.EventCheckout*
	PaymentStatus string // paid or unpaid
}

// SignedEvent is a Stripe-shaped event payload and its Stripe-Signature header.
type SignedEvent struct {
	ID      string
	Payload []byte
	Header  string
}

// SignEvent builds the event e about booking b's Checkout Session as Stripe
// would send it, and signs it with the webhook secret.
func (d *Demo) SignEvent(e DemoEvent, b *booking.Booking) (*SignedEvent, error) {
	if d.WebhookSecret == "" {
		return nil, errors.New("demo payments: no webhook secret")
	}
	if b.StripeSessionID == nil || *b.StripeSessionID == "" {
		return nil, errors.New("demo payments: booking has no checkout session")
	}
	sessionID := *b.StripeSessionID
	status := "complete"
	if e.Type == booking.EventCheckoutExpired {
		status = "expired"
	}
	var paymentIntent any
	if status == "complete" {
		// A completed session carries its PaymentIntent; one per session.
		paymentIntent = "pi_demo_" + strings.TrimPrefix(sessionID, demoSessionPrefix)
	}
	now := time.Now()
	id := "evt_demo_" + randomHex(12)
	ev := map[string]any{
		"id":               id,
		"object":           "event",
		"api_version":      stripe.APIVersion,
		"created":          now.Unix(),
		"livemode":         false,
		"pending_webhooks": 1,
		"request":          map[string]any{"id": nil, "idempotency_key": nil},
		"type":             e.Type,
		"data": map[string]any{"object": map[string]any{
			"id":                  sessionID,
			"object":              "checkout.session",
			"client_reference_id": b.ID,
			"metadata":            map[string]string{"booking_id": b.ID, "booking_reference": b.Reference},
			"mode":                "payment",
			"payment_status":      e.PaymentStatus,
			"status":              status,
			"amount_total":        b.AmountTotal,
			"currency":            b.Currency,
			"customer_email":      b.Customer.Email,
			"expires_at":          b.HoldExpiresAt.Unix(),
			"livemode":            false,
			"payment_intent":      paymentIntent,
			"success_url":         d.AppURL + "/checkout/return?session_id={CHECKOUT_SESSION_ID}",
			"cancel_url":          d.CancelURL(b.ID),
			"url":                 nil,
		}},
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode demo event: %w", err)
	}
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
		Payload: payload, Secret: d.WebhookSecret, Timestamp: now,
	})
	return &SignedEvent{ID: id, Payload: payload, Header: signed.Header}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
