// Package payment is the payment-provider edge: the only package that imports
// stripe-go. It creates Checkout Sessions, retrieves them for the return page,
// and verifies webhook signatures, turning events into booking.PaymentEvent.
package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/bookingplatform/booking/internal/booking"
)

// StripeOpts configures the Stripe client.
type StripeOpts struct {
	SecretKey string
	APIBase   string // optional, e.g. a local stripe-mock
	AppURL    string // public base URL for success and cancel pages
	Timeout   time.Duration
}

// Stripe creates Checkout Sessions through the official SDK.
type Stripe struct {
	sc     *stripe.Client
	appURL string
}

// NewStripe returns a Stripe client with timeouts and, when APIBase is set,
// pointed at that base URL.
func NewStripe(o StripeOpts) *Stripe {
	if o.Timeout == 0 {
		o.Timeout = 20 * time.Second
	}
	cfg := &stripe.BackendConfig{
		HTTPClient:        &http.Client{Timeout: o.Timeout},
		MaxNetworkRetries: stripe.Int64(2),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	if o.APIBase != "" {
		cfg.URL = stripe.String(o.APIBase)
	}
	b := stripe.NewBackendsWithConfig(cfg)
	return &Stripe{sc: stripe.NewClient(o.SecretKey, stripe.WithBackends(b)), appURL: o.AppURL}
}

// CheckoutIdempotencyKey is the Stripe Idempotency-Key of a booking's Checkout
// Session: a retried request never creates a second session.
func CheckoutIdempotencyKey(bookingID string) string { return "booking-checkout-" + bookingID }

// CreateCheckout creates the one Checkout Session of a booking.
// Errors: payment_provider_error.
func (s *Stripe) CreateCheckout(ctx context.Context, req booking.CheckoutRequest) (*booking.Checkout, error) {
	p := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModePayment)),
		ClientReferenceID: stripe.String(req.BookingID),
		CustomerEmail:     stripe.String(req.Email),
		ExpiresAt:         stripe.Int64(req.ExpiresAt.Unix()),
		SuccessURL:        stripe.String(s.appURL + "/checkout/return?session_id={CHECKOUT_SESSION_ID}"),
		CancelURL:         stripe.String(cancelURL(s.appURL, req)),
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{
			Quantity: stripe.Int64(1),
			PriceData: &stripe.CheckoutSessionCreateLineItemPriceDataParams{
				Currency:   stripe.String(req.Currency),
				UnitAmount: stripe.Int64(req.Amount),
				ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{
					Name:        stripe.String(req.ResourceName),
					Description: stripe.String("Booking " + req.Reference),
				},
			},
		}},
		PaymentIntentData: &stripe.CheckoutSessionCreatePaymentIntentDataParams{
			Metadata: map[string]string{"booking_id": req.BookingID},
		},
	}
	p.AddMetadata("booking_id", req.BookingID)
	p.AddMetadata("booking_reference", req.Reference)
	p.SetIdempotencyKey(CheckoutIdempotencyKey(req.BookingID))
	cs, err := s.sc.V1CheckoutSessions.Create(ctx, p)
	if err != nil {
		return nil, providerError("create checkout session", err)
	}
	return &booking.Checkout{SessionID: cs.ID, URL: cs.URL}, nil
}

// SessionEvent retrieves a Checkout Session and describes a finished one as a
// synthetic event; an open session yields nil.
func (s *Stripe) SessionEvent(ctx context.Context, sessionID string) (*booking.PaymentEvent, error) {
	cs, err := s.sc.V1CheckoutSessions.Retrieve(ctx, sessionID, nil)
	if err != nil {
		return nil, providerError("retrieve checkout session", err)
	}
	raw, err := json.Marshal(cs)
	if err != nil {
		return nil, err
	}
	ev := &booking.PaymentEvent{
		Payload: raw, Source: booking.SourceReturn, SessionID: cs.ID, BookingRef: cs.ClientReferenceID,
		PaymentStatus: string(cs.PaymentStatus), AmountTotal: cs.AmountTotal, Currency: string(cs.Currency),
		Livemode: cs.Livemode, Created: time.Now().UTC(),
	}
	if cs.PaymentIntent != nil {
		ev.PaymentIntentID = cs.PaymentIntent.ID
	}
	if ev.BookingRef == "" {
		ev.BookingRef = cs.Metadata["booking_id"]
	}
	switch cs.Status {
	case stripe.CheckoutSessionStatusComplete:
		ev.Type = booking.EventCheckoutCompleted
	case stripe.CheckoutSessionStatusExpired:
		ev.Type = booking.EventCheckoutExpired
	default:
		return nil, nil
	}
	ev.ID = fmt.Sprintf("return:%s:%s:%s", cs.ID, cs.Status, cs.PaymentStatus)
	return ev, nil
}

// ExpireCheckout expires an open Checkout Session so it can no longer be
// paid. Errors: payment_provider_error (also for a session that is not open).
func (s *Stripe) ExpireCheckout(ctx context.Context, sessionID string) error {
	if _, err := s.sc.V1CheckoutSessions.Expire(ctx, sessionID, nil); err != nil {
		return providerError("expire checkout session", err)
	}
	return nil
}

func providerError(op string, err error) error {
	var se *stripe.Error
	if errors.As(err, &se) && se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 &&
		se.HTTPStatusCode != http.StatusConflict && se.HTTPStatusCode != http.StatusTooManyRequests {
		// Stripe answered and refused: asking again the same way would get
		// the same answer (replayed for the same idempotency key).
		err = fmt.Errorf("%w: %w", booking.ErrRefused, err)
	}
	return booking.WrapError(booking.EPaymentProvider, "The payment provider could not be reached. Please try again.", fmt.Errorf("%s: %w", op, err))
}

