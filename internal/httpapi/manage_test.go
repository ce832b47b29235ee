package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"github.com/bookingplatform/booking/internal/app"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/httpapi"
	"github.com/bookingplatform/booking/internal/payment"
	"github.com/bookingplatform/booking/internal/pgtest"
)

// manualClock is a clock the test sets, so that a policy's edges can be
// hit to the second.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// manageAppURL is the public base URL of the self-service test servers.
const manageAppURL = "https://book.example.com"

// manageBundle is a server with the staff API, refunds and expiries
// through stripe-mock, a clock the test sets, and no rate limit in the way.
type manageBundle struct {
	*testBundle
	clock   *manualClock
	expired *expireRecorder
}

type manageOpts struct {
	perMinute int // ManageLimiter; default: no limit in the way
	resource  pgtest.ResourceOpts
	refunder  booking.Refunder // default: stripe-mock
	payments  app.Provider     // default: stripe-mock
}

func manageSetup(t *testing.T, o manageOpts) *manageBundle {
	t.Helper()
	clock := &manualClock{t: time.Now().UTC().Truncate(time.Minute)}
	rec := &expireRecorder{next: payment.NewStripe(payment.StripeOpts{SecretKey: "sk_test_123", APIBase: stripeMockURL(), Timeout: 5 * time.Second})}
	if o.perMinute == 0 {
		o.perMinute = 100000
	}
	db := pgtest.NewDB(t)
	if o.resource.Timezone == "" {
		o.resource.Timezone = "Europe/Paris"
	}
	tb := setup(t, setupOpts{db: db, now: clock.Now, payments: o.payments, resource: pgtest.CreateResource(t, db, o.resource),
		configure: func(opts *app.Options) {
			opts.NoStaff, opts.HashParams, opts.LoginPerMinute = false, staffParams, 10000
			opts.Expirer, opts.AppURL, opts.MailFrom = rec, manageAppURL, "Example Bookings <bookings@example.com>"
			if o.refunder != nil {
				opts.Refunder = o.refunder
			}
		},
		server: func(s *httpapi.Server) { s.ManageLimiter = httpapi.NewLimiter(o.perMinute) }})
	return &manageBundle{testBundle: tb, clock: clock, expired: rec}
}

// confirmed inserts a paid, confirmed booking of r starting at start,
// opened by token.
func (mb *manageBundle) confirmed(t *testing.T, r *booking.Resource, start time.Time, token string) *booking.Booking {
	t.Helper()
	return pgtest.CreateBooking(t, mb.db, r, pgtest.BookingOpts{StartsAt: start, Status: booking.StatusConfirmed,
		PaymentIntent: "pi_" + strings.ReplaceAll(token, "-", "_"), Token: token})
}

// path is a self-service route of booking id with token.
func managePath(id, route, token string) string {
	p := "/api/bookings/" + id
	if route != "" {
		p += "/" + route
	}
	return p + "?token=" + url.QueryEscape(token)
}

type cancelledAnswer struct {
	Booking        booking.Booking `json:"booking"`
	RefundAmount   int64           `json:"refundAmount"`
	RetainedAmount int64           `json:"retainedAmount"`
	Currency       string          `json:"currency"`
	RefundPending  bool            `json:"refundPending"`
}

