package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/app"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/payment"
	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

// fieldKeys returns the sorted keys of an error's fields.
func fieldKeys(f map[string]string) []string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// jsonKeys returns the sorted keys of a JSON object.
func jsonKeys(t testing.TB, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %s: %v", raw, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestBookingCreateValidation(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{})
	morning := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{WeeklyHours: []booking.OpenSpan{
		{Weekday: 0, Start: "09:00", End: "12:00"}, {Weekday: 1, Start: "09:00", End: "12:00"},
		{Weekday: 2, Start: "09:00", End: "12:00"}, {Weekday: 3, Start: "09:00", End: "12:00"},
		{Weekday: 4, Start: "09:00", End: "12:00"}, {Weekday: 5, Start: "09:00", End: "12:00"},
		{Weekday: 6, Start: "09:00", End: "12:00"},
	}})
	inactive := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{Inactive: true})
	rid := tb.resource.ID
	start := futureSlot(3, 10)

	// body builds a valid request with one change applied.
	body := func(change func(m map[string]any)) map[string]any {
		m := bookingBody(rid, start)
		m["customer"] = map[string]any{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"}
		if change != nil {
			change(m)
		}
		return m
	}
	customer := func(field string, v any) func(m map[string]any) {
		return func(m map[string]any) { m["customer"].(map[string]any)[field] = v }
	}
	set := func(field string, v any) func(m map[string]any) {
		return func(m map[string]any) { m[field] = v }
	}
	del := func(field string) func(m map[string]any) {
		return func(m map[string]any) { delete(m, field) }
	}
	valid, _ := json.Marshal(body(nil))
	huge := body(customer("firstName", strings.Repeat("a", 70<<10)))

	tests := []struct {
		name        string
		body        any
		contentType string // default application/json
		status      int
		code        string
		fields      []string // exact field keys for validation errors
	}{
		{name: "not JSON", body: "this is not json", status: 400, code: "invalid_json"},
		{name: "truncated JSON", body: string(valid[:len(valid)-3]), status: 400, code: "invalid_json"},
		{name: "empty body", body: "", status: 400, code: "invalid_json"},
		{name: "array instead of object", body: "[]", status: 400, code: "invalid_json"},
		{name: "customer is a number", body: body(set("customer", 5)), status: 400, code: "invalid_json"},
		{name: "resourceId is a number", body: body(set("resourceId", 12)), status: 400, code: "invalid_json"},
		{name: "startsAt is a number", body: body(set("startsAt", 1700000000)), status: 400, code: "invalid_json"},
		{name: "email is an array", body: body(customer("email", []string{"a@example.com"})), status: 400, code: "invalid_json"},
		{name: "unknown top-level field", body: body(set("price", 1)), status: 400, code: "invalid_json"},
		{name: "unknown customer field", body: body(customer("phone", "123")), status: 400, code: "invalid_json"},
		{name: "two JSON objects", body: string(valid) + string(valid), status: 400, code: "invalid_json"},
		{name: "trailing garbage", body: string(valid) + " x", status: 400, code: "invalid_json"},
		{name: "text/plain content type", body: body(nil), contentType: "text/plain", status: 400, code: "invalid_json"},
		{name: "form content type", body: body(nil), contentType: "application/x-www-form-urlencoded", status: 400, code: "invalid_json"},
		{name: "body over 64 KiB", body: huge, status: 413, code: "body_too_large"},
		{name: "empty object", body: "{}", status: 422, code: "validation_failed",
			fields: []string{"customer.email", "customer.firstName", "customer.lastName", "resourceId", "startsAt"}},
		{name: "missing customer", body: body(del("customer")), status: 422, code: "validation_failed",
			fields: []string{"customer.email", "customer.firstName", "customer.lastName"}},
		{name: "missing firstName", body: body(customer("firstName", nil)), status: 422, code: "validation_failed", fields: []string{"customer.firstName"}},
		{name: "blank firstName", body: body(customer("firstName", "   ")), status: 422, code: "validation_failed", fields: []string{"customer.firstName"}},
		{name: "blank lastName", body: body(customer("lastName", "\t")), status: 422, code: "validation_failed", fields: []string{"customer.lastName"}},
		{name: "firstName too long", body: body(customer("firstName", strings.Repeat("x", 101))), status: 422, code: "validation_failed", fields: []string{"customer.firstName"}},
		{name: "lastName too long", body: body(customer("lastName", strings.Repeat("é", 101))), status: 422, code: "validation_failed", fields: []string{"customer.lastName"}},
		{name: "name with control character", body: body(customer("firstName", "Ada\x00")), status: 422, code: "validation_failed", fields: []string{"customer.firstName"}},
		{name: "missing email", body: body(customer("email", "")), status: 422, code: "validation_failed", fields: []string{"customer.email"}},
		{name: "email without at", body: body(customer("email", "ada.example.com")), status: 422, code: "validation_failed", fields: []string{"customer.email"}},
		{name: "email without domain dot", body: body(customer("email", "ada@localhost")), status: 422, code: "validation_failed", fields: []string{"customer.email"}},
		{name: "email with display name", body: body(customer("email", "Ada <ada@example.com>")), status: 422, code: "validation_failed", fields: []string{"customer.email"}},
		{name: "email with two ats", body: body(customer("email", "ada@@example.com")), status: 422, code: "validation_failed", fields: []string{"customer.email"}},
		{name: "email too long", body: body(customer("email", strings.Repeat("a", 243)+"@example.com")), status: 422, code: "validation_failed", fields: []string{"customer.email"}},
		{name: "missing resourceId", body: body(del("resourceId")), status: 422, code: "validation_failed", fields: []string{"resourceId"}},
		{name: "resourceId not a UUID", body: body(set("resourceId", "room-1")), status: 422, code: "validation_failed", fields: []string{"resourceId"}},
		{name: "unknown resource", body: body(set("resourceId", "00000000-0000-4000-8000-000000000000")), status: 422, code: "validation_failed", fields: []string{"resourceId"}},
		{name: "inactive resource", body: body(set("resourceId", inactive.ID)), status: 422, code: "validation_failed", fields: []string{"resourceId"}},
		{name: "missing startsAt", body: body(del("startsAt")), status: 422, code: "validation_failed", fields: []string{"startsAt"}},
		{name: "startsAt not RFC 3339", body: body(set("startsAt", "tomorrow at ten")), status: 422, code: "validation_failed", fields: []string{"startsAt"}},
		{name: "startsAt without offset", body: body(set("startsAt", start.Format("2006-01-02T15:04:05"))), status: 422, code: "validation_failed", fields: []string{"startsAt"}},
		{name: "startsAt date only", body: body(set("startsAt", start.Format(time.DateOnly))), status: 422, code: "validation_failed", fields: []string{"startsAt"}},
		{name: "bad startsAt with bad email", body: body(func(m map[string]any) {
			m["startsAt"] = "soon"
			m["customer"].(map[string]any)["email"] = "nope"
		}), status: 422, code: "validation_failed", fields: []string{"customer.email", "startsAt"}},
		{name: "startsAt in the past", body: body(set("startsAt", futureSlot(-1, 10).Format(time.RFC3339))), status: 422, code: "validation_failed", fields: []string{"startsAt"}},
		{name: "startsAt off the grid", body: body(set("startsAt", start.Add(30*time.Minute).Format(time.RFC3339))), status: 422, code: "validation_failed", fields: []string{"startsAt"}},
		{name: "startsAt with seconds", body: body(set("startsAt", start.Add(time.Second).Format(time.RFC3339))), status: 422, code: "validation_failed", fields: []string{"startsAt"}},
		{name: "outside weekly hours", body: body(func(m map[string]any) {
			m["resourceId"] = morning.ID
			m["startsAt"] = futureSlot(3, 14).Format(time.RFC3339)
		}), status: 422, code: "validation_failed", fields: []string{"startsAt"}},
		{name: "at closing time", body: body(func(m map[string]any) {
			m["resourceId"] = morning.ID
			m["startsAt"] = futureSlot(3, 12).Format(time.RFC3339)
		}), status: 422, code: "validation_failed", fields: []string{"startsAt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h http.Header
			if tt.contentType != "" {
				h = http.Header{"Content-Type": {tt.contentType}}
			}
			var got apiError
			resp := tb.doJSON(t, http.MethodPost, "/api/bookings", tt.body, h, &got)
			checkAPIError(t, resp, got, tt.status, tt.code)
			if tt.fields != nil {
				if keys := fieldKeys(got.Fields); !slices.Equal(keys, tt.fields) {
					t.Errorf("fields %v (%v), want keys %v", keys, got.Fields, tt.fields)
				}
			}
		})
	}
	t.Run("a valid request on the restricted resource passes", func(t *testing.T) {
		t.Parallel()
		// Guards the table: the same body inside the weekly hours is accepted.
		tb.book(t, morning.ID, futureSlot(3, 11))
	})
	t.Cleanup(func() {
		if n := pgtestCount(t, tb, `SELECT count(*) FROM bookings WHERE resource_id <> $1`, morning.ID); n != 0 {
			t.Errorf("rejected requests wrote %d bookings", n)
		}
	})
}

