package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/pgtest"
)

// hourlyUTC returns n consecutive hourly instants from the RFC 3339 time from.
func hourlyUTC(t testing.TB, from string, n int) []time.Time {
	t.Helper()
	start, err := time.Parse(time.RFC3339, from)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]time.Time, n)
	for i := range out {
		out[i] = start.Add(time.Duration(i) * time.Hour)
	}
	return out
}

// before2030 is the clock of the tests that use fixed dates in 2030: they
// are in the future whatever the day the tests run.
func before2030() time.Time { return time.Date(2029, 12, 31, 12, 0, 0, 0, time.UTC) }

// checkSlots asserts slots start exactly at want, in UTC, each lasting dur.
func checkSlots(t testing.TB, slots []booking.Slot, want []time.Time, dur time.Duration) {
	t.Helper()
	got := make([]string, len(slots))
	for i, s := range slots {
		got[i] = s.StartsAt.Format(time.RFC3339)
		if !s.EndsAt.Equal(s.StartsAt.Add(dur)) {
			t.Errorf("slot %s ends at %s, want %s later", s.StartsAt, s.EndsAt, dur)
		}
	}
	exp := make([]string, len(want))
	for i, w := range want {
		exp[i] = w.UTC().Format(time.RFC3339)
	}
	if !slices.Equal(got, exp) {
		t.Errorf("slots (%d)\n%v\nwant (%d)\n%v", len(got), got, len(exp), exp)
	}
}

var resourceKeys = []string{"active", "bufferAfterMinutes", "bufferBeforeMinutes", "cancelUntilHours", "capacity", "currency",
	"description", "durationMinutes", "id", "lateCancelRefundPercent", "location", "maxAdvanceDays", "minNoticeMinutes", "name",
	"overrides", "priceAmount", "reminderHours", "rescheduleUntilHours", "slotIntervalMinutes", "slug", "timezone",
	"weeklyHours"}

func TestResourceList(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{})
	hours := []booking.OpenSpan{{Weekday: 1, Start: "09:00", End: "12:30"}, {Weekday: 6, Start: "10:00", End: "24:00"}}
	paris := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{Timezone: "Europe/Paris", Price: 12345, Currency: "usd",
		Duration: 30, WeeklyHours: hours})
	hidden := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{Inactive: true})

	r, err := tb.rawDo(http.MethodGet, "/api/resources", nil, nil)
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("status %d %v", r.status, err)
	}
	if keys := jsonKeys(t, r.body); !slices.Equal(keys, []string{"items"}) {
		t.Errorf("keys %v, want [items]", keys)
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatal(err)
	}
	byID := map[string]booking.Resource{}
	for _, raw := range list.Items {
		if keys := jsonKeys(t, raw); !slices.Equal(keys, resourceKeys) {
			t.Errorf("resource keys %v, want %v", keys, resourceKeys)
		}
		var m map[string]json.RawMessage
		_ = json.Unmarshal(raw, &m)
		var spans []json.RawMessage
		_ = json.Unmarshal(m["weeklyHours"], &spans)
		for _, s := range spans {
			if keys := jsonKeys(t, s); !slices.Equal(keys, []string{"end", "start", "weekday"}) {
				t.Errorf("weeklyHours entry keys %v", keys)
			}
		}
		var res booking.Resource
		_ = json.Unmarshal(raw, &res)
		byID[res.ID] = res
	}
	if len(list.Items) != 2 {
		t.Errorf("%d items, want 2 active resources", len(list.Items))
	}
	if _, ok := byID[hidden.ID]; ok {
		t.Errorf("inactive resource listed")
	}
	if _, ok := byID[tb.resource.ID]; !ok {
		t.Errorf("resource %s not listed", tb.resource.ID)
	}
	got, ok := byID[paris.ID]
	if !ok {
		t.Fatalf("resource %s not listed", paris.ID)
	}
	if got.Timezone != "Europe/Paris" || got.PriceAmount != 12345 || got.Currency != "usd" || got.DurationMinutes != 30 ||
		!got.Active || got.Slug != paris.Slug || got.Name == "" || !slices.Equal(got.WeeklyHours, hours) {
		t.Errorf("got %+v, want %+v", got, *paris)
	}
}

