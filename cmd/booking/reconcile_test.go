package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/payment"
	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

// fakeEventsAPI serves GET /v1/events like Stripe: newest first, paginated
// with limit/starting_after, filtered by created[gte]. Like stripe-mock it
// ignores the types filter, so the client must filter too.
type fakeEventsAPI struct {
	mu     sync.Mutex
	events []map[string]any // newest first
}

func (f *fakeEventsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != "/v1/events" {
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	gte, err := strconv.ParseInt(q.Get("created[gte]"), 10, 64)
	if err != nil {
		http.Error(w, `{"error":{"message":"created[gte] required"}}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	var list []map[string]any
	for _, e := range f.events {
		if e["created"].(int64) >= gte {
			list = append(list, e)
		}
	}
	f.mu.Unlock()
	start := 0
	if after := q.Get("starting_after"); after != "" {
		start = slices.IndexFunc(list, func(e map[string]any) bool { return e["id"] == after }) + 1
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 {
		limit = 10
	}
	end := min(start+limit, len(list))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "url": "/v1/events", "data": list[start:end], "has_more": end < len(list)})
}

// add appends an event as the newest one.
func (f *fakeEventsAPI) add(id, typ string, created time.Time, object map[string]any) map[string]any {
	e := map[string]any{"id": id, "object": "event", "type": typ, "api_version": stripe.APIVersion,
		"created": created.Unix(), "livemode": false, "pending_webhooks": 0, "data": map[string]any{"object": object}}
	f.mu.Lock()
	f.events = append([]map[string]any{e}, f.events...)
	f.mu.Unlock()
	return e
}

func paidSession(b *booking.Booking, pi string) map[string]any {
	return map[string]any{"id": *b.StripeSessionID, "object": "checkout.session", "client_reference_id": b.ID,
		"payment_status": "paid", "status": "complete", "amount_total": b.AmountTotal, "currency": b.Currency, "payment_intent": pi}
}

type reconcileBundle struct {
	url      string
	db       *postgres.DB
	api      *fakeEventsAPI
	srv      *httptest.Server
	bookings []*booking.Booking
	handled  int // events of handled types inside the window
}

// newReconcileBundle creates n pending bookings and, in the fake Events API,
// a paid checkout.session.completed event for each, a second Event object for
// every other session, a full refund of the first booking, an event of a type
// we do not handle and one older than the window.
func newReconcileBundle(t *testing.T, n int) *reconcileBundle {
	t.Helper()
	rb := &reconcileBundle{url: pgtest.NewURL(t), api: &fakeEventsAPI{}}
	db, err := postgres.Open(context.Background(), rb.url, postgres.PoolOpts{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	rb.db = db
	res := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
	base := time.Now().Add(-24 * time.Hour)
	rb.api.add("evt_old", booking.EventCheckoutExpired, time.Now().Add(-100*time.Hour), map[string]any{"id": "cs_old", "object": "checkout.session"})
	for i := range n {
		b := pgtest.CreateBooking(t, db, res, pgtest.BookingOpts{})
		rb.bookings = append(rb.bookings, b)
		created := base.Add(time.Duration(i) * time.Minute)
		rb.api.add(fmt.Sprintf("evt_paid_%03d", i), booking.EventCheckoutCompleted, created, paidSession(b, fmt.Sprintf("pi_%03d", i)))
		rb.handled++
		if i%2 == 0 {
			rb.api.add(fmt.Sprintf("evt_paid_%03d_b", i), booking.EventCheckoutCompleted, created.Add(time.Second), paidSession(b, fmt.Sprintf("pi_%03d", i)))
			rb.handled++
		}
	}
	first := rb.bookings[0]
	rb.api.add("evt_refund_000", booking.EventChargeRefunded, base.Add(time.Duration(n)*time.Minute), map[string]any{
		"id": "ch_000", "object": "charge", "amount": first.AmountTotal, "amount_refunded": first.AmountTotal,
		"currency": first.Currency, "payment_intent": "pi_000",
		"refunds": map[string]any{"data": []any{map[string]any{"id": "re_000", "amount": first.AmountTotal, "currency": first.Currency, "status": "succeeded"}}},
	})
	rb.handled++
	rb.api.add("evt_plan", "plan.created", base, map[string]any{"id": "plan_1", "object": "plan"})
	rb.srv = httptest.NewServer(rb.api)
	t.Cleanup(rb.srv.Close)
	return rb
}

func (rb *reconcileBundle) getenv(k string) string {
	switch k {
	case "DATABASE_URL":
		return rb.url
	case "STRIPE_SECRET_KEY":
		return "sk_test_123"
	case "STRIPE_API_BASE":
		return rb.srv.URL
	case "LOG_LEVEL":
		return "warn"
	}
	return ""
}

// runCmd runs the booking command line and returns its output.
func (rb *reconcileBundle) runCmd(args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	err = run(context.Background(), args, rb.getenv, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

// checkEffects asserts every effect happened exactly once.
func (rb *reconcileBundle) checkEffects(t *testing.T) {
	t.Helper()
	if n := pgtest.Count(t, rb.db, `SELECT count(*) FROM webhook_events`); n != rb.handled {
		t.Errorf("ledger rows %d, want %d", n, rb.handled)
	}
	if n := pgtest.Count(t, rb.db, `SELECT count(*) FROM payments`); n != len(rb.bookings) {
		t.Errorf("payments %d, want %d", n, len(rb.bookings))
	}
	if n := pgtest.Count(t, rb.db, `SELECT count(*) FROM (SELECT booking_id FROM booking_audit WHERE to_status = 'confirmed'
		GROUP BY booking_id HAVING count(*) = 1) x`); n != len(rb.bookings) {
		t.Errorf("bookings confirmed exactly once: %d, want %d", n, len(rb.bookings))
	}
	if n := pgtest.Count(t, rb.db, `SELECT count(*) FROM refunds WHERE stripe_refund_id = 're_000'`); n != 1 {
		t.Errorf("refund rows %d", n)
	}
	for i, b := range rb.bookings {
		got, err := rb.db.FindBooking(context.Background(), b.ID)
		want := booking.StatusConfirmed
		if i == 0 {
			want = booking.StatusRefunded
		}
		if err != nil || got.Status != want {
			t.Errorf("booking %d: %v %v, want %s", i, got, err, want)
		}
	}
}

func TestReconcile(t *testing.T) {
	t.Parallel()

	t.Run("processes what the ledger lacks, then nothing", func(t *testing.T) {
		t.Parallel()
		rb := newReconcileBundle(t, 80)
		// Three events were delivered by webhook before.
		svc := &booking.Fulfiller{Store: rb.db, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: time.Now, Parse: payment.ParseStored}
		for _, e := range rb.api.events {
			if id := e["id"].(string); id == "evt_paid_001" || id == "evt_paid_002" || id == "evt_paid_003" {
				raw, _ := json.Marshal(e)
				ev, err := payment.ParseStored(raw)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := svc.HandleEvent(context.Background(), ev); err != nil {
					t.Fatal(err)
				}
			}
		}
		out, errOut, err := rb.runCmd("reconcile", "--since", "72h")
		if err != nil {
			t.Fatalf("reconcile: %v\n%s", err, errOut)
		}
		want := fmt.Sprintf("seen %d, already known 3, processed %d, failed 0, skipped 1 of other types", rb.handled, rb.handled-3)
		if !strings.HasPrefix(out, want) {
			t.Fatalf("summary %q, want prefix %q", out, want)
		}
		if !strings.Contains(errOut, "reconcile: listed 100 events") || !strings.Contains(errOut, "reconcile: 100/") {
			t.Errorf("no progress lines on stderr:\n%s", errOut)
		}
		rb.checkEffects(t)
		if n := pgtest.Count(t, rb.db, `SELECT count(*) FROM webhook_events WHERE source = 'reconcile'`); n != rb.handled-3 {
			t.Errorf("ledger rows from reconcile %d", n)
		}

		out, errOut, err = rb.runCmd("reconcile", "--since", "72h")
		if err != nil {
			t.Fatalf("second reconcile: %v\n%s", err, errOut)
		}
		if want := fmt.Sprintf("seen %d, already known %d, processed 0, failed 0", rb.handled, rb.handled); !strings.HasPrefix(out, want) {
			t.Fatalf("second summary %q, want prefix %q", out, want)
		}
		rb.checkEffects(t)
	})

	t.Run("concurrent runs apply each effect once", func(t *testing.T) {
		t.Parallel()
		rb := newReconcileBundle(t, 60)
		type result struct {
			out, errOut string
			err         error
		}
		results := make(chan result, 3)
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				out, errOut, err := rb.runCmd("reconcile", "--since", "72h")
				results <- result{out, errOut, err}
			})
		}
		wg.Wait()
		close(results)
		totalProcessed := 0
		for r := range results {
			if r.err != nil {
				t.Fatalf("reconcile: %v\n%s", r.err, r.errOut)
			}
			var seen, known, processed, failed int
			if _, err := fmt.Sscanf(r.out, "seen %d, already known %d, processed %d, failed %d", &seen, &known, &processed, &failed); err != nil {
				t.Fatalf("summary %q: %v", r.out, err)
			}
			if seen != rb.handled || known+processed != seen || failed != 0 {
				t.Fatalf("summary %q", r.out)
			}
			totalProcessed += processed
		}
		// Every event went through fulfilment at least once; runs that raced
		// for one got a duplicate from the ledger's unique event id.
		if totalProcessed < rb.handled {
			t.Fatalf("runs processed %d events in all, want at least %d", totalProcessed, rb.handled)
		}
		t.Logf("3 runs processed %d events for %d in the ledger", totalProcessed, rb.handled)
		rb.checkEffects(t)
	})

	t.Run("bad flags", func(t *testing.T) {
		t.Parallel()
		rb := &reconcileBundle{url: "postgres://127.0.0.1/none", srv: &httptest.Server{}}
		for _, args := range [][]string{{"reconcile", "--since", "0s"}, {"reconcile", "--since", "800h"}, {"reconcile", "extra"}} {
			if _, _, err := rb.runCmd(args...); exitCode(err) != 2 {
				t.Errorf("%v: err %v, want a usage error", args, err)
			}
		}
	})
}

func TestWebhookReplay(t *testing.T) {
	t.Parallel()
	rb := newReconcileBundle(t, 2)
	svc := &booking.Fulfiller{Store: rb.db, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: time.Now, Parse: payment.ParseStored}
	handle := func(id string) {
		t.Helper()
		for _, e := range rb.api.events {
			if e["id"] == id {
				raw, _ := json.Marshal(e)
				ev, err := payment.ParseStored(raw)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := svc.HandleEvent(context.Background(), ev); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
		t.Fatalf("no event %s", id)
	}
	// The refund arrives before the payment: it waits, and is applied with it.
	handle("evt_refund_000")
	handle("evt_paid_000")
	if out, _, err := rb.runCmd("webhook", "replay", "evt_refund_000"); err != nil ||
		!strings.HasPrefix(out, "event evt_refund_000: outcome duplicate, booking "+rb.bookings[0].ID+" is refunded") {
		t.Fatalf("replay: %q, %v", out, err)
	}
	// The ledger row keeps its outcome; the late application and the replay are beside it.
	if n := pgtest.Count(t, rb.db, `SELECT count(*) FROM webhook_events WHERE stripe_event_id = 'evt_refund_000' AND outcome = 'unmatched'`); n != 1 {
		t.Fatalf("original ledger row changed")
	}
	if n := pgtest.Count(t, rb.db, `SELECT count(*) FROM webhook_event_replays WHERE stripe_event_id = 'evt_refund_000'
		AND ((source = 'late' AND outcome = 'processed') OR (source = 'replay' AND outcome = 'duplicate' AND cause_ref = 'system:cli'))`); n != 2 {
		t.Fatalf("replay rows %d, want the late application and the replay", n)
	}
	if out, _, err := rb.runCmd("webhook", "replay", "evt_paid_000"); err != nil || !strings.Contains(out, "outcome duplicate") {
		t.Fatalf("replay of an applied payment: %q, %v", out, err)
	}
	if n := pgtest.Count(t, rb.db, `SELECT count(*) FROM payments`); n != 1 {
		t.Fatalf("payments %d", n)
	}
	if _, _, err := rb.runCmd("webhook", "replay", "evt_missing"); err == nil || !strings.Contains(err.Error(), "no event evt_missing") {
		t.Fatalf("unknown event: %v", err)
	}
	if _, _, err := rb.runCmd("webhook", "replay"); exitCode(err) != 2 {
		t.Fatalf("no id: %v", err)
	}
}