// TestCustomerCancelPolicyEdges cancels paid bookings at the edges of the
// resource's policy and checks the refund made through stripe-mock, the fee
// retained, the status, and that the books still prove out (M5).
func TestCustomerCancelPolicyEdges(t *testing.T) {
	t.Parallel()
	mb := manageSetup(t, manageOpts{})
	base := mb.clock.Now().Add(10 * 24 * time.Hour).Truncate(time.Hour)
	resources := map[int]*booking.Resource{}
	resourceOf := func(pct int, price int64) *booking.Resource {
		key := pct*1_000_000_000 + int(price)
		if resources[key] == nil {
			resources[key] = pgtest.CreateResource(t, mb.db, pgtest.ResourceOpts{Price: price, Timezone: "Europe/Paris",
				LateCancelRefundPercent: pgtest.Int(pct)})
		}
		return resources[key]
	}
	for i, c := range []struct {
		name     string
		pct      int
		price    int64
		at       time.Duration // from the start of the booking
		status   booking.Status
		refund   int64
		retained int64
	}{
		{"one minute before the cut-off", 0, 5000, -24*time.Hour - time.Minute, booking.StatusRefunded, 5000, 0},
		{"exactly at the cut-off", 0, 5000, -24 * time.Hour, booking.StatusRefunded, 5000, 0},
		{"one minute after the cut-off, 0% refunded", 0, 5000, -24*time.Hour + time.Minute, booking.StatusCancelled, 0, 5000},
		{"one minute after the cut-off, 100% refunded", 100, 5000, -24*time.Hour + time.Minute, booking.StatusRefunded, 5000, 0},
		{"37% of 49.99, rounded down", 37, 4999, -time.Hour, booking.StatusRefunded, 1849, 3150},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := resourceOf(c.pct, c.price)
			token := fmt.Sprintf("tok-edge-%d", i)
			start := base.Add(time.Duration(i) * 24 * time.Hour)
			b := mb.confirmed(t, r, start, token)
			mb.clock.Set(start.Add(c.at))

			var q booking.CancelQuote
			if resp := mb.doJSON(t, http.MethodGet, managePath(b.ID, "cancel-quote", token), nil, nil, &q); resp.StatusCode != 200 {
				t.Fatalf("quote: %d", resp.StatusCode)
			}
			if !q.Allowed || q.RefundAmount != c.refund || q.RetainedAmount != c.retained || q.Currency != "eur" {
				t.Fatalf("quote %+v, want refund %d retained %d", q, c.refund, c.retained)
			}
			var got cancelledAnswer
			resp := mb.doJSON(t, http.MethodPost, managePath(b.ID, "cancel", token), map[string]any{"expectedRefundAmount": q.RefundAmount}, nil, &got)
			if resp.StatusCode != 200 || got.Booking.Status != c.status || got.RefundAmount != c.refund || got.RefundPending {
				t.Fatalf("cancel: %d %+v", resp.StatusCode, got)
			}
			after, err := mb.db.FindBooking(context.Background(), b.ID)
			if err != nil {
				t.Fatal(err)
			}
			if after.Status != c.status || after.HoldsSlot || after.AmountRefunded != c.refund || after.AmountRetained != c.retained || after.Kept() != 0 {
				t.Fatalf("stored: %s refunded %d retained %d kept %d", after.Status, after.AmountRefunded, after.AmountRetained, after.Kept())
			}
			if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM refunds WHERE booking_id = $1 AND source = 'customer' AND amount = $2`,
				b.ID, c.refund); (c.refund > 0) != (n == 1) {
				t.Fatalf("%d customer refund rows of %d", n, c.refund)
			}
			if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM booking_audit WHERE booking_id = $1 AND from_status = 'confirmed'
				AND to_status = 'cancelled' AND cause = 'api'`, b.ID); n != 1 {
				t.Fatalf("audit rows %d", n)
			}
			// The slot is free at once.
			again := pgtest.CreateBooking(t, mb.db, r, pgtest.BookingOpts{StartsAt: start, HoldUntil: start})
			if !again.HoldsSlot {
				t.Fatal("slot not freed")
			}
			// A second cancellation changes nothing.
			var e apiError
			checkAPIError(t, mb.doJSON(t, http.MethodPost, managePath(b.ID, "cancel", token), nil, nil, &e), e, 409, "conflict")
		})
	}

	t.Run("after the start the booking cannot be cancelled", func(t *testing.T) {
		start := base.Add(20 * 24 * time.Hour)
		b := mb.confirmed(t, resourceOf(100, 5000), start, "tok-started")
		mb.clock.Set(start)
		var q booking.CancelQuote
		mb.doJSON(t, http.MethodGet, managePath(b.ID, "cancel-quote", "tok-started"), nil, nil, &q)
		if q.Allowed || !strings.Contains(q.Reason, "started") {
			t.Fatalf("quote %+v", q)
		}
		var e apiError
		checkAPIError(t, mb.doJSON(t, http.MethodPost, managePath(b.ID, "cancel", "tok-started"), nil, nil, &e), e, 409, "conflict")
		if s := mb.status(t, b.ID); s != booking.StatusConfirmed {
			t.Fatalf("status %s", s)
		}
	})

	t.Run("a quote that changed before the customer confirmed is refused", func(t *testing.T) {
		start := base.Add(21 * 24 * time.Hour)
		b := mb.confirmed(t, resourceOf(0, 5000), start, "tok-changed")
		mb.clock.Set(start.Add(-24*time.Hour - time.Minute))
		var q booking.CancelQuote
		mb.doJSON(t, http.MethodGet, managePath(b.ID, "cancel-quote", "tok-changed"), nil, nil, &q)
		mb.clock.Set(start.Add(-24*time.Hour + time.Second)) // the cut-off passed while the customer read
		var e apiError
		resp := mb.doJSON(t, http.MethodPost, managePath(b.ID, "cancel", "tok-changed"), map[string]any{"expectedRefundAmount": q.RefundAmount}, nil, &e)
		checkAPIError(t, resp, e, 409, "quote_changed")
		if s := mb.status(t, b.ID); s != booking.StatusConfirmed {
			t.Fatalf("status %s", s)
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM refund_requests WHERE booking_id = $1`, b.ID); n != 0 {
			t.Fatalf("%d refund requests", n)
		}
		for _, body := range []string{`{"expectedRefundAmount":-1}`, `{"expectedRefundAmount":"5000"}`, `{"refund":1}`} {
			e = apiError{}
			resp := mb.doJSON(t, http.MethodPost, managePath(b.ID, "cancel", "tok-changed"), body, nil, &e)
			if resp.StatusCode != 400 && resp.StatusCode != 422 {
				t.Errorf("%s: %d", body, resp.StatusCode)
			}
		}
	})
	mb.noViolations(t)
}

// TestCustomerCancelUnpaid cancels a booking before payment: cancelled, its
// slot free at once and its Checkout Session expired at Stripe.
func TestCustomerCancelUnpaid(t *testing.T) {
	t.Parallel()
	mb := manageSetup(t, manageOpts{})
	start := mb.clock.Now().Add(72 * time.Hour).Truncate(time.Hour)
	c := mb.book(t, mb.resource.ID, start)
	var got cancelledAnswer
	resp := mb.doJSON(t, http.MethodPost, managePath(c.Booking.ID, "cancel", c.CustomerToken), nil, nil, &got)
	if resp.StatusCode != 200 || got.Booking.Status != booking.StatusCancelled || got.RefundAmount != 0 {
		t.Fatalf("cancel: %d %+v", resp.StatusCode, got)
	}
	mb.expired.mu.Lock()
	ids := append([]string(nil), mb.expired.ids...)
	mb.expired.mu.Unlock()
	if len(ids) != 1 || ids[0] != *c.Booking.StripeSessionID {
		t.Fatalf("expired sessions %v", ids)
	}
	mb.book(t, mb.resource.ID, start) // the slot is free
}

// TestCustomerTokenChecked: every self-service route answers 404, the same
// answer, to an unknown booking and to a wrong, missing or other booking's
// token.
func TestCustomerTokenChecked(t *testing.T) {
	t.Parallel()
	mb := manageSetup(t, manageOpts{})
	start := mb.clock.Now().Add(10 * 24 * time.Hour).Truncate(time.Hour)
	a := mb.confirmed(t, mb.resource, start, "tok-a")
	b := mb.confirmed(t, mb.resource, start.Add(time.Hour), "tok-b")
	move := map[string]any{"startsAt": start.Add(5 * time.Hour).Format(time.RFC3339)}
	for _, c := range []struct{ name, id, token string }{
		{"wrong token", a.ID, "tok-x"},
		{"another booking's token", a.ID, "tok-b"},
		{"no token", a.ID, ""},
		{"unknown booking", "00000000-0000-4000-8000-000000000000", "tok-a"},
		{"not an id", "nope", "tok-a"},
		{"a long token", a.ID, strings.Repeat("t", 200)},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, r := range []struct {
				method, route string
				body          any
			}{
				{http.MethodGet, "cancel-quote", nil}, {http.MethodPost, "cancel", nil},
				{http.MethodPost, "reschedule", move}, {http.MethodGet, "calendar.ics", nil},
			} {
				var e apiError
				resp := mb.doJSON(t, r.method, managePath(c.id, r.route, c.token), r.body, nil, &e)
				checkAPIError(t, resp, e, 404, "not_found")
				if e.Message != "Booking not found." {
					t.Errorf("%s: message %q", r.route, e.Message)
				}
			}
			resp, body := get(t, http.DefaultClient, mb.srv.URL+"/manage/"+c.id+"?token="+url.QueryEscape(c.token), browserAccept)
			if resp.StatusCode != 404 || !strings.Contains(body, "Page not found") {
				t.Errorf("manage page: %d", resp.StatusCode)
			}
		})
	}
	for _, bk := range []*booking.Booking{a, b} {
		if got, _ := mb.db.FindBooking(context.Background(), bk.ID); got.Status != booking.StatusConfirmed || !got.StartsAt.Equal(bk.StartsAt) {
			t.Fatalf("booking changed: %+v", got)
		}
	}
}

// TestCustomerRescheduleRace moves a booking to a slot that new bookings
// race for, from many goroutines at once: exactly one gets the slot, every
// other gets 409, and a losing move leaves the booking in its old slot.
func TestCustomerRescheduleRace(t *testing.T) {
	t.Parallel()
	mb := manageSetup(t, manageOpts{})
	base := mb.clock.Now().Add(5 * 24 * time.Hour).Truncate(time.Hour)
	movedWins, bookWins := 0, 0
	for round := range 4 {
		start := base.Add(time.Duration(round) * 24 * time.Hour)
		target := start.Add(6 * time.Hour)
		token := fmt.Sprintf("tok-race-%d", round)
		b := mb.confirmed(t, mb.resource, start, token)
		moveBody, _ := json.Marshal(map[string]string{"startsAt": target.Format(time.RFC3339)})
		bookBody, _ := json.Marshal(bookingBody(mb.resource.ID, target))
		const racers = 8
		results := make([]rawResult, racers)
		errs := make([]error, racers)
		var wg sync.WaitGroup
		ready := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-ready
				if i == round%racers {
					results[i], errs[i] = mb.rawDo(http.MethodPost, managePath(b.ID, "reschedule", token), moveBody, nil)
				} else {
					results[i], errs[i] = mb.rawDo(http.MethodPost, "/api/bookings", bookBody, nil)
				}
			})
		}
		close(ready)
		wg.Wait()
		wins := 0
		for i, r := range results {
			if errs[i] != nil {
				t.Fatalf("racer %d: %v", i, errs[i])
			}
			switch r.status {
			case 200, 201:
				wins++
			case 409:
				var e apiError
				_ = json.Unmarshal(r.body, &e)
				if e.Error != "slot_unavailable" {
					t.Errorf("racer %d: 409 %s", i, e.Error)
				}
			default:
				t.Errorf("racer %d: %d %s", i, r.status, r.body)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d winners, want 1", round, wins)
		}
		after, err := mb.db.FindBooking(context.Background(), b.ID)
		if err != nil {
			t.Fatal(err)
		}
		moved := results[round%racers].status == 200
		if moved {
			movedWins++
			if !after.StartsAt.Equal(target) || after.Sequence != 1 {
				t.Fatalf("round %d: the move won but the booking is at %s (sequence %d)", round, after.StartsAt, after.Sequence)
			}
		} else {
			bookWins++
			if !after.StartsAt.Equal(start) || after.Sequence != 0 || !after.HoldsSlot || after.Status != booking.StatusConfirmed {
				t.Fatalf("round %d: the move lost but the booking changed: %+v", round, after)
			}
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM bookings WHERE holds_slot AND resource_id = $1 AND starts_at = $2`,
			mb.resource.ID, target); n != 1 {
			t.Fatalf("round %d: %d holders of the slot", round, n)
		}
	}
	t.Logf("the move won %d rounds, a new booking %d", movedWins, bookWins)
	mb.noViolations(t)
}