func TestAvailability(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{now: before2030})
	// 2030-01-07 is a Monday.
	hours := []booking.OpenSpan{{Weekday: 1, Start: "09:00", End: "12:00"}, {Weekday: 3, Start: "14:00", End: "16:30"}}
	res := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{WeeklyHours: hours})
	inactive := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{Inactive: true})
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	t.Run("inside weekly hours only", func(t *testing.T) {
		r, err := tb.rawDo(http.MethodGet, "/api/resources/"+res.ID+"/availability?date=2030-01-07", nil, nil)
		if err != nil || r.status != http.StatusOK {
			t.Fatalf("status %d %v", r.status, err)
		}
		if keys := jsonKeys(t, r.body); !slices.Equal(keys, []string{"capacity", "closed", "date", "resourceId", "slots", "timezone"}) {
			t.Errorf("keys %v", keys)
		}
		var a booking.Availability
		_ = json.Unmarshal(r.body, &a)
		if a.ResourceID != res.ID || a.Date != "2030-01-07" || a.Timezone != "UTC" {
			t.Errorf("header fields %+v", a)
		}
		checkSlots(t, plainSlots(a.Slots), hourlyUTC(t, "2030-01-07T09:00:00Z", 3), time.Hour)
		// Wednesday: 16:00 does not fit before 16:30.
		checkSlots(t, tb.availabilityOf(t, res.ID, "2030-01-09"), hourlyUTC(t, "2030-01-09T14:00:00Z", 2), time.Hour)
	})

	t.Run("closed day is an empty list", func(t *testing.T) {
		r, err := tb.rawDo(http.MethodGet, "/api/resources/"+res.ID+"/availability?date=2030-01-08", nil, nil)
		if err != nil || r.status != http.StatusOK {
			t.Fatalf("status %d %v", r.status, err)
		}
		if !strings.Contains(string(r.body), `"slots":[]`) {
			t.Errorf("body %s, want an empty slots array", r.body)
		}
	})

	t.Run("booked slots excluded", func(t *testing.T) {
		other := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{WeeklyHours: hours})
		pgtest.CreateBooking(t, tb.db, other, pgtest.BookingOpts{StartsAt: at("2030-01-07T10:00:00Z"), Status: booking.StatusConfirmed})
		// Inactive bookings do not block.
		pgtest.CreateBooking(t, tb.db, other, pgtest.BookingOpts{StartsAt: at("2030-01-07T11:00:00Z"), Status: booking.StatusCancelled})
		pgtest.CreateBooking(t, tb.db, other, pgtest.BookingOpts{StartsAt: at("2030-01-07T11:00:00Z"), Status: booking.StatusExpired})
		// A booking of another resource does not block this one.
		pgtest.CreateBooking(t, tb.db, res, pgtest.BookingOpts{StartsAt: at("2030-01-14T09:00:00Z"), Status: booking.StatusConfirmed})
		checkSlots(t, tb.availabilityOf(t, other.ID, "2030-01-07"),
			[]time.Time{at("2030-01-07T09:00:00Z"), at("2030-01-07T11:00:00Z")}, time.Hour)
		checkSlots(t, tb.availabilityOf(t, other.ID, "2030-01-14"), hourlyUTC(t, "2030-01-14T09:00:00Z", 3), time.Hour)
	})

	t.Run("past slots excluded", func(t *testing.T) {
		now := at("2030-01-07T10:30:00Z")
		past := setup(t, setupOpts{db: tb.db, now: func() time.Time { return now }})
		checkSlots(t, past.availabilityOf(t, res.ID, "2030-01-07"), []time.Time{at("2030-01-07T11:00:00Z")}, time.Hour)
		checkSlots(t, past.availabilityOf(t, res.ID, "2030-01-06"), nil, time.Hour)
		checkSlots(t, past.availabilityOf(t, res.ID, "2030-01-09"), hourlyUTC(t, "2030-01-09T14:00:00Z", 2), time.Hour)
		// A slot starting exactly now is past.
		now = at("2030-01-07T11:00:00Z")
		if s := past.availabilityOf(t, res.ID, "2030-01-07"); len(s) != 0 {
			t.Errorf("slots %v at 11:00, want none", s)
		}
	})

	for _, date := range []string{"", "2030-1-7", "2030-02-30", "07/01/2030", "tomorrow", "2030-01-07T00:00:00Z"} {
		t.Run("bad date "+date, func(t *testing.T) {
			var e apiError
			resp := tb.doJSON(t, http.MethodGet, "/api/resources/"+res.ID+"/availability?date="+date, nil, nil, &e)
			checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
			if keys := fieldKeys(e.Fields); !slices.Equal(keys, []string{"date"}) {
				t.Errorf("fields %v, want [date]", keys)
			}
		})
	}

	for _, tt := range []struct{ name, id string }{
		{"unknown id", "00000000-0000-4000-8000-000000000000"},
		{"malformed id", "room-1"},
		{"inactive resource", inactive.ID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var e apiError
			resp := tb.doJSON(t, http.MethodGet, "/api/resources/"+tt.id+"/availability?date=2030-01-07", nil, nil, &e)
			checkAPIError(t, resp, e, http.StatusNotFound, "not_found")
		})
	}
}