func TestBookingCreateAcceptsAnyOffset(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{})
	start := futureSlot(4, 10)
	paris := start.In(time.FixedZone("", 2*3600)).Format(time.RFC3339) // same instant, +02:00
	var c createdBooking
	resp := tb.doJSON(t, http.MethodPost, "/api/bookings", map[string]any{
		"resourceId": tb.resource.ID, "startsAt": paris,
		"customer": map[string]string{"firstName": "  Ada ", "lastName": "Lovelace", "email": " ada@example.com "},
	}, nil, &c)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d, want 201", resp.StatusCode)
	}
	if !c.Booking.StartsAt.Equal(start) || c.Booking.StartsAt.Location() != time.UTC {
		t.Errorf("startsAt %v, want %v in UTC", c.Booking.StartsAt, start)
	}
	if c.Booking.Customer.FirstName != "Ada" || c.Booking.Customer.Email != "ada@example.com" {
		t.Errorf("customer not trimmed: %+v", c.Booking.Customer)
	}
	// The same instant in UTC is now taken.
	var e apiError
	resp = tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, start), nil, &e)
	checkAPIError(t, resp, e, http.StatusConflict, "slot_unavailable")
}

func TestBookingCreateConcurrent(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{})
	start := futureSlot(5, 10)
	body, _ := json.Marshal(bookingBody(tb.resource.ID, start))

	const n = 50
	type answer struct {
		status int
		code   string
		err    error
	}
	answers := make([]answer, n)
	ready := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			r, err := tb.rawDo(http.MethodPost, "/api/bookings", body, nil)
			var e apiError
			_ = json.Unmarshal(r.body, &e)
			answers[i] = answer{status: r.status, code: e.Error, err: err}
		}()
	}
	close(ready)
	wg.Wait()

	created, conflicts := 0, 0
	for i, a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("request %d: %v", i, a.err)
		case a.status == http.StatusCreated:
			created++
		case a.status == http.StatusConflict && a.code == "slot_unavailable":
			conflicts++
		default:
			t.Errorf("request %d: status %d code %q, want 201 or 409 slot_unavailable", i, a.status, a.code)
		}
	}
	if created != 1 || conflicts != n-1 {
		t.Errorf("%d created, %d conflicts; want 1 and %d", created, conflicts, n-1)
	}
	if c := pgtestCount(t, tb, `SELECT count(*) FROM bookings WHERE resource_id = $1 AND starts_at = $2
		AND status IN ('pending', 'awaiting_payment', 'confirmed')`, tb.resource.ID, start); c != 1 {
		t.Errorf("%d active bookings for the slot, want 1", c)
	}
	if c := pgtestCount(t, tb, `SELECT count(*) FROM bookings`); c != 1 {
		t.Errorf("%d booking rows, want 1", c)
	}
}