// Verifier checks Stripe-Signature headers with the endpoint secrets.
type Verifier struct {
	Secrets   []string // current secret first; a second one while rolling
	Tolerance time.Duration
}

// ErrSignature is returned for a payload whose signature does not verify.
var ErrSignature = errors.New("invalid stripe signature")

// ErrPayload is returned for a signed payload that is not a usable event.
var ErrPayload = errors.New("invalid stripe event payload")

// Verify checks the signature of payload and parses the event. An API-version
// mismatch between the event and the SDK does not reject a genuine event:
// fields are read from the raw JSON, which is stable across versions for what
// we read. Errors wrap ErrSignature or ErrPayload.
func (v *Verifier) Verify(payload []byte, header string) (*booking.PaymentEvent, error) {
	tol := v.Tolerance
	if tol <= 0 {
		tol = webhook.DefaultTolerance
	}
	err := webhook.ErrNoValidSignature
	for _, secret := range v.Secrets {
		// The signature is checked on the raw bytes; the event is decoded
		// once, afterwards, into only the fields the product reads.
		if err = webhook.ValidatePayloadWithTolerance(payload, header, secret, tol); err == nil || !isSignatureError(err) {
			break
		}
	}
	if err != nil {
		if isSignatureError(err) {
			return nil, fmt.Errorf("%w: %w", ErrSignature, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrPayload, err)
	}
	return parsePayload(payload)
}

func isSignatureError(err error) bool {
	return errors.Is(err, webhook.ErrNotSigned) || errors.Is(err, webhook.ErrInvalidHeader) ||
		errors.Is(err, webhook.ErrNoValidSignature) || errors.Is(err, webhook.ErrTooOld)
}

// sessionObject is the part of a Checkout Session the product reads.
type sessionObject struct {
	Object            string            `json:"object"`
	ID                string            `json:"id"`
	ClientReferenceID string            `json:"client_reference_id"`
	Metadata          map[string]string `json:"metadata"`
	PaymentStatus     string            `json:"payment_status"`
	AmountTotal       int64             `json:"amount_total"`
	Currency          string            `json:"currency"`
	PaymentIntent     json.RawMessage   `json:"payment_intent"`
}

// envelope is the part of an Event the product reads.
type envelope struct {
	ID         string `json:"id"`
	Object     string `json:"object"`
	Type       string `json:"type"`
	APIVersion string `json:"api_version"`
	Created    int64  `json:"created"`
	Livemode   bool   `json:"livemode"`
	Data       *struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

// ParseEvent reduces an event to a booking.PaymentEvent; payload is the
// event's JSON (ev, already decoded by the SDK, is not read again).
func ParseEvent(payload []byte, _ stripe.Event) (*booking.PaymentEvent, error) {
	return parsePayload(payload)
}

// parsePayload decodes a verified or stored event payload. Like the SDK's
// ConstructEvent it refuses a payload whose object is not "event".
func parsePayload(payload []byte) (*booking.PaymentEvent, error) {
	var ev envelope
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPayload, err)
	}
	if ev.Object != "event" {
		return nil, fmt.Errorf("%w: object is %q, not an event", ErrPayload, ev.Object)
	}
	if ev.ID == "" || ev.Type == "" || ev.Data == nil || len(ev.Data.Object) == 0 {
		return nil, fmt.Errorf("%w: missing id, type or data", ErrPayload)
	}
	pe := &booking.PaymentEvent{
		ID: ev.ID, Type: ev.Type, Livemode: ev.Livemode, APIVersion: ev.APIVersion,
		Payload: payload, Source: booking.SourceWebhook,
	}
	if ev.Created > 0 {
		pe.Created = time.Unix(ev.Created, 0).UTC()
	}
	raw := ev.Data.Object
	if pe.IsCheckout() {
		var cs sessionObject
		if err := json.Unmarshal(raw, &cs); err != nil {
			return nil, fmt.Errorf("%w: checkout session: %w", ErrPayload, err)
		}
		if cs.ID == "" {
			return nil, fmt.Errorf("%w: checkout session without id", ErrPayload)
		}
		pe.SessionID, pe.BookingRef, pe.PaymentStatus = cs.ID, cs.ClientReferenceID, cs.PaymentStatus
		pe.AmountTotal, pe.Currency = cs.AmountTotal, cs.Currency
		if pe.BookingRef == "" {
			pe.BookingRef = cs.Metadata["booking_id"]
		}
		pe.PaymentIntentID = expandableID(cs.PaymentIntent)
	}
	if pe.IsMoney() {
		if err := parseMoneyObject(pe, raw); err != nil {
			return nil, err
		}
	}
	return pe, nil
}

// expandableID reads an expandable field: an id string or an object with an id.
func expandableID(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var id string
	if json.Unmarshal(raw, &id) == nil {
		return id
	}
	var obj struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &obj)
	return obj.ID
}

// cancelURL is where a customer who leaves the checkout goes: the
// abandoned-checkout page, which releases the booking's hold when the link
// carries its key (booking.CheckoutCancelKey).
func cancelURL(appURL string, req booking.CheckoutRequest) string {
	u := appURL + "/cancel?booking=" + url.QueryEscape(req.BookingID)
	if req.CancelKey != "" {
		u += "&key=" + url.QueryEscape(req.CancelKey)
	}
	return u
}