func TestAvailabilityDaylightSaving(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{now: before2030})
	paris := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{Timezone: "Europe/Paris"})

	t.Run("ordinary day", func(t *testing.T) {
		checkSlots(t, tb.availabilityOf(t, paris.ID, "2030-03-30"), hourlyUTC(t, "2030-03-29T23:00:00Z", 24), time.Hour)
	})
	t.Run("spring forward", func(t *testing.T) {
		// 02:00 local does not exist: 23 slots, 00:00 CET (23:00Z) to 23:00 CEST (21:00Z).
		checkSlots(t, tb.availabilityOf(t, paris.ID, "2030-03-31"), hourlyUTC(t, "2030-03-30T23:00:00Z", 23), time.Hour)
	})
	t.Run("fall back", func(t *testing.T) {
		// 02:00 local happens twice; the grid is by wall clock, so 24 slots
		// with 02:00 at its first occurrence (00:00Z) and 03:00 CET at 02:00Z.
		want := append(hourlyUTC(t, "2030-10-26T22:00:00Z", 3), hourlyUTC(t, "2030-10-27T02:00:00Z", 21)...)
		a := tb.availabilityOf(t, paris.ID, "2030-10-27")
		checkSlots(t, a, want, time.Hour)
	})
	t.Run("booking on the spring-forward day", func(t *testing.T) {
		// 03:00 CEST, the first slot after the gap.
		c := tb.book(t, paris.ID, time.Date(2030, 3, 31, 1, 0, 0, 0, time.UTC))
		if !c.Booking.EndsAt.Equal(time.Date(2030, 3, 31, 2, 0, 0, 0, time.UTC)) {
			t.Errorf("endsAt %v", c.Booking.EndsAt)
		}
		// The same instant written in local time is the same slot.
		var e apiError
		body := bookingBody(paris.ID, time.Time{})
		body["startsAt"] = "2030-03-31T03:00:00+02:00"
		resp := tb.doJSON(t, http.MethodPost, "/api/bookings", body, nil, &e)
		checkAPIError(t, resp, e, http.StatusConflict, "slot_unavailable")
		if hasSlotAt(tb.availabilityOf(t, paris.ID, "2030-03-31"), c.Booking.StartsAt) {
			t.Errorf("booked slot still listed")
		}
	})
	t.Run("second 02:00 of the fall-back day is not on the grid", func(t *testing.T) {
		var e apiError
		body := bookingBody(paris.ID, time.Date(2030, 10, 27, 1, 0, 0, 0, time.UTC))
		resp := tb.doJSON(t, http.MethodPost, "/api/bookings", body, nil, &e)
		checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
		if _, ok := e.Fields["startsAt"]; !ok {
			t.Errorf("fields %v, want startsAt", e.Fields)
		}
	})
}