func TestBookingCreateLapsedHold(t *testing.T) {
	t.Parallel()

	t.Run("a lapsed hold is expired and the slot booked", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, setupOpts{})
		start := futureSlot(4, 10)
		date := start.Format(time.DateOnly)
		old := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{StartsAt: start, HoldUntil: time.Now().Add(-time.Minute)})

		if !hasSlotAt(tb.availabilityOf(t, tb.resource.ID, date), start) {
			t.Fatalf("slot held by a lapsed hold is not listed as free")
		}
		c := tb.book(t, tb.resource.ID, start)
		if c.Booking.ID == old.ID {
			t.Fatalf("got the old booking back")
		}
		if s := tb.status(t, old.ID); s != booking.StatusExpired {
			t.Errorf("old hold is %s, want expired", s)
		}
		if n := pgtestCount(t, tb, `SELECT count(*) FROM booking_audit WHERE booking_id = $1
			AND from_status = 'pending' AND to_status = 'expired' AND cause = 'system'`, old.ID); n != 1 {
			t.Errorf("%d audit rows pending→expired by system, want 1", n)
		}
		if hasSlotAt(tb.availabilityOf(t, tb.resource.ID, date), start) {
			t.Errorf("booked slot still listed as free")
		}
	})

	t.Run("a live hold blocks", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, setupOpts{})
		start := futureSlot(4, 12)
		held := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{StartsAt: start, HoldUntil: time.Now().Add(10 * time.Minute)})

		slots := tb.availabilityOf(t, tb.resource.ID, start.Format(time.DateOnly))
		if hasSlotAt(slots, start) {
			t.Errorf("slot of a live hold is listed as free")
		}
		if !hasSlotAt(slots, start.Add(time.Hour)) {
			t.Errorf("the next slot is not listed")
		}
		var e apiError
		resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, start), nil, &e)
		checkAPIError(t, resp, e, http.StatusConflict, "slot_unavailable")
		if s := tb.status(t, held.ID); s != booking.StatusPending {
			t.Errorf("live hold is %s, want pending", s)
		}
		if n := pgtestCount(t, tb, `SELECT count(*) FROM bookings`); n != 1 {
			t.Errorf("%d bookings, want 1", n)
		}
	})

	t.Run("awaiting payment past its hold still blocks", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, setupOpts{})
		start := futureSlot(4, 14)
		pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{StartsAt: start,
			Status: booking.StatusAwaitingPayment, HoldUntil: time.Now().Add(-time.Hour)})
		if hasSlotAt(tb.availabilityOf(t, tb.resource.ID, start.Format(time.DateOnly)), start) {
			t.Errorf("slot awaiting an asynchronous payment is listed as free")
		}
		var e apiError
		resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, start), nil, &e)
		checkAPIError(t, resp, e, http.StatusConflict, "slot_unavailable")
	})
}

