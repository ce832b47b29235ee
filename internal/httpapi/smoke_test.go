package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/bookingplatform/booking/internal/booking"
)

// TestBookThenPay is the product's core loop: create a booking through the
// API (Checkout Session from stripe-mock), deliver a signed completed event,
// and replay it 100 times.
func TestBookThenPay(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{})
	var created struct {
		Booking       booking.Booking `json:"booking"`
		CheckoutURL   string          `json:"checkoutUrl"`
		CustomerToken string          `json:"customerToken"`
	}
	resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, futureSlot(3, 10)), nil, &created)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: status %d", resp.StatusCode)
	}
	b := &created.Booking
	if b.Status != booking.StatusPending || b.StripeSessionID == nil || created.CheckoutURL == "" || created.CustomerToken == "" {
		t.Fatalf("unexpected booking %+v url %q", b, created.CheckoutURL)
	}
	ev := paidEvent("evt_smoke_1", b)
	if r := tb.deliverEvent(t, ev); r.status != 200 || r.Outcome != "processed" {
		t.Fatalf("first delivery: %+v", r)
	}
	for i := 0; i < 100; i++ {
		if r := tb.deliverEvent(t, ev); r.status != 200 || r.Outcome != "duplicate" {
			t.Fatalf("replay %d: %+v", i, r)
		}
	}
	if s := tb.status(t, b.ID); s != booking.StatusConfirmed {
		t.Fatalf("status %s, want confirmed", s)
	}
	var got struct {
		Booking booking.Booking `json:"booking"`
	}
	tb.doJSON(t, http.MethodGet, "/api/bookings/"+b.ID+"?token="+created.CustomerToken, nil, nil, &got)
	if got.Booking.Status != booking.StatusConfirmed {
		t.Fatalf("GET booking: status %s", got.Booking.Status)
	}
	if n := pgtestCount(t, tb, `SELECT count(*) FROM payments WHERE booking_id = $1`, b.ID); n != 1 {
		t.Fatalf("payments: %d, want 1", n)
	}
	if n := pgtestCount(t, tb, `SELECT count(*) FROM webhook_events WHERE stripe_event_id = 'evt_smoke_1'`); n != 1 {
		t.Fatalf("ledger rows: %d, want 1", n)
	}
	if n := pgtestCount(t, tb, `SELECT count(*) FROM booking_audit WHERE booking_id = $1 AND to_status = 'confirmed'`, b.ID); n != 1 {
		t.Fatalf("audit rows to confirmed: %d, want 1", n)
	}
}
