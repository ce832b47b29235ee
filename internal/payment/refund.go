package payment

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"github.com/stripe/stripe-go/v85"

	"github.com/bookingplatform/booking/internal/booking"
)

// Refund refunds a PaymentIntent through the Stripe Refunds API, with the
// request's idempotency key so that a retried refund returns the first one.
// The recorded amount and currency are Stripe's.
// Errors: payment_provider_error.
func (s *Stripe) Refund(ctx context.Context, req booking.ProviderRefund) (*booking.Refund, error) {
	p := &stripe.RefundCreateParams{PaymentIntent: stripe.String(req.PaymentIntentID)}
	if req.Amount > 0 {
		p.Amount = stripe.Int64(req.Amount)
	}
	p.AddMetadata("booking_id", req.BookingID)
	if req.IdempotencyKey != "" {
		p.SetIdempotencyKey(req.IdempotencyKey)
	}
	r, err := s.sc.V1Refunds.Create(ctx, p)
	if err != nil {
		return nil, providerError("create refund", err)
	}
	out := &booking.Refund{ID: r.ID, Amount: r.Amount, Currency: string(r.Currency), Status: string(r.Status)}
	if out.Amount == 0 {
		out.Amount = req.Amount
	}
	if out.Currency == "" {
		out.Currency = req.Currency
	}
	return out, nil
}

// Refund returns a demo refund of the whole request. Its id is derived from
// the idempotency key, so a retried refund is the same refund.
func (d *Demo) Refund(ctx context.Context, req booking.ProviderRefund) (*booking.Refund, error) {
	key := req.IdempotencyKey
	if key == "" {
		key = "refund-" + req.BookingID
	}
	sum := sha256.Sum256([]byte("demo-refund\x00" + key))
	return &booking.Refund{ID: "re_demo_" + hex.EncodeToString(sum[:12]), Amount: req.Amount,
		Currency: req.Currency, Status: "succeeded"}, nil
}

// Charge reads the latest charge of a PaymentIntent: what Stripe has
// refunded of it so far and, when it is disputed, its dispute, whatever
// webhooks the product received. Errors: payment_provider_error.
func (s *Stripe) Charge(ctx context.Context, paymentIntentID string) (*booking.ChargeState, error) {
	p := &stripe.PaymentIntentRetrieveParams{}
	p.AddExpand("latest_charge")
	pi, err := s.sc.V1PaymentIntents.Retrieve(ctx, paymentIntentID, p)
	if err != nil {
		return nil, providerError("retrieve payment intent", err)
	}
	ch := pi.LatestCharge
	if ch == nil || ch.ID == "" {
		return nil, providerError("retrieve payment intent", errors.New("no charge"))
	}
	cs := &booking.ChargeState{ChargeID: ch.ID, Amount: ch.Amount, AmountRefunded: ch.AmountRefunded, Currency: string(ch.Currency)}
	if !ch.Disputed {
		return cs, nil
	}
	lp := &stripe.DisputeListParams{PaymentIntent: stripe.String(paymentIntentID)}
	lp.Limit = stripe.Int64(10)
	for d, err := range s.sc.V1Disputes.List(ctx, lp).All(ctx) {
		if err != nil {
			return nil, providerError("list disputes", err)
		}
		if d.Charge != nil && d.Charge.ID != "" && d.Charge.ID != ch.ID {
			continue
		}
		// A charge has at most one dispute; the newest listed is it.
		cs.Dispute = &booking.ChargeDispute{ID: d.ID, Amount: d.Amount, Currency: string(d.Currency),
			Reason: string(d.Reason), Status: string(d.Status)}
		break
	}
	return cs, nil
}