func TestBookingCreateIdempotencyKey(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{})
	start := futureSlot(6, 9)
	key := http.Header{"Idempotency-Key": {"order-7f3a9c"}}

	var first, second createdBooking
	resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, start), key, &first)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("first: status %d", resp.StatusCode)
	}
	if v := resp.Header.Get("Idempotent-Replayed"); v != "" {
		t.Errorf("first answer has Idempotent-Replayed %q", v)
	}
	resp = tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, start), key, &second)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("replay: status %d", resp.StatusCode)
	}
	if v := resp.Header.Get("Idempotent-Replayed"); v != "true" {
		t.Errorf("Idempotent-Replayed %q, want true", v)
	}
	if second.Booking.ID != first.Booking.ID || second.CheckoutURL != first.CheckoutURL ||
		second.CustomerToken != first.CustomerToken || first.CustomerToken == "" {
		t.Errorf("replay differs:\nfirst  %+v\nsecond %+v", first, second)
	}
	if first.Booking.StripeSessionID == nil || second.Booking.StripeSessionID == nil ||
		*second.Booking.StripeSessionID != *first.Booking.StripeSessionID {
		t.Errorf("session ids differ: %v vs %v", first.Booking.StripeSessionID, second.Booking.StripeSessionID)
	}
	if n := pgtestCount(t, tb, `SELECT count(*) FROM bookings`); n != 1 {
		t.Errorf("%d bookings, want 1", n)
	}

	t.Run("same key with a different body", func(t *testing.T) {
		for _, b := range []map[string]any{
			bookingBody(tb.resource.ID, start.Add(time.Hour)),
			{"resourceId": tb.resource.ID, "startsAt": start.Format(time.RFC3339),
				"customer": map[string]string{"firstName": "Ada", "lastName": "Lovelace", "email": "other@example.com"}},
		} {
			var e apiError
			resp := tb.doJSON(t, http.MethodPost, "/api/bookings", b, key, &e)
			checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "idempotency_key_reused")
		}
		if n := pgtestCount(t, tb, `SELECT count(*) FROM bookings`); n != 1 {
			t.Errorf("%d bookings, want 1", n)
		}
	})

	t.Run("key length", func(t *testing.T) {
		var e apiError
		long := http.Header{"Idempotency-Key": {strings.Repeat("k", 256)}}
		resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, start.Add(2*time.Hour)), long, &e)
		checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
		if _, ok := e.Fields["Idempotency-Key"]; !ok {
			t.Errorf("fields %v, want Idempotency-Key", e.Fields)
		}
		spaced := http.Header{"Idempotency-Key": {"two words"}}
		resp = tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, start.Add(2*time.Hour)), spaced, &e)
		checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
		// 255 characters is the limit and is accepted.
		var c createdBooking
		maxKey := http.Header{"Idempotency-Key": {strings.Repeat("k", 255)}}
		resp = tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, start.Add(2*time.Hour)), maxKey, &c)
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("255-character key: status %d, want 201", resp.StatusCode)
		}
	})
}

