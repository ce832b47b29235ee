package httpapi_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/httpapi"
	"github.com/bookingplatform/booking/internal/payment"
)

// FuzzWebhook sends arbitrary bodies to the webhook, both correctly signed
// and unsigned, against a real database. The handler must never panic or
// answer 500 with the database up, and an unsigned body is always a 400.
func FuzzWebhook(f *testing.F) {
	tb := setup(f, setupOpts{payments: &payment.Demo{AppURL: "http://localhost"}})
	b := createTestBooking(f, tb)
	f.Add(paidEvent("evt_fuzz_seed", b).payload())
	f.Add(sessionEvent{ID: "evt_fuzz_2", Type: booking.EventCheckoutExpired, SessionID: *b.StripeSessionID, BookingID: b.ID}.payload())
	f.Add([]byte(`{"id":"evt_x","object":"event","type":"charge.refunded","api_version":"2020-01-01","data":{"object":{}}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		if r := tb.deliver(t, payload, ""); r.status != http.StatusBadRequest && r.status != http.StatusTooManyRequests {
			t.Fatalf("unsigned: status %d", r.status)
		}
		r := tb.deliver(t, payload, sign(payload, testSecret))
		if r.status != http.StatusOK && r.status != http.StatusBadRequest {
			t.Fatalf("signed: status %d (%+v)", r.status, r)
		}
	})
}

// FuzzDecodeBookingRequest feeds arbitrary bodies to the booking decoder:
// it must never panic, and every failure is a client error with a code.
func FuzzDecodeBookingRequest(f *testing.F) {
	f.Add([]byte(`{"resourceId":"8b0e1a52-2a8f-4a4e-9d55-0f4c1f0f4b1a","startsAt":"2030-01-01T09:00:00Z","customer":{"firstName":"A","lastName":"B","email":"a@b.co"}}`))
	f.Add([]byte(`{"startsAt":12}`))
	f.Add([]byte(`{"customer":{"email":[]}}`))
	f.Add([]byte(`{} {}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/api/bookings", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		_, err := httpapi.DecodeBookingRequest(httptest.NewRecorder(), r)
		if err == nil {
			return
		}
		var be *booking.Error
		if !errors.As(err, &be) {
			t.Fatalf("error is not a booking.Error: %v", err)
		}
		switch be.Code {
		case booking.EInvalidJSON, booking.EValidation, booking.EBodyTooLarge:
		default:
			t.Fatalf("unexpected code %q for %q", be.Code, body)
		}
	})
}