// TestReschedulePolicy covers the rules of a move through the API: a new
// sequence and calendar file, a price change refused, the cut-off refused
// to the customer and set aside by staff with the override, audited.
func TestReschedulePolicy(t *testing.T) {
	t.Parallel()
	mb := manageSetup(t, manageOpts{resource: pgtest.ResourceOpts{Location: "12 Rue de la Paix, Paris"}})
	ops, opsAcct := staffLogin(t, mb.testBundle, booking.RoleOps)
	paris, _ := time.LoadLocation("Europe/Paris")
	day := pgtest.TestDay(paris)
	start := pgtest.WallTime(day, 10, 0)
	mb.clock.Set(start.Add(-72 * time.Hour))
	b := mb.confirmed(t, mb.resource, start.UTC(), "tok-move")
	move := func(to time.Time) (*http.Response, apiError, booking.Booking) {
		var out struct {
			Booking booking.Booking `json:"booking"`
			apiError
		}
		resp := mb.doJSON(t, http.MethodPost, managePath(b.ID, "reschedule", "tok-move"), map[string]any{"startsAt": to.Format(time.RFC3339)}, nil, &out)
		return resp, out.apiError, out.Booking
	}

	// A move within the policy: same booking, new times, sequence 1.
	to := pgtest.WallTime(day, 15, 0)
	resp, e, got := move(to)
	if resp.StatusCode != 200 || !got.StartsAt.Equal(to) || got.Sequence != 1 || got.ID != b.ID || got.Status != booking.StatusConfirmed {
		t.Fatalf("move: %d %+v %+v", resp.StatusCode, e, got)
	}
	var view struct {
		Booking booking.Booking `json:"booking"`
	}
	mb.doJSON(t, http.MethodGet, managePath(b.ID, "", "tok-move"), nil, nil, &view)
	if view.Booking.Sequence != 1 || !view.Booking.StartsAt.Equal(to) {
		t.Fatalf("GET booking: %+v", view.Booking)
	}
	cal := mb.calendar(t, b.ID, "tok-move")
	checkEvent(t, cal, "REQUEST", b.ID, 1, "CONFIRMED", to, paris, "12 Rue de la Paix, Paris")

	// Invalid targets.
	for _, c := range []struct {
		name string
		to   time.Time
		code string
	}{
		{"off the grid", to.Add(30 * time.Minute), "validation_failed"},
		{"the current time", to, "validation_failed"},
		{"in the past", mb.clock.Now().Add(-time.Hour).Truncate(time.Hour), "validation_failed"},
	} {
		resp, e, _ := move(c.to)
		checkAPIError(t, resp, e, 422, c.code)
	}
	var e2 apiError
	checkAPIError(t, mb.doJSON(t, http.MethodPost, managePath(b.ID, "reschedule", "tok-move"), map[string]any{"startsAt": "tomorrow"}, nil, &e2), e2, 422, "validation_failed")
	e2 = apiError{}
	checkAPIError(t, mb.doJSON(t, http.MethodPost, managePath(b.ID, "reschedule", "tok-move"),
		map[string]any{"startsAt": to.Add(time.Hour).Format(time.RFC3339), "override": true}, nil, &e2), e2, 422, "validation_failed")

	// A different price: 422 price_changed, for the customer and for staff.
	if _, err := mb.db.Pool.Exec(context.Background(), `UPDATE resources SET price_amount = 6000 WHERE id = $1`, mb.resource.ID); err != nil {
		t.Fatal(err)
	}
	resp, e, _ = move(pgtest.WallTime(day, 16, 0))
	checkAPIError(t, resp, e, 422, "price_changed")
	if !strings.Contains(e.Message, "price") {
		t.Errorf("message %q", e.Message)
	}
	if _, err := mb.db.Pool.Exec(context.Background(), `UPDATE resources SET price_amount = 5000 WHERE id = $1`, mb.resource.ID); err != nil {
		t.Fatal(err)
	}

	// Past the cut-off (24 hours before the start): refused to the
	// customer and to staff without the override, allowed with it.
	mb.clock.Set(to.Add(-23 * time.Hour))
	to2 := pgtest.WallTime(day, 17, 0)
	resp, e, _ = move(to2)
	checkAPIError(t, resp, e, 409, "conflict")
	if !strings.Contains(e.Message, "24 hours") {
		t.Errorf("message %q", e.Message)
	}
	staffMove := func(body map[string]any) (*http.Response, apiError, booking.StaffBooking) {
		var out struct {
			Booking booking.StaffBooking `json:"booking"`
			apiError
		}
		resp := ops.do(t, http.MethodPost, "/api/admin/bookings/"+b.ID+"/reschedule", body, nil, &out)
		return resp, out.apiError, out.Booking
	}
	resp, e, _ = staffMove(map[string]any{"startsAt": to2.Format(time.RFC3339)})
	staffCheckError(t, "staff without override", resp, e, 409, "conflict")
	resp, e, sb := staffMove(map[string]any{"startsAt": to2.Format(time.RFC3339), "override": true})
	if resp.StatusCode != 200 || !sb.StartsAt.Equal(to2) || sb.Sequence != 2 || sb.AmountPaid != 5000 {
		t.Fatalf("staff override: %d %+v %+v", resp.StatusCode, e, sb)
	}
	if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM booking_audit WHERE booking_id = $1 AND cause = 'staff' AND cause_ref = $2
		AND detail LIKE 'rescheduled from % (cut-off overridden)'`, b.ID, opsAcct.ID); n != 1 {
		t.Fatalf("audit rows of the override: %d", n)
	}
	var detail booking.BookingDetail
	ops.do(t, http.MethodGet, "/api/admin/bookings/"+b.ID, nil, nil, &detail)
	moves := 0
	for _, a := range detail.Audit {
		if strings.HasPrefix(a.Detail, "rescheduled from") {
			moves++
		}
	}
	if moves != 2 {
		t.Fatalf("the staff view shows %d moves: %+v", moves, detail.Audit)
	}
	cal = mb.calendar(t, b.ID, "tok-move")
	checkEvent(t, cal, "REQUEST", b.ID, 2, "CONFIRMED", to2, paris, "12 Rue de la Paix, Paris")

	// After the start, not even staff.
	mb.clock.Set(to2)
	resp, e, _ = staffMove(map[string]any{"startsAt": pgtest.WallTime(day.AddDate(0, 0, 1), 10, 0).Format(time.RFC3339), "override": true})
	staffCheckError(t, "started", resp, e, 409, "conflict")

	// READONLY may not move a booking.
	ro, _ := staffLogin(t, mb.testBundle, booking.RoleReadonly)
	var e3 apiError
	staffCheckError(t, "readonly", ro.do(t, http.MethodPost, "/api/admin/bookings/"+b.ID+"/reschedule",
		map[string]any{"startsAt": to.Format(time.RFC3339)}, nil, &e3), e3, 403, "forbidden")
	mb.noViolations(t)
}

// calendar downloads and parses the calendar file of booking id.
func (mb *manageBundle) calendar(t *testing.T, id, token string) *ical.Calendar {
	t.Helper()
	res, err := mb.rawDo(http.MethodGet, managePath(id, "calendar.ics", token), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.status != 200 || res.header.Get("Content-Type") != "text/calendar; charset=utf-8" ||
		!strings.HasPrefix(res.header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("calendar: %d %v %s", res.status, res.header, res.body)
	}
	cal, err := ical.NewDecoder(bytes.NewReader(res.body)).Decode()
	if err != nil {
		t.Fatalf("parse calendar: %v\n%s", err, res.body)
	}
	return cal
}

// checkEvent checks the one event of cal.
func checkEvent(t *testing.T, cal *ical.Calendar, method, id string, seq int, status string, start time.Time, loc *time.Location, location string) {
	t.Helper()
	if got := cal.Props.Get(ical.PropMethod).Value; got != method {
		t.Errorf("METHOD %s, want %s", got, method)
	}
	evs := cal.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	ev := evs[0]
	if got := ev.Props.Get(ical.PropUID).Value; got != id+"@book.example.com" {
		t.Errorf("UID %s", got)
	}
	if n, err := ev.Props.Get(ical.PropSequence).Int(); err != nil || n != seq {
		t.Errorf("SEQUENCE %d (%v), want %d", n, err, seq)
	}
	if got := ev.Props.Get(ical.PropStatus).Value; got != status {
		t.Errorf("STATUS %s, want %s", got, status)
	}
	dt := ev.Props.Get(ical.PropDateTimeStart)
	if tz := dt.Params.Get(ical.PropTimezoneID); tz != loc.String() {
		t.Errorf("DTSTART TZID %q, want %s", tz, loc)
	}
	if got, err := ev.DateTimeStart(loc); err != nil || !got.Equal(start) {
		t.Errorf("DTSTART %s (%v), want %s", got, err, start)
	}
	if location != "" {
		if got, err := ev.Props.Text(ical.PropLocation); err != nil || got != location {
			t.Errorf("LOCATION %q (%v), want %q", got, err, location)
		}
	}
}

// TestCalendarFile: the calendar file of a confirmed booking, of a
// cancelled one (METHOD:CANCEL at the next sequence), and none for a
// booking that was never confirmed.
func TestCalendarFile(t *testing.T) {
	t.Parallel()
	mb := manageSetup(t, manageOpts{})
	paris, _ := time.LoadLocation("Europe/Paris")
	start := pgtest.WallTime(pgtest.TestDay(paris), 11, 0)
	mb.clock.Set(start.Add(-72 * time.Hour))
	b := mb.confirmed(t, mb.resource, start.UTC(), "tok-cal")
	checkEvent(t, mb.calendar(t, b.ID, "tok-cal"), "REQUEST", b.ID, 0, "CONFIRMED", start, paris, "")
	if resp := mb.doJSON(t, http.MethodPost, managePath(b.ID, "cancel", "tok-cal"), nil, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	checkEvent(t, mb.calendar(t, b.ID, "tok-cal"), "CANCEL", b.ID, 1, "CANCELLED", start, paris, "")

	c := mb.book(t, mb.resource.ID, start.Add(time.Hour).UTC())
	var e apiError
	checkAPIError(t, mb.doJSON(t, http.MethodGet, managePath(c.Booking.ID, "calendar.ics", c.CustomerToken), nil, nil, &e), e, 409, "conflict")
}

// TestAbandonedCheckoutPage: the cancel_url of a Checkout Session, with the
// booking's key, releases the hold at once and expires the session; a
// wrong key changes nothing.
func TestAbandonedCheckoutPage(t *testing.T) {
	t.Parallel()
	co := &checkoutRecorder{Provider: payment.NewStripe(payment.StripeOpts{SecretKey: "sk_test_123", APIBase: stripeMockURL(),
		AppURL: manageAppURL, Timeout: 5 * time.Second})}
	mb := manageSetup(t, manageOpts{payments: co})
	start := mb.clock.Now().Add(48 * time.Hour).Truncate(time.Hour)
	c := mb.book(t, mb.resource.ID, start)
	// The Checkout Session was asked for with the key in its cancel_url.
	co.mu.Lock()
	reqs := append([]booking.CheckoutRequest(nil), co.reqs...)
	co.mu.Unlock()
	if len(reqs) != 1 || reqs[0].CancelKey != booking.CheckoutCancelKey(booking.HashToken(c.CustomerToken)) {
		t.Fatalf("checkout requests %+v", reqs)
	}
	page := func(key string) string {
		resp, body := get(t, http.DefaultClient, mb.srv.URL+"/cancel?booking="+c.Booking.ID+"&key="+url.QueryEscape(key), browserAccept)
		if resp.StatusCode != 200 {
			t.Fatalf("cancel page: %d", resp.StatusCode)
		}
		return body
	}
	if body := page("not-the-key"); strings.Contains(body, "has been released") || !strings.Contains(body, "released automatically") {
		t.Fatal("a wrong key released the slot")
	}
	if s := mb.status(t, c.Booking.ID); s != booking.StatusPending {
		t.Fatalf("status %s after a wrong key", s)
	}
	key := booking.CheckoutCancelKey(booking.HashToken(c.CustomerToken))
	if body := page(key); !strings.Contains(body, "Your slot has been released") {
		t.Fatal("the page does not say the slot was released")
	}
	if s := mb.status(t, c.Booking.ID); s != booking.StatusCancelled {
		t.Fatalf("status %s", s)
	}
	if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM booking_audit WHERE booking_id = $1 AND to_status = 'cancelled'
		AND cause = 'api' AND cause_ref = 'checkout_abandoned'`, c.Booking.ID); n != 1 {
		t.Fatalf("audit rows %d", n)
	}
	mb.expired.mu.Lock()
	ids := append([]string(nil), mb.expired.ids...)
	mb.expired.mu.Unlock()
	if len(ids) != 1 || ids[0] != *c.Booking.StripeSessionID {
		t.Fatalf("expired sessions %v", ids)
	}
	if strings.Contains(mb.logs.String(), "could not expire") {
		t.Fatalf("expiring against stripe-mock failed: %s", mb.logs.String())
	}
	page(key) // again: nothing more to do
	mb.book(t, mb.resource.ID, start)
}

