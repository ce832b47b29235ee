package booking_test

import (
	"testing"

	"github.com/bookingplatform/booking/internal/booking"
)

func TestDecideRefund(t *testing.T) {
	t.Parallel()
	full := &booking.PaymentEvent{Type: booking.EventChargeRefunded, ChargeAmount: 5000, AmountRefunded: 5000, Currency: "eur"}
	partial := &booking.PaymentEvent{Type: booking.EventChargeRefunded, ChargeAmount: 5000, AmountRefunded: 2000, Currency: "eur"}
	tests := []struct {
		name    string
		status  booking.Status
		ev      *booking.PaymentEvent
		newRows bool
		next    booking.Status
		outcome booking.Outcome
	}{
		{"full refund of a confirmed booking", booking.StatusConfirmed, full, true, booking.StatusRefunded, booking.OutcomeProcessed},
		{"full refund learnt without new rows", booking.StatusConfirmed, full, false, booking.StatusRefunded, booking.OutcomeProcessed},
		{"full refund of a booking under review", booking.StatusNeedsReview, full, true, booking.StatusRefunded, booking.OutcomeProcessed},
		{"already refunded by staff", booking.StatusRefunded, full, false, "", booking.OutcomeDuplicate},
		{"already refunded, row new", booking.StatusRefunded, full, true, "", booking.OutcomeDuplicate},
		{"partial refund", booking.StatusConfirmed, partial, true, "", booking.OutcomeProcessed},
		{"partial refund again", booking.StatusConfirmed, partial, false, "", booking.OutcomeDuplicate},
		{"refund of a cancelled booking", booking.StatusCancelled, full, true, "", booking.OutcomeProcessed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := booking.DecideRefund(&booking.Booking{Status: tt.status}, tt.ev, tt.newRows)
			if p.Next != tt.next || p.Outcome != tt.outcome || p.RecordPayment {
				t.Fatalf("plan %+v, want next %q outcome %s", p, tt.next, tt.outcome)
			}
		})
	}
}

func TestDecideDispute(t *testing.T) {
	t.Parallel()
	ev := &booking.PaymentEvent{Type: booking.EventDisputeCreated, DisputeAmount: 5000, Currency: "eur", DisputeReason: "product_not_received"}
	tests := []struct {
		name    string
		status  booking.Status
		newRow  bool
		next    booking.Status
		outcome booking.Outcome
	}{
		{"confirmed booking is flagged", booking.StatusConfirmed, true, booking.StatusNeedsReview, booking.OutcomeDisputed},
		{"refunded booking keeps its state", booking.StatusRefunded, true, "", booking.OutcomeDisputed},
		{"known dispute", booking.StatusNeedsReview, false, "", booking.OutcomeDuplicate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := booking.DecideDispute(&booking.Booking{Status: tt.status}, ev, tt.newRow)
			if p.Next != tt.next || p.Outcome != tt.outcome {
				t.Fatalf("plan %+v", p)
			}
			if tt.newRow && p.Detail != "disputed: product not received, 50.00 EUR" && tt.next != "" {
				t.Fatalf("detail %q", p.Detail)
			}
		})
	}
}

func TestDecideLatePaymentAutoRefund(t *testing.T) {
	t.Parallel()
	paid := &booking.PaymentEvent{Type: booking.EventCheckoutCompleted, PaymentStatus: "paid", AmountTotal: 5000, Currency: "eur"}
	p := booking.Decide(&booking.Booking{Status: booking.StatusExpired, AmountTotal: 5000, Currency: "eur"}, paid, false)
	if !p.AutoRefund || p.Next != booking.StatusConfirmed || p.FallbackNext != booking.StatusNeedsReview || p.FallbackDetail != booking.ReasonSlotTaken {
		t.Fatalf("late payment plan %+v", p)
	}
	if p := booking.Decide(&booking.Booking{Status: booking.StatusPending, AmountTotal: 5000, Currency: "eur"}, paid, false); p.AutoRefund {
		t.Fatalf("a timely payment must not be refunded: %+v", p)
	}
	waiting := &booking.Booking{Status: booking.StatusNeedsReview, ReviewReason: booking.ReasonSlotTaken, AmountTotal: 5000, Currency: "eur"}
	if p := booking.Decide(waiting, paid, true); !p.AutoRefund || p.Outcome != booking.OutcomeDuplicate {
		t.Fatalf("retry plan %+v", p)
	}
	mismatch := &booking.Booking{Status: booking.StatusNeedsReview, ReviewReason: "paid 1.00 EUR, expected 50.00 EUR"}
	if p := booking.Decide(mismatch, paid, true); p.AutoRefund {
		t.Fatalf("other reviews are for staff: %+v", p)
	}
}