func TestCompatCreateCheckoutSession(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	// The server's clock reads 09:30 in Paris on the day booked.
	day := pgtest.TestDay(paris)
	tb := setup(t, setupOpts{now: pgtest.ClockAt(pgtest.WallTime(day, 9, 30)).Now})
	def := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{Default: true, Timezone: "Europe/Paris"})
	date := day.Format(time.DateOnly)
	body := func(change func(m map[string]string)) map[string]string {
		m := map[string]string{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "date": date, "time": "10:00"}
		if change != nil {
			change(m)
		}
		return m
	}

	r, err := tb.rawDo(http.MethodPost, "/create-checkout-session", mustJSON(t, body(nil)), nil)
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("status %d %v: %s", r.status, err, r.body)
	}
	if keys := jsonKeys(t, r.body); !slices.Equal(keys, []string{"bookingId", "stripeSessionId", "url"}) {
		t.Errorf("keys %v", keys)
	}
	var out struct{ URL, StripeSessionID, BookingID string }
	_ = json.Unmarshal(r.body, &out)
	if !strings.HasPrefix(out.StripeSessionID, "cs_") || !strings.HasPrefix(out.URL, "https://") || !booking.IsUUID(out.BookingID) {
		t.Errorf("answer %+v", out)
	}
	b, err := tb.db.FindBooking(context.Background(), out.BookingID)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(day.Year(), day.Month(), day.Day(), 10, 0, 0, 0, paris)
	if b.ResourceID != def.ID || !b.StartsAt.Equal(want) || b.Status != booking.StatusPending ||
		b.StripeSessionID == nil || *b.StripeSessionID != out.StripeSessionID || b.CheckoutURL != out.URL {
		t.Errorf("booking %+v, want default resource %s at %v with session %s", b, def.ID, want, out.StripeSessionID)
	}

	t.Run("same slot twice", func(t *testing.T) {
		var e apiError
		resp := tb.doJSON(t, http.MethodPost, "/create-checkout-session", body(nil), nil, &e)
		checkAPIError(t, resp, e, http.StatusConflict, "slot_unavailable")
	})

	for _, tt := range []struct {
		name   string
		body   any
		status int
		code   string
		fields []string
	}{
		{"bad date", body(func(m map[string]string) { m["date"] = "2030-02-30" }), 422, "validation_failed", []string{"date"}},
		{"date in another format", body(func(m map[string]string) { m["date"] = "31/12/2030" }), 422, "validation_failed", []string{"date"}},
		{"missing date", body(func(m map[string]string) { delete(m, "date") }), 422, "validation_failed", []string{"date"}},
		{"hour out of range", body(func(m map[string]string) { m["time"] = "25:00" }), 422, "validation_failed", []string{"time"}},
		{"time without leading zero", body(func(m map[string]string) { m["time"] = "9:00" }), 422, "validation_failed", []string{"time"}},
		{"time with seconds", body(func(m map[string]string) { m["time"] = "10:00:00" }), 422, "validation_failed", []string{"time"}},
		{"midnight as 24:00", body(func(m map[string]string) { m["time"] = "24:00" }), 422, "validation_failed", []string{"time"}},
		{"bad email", body(func(m map[string]string) { m["email"] = "ada-at-example" }), 422, "validation_failed", []string{"email"}},
		{"blank first name", body(func(m map[string]string) { m["firstName"] = " " }), 422, "validation_failed", []string{"firstName"}},
		{"local time skipped by daylight saving", body(func(m map[string]string) {
			m["date"], m["time"] = "2030-03-31", "02:00"
		}), 422, "validation_failed", []string{"time"}},
		{"off the slot grid", body(func(m map[string]string) { m["time"] = "10:30" }), 422, "validation_failed", []string{"startsAt"}},
		{"in the past", body(func(m map[string]string) { m["date"] = day.AddDate(0, 0, -2).Format(time.DateOnly) }),
			422, "validation_failed", []string{"startsAt"}},
		{"started half an hour ago", body(func(m map[string]string) { m["time"] = "09:00" }),
			422, "validation_failed", []string{"startsAt"}},
		{"unknown field", map[string]any{"firstName": "Ada", "lastName": "L", "email": "ada@example.com", "date": date,
			"time": "11:00", "price": 1}, 400, "invalid_json", nil},
		{"wrong type", map[string]any{"firstName": 5}, 400, "invalid_json", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var e apiError
			resp := tb.doJSON(t, http.MethodPost, "/create-checkout-session", tt.body, nil, &e)
			checkAPIError(t, resp, e, tt.status, tt.code)
			if tt.fields != nil {
				if keys := fieldKeys(e.Fields); !slices.Equal(keys, tt.fields) {
					t.Errorf("fields %v (%v), want %v", keys, e.Fields, tt.fields)
				}
			}
		})
	}
	if n := pgtestCount(t, tb, `SELECT count(*) FROM bookings`); n != 1 {
		t.Errorf("%d bookings, want 1", n)
	}
}

