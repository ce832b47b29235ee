package payment_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/payment"
)

func stripeMockURL() string {
	if u := os.Getenv("STRIPE_MOCK_URL"); u != "" {
		return u
	}
	return "http://127.0.0.1:12111"
}

// stripe-mock answers GET /v1/events with one fixture event (plan.created)
// whatever the filter: it is listed, and skipped as a type we do not handle.
func TestListEventsStripeMock(t *testing.T) {
	t.Parallel()
	st := payment.NewStripe(payment.StripeOpts{SecretKey: "sk_test_123", APIBase: stripeMockURL(), Timeout: 5 * time.Second})
	n := 0
	for le, err := range st.ListEvents(context.Background(), time.Now().Add(-72*time.Hour)) {
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		n++
		if le.ID == "" || le.Type == "" {
			t.Fatalf("listed event without id or type: %+v", le)
		}
		if slices.Contains(payment.HandledEventTypes, le.Type) != (le.Event != nil) {
			t.Fatalf("event %s of type %s: parsed %v", le.ID, le.Type, le.Event != nil)
		}
	}
	if n == 0 {
		t.Fatal("stripe-mock listed no events")
	}
}

// A paginated listing is followed to its end, with the filters Stripe needs.
func TestListEventsPages(t *testing.T) {
	t.Parallel()
	const total = 250
	since := time.Now().Add(-time.Hour).Truncate(time.Second)
	events := make([]map[string]any, total) // newest first, as Stripe lists
	for i := range events {
		events[i] = map[string]any{"id": fmt.Sprintf("evt_%03d", total-i), "object": "event", "type": booking.EventCheckoutExpired,
			"created": time.Now().Unix() - int64(i), "api_version": "2026-05-27.dahlia", "livemode": false,
			"data": map[string]any{"object": map[string]any{"id": fmt.Sprintf("cs_%03d", total-i), "object": "checkout.session"}}}
	}
	var pages atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/v1/events" || q.Get("created[gte]") != strconv.FormatInt(since.Unix(), 10) || countTypes(q) != len(payment.HandledEventTypes) {
			http.Error(w, `{"error":{"message":"bad request `+r.URL.String()+`"}}`, http.StatusBadRequest)
			return
		}
		pages.Add(1)
		start := 0
		if after := q.Get("starting_after"); after != "" {
			start = slices.IndexFunc(events, func(e map[string]any) bool { return e["id"] == after }) + 1
		}
		limit, _ := strconv.Atoi(q.Get("limit"))
		end := min(start+limit, len(events))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "url": "/v1/events", "data": events[start:end], "has_more": end < len(events)})
	}))
	t.Cleanup(srv.Close)
	st := payment.NewStripe(payment.StripeOpts{SecretKey: "sk_test_123", APIBase: srv.URL, Timeout: 5 * time.Second})
	var ids []string
	for le, err := range st.ListEvents(context.Background(), since) {
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		if le.Event == nil || le.Event.Source != "reconcile" || le.Event.SessionID == "" || len(le.Event.Payload) == 0 {
			t.Fatalf("event %+v", le)
		}
		ids = append(ids, le.ID)
	}
	if len(ids) != total || pages.Load() != 3 {
		t.Fatalf("listed %d events in %d pages, want %d in 3", len(ids), pages.Load(), total)
	}
	// The payload is the event itself: it parses again as stored.
	var first *booking.PaymentEvent
	for le, err := range st.ListEvents(context.Background(), since) {
		if err != nil {
			t.Fatalf("list events: %v", err)
		}
		first = le.Event
		break
	}
	again, err := payment.ParseStored(first.Payload)
	if err != nil || again.ID != first.ID || again.SessionID != first.SessionID {
		t.Fatalf("stored payload: %+v, %v", again, err)
	}
}

// countTypes counts the types[n] filter values of an Events API query.
func countTypes(q url.Values) int {
	n := 0
	for k := range q {
		if strings.HasPrefix(k, "types[") {
			n++
		}
	}
	return n
}