// TestManagePage renders the customer's page: the booking in its zone with
// the zone named, the location, the server's refund quote, and the calendar
// link; and the self-service routes are rate limited.
func TestManagePage(t *testing.T) {
	t.Parallel()
	mb := manageSetup(t, manageOpts{perMinute: 8, resource: pgtest.ResourceOpts{Location: "Court 3, Club Lane",
		Price: 5400, LateCancelRefundPercent: pgtest.Int(50)}})
	paris, _ := time.LoadLocation("Europe/Paris")
	start := pgtest.WallTime(pgtest.TestDay(paris), 9, 0)
	mb.clock.Set(start.Add(-72 * time.Hour))
	b := mb.confirmed(t, mb.resource, start.UTC(), "tok-page")
	resp, body := get(t, http.DefaultClient, mb.srv.URL+"/manage/"+b.ID+"?token=tok-page", browserAccept)
	if resp.StatusCode != 200 {
		t.Fatalf("page: %d", resp.StatusCode)
	}
	for _, want := range []string{"You will get <strong>€54.00</strong> back.", "09:00–10:00", "Europe/Paris", "Court 3, Club Lane",
		`/api/bookings/` + b.ID + `/calendar.ics?token=tok-page`, `src="/static/manage.js"`, "Cancel this booking", "Change the time"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q", csp)
	}
	// Late: half of the amount paid.
	mb.clock.Set(start.Add(-time.Hour))
	_, body = get(t, http.DefaultClient, mb.srv.URL+"/manage/"+b.ID+"?token=tok-page", browserAccept)
	if !strings.Contains(body, "You will get <strong>€27.00</strong> back.") || !strings.Contains(body, "The cancellation fee is €27.00.") ||
		strings.Contains(body, `id="move-button"`) {
		t.Error("the late page does not show the late quote, or still offers a move")
	}
	// The limit: 8 a minute per address, shared by the routes.
	limited := false
	for range 10 {
		res, err := mb.rawDo(http.MethodGet, managePath(b.ID, "cancel-quote", "tok-page"), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.status == 429 {
			limited = res.header.Get("Retry-After") != ""
			break
		}
	}
	if !limited {
		t.Fatal("no 429 with Retry-After")
	}
}

// TestResourcePolicyAPI: ADMIN sets a resource's location, reminder and
// self-service policy through the resource API; defaults apply when they
// are left out, and values out of range are refused naming the field.
func TestResourcePolicyAPI(t *testing.T) {
	t.Parallel()
	mb := manageSetup(t, manageOpts{})
	admin, _ := staffLogin(t, mb.testBundle, booking.RoleAdmin)
	body := map[string]any{"slug": "court-policy", "name": "Court", "priceAmount": 2500, "currency": "eur",
		"durationMinutes": 30, "timezone": "Europe/Paris", "weeklyHours": []map[string]any{{"weekday": 1, "start": "08:00", "end": "12:00"}}}
	var created struct {
		Resource booking.Resource `json:"resource"`
	}
	if resp := admin.do(t, http.MethodPost, "/api/admin/resources", body, nil, &created); resp.StatusCode != 201 {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	r := created.Resource
	if r.ReminderHours != 24 || r.CancelUntilHours != 24 || r.RescheduleUntilHours != 24 || r.LateCancelRefundPercent != 0 || r.Location != "" {
		t.Fatalf("defaults: %+v", r)
	}
	patch := map[string]any{"location": "  Court 3, 1 Club Lane  ", "reminderHours": 0, "cancelUntilHours": 48,
		"lateCancelRefundPercent": 37, "rescheduleUntilHours": 12}
	var updated struct {
		Resource booking.Resource `json:"resource"`
	}
	if resp := admin.do(t, http.MethodPatch, "/api/admin/resources/"+r.ID, patch, nil, &updated); resp.StatusCode != 200 {
		t.Fatalf("patch: %d", resp.StatusCode)
	}
	u := updated.Resource
	if u.Location != "Court 3, 1 Club Lane" || u.ReminderHours != 0 || u.CancelUntilHours != 48 || u.LateCancelRefundPercent != 37 ||
		u.RescheduleUntilHours != 12 {
		t.Fatalf("updated: %+v", u)
	}
	var list struct {
		Items []booking.Resource `json:"items"`
	}
	mb.doJSON(t, http.MethodGet, "/api/resources", nil, nil, &list)
	found := false
	for _, it := range list.Items {
		found = found || (it.ID == r.ID && it.CancelUntilHours == 48 && it.Location == "Court 3, 1 Club Lane")
	}
	if !found {
		t.Fatalf("the public list does not show the policy: %+v", list.Items)
	}
	for field, bad := range map[string]any{"location": strings.Repeat("x", 301), "reminderHours": 721, "cancelUntilHours": -1,
		"lateCancelRefundPercent": 101, "rescheduleUntilHours": 8761} {
		var e apiError
		resp := admin.do(t, http.MethodPatch, "/api/admin/resources/"+r.ID, map[string]any{field: bad}, nil, &e)
		staffCheckError(t, field, resp, e, 422, "validation_failed")
		if e.Fields[field] == "" {
			t.Errorf("%s: fields %v", field, e.Fields)
		}
	}
}

// switchRefunder refuses refunds until it is switched on, then passes them
// to stripe-mock.
type switchRefunder struct {
	mu   sync.Mutex
	on   bool
	next booking.Refunder
}

func (r *switchRefunder) Refund(ctx context.Context, req booking.ProviderRefund) (*booking.Refund, error) {
	r.mu.Lock()
	on := r.on
	r.mu.Unlock()
	if !on {
		return nil, booking.Errorf(booking.EPaymentProvider, "The payment provider could not be reached.")
	}
	return r.next.Refund(ctx, req)
}

// TestCustomerCancelRefundLater: a cancellation stands when the payment
// provider does not take its refund at once; the refund is owed and made
// later, once, for the quoted amount. Staff can then give the fee back.
func TestCustomerCancelRefundLater(t *testing.T) {
	t.Parallel()
	ref := &switchRefunder{next: payment.NewStripe(payment.StripeOpts{SecretKey: "sk_test_123", APIBase: stripeMockURL(), Timeout: 5 * time.Second})}
	mb := manageSetup(t, manageOpts{refunder: ref, resource: pgtest.ResourceOpts{LateCancelRefundPercent: pgtest.Int(40)}})
	start := mb.clock.Now().Add(10 * 24 * time.Hour).Truncate(time.Hour)
	b := mb.confirmed(t, mb.resource, start, "tok-later")
	mb.clock.Set(start.Add(-2 * time.Hour))
	var got cancelledAnswer
	resp := mb.doJSON(t, http.MethodPost, managePath(b.ID, "cancel", "tok-later"), map[string]any{"expectedRefundAmount": 2000}, nil, &got)
	if resp.StatusCode != 200 || got.Booking.Status != booking.StatusCancelled || !got.RefundPending || got.RefundAmount != 2000 ||
		got.RetainedAmount != 3000 {
		t.Fatalf("cancel: %d %+v", resp.StatusCode, got)
	}
	mb.noViolations(t) // a refund is owed: nothing is kept without it
	ref.mu.Lock()
	ref.on = true
	ref.mu.Unlock()
	mb.clock.Set(start.Add(-time.Hour)) // past the retry's backoff
	if n, err := mb.app.Refunds.RunDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("refunds made: %d %v", n, err)
	}
	after, _ := mb.db.FindBooking(context.Background(), b.ID)
	if after.Status != booking.StatusRefunded || after.AmountRefunded != 2000 || after.AmountRetained != 3000 {
		t.Fatalf("after the refund: %s refunded %d retained %d", after.Status, after.AmountRefunded, after.AmountRetained)
	}
	mb.noViolations(t)

	// Staff give the fee back: the rest of the payment is refunded.
	ops, _ := staffLogin(t, mb.testBundle, booking.RoleOps)
	var sb adminBookingAnswer
	if resp := ops.do(t, http.MethodPost, "/api/admin/bookings/"+b.ID+"/cancel", nil, nil, &sb); resp.StatusCode != 200 {
		t.Fatalf("staff refund of the fee: %d", resp.StatusCode)
	}
	after, _ = mb.db.FindBooking(context.Background(), b.ID)
	if after.Status != booking.StatusRefunded || after.AmountRefunded != 5000 || after.AmountRetained != 0 {
		t.Fatalf("after the fee refund: %s refunded %d retained %d", after.Status, after.AmountRefunded, after.AmountRetained)
	}
	if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM refunds WHERE booking_id = $1`, b.ID); n != 2 {
		t.Fatalf("%d refund rows, want 2", n)
	}
	mb.noViolations(t)
}

// checkoutRecorder records the Checkout Sessions asked for.
type checkoutRecorder struct {
	app.Provider
	mu   sync.Mutex
	reqs []booking.CheckoutRequest
}

func (c *checkoutRecorder) CreateCheckout(ctx context.Context, req booking.CheckoutRequest) (*booking.Checkout, error) {
	c.mu.Lock()
	c.reqs = append(c.reqs, req)
	c.mu.Unlock()
	return c.Provider.CreateCheckout(ctx, req)
}