func TestCheckoutReturn(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{})

	t.Run("missing session id", func(t *testing.T) {
		var e apiError
		resp := tb.doJSON(t, http.MethodGet, "/checkout/return", nil, nil, &e)
		checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
		if _, ok := e.Fields["session_id"]; !ok {
			t.Errorf("fields %v, want session_id", e.Fields)
		}
	})
	t.Run("unknown session", func(t *testing.T) {
		var e apiError
		resp := tb.doJSON(t, http.MethodGet, "/checkout/return?session_id=cs_test_unknown", nil, nil, &e)
		checkAPIError(t, resp, e, http.StatusNotFound, "not_found")
	})
	t.Run("known session", func(t *testing.T) {
		c := tb.book(t, tb.resource.ID, futureSlot(11, 10))
		var got map[string]any
		resp := tb.doJSON(t, http.MethodGet, "/checkout/return?session_id="+*c.Booking.StripeSessionID, nil, nil, &got)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %v", resp.StatusCode, got)
		}
		// stripe-mock reports the session open: the booking stays pending.
		if got["status"] != "pending" || got["bookingId"] != c.Booking.ID || got["reference"] != c.Booking.Reference {
			t.Errorf("answer %v, want pending booking %s", got, c.Booking.ID)
		}
	})
	t.Run("confirmed booking", func(t *testing.T) {
		b := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{Status: booking.StatusConfirmed})
		var got map[string]any
		resp := tb.doJSON(t, http.MethodGet, "/checkout/return?session_id="+*b.StripeSessionID, nil, nil, &got)
		if resp.StatusCode != http.StatusOK || got["status"] != "confirmed" || got["bookingId"] != b.ID {
			t.Errorf("status %d answer %v, want confirmed %s", resp.StatusCode, got, b.ID)
		}
	})
}

func TestHealth(t *testing.T) {
	t.Parallel()

	t.Run("database up", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, setupOpts{})
		r, err := tb.rawDo(http.MethodGet, "/health", nil, nil)
		if err != nil || r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != `{"status":"ok"}` {
			t.Errorf("health: %d %s %v", r.status, r.body, err)
		}
		r, err = tb.rawDo(http.MethodGet, "/livez", nil, nil)
		if err != nil || r.status != http.StatusOK {
			t.Errorf("livez: %d %v", r.status, err)
		}
	})

	t.Run("database down", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		tb := setup(t, setupOpts{db: db})
		db.Close()
		r, err := tb.rawDo(http.MethodGet, "/health", nil, nil)
		if err != nil || r.status != http.StatusServiceUnavailable ||
			strings.TrimSpace(string(r.body)) != `{"db":"down","status":"unavailable"}` {
			t.Errorf("health: %d %s %v", r.status, r.body, err)
		}
		r, err = tb.rawDo(http.MethodGet, "/livez", nil, nil)
		if err != nil || r.status != http.StatusOK {
			t.Errorf("livez with the database down: %d %v", r.status, err)
		}
		var e apiError
		resp := tb.doJSON(t, http.MethodGet, "/api/resources", nil, nil, &e)
		checkAPIError(t, resp, e, http.StatusServiceUnavailable, "unavailable")
		resp = tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, futureSlot(3, 10)), nil, &e)
		checkAPIError(t, resp, e, http.StatusServiceUnavailable, "unavailable")
	})
}