func TestBookingCreateStripeCheckout(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{})
	start := futureSlot(7, 15)
	before := time.Now()
	c := tb.book(t, tb.resource.ID, start)
	after := time.Now()

	b := c.Booking
	if b.StripeSessionID == nil || !strings.HasPrefix(*b.StripeSessionID, "cs_") {
		t.Fatalf("stripeSessionId %v, want cs_…", b.StripeSessionID)
	}
	if !strings.HasPrefix(c.CheckoutURL, "https://") {
		t.Errorf("checkoutUrl %q, want an https URL", c.CheckoutURL)
	}
	if lo, hi := before.Add(30*time.Minute-time.Second), after.Add(31*time.Minute); b.HoldExpiresAt.Before(lo) || b.HoldExpiresAt.After(hi) {
		t.Errorf("holdExpiresAt %v, want about 30 minutes ahead (between %v and %v)", b.HoldExpiresAt, lo, hi)
	}
	if b.Status != booking.StatusPending || b.AmountTotal != tb.resource.PriceAmount || b.Currency != tb.resource.Currency {
		t.Errorf("booking %+v: want pending, %d %s", b, tb.resource.PriceAmount, tb.resource.Currency)
	}
	if !b.StartsAt.Equal(start) || !b.EndsAt.Equal(start.Add(time.Hour)) {
		t.Errorf("range %v–%v, want %v + 1h", b.StartsAt, b.EndsAt, start)
	}
	if !strings.HasPrefix(b.Reference, "BK-") {
		t.Errorf("reference %q", b.Reference)
	}
	stored, err := tb.db.FindBooking(context.Background(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.StripeSessionID == nil || *stored.StripeSessionID != *b.StripeSessionID || stored.CheckoutURL != c.CheckoutURL {
		t.Errorf("stored session %v url %q, want %s %q", stored.StripeSessionID, stored.CheckoutURL, *b.StripeSessionID, c.CheckoutURL)
	}
	if !stored.HoldExpiresAt.Equal(b.HoldExpiresAt) {
		t.Errorf("stored hold %v, answered %v", stored.HoldExpiresAt, b.HoldExpiresAt)
	}
}

// closedPortStripe is a Stripe client whose API address refuses connections.
func closedPortStripe(t *testing.T) *payment.Stripe {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return payment.NewStripe(payment.StripeOpts{SecretKey: "sk_test_123", APIBase: "http://" + addr,
		AppURL: "http://localhost:3000", Timeout: 2 * time.Second})
}

// failingPayments fails the first fails checkouts, then delegates to next.
type failingPayments struct {
	fails atomic.Int32
	next  app.Provider
}

func (p *failingPayments) CreateCheckout(ctx context.Context, req booking.CheckoutRequest) (*booking.Checkout, error) {
	if p.fails.Add(-1) >= 0 {
		return nil, errors.New("post https://127.0.0.1/v1/checkout/sessions: dial tcp: connection refused (sk_live_secret)")
	}
	return p.next.CreateCheckout(ctx, req)
}

func (p *failingPayments) SessionEvent(ctx context.Context, sessionID string) (*booking.PaymentEvent, error) {
	return p.next.SessionEvent(ctx, sessionID)
}

// checkReleased asserts a failed checkout left nothing behind: no booking
// (the booking row is only written with its Checkout Session), no claimed
// idempotency key, and the slot at start listed as free.
func checkReleased(t *testing.T, tb *testBundle, start time.Time) {
	t.Helper()
	if n := pgtestCount(t, tb, `SELECT count(*) FROM bookings`); n != 0 {
		t.Errorf("%d bookings, want none", n)
	}
	if n := pgtestCount(t, tb, `SELECT count(*) FROM idempotency_keys`); n != 0 {
		t.Errorf("%d idempotency keys left claimed, want none", n)
	}
	if !hasSlotAt(tb.availabilityOf(t, tb.resource.ID, start.Format(time.DateOnly)), start) {
		t.Errorf("slot not free after the failed checkout")
	}
}

// racingPayments books the slot of each checkout through the database
// while the checkout is being created, as a customer on another replica
// would, and records the sessions it is asked to expire.
type racingPayments struct {
	next    app.Provider
	db      *postgres.DB
	res     *booking.Resource
	mu      sync.Mutex
	created []string
	expired []string
}

func (p *racingPayments) CreateCheckout(ctx context.Context, req booking.CheckoutRequest) (*booking.Checkout, error) {
	co, err := p.next.CreateCheckout(ctx, req)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.created = append(p.created, co.SessionID)
	p.mu.Unlock()
	return co, nil
}

func (p *racingPayments) SessionEvent(ctx context.Context, sessionID string) (*booking.PaymentEvent, error) {
	return p.next.SessionEvent(ctx, sessionID)
}

func (p *racingPayments) ExpireCheckout(_ context.Context, sessionID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expired = append(p.expired, sessionID)
	return nil
}

// TestBookingCreateSlotTakenDuringCheckout: the slot is free when the
// request checks it, another booking takes it while the Checkout Session
// is being created; the answer is 409, no booking is written, the session
// nobody saw is expired, and the key may be used again.
func TestBookingCreateSlotTakenDuringCheckout(t *testing.T) {
	t.Parallel()
	pay := &racingPayments{next: &payment.Demo{AppURL: "http://localhost:3000"}}
	start := futureSlot(9, 11)
	tb := setup(t, setupOpts{payments: &takingPayments{racingPayments: pay, start: start, t: t}})
	pay.db, pay.res = tb.db, tb.resource

	key := http.Header{"Idempotency-Key": {"slot-race"}}
	var e apiError
	resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, start), key, &e)
	checkAPIError(t, resp, e, http.StatusConflict, "slot_unavailable")
	if n := pgtestCount(t, tb, `SELECT count(*) FROM bookings`); n != 1 {
		t.Errorf("%d bookings, want only the one that took the slot", n)
	}
	pay.mu.Lock()
	created, expired := slices.Clone(pay.created), slices.Clone(pay.expired)
	pay.mu.Unlock()
	if len(created) != 1 || !slices.Equal(expired, created) {
		t.Errorf("sessions created %v, expired %v: want the unused one expired", created, expired)
	}
	if n := pgtestCount(t, tb, `SELECT count(*) FROM idempotency_keys`); n != 0 {
		t.Errorf("%d idempotency keys left claimed after the refusal", n)
	}
}

