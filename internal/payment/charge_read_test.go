package payment_test

import (
	"context"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/payment"
)

// The charge of a PaymentIntent is read with its refunded amount and, when
// disputed, its dispute.
func TestChargeStripeMock(t *testing.T) {
	t.Parallel()
	st := payment.NewStripe(payment.StripeOpts{SecretKey: "sk_test_123", APIBase: stripeMockURL(), Timeout: 5 * time.Second})
	cs, err := st.Charge(context.Background(), "pi_123")
	if err != nil {
		t.Fatalf("charge: %v", err)
	}
	if cs.ChargeID == "" || cs.Currency == "" || cs.AmountRefunded < 0 || cs.Amount <= 0 {
		t.Fatalf("charge %+v", cs)
	}
}
