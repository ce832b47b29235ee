package payment_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/payment"
)

func eventJSON(t *testing.T, typ string, object any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"id": "evt_1", "object": "event", "type": typ, "created": 1700000000,
		"api_version": "2026-05-27.dahlia", "data": map[string]any{"object": object}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseMoneyEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		typ     string
		object  any
		want    booking.MoneyFacts
		pi      string
		refunds []booking.Refund
		bad     bool
	}{
		{
			name: "charge with its refunds list",
			typ:  booking.EventChargeRefunded,
			object: map[string]any{"id": "ch_1", "object": "charge", "amount": 5000, "amount_refunded": 5000, "currency": "eur",
				"payment_intent": "pi_1", "refunds": map[string]any{"data": []any{
					map[string]any{"id": "re_1", "amount": 3000, "currency": "eur", "status": "succeeded"},
					map[string]any{"id": "re_2", "amount": 2000, "status": "pending"},
				}}},
			want:    booking.MoneyFacts{ChargeID: "ch_1", ChargeAmount: 5000, AmountRefunded: 5000, Currency: "eur"},
			pi:      "pi_1",
			refunds: []booking.Refund{{ID: "re_1", Amount: 3000, Currency: "eur", Status: "succeeded"}, {ID: "re_2", Amount: 2000, Currency: "eur", Status: "pending"}},
		},
		{
			name: "charge without the list, payment intent expanded",
			typ:  booking.EventChargeRefunded,
			object: map[string]any{"id": "ch_2", "amount": 5000, "amount_refunded": 1000, "currency": "usd",
				"payment_intent": map[string]any{"id": "pi_2", "object": "payment_intent"}},
			want: booking.MoneyFacts{ChargeID: "ch_2", ChargeAmount: 5000, AmountRefunded: 1000, Currency: "usd"},
			pi:   "pi_2",
		},
		{
			name: "dispute",
			typ:  booking.EventDisputeCreated,
			object: map[string]any{"id": "dp_1", "object": "dispute", "amount": 5000, "currency": "eur", "reason": "fraudulent",
				"charge": "ch_1", "payment_intent": "pi_1", "status": "needs_response"},
			want: booking.MoneyFacts{DisputeID: "dp_1", DisputeAmount: 5000, DisputeReason: "fraudulent", ChargeID: "ch_1",
				Currency: "eur", DisputeStatus: "needs_response"},
			pi: "pi_1",
		},
		{
			name: "dispute closed",
			typ:  booking.EventDisputeClosed,
			object: map[string]any{"id": "dp_2", "object": "dispute", "amount": 2000, "currency": "eur", "reason": "general",
				"charge": map[string]any{"id": "ch_2"}, "payment_intent": "pi_2", "status": "won"},
			want: booking.MoneyFacts{DisputeID: "dp_2", DisputeAmount: 2000, DisputeReason: "general", ChargeID: "ch_2",
				Currency: "eur", DisputeStatus: "won"},
			pi: "pi_2",
		},
		{name: "charge without id", typ: booking.EventChargeRefunded, object: map[string]any{"amount": 1}, bad: true},
		{name: "dispute without id", typ: booking.EventDisputeCreated, object: map[string]any{"amount": 1}, bad: true},
		{name: "dispute of the wrong shape", typ: booking.EventDisputeCreated, object: map[string]any{"id": "dp_1", "amount": "ten"}, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := payment.ParseStored(eventJSON(t, tt.typ, tt.object))
			if tt.bad {
				if !errors.Is(err, payment.ErrPayload) {
					t.Fatalf("err %v, want ErrPayload", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ev.Money
			got.Refunds = nil
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || ev.PaymentIntentID != tt.pi {
				t.Fatalf("got %+v (intent %q)\nwant %+v (intent %q)", got, ev.PaymentIntentID, tt.want, tt.pi)
			}
			if len(ev.Money.Refunds) != len(tt.refunds) {
				t.Fatalf("refunds %+v, want %+v", ev.Money.Refunds, tt.refunds)
			}
			for i := range tt.refunds {
				if ev.Money.Refunds[i] != tt.refunds[i] {
					t.Fatalf("refund %d: %+v, want %+v", i, ev.Money.Refunds[i], tt.refunds[i])
				}
			}
		})
	}
}