// takingPayments lets another booking take start before creating the
// checkout.
type takingPayments struct {
	*racingPayments
	start time.Time
	t     *testing.T
}

func (p *takingPayments) CreateCheckout(ctx context.Context, req booking.CheckoutRequest) (*booking.Checkout, error) {
	pgtest.CreateBooking(p.t, p.db, p.res, pgtest.BookingOpts{StartsAt: p.start})
	return p.racingPayments.CreateCheckout(ctx, req)
}

// blockingPayments holds each checkout until release is closed.
type blockingPayments struct {
	next    app.Provider
	entered chan struct{}
	release chan struct{}
}

func (p *blockingPayments) CreateCheckout(ctx context.Context, req booking.CheckoutRequest) (*booking.Checkout, error) {
	p.entered <- struct{}{}
	<-p.release
	return p.next.CreateCheckout(ctx, req)
}

func (p *blockingPayments) SessionEvent(ctx context.Context, sessionID string) (*booking.PaymentEvent, error) {
	return p.next.SessionEvent(ctx, sessionID)
}

// TestBookingCreateKeyInUse: while a request with an Idempotency-Key is
// creating its checkout, the same request again gets 409
// idempotency_key_in_use; once it is answered, the same request gets the
// same answer; a claim whose request died lapses after the lease.
func TestBookingCreateKeyInUse(t *testing.T) {
	t.Parallel()
	var shift atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }
	pay := &blockingPayments{next: &payment.Demo{AppURL: "http://localhost:3000"},
		entered: make(chan struct{}, 1), release: make(chan struct{})}
	tb := setup(t, setupOpts{payments: pay, now: now})
	start := futureSlot(9, 13)
	body := bookingBody(tb.resource.ID, start)
	raw, _ := json.Marshal(body)
	key := http.Header{"Idempotency-Key": {"in-use"}, "Content-Type": {"application/json"}}

	first := make(chan rawResult, 1)
	go func() {
		r, err := tb.rawDo(http.MethodPost, "/api/bookings", raw, key)
		if err != nil {
			r.status = -1
		}
		first <- r
	}()
	<-pay.entered
	var e apiError
	resp := tb.doJSON(t, http.MethodPost, "/api/bookings", body, key, &e)
	checkAPIError(t, resp, e, http.StatusConflict, "idempotency_key_in_use")
	close(pay.release)
	r := <-first
	if r.status != http.StatusCreated {
		t.Fatalf("first request: status %d %s", r.status, r.body)
	}
	var again createdBooking
	resp = tb.doJSON(t, http.MethodPost, "/api/bookings", body, key, &again)
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: status %d, replayed %q", resp.StatusCode, resp.Header.Get("Idempotent-Replayed"))
	}
	var orig createdBooking
	if err := json.Unmarshal(r.body, &orig); err != nil {
		t.Fatal(err)
	}
	if again.Booking.ID != orig.Booking.ID || again.CustomerToken != orig.CustomerToken {
		t.Errorf("replay answered booking %s, first answer %s", again.Booking.ID, orig.Booking.ID)
	}

	// A claim without an answer, as a request that died half-way leaves it:
	// busy within the lease, free after it.
	died := booking.IdempotencyKeyHash("died")
	if _, err := tb.db.Pool.Exec(context.Background(),
		`INSERT INTO idempotency_keys (key_hash, request_hash, created_at) VALUES ($1, 'x', $2)`, died, now()); err != nil {
		t.Fatal(err)
	}
	other := bookingBody(tb.resource.ID, start.Add(time.Hour))
	dkey := http.Header{"Idempotency-Key": {"died"}}
	resp = tb.doJSON(t, http.MethodPost, "/api/bookings", other, dkey, &e)
	if resp.StatusCode == http.StatusCreated {
		t.Fatalf("a fresh claim was taken over")
	}
	shift.Store(int64(booking.IdempotencyClaimLease + time.Second))
	go func() { <-pay.entered }()
	var c createdBooking
	resp = tb.doJSON(t, http.MethodPost, "/api/bookings", other, dkey, &c)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("after the lease: status %d, want 201", resp.StatusCode)
	}
}

