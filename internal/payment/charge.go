package payment

import (
	"encoding/json"
	"fmt"

	"github.com/bookingplatform/booking/internal/booking"
)

// chargeObject is the part of a Charge (data.object of charge.refunded) the
// product reads. Since API version 2022-11-15 the refunds list is not
// included by default; amount_refunded always is.
type chargeObject struct {
	ID             string          `json:"id"`
	Amount         int64           `json:"amount"`
	AmountRefunded int64           `json:"amount_refunded"`
	Currency       string          `json:"currency"`
	PaymentIntent  json.RawMessage `json:"payment_intent"`
	Refunds        *struct {
		Data []struct {
			ID       string `json:"id"`
			Amount   int64  `json:"amount"`
			Currency string `json:"currency"`
			Status   string `json:"status"`
		} `json:"data"`
	} `json:"refunds"`
}

// disputeObject is the part of a Dispute (data.object of
// charge.dispute.created and charge.dispute.closed) the product reads.
type disputeObject struct {
	ID            string          `json:"id"`
	Amount        int64           `json:"amount"`
	Currency      string          `json:"currency"`
	Reason        string          `json:"reason"`
	Status        string          `json:"status"`
	Charge        json.RawMessage `json:"charge"`
	PaymentIntent json.RawMessage `json:"payment_intent"`
}

// parseMoneyObject fills the charge or dispute fields of pe from the event's
// data.object. Other event types are left alone. Errors wrap ErrPayload.
func parseMoneyObject(pe *booking.PaymentEvent, raw json.RawMessage) error {
	switch pe.Type {
	case booking.EventChargeRefunded:
		var ch chargeObject
		if err := json.Unmarshal(raw, &ch); err != nil {
			return fmt.Errorf("%w: charge: %w", ErrPayload, err)
		}
		if ch.ID == "" {
			return fmt.Errorf("%w: charge without id", ErrPayload)
		}
		m := &pe.Money
		m.ChargeID, m.ChargeAmount, m.AmountRefunded, m.Currency = ch.ID, ch.Amount, ch.AmountRefunded, ch.Currency
		pe.PaymentIntentID = expandableID(ch.PaymentIntent)
		if ch.Refunds != nil {
			for _, r := range ch.Refunds.Data {
				if r.ID == "" {
					continue
				}
				cur := r.Currency
				if cur == "" {
					cur = ch.Currency
				}
				m.Refunds = append(m.Refunds, booking.Refund{ID: r.ID, Amount: r.Amount, Currency: cur, Status: r.Status})
			}
		}
	case booking.EventDisputeCreated, booking.EventDisputeClosed:
		var d disputeObject
		if err := json.Unmarshal(raw, &d); err != nil {
			return fmt.Errorf("%w: dispute: %w", ErrPayload, err)
		}
		if d.ID == "" {
			return fmt.Errorf("%w: dispute without id", ErrPayload)
		}
		m := &pe.Money
		m.DisputeID, m.DisputeAmount, m.DisputeReason, m.DisputeStatus, m.Currency = d.ID, d.Amount, d.Reason, d.Status, d.Currency
		m.ChargeID = expandableID(d.Charge)
		pe.PaymentIntentID = expandableID(d.PaymentIntent)
	}
	return nil
}
