package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

// TestWebhookConcurrentDeliveries races 100 clients delivering 10 events each
// for 20 Checkout Sessions: every session gets a paid completed event, an
// async success and a second paid completed event with its own id (Stripe's
// "two separate Event objects"), each delivered many times at once. Every
// booking must end confirmed once, with one payment and one ledger row per
// event id, and no delivery may fail.
func TestWebhookConcurrentDeliveries(t *testing.T) {
	t.Parallel()
	t.Run("one server", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, setupOpts{db: whSmallPoolDB(t)})
		whRace(t, tb, []*testBundle{tb})
	})
	t.Run("two servers on one database", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, setupOpts{db: whSmallPoolDB(t)})
		whRace(t, tb, []*testBundle{tb, whTwin(t, tb, nil)})
	})
	t.Run("two servers through PgBouncer in transaction pooling mode", func(t *testing.T) {
		t.Parallel()
		db, direct := pgtest.NewPooledDB(t, 12)
		tb := setup(t, setupOpts{db: db})
		// The other replica has a pool of its own through the same PgBouncer.
		twin := setup(t, setupOpts{db: pgtest.OpenPooled(t, direct, 12), resource: tb.resource})
		whRace(t, tb, []*testBundle{tb, twin})
	})
}

// whSmallPoolDB is a fresh database behind a pool smaller than the number of
// concurrent clients, so deliveries also queue for connections. Commits do
// not wait for the WAL flush: durability across a server crash is not what
// this test is about, and a thousand fsyncs would dominate its run time.
func whSmallPoolDB(t testing.TB) *postgres.DB {
	t.Helper()
	url := pgtest.NewURL(t)
	if strings.Contains(url, "?") {
		url += "&synchronous_commit=off"
	} else {
		url += "?synchronous_commit=off"
	}
	db, err := postgres.Open(context.Background(), url, postgres.PoolOpts{MaxConns: 12})
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

func whRace(t *testing.T, tb *testBundle, servers []*testBundle) {
	const sessions, clients, perClient = 20, 100, 10
	bookings := make([]*booking.Booking, sessions)
	for i := range bookings {
		bookings[i] = createTestBooking(t, tb)
	}
	// Three distinct events per session; event e concerns session e%sessions.
	type event struct {
		id      string
		session int
		payload []byte
	}
	var events []event
	for _, kind := range []string{"completed", "async", "completed_again"} {
		for s, b := range bookings {
			ev := paidEvent(fmt.Sprintf("evt_race_%02d_%s", s, kind), b)
			if kind == "async" {
				ev.Type = booking.EventCheckoutAsyncSucceeded
			}
			events = append(events, event{id: ev.ID, session: s, payload: ev.payload()})
		}
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	type answer struct {
		event  int
		status int
		body   string
	}
	answers := make(chan answer, clients*perClient)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv := servers[c%len(servers)]
			<-start
			for k := 0; k < perClient; k++ {
				e := (c*perClient + k*7) % len(events)
				p := events[e].payload
				r := whPost(t, client, srv.srv.URL, "/webhook", p, sign(p, testSecret), nil)
				answers <- answer{event: e, status: r.status, body: r.str("outcome")}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(answers)

	processed := make([]int, sessions)
	delivered := make([]int, len(events))
	for a := range answers {
		delivered[a.event]++
		if a.status != http.StatusOK {
			t.Errorf("event %s: status %d", events[a.event].id, a.status)
			continue
		}
		switch a.body {
		case "processed":
			processed[events[a.event].session]++
		case "duplicate":
		default:
			t.Errorf("event %s: outcome %q", events[a.event].id, a.body)
		}
	}
	for e, n := range delivered {
		if n < 2 {
			t.Fatalf("event %s delivered %d times; the test must replay every event", events[e].id, n)
		}
	}
	for s, b := range bookings {
		if processed[s] != 1 {
			t.Errorf("session %d: %d processed answers, want 1", s, processed[s])
		}
		if st := tb.status(t, b.ID); st != booking.StatusConfirmed {
			t.Errorf("booking %d: status %s, want confirmed", s, st)
		}
		if n := whCount(t, tb.db, `SELECT count(*) FROM payments WHERE stripe_session_id = $1 AND booking_id = $2`, *b.StripeSessionID, b.ID); n != 1 {
			t.Errorf("session %d: %d payments, want 1", s, n)
		}
		trail := whAudit(t, tb.db, b.ID)
		if len(trail) != 1 || trail[0].From != "pending" || trail[0].To != "confirmed" || trail[0].Cause != "stripe_event" {
			t.Errorf("booking %d: audit trail %+v, want one pending→confirmed", s, trail)
		}
	}
	if n := whCount(t, tb.db, `SELECT count(*) FROM payments`); n != sessions {
		t.Errorf("payments %d, want %d", n, sessions)
	}
	if n := whCount(t, tb.db, `SELECT count(*) FROM webhook_events`); n != len(events) {
		t.Errorf("ledger rows %d, want %d (one per distinct event id)", n, len(events))
	}
	if n := whCount(t, tb.db, `SELECT count(*) FROM webhook_events WHERE outcome = 'processed'`); n != sessions {
		t.Errorf("processed ledger rows %d, want %d", n, sessions)
	}
	if n := whCount(t, tb.db, `SELECT count(*) FROM webhook_events WHERE outcome = 'duplicate' AND booking_id IS NOT NULL`); n != len(events)-sessions {
		t.Errorf("duplicate ledger rows %d, want %d", n, len(events)-sessions)
	}
	// The audit cause of each confirmation is the event that was processed.
	if n := whCount(t, tb.db, `SELECT count(*) FROM booking_audit a JOIN webhook_events w
		ON w.stripe_event_id = a.cause_ref AND w.booking_id = a.booking_id AND w.outcome = 'processed'
		WHERE a.to_status = 'confirmed' AND a.cause = 'stripe_event'`); n != sessions {
		t.Errorf("confirmations audited with their processed event %d, want %d", n, sessions)
	}
}