func TestBookingCreatePaymentProviderDown(t *testing.T) {
	t.Parallel()

	t.Run("stripe unreachable", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, setupOpts{payments: closedPortStripe(t)})
		start := futureSlot(8, 10)
		var e apiError
		resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, start), nil, &e)
		checkAPIError(t, resp, e, http.StatusBadGateway, "payment_provider_error")
		checkReleased(t, tb, start)

		// A replica with a working Stripe books the released slot.
		ok := setup(t, setupOpts{db: tb.db})
		if c := ok.book(t, tb.resource.ID, start); c.Booking.Status != booking.StatusPending {
			t.Errorf("rebooked status %s", c.Booking.Status)
		}
	})

	t.Run("provider error and retry with the same key", func(t *testing.T) {
		t.Parallel()
		pay := &failingPayments{next: &payment.Demo{AppURL: "http://localhost:3000"}}
		pay.fails.Store(1)
		tb := setup(t, setupOpts{payments: pay})
		start := futureSlot(8, 12)
		key := http.Header{"Idempotency-Key": {"retry-after-502"}}
		var e apiError
		resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, start), key, &e)
		checkAPIError(t, resp, e, http.StatusBadGateway, "payment_provider_error")
		checkReleased(t, tb, start)

		var c createdBooking
		resp = tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, start), key, &c)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("retry: status %d, want 201", resp.StatusCode)
		}
		if resp.Header.Get("Idempotent-Replayed") != "" {
			t.Errorf("retry after a failure was answered as a replay")
		}
		if c.Booking.StripeSessionID == nil || !strings.HasPrefix(*c.Booking.StripeSessionID, "cs_demo_") {
			t.Errorf("retry session %v", c.Booking.StripeSessionID)
		}
		if s := tb.status(t, c.Booking.ID); s != booking.StatusPending {
			t.Errorf("retried booking %s, want pending", s)
		}
	})
}

// bookingKeys are the keys of the Booking shape of SPEC §4, with the
// calendar sequence of self-service (docs/adr/0007).
var bookingKeys = []string{"amountTotal", "createdAt", "currency", "customer", "endsAt", "holdExpiresAt", "id",
	"quantity", "reference", "resourceId", "sequence", "startsAt", "status", "stripeSessionId", "updatedAt"}

// checkBookingShape asserts the Booking JSON of SPEC §4: exact keys, a
// customer object, and UTC RFC 3339 times.
func checkBookingShape(t *testing.T, raw json.RawMessage) {
	t.Helper()
	if keys := jsonKeys(t, raw); !slices.Equal(keys, bookingKeys) {
		t.Errorf("booking keys %v, want %v", keys, bookingKeys)
	}
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	if keys := jsonKeys(t, m["customer"]); !slices.Equal(keys, []string{"email", "firstName", "lastName"}) {
		t.Errorf("customer keys %v", keys)
	}
	for _, k := range []string{"startsAt", "endsAt", "holdExpiresAt", "createdAt", "updatedAt"} {
		var s string
		if err := json.Unmarshal(m[k], &s); err != nil {
			t.Errorf("%s is %s, want a string", k, m[k])
			continue
		}
		if _, err := time.Parse(time.RFC3339, s); err != nil || !strings.HasSuffix(s, "Z") {
			t.Errorf("%s = %q, want an RFC 3339 UTC time", k, s)
		}
	}
}