func TestRoutingAndHeaders(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{})

	for _, tt := range []struct{ method, path string }{
		{http.MethodGet, "/nope"},
		{http.MethodPost, "/api/nope"},
		{http.MethodGet, "/api/bookings"},
		{http.MethodDelete, "/api/resources"},
	} {
		t.Run("unknown route "+tt.method+" "+tt.path, func(t *testing.T) {
			var e apiError
			resp := tb.doJSON(t, tt.method, tt.path, nil, nil, &e)
			checkAPIError(t, resp, e, http.StatusNotFound, "not_found")
		})
	}

	t.Run("security headers", func(t *testing.T) {
		for _, p := range []string{"/livez", "/nope", "/api/resources", "/api/bookings/x"} {
			r, err := tb.rawDo(http.MethodGet, p, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			h := r.header
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" ||
				h.Get("Referrer-Policy") == "" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("%s: security headers missing: %v", p, h)
			}
		}
	})

	t.Run("cross-origin browser requests", func(t *testing.T) {
		evil := http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}
		for _, p := range []string{"/api/bookings", "/create-checkout-session"} {
			var e apiError
			resp := tb.doJSON(t, http.MethodPost, p, bookingBody(tb.resource.ID, futureSlot(3, 10)), evil, &e)
			checkAPIError(t, resp, e, http.StatusForbidden, "forbidden")
		}
		for _, p := range []string{"/webhook", "/webhooks/stripe"} {
			r, err := tb.rawDo(http.MethodPost, p, []byte(`{"id":"evt_x"}`), evil)
			if err != nil || r.status == http.StatusForbidden {
				t.Errorf("%s cross-origin: %d %v, want not 403", p, r.status, err)
			}
		}
		// Reads and same-origin writes pass.
		if r, err := tb.rawDo(http.MethodGet, "/api/resources", nil, evil); err != nil || r.status != http.StatusOK {
			t.Errorf("cross-origin GET: %d %v", r.status, err)
		}
		same := http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {tb.srv.URL}}
		var c createdBooking
		if resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, futureSlot(3, 11)), same, &c); resp.StatusCode != http.StatusCreated {
			t.Errorf("same-origin POST: %d", resp.StatusCode)
		}
		if n := pgtestCount(t, tb, `SELECT count(*) FROM bookings WHERE starts_at = $1`, futureSlot(3, 10)); n != 0 {
			t.Errorf("a refused cross-origin request booked the slot")
		}
	})

	t.Run("request id", func(t *testing.T) {
		sane := "req-42_abc.DEF"
		var e apiError
		resp := tb.doJSON(t, http.MethodGet, "/nope", nil, http.Header{"X-Request-Id": {sane}}, &e)
		if got := resp.Header.Get("X-Request-Id"); got != sane || e.RequestID != sane {
			t.Errorf("header %q body %q, want %q echoed", got, e.RequestID, sane)
		}
		seen := map[string]bool{}
		for _, insane := range []string{strings.Repeat("a", 65), "has space", "semi;colon", "<script>", ""} {
			resp := tb.doJSON(t, http.MethodGet, "/nope", nil, http.Header{"X-Request-Id": {insane}}, &e)
			got := resp.Header.Get("X-Request-Id")
			if got == "" || got == insane || e.RequestID != got || len(got) > 64 || strings.ContainsAny(got, " ;<>") {
				t.Errorf("sent %q: header %q body %q, want a fresh id", insane, got, e.RequestID)
			}
			if seen[got] {
				t.Errorf("generated id %q repeated", got)
			}
			seen[got] = true
		}
	})
}

// A browser that reaches an unknown address gets a page; API clients get the
// JSON error.
func TestUnknownRouteForBrowsers(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{})
	req, _ := http.NewRequest(http.MethodGet, tb.srv.URL+"/no/such/page", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(body), "Page not found") || strings.Contains(resp.Header.Get("Content-Security-Policy"), "unsafe-inline") {
		t.Fatalf("browser: status %d type %q csp %q body %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"), body)
	}
	var e apiError
	if r := tb.doJSON(t, http.MethodGet, "/no/such/page", nil, nil, &e); r.StatusCode != http.StatusNotFound || e.Error != "not_found" {
		t.Fatalf("API client: status %d %+v", r.StatusCode, e)
	}
}