func TestBookingGet(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{})
	start := futureSlot(9, 16)

	// The 201 answer: booking, checkoutUrl and, only there, customerToken.
	r, err := tb.rawDo(http.MethodPost, "/api/bookings", mustJSON(t, bookingBody(tb.resource.ID, start)), nil)
	if err != nil || r.status != http.StatusCreated {
		t.Fatalf("create: %d %v", r.status, err)
	}
	if keys := jsonKeys(t, r.body); !slices.Equal(keys, []string{"booking", "checkoutUrl", "customerToken"}) {
		t.Errorf("201 keys %v", keys)
	}
	var created struct {
		Booking       json.RawMessage `json:"booking"`
		CustomerToken string          `json:"customerToken"`
	}
	_ = json.Unmarshal(r.body, &created)
	checkBookingShape(t, created.Booking)
	var b booking.Booking
	_ = json.Unmarshal(created.Booking, &b)
	other := tb.book(t, tb.resource.ID, start.Add(time.Hour))

	t.Run("right token", func(t *testing.T) {
		r, err := tb.rawDo(http.MethodGet, "/api/bookings/"+b.ID+"?token="+created.CustomerToken, nil, nil)
		if err != nil || r.status != http.StatusOK {
			t.Fatalf("status %d %v, want 200", r.status, err)
		}
		if keys := jsonKeys(t, r.body); !slices.Equal(keys, []string{"booking"}) {
			t.Errorf("keys %v, want [booking]", keys)
		}
		var got struct {
			Booking json.RawMessage `json:"booking"`
		}
		_ = json.Unmarshal(r.body, &got)
		checkBookingShape(t, got.Booking)
		var gb booking.Booking
		_ = json.Unmarshal(got.Booking, &gb)
		if gb.ID != b.ID || gb.Reference != b.Reference || gb.ResourceID != tb.resource.ID || !gb.StartsAt.Equal(start) ||
			gb.Status != booking.StatusPending || gb.Customer.Email != "ada@example.com" || gb.AmountTotal != tb.resource.PriceAmount {
			t.Errorf("got %+v, want %+v", gb, b)
		}
		if strings.Contains(string(r.body), created.CustomerToken) {
			t.Errorf("GET answer repeats the customer token")
		}
	})

	for _, tt := range []struct{ name, path string }{
		{"wrong token", "/api/bookings/" + b.ID + "?token=wrong"},
		{"token of another booking", "/api/bookings/" + b.ID + "?token=" + other.CustomerToken},
		{"missing token", "/api/bookings/" + b.ID},
		{"empty token", "/api/bookings/" + b.ID + "?token="},
		{"very long token", "/api/bookings/" + b.ID + "?token=" + strings.Repeat("t", 500)},
		{"unknown id", "/api/bookings/00000000-0000-4000-8000-000000000000?token=" + created.CustomerToken},
		{"malformed id", "/api/bookings/not-a-uuid?token=" + created.CustomerToken},
		{"id with sql", "/api/bookings/1'%20OR%20'1'='1?token=" + created.CustomerToken},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var e apiError
			resp := tb.doJSON(t, http.MethodGet, tt.path, nil, nil, &e)
			checkAPIError(t, resp, e, http.StatusNotFound, "not_found")
		})
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// One client address cannot hold every free slot: past the limit, booking
// requests get 429 with Retry-After and nothing is held.
func TestBookingCreateRateLimited(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{payments: &payment.Demo{AppURL: "http://localhost"}, bookingPerMinute: 3})
	for i := 0; i < 3; i++ {
		if resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, futureSlot(5, 8+i)), nil, nil); resp.StatusCode != http.StatusCreated {
			t.Fatalf("booking %d: status %d", i, resp.StatusCode)
		}
	}
	var e apiError
	resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, futureSlot(5, 12)), nil, &e)
	if resp.StatusCode != http.StatusTooManyRequests || e.Error != "rate_limited" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("4th booking: status %d %+v Retry-After %q", resp.StatusCode, e, resp.Header.Get("Retry-After"))
	}
	compat := map[string]string{"firstName": "A", "lastName": "B", "email": "a@example.com", "date": futureSlot(6, 0).Format("2006-01-02"), "time": "10:00"}
	if resp := tb.doJSON(t, http.MethodPost, "/create-checkout-session", compat, nil, nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("compat route past the limit: status %d", resp.StatusCode)
	}
	if n := pgtestCount(t, tb, `SELECT count(*) FROM bookings`); n != 3 {
		t.Fatalf("bookings held: %d, want 3", n)
	}
}
