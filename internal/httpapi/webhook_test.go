package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/httpapi"
	"github.com/bookingplatform/booking/internal/payment"
	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

// whReply is a raw webhook answer.
type whReply struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (r whReply) str(key string) string { s, _ := r.body[key].(string); return s }

// whPost POSTs payload to path on tb's server with an optional signature and
// extra headers.
func whPost(t testing.TB, client *http.Client, base, path string, payload []byte, sig string, extra http.Header) whReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(payload))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set("Stripe-Signature", sig)
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("POST %s: %v", path, err)
		return whReply{}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := whReply{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// whSend signs payload with the test secret and POSTs it to /webhook.
func whSend(t testing.TB, tb *testBundle, payload []byte) whReply {
	t.Helper()
	return whPost(t, nil, tb.srv.URL, "/webhook", payload, sign(payload, testSecret), nil)
}

// whSignAt signs payload with secret at timestamp ts.
func whSignAt(payload []byte, secret string, ts time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: ts}).Header
}

// whEvent builds a Stripe event of any type around object.
func whEvent(id, typ string, object map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": id, "object": "event", "type": typ, "api_version": stripe.APIVersion,
		"created": time.Now().Unix(), "livemode": false, "pending_webhooks": 1,
		"data": map[string]any{"object": object},
	})
	return b
}

// whTwin builds another Server on tb's database and resource; configure, when
// set, adjusts it before its handler is built.
func whTwin(t testing.TB, tb *testBundle, configure func(*httpapi.Server)) *testBundle {
	t.Helper()
	return setup(t, setupOpts{db: tb.db, resource: tb.resource, server: configure})
}

// whLedgerRow is one row of the webhook ledger.
type whLedgerRow struct {
	Type      string
	Outcome   string
	BookingID *string
	SessionID *string
	Payload   []byte
}

// whLedger reads the ledger row of eventID; ok is false when there is none.
func whLedger(t testing.TB, db *postgres.DB, eventID string) (whLedgerRow, bool) {
	t.Helper()
	var r whLedgerRow
	if whCount(t, db, `SELECT count(*) FROM webhook_events WHERE stripe_event_id = $1`, eventID) == 0 {
		return r, false
	}
	err := db.Pool.QueryRow(context.Background(),
		`SELECT type, outcome, booking_id::text, stripe_session_id, payload FROM webhook_events WHERE stripe_event_id = $1`,
		eventID).Scan(&r.Type, &r.Outcome, &r.BookingID, &r.SessionID, &r.Payload)
	if err != nil {
		t.Fatalf("read ledger row %s: %v", eventID, err)
	}
	return r, true
}

// whOutcome is the ledger outcome of eventID, "" when it is not recorded.
func whOutcome(t testing.TB, db *postgres.DB, eventID string) string {
	t.Helper()
	r, _ := whLedger(t, db, eventID)
	return r.Outcome
}

// whAuditRow is one status change of a booking.
type whAuditRow struct {
	From, To, Cause, Ref string
}

// whAudit lists a booking's audit trail after its creation row, oldest first.
func whAudit(t testing.TB, db *postgres.DB, bookingID string) []whAuditRow {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(),
		`SELECT coalesce(from_status, ''), to_status, cause, cause_ref FROM booking_audit
		 WHERE booking_id = $1 AND from_status IS NOT NULL ORDER BY id`, bookingID)
	if err != nil {
		t.Fatalf("read audit: %v", err)
	}
	defer rows.Close()
	var out []whAuditRow
	for rows.Next() {
		var a whAuditRow
		if err := rows.Scan(&a.From, &a.To, &a.Cause, &a.Ref); err != nil {
			t.Fatalf("scan audit: %v", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read audit: %v", err)
	}
	return out
}

func whWantAudit(t testing.TB, db *postgres.DB, bookingID string, want ...whAuditRow) {
	t.Helper()
	got := whAudit(t, db, bookingID)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("audit trail of %s:\n got %+v\nwant %+v", bookingID, got, want)
	}
}

func whCount(t testing.TB, db *postgres.DB, q string, args ...any) int {
	t.Helper()
	return pgtest.Count(t, db, q, args...)
}

func whWant(t testing.TB, r whReply, status int, outcome string) {
	t.Helper()
	if r.status != status || (outcome != "" && r.str("outcome") != outcome) {
		t.Fatalf("answer %d %s, want %d outcome %q", r.status, r.raw, status, outcome)
	}
}

// whAuditFromEvents checks, when t ends, that every status change in the
// database was audited with cause stripe_event and, as cause_ref, the id of
// a ledger event of the same booking (SPEC §2.5), or, for the refund the
// product made of a payment it could not keep, with cause system/auto_refund.
func whAuditFromEvents(t *testing.T, db *postgres.DB) {
	t.Cleanup(func() {
		changes := whCount(t, db, `SELECT count(*) FROM booking_audit WHERE from_status IS NOT NULL`)
		if changes == 0 {
			t.Error("no status change audited")
		}
		if n := whCount(t, db, `SELECT count(*) FROM booking_audit a WHERE a.from_status IS NOT NULL AND NOT (
			a.cause = 'stripe_event' AND EXISTS (SELECT 1 FROM webhook_events w
				WHERE w.stripe_event_id = a.cause_ref AND w.booking_id = a.booking_id))
			AND NOT (a.cause = 'system' AND a.cause_ref = 'auto_refund' AND a.to_status = 'refunded')`); n != 0 {
			t.Errorf("%d of %d status changes not audited with their Stripe event", n, changes)
		}
		if n := whCount(t, db, `SELECT count(*) FROM bookings b WHERE b.status <> (SELECT a.to_status FROM booking_audit a
			WHERE a.booking_id = b.id ORDER BY a.id DESC LIMIT 1)`); n != 0 {
			t.Errorf("%d bookings whose last audit row is not their status", n)
		}
	})
}

func TestWebhookAcknowledgement(t *testing.T) {
	t.Parallel()
	// One database for all subtests: each works on its own bookings and events.
	tb := setup(t, setupOpts{})
	whAuditFromEvents(t, tb.db)

	t.Run("missing signature is 400 and not recorded", func(t *testing.T) {
		t.Parallel()
		b := createTestBooking(t, tb)
		r := whPost(t, nil, tb.srv.URL, "/webhook", paidEvent("evt_nosig", b).payload(), "", nil)
		if r.status != http.StatusBadRequest || r.str("error") != "invalid_signature" || r.str("requestId") == "" {
			t.Fatalf("answer %d %s", r.status, r.raw)
		}
		if _, ok := whLedger(t, tb.db, "evt_nosig"); ok {
			t.Fatal("ledger row written")
		}
		if s := tb.status(t, b.ID); s != booking.StatusPending {
			t.Fatalf("status %s, want pending", s)
		}
	})

	t.Run("invalid signature is 400", func(t *testing.T) {
		t.Parallel()
		b := createTestBooking(t, tb)
		p := paidEvent("evt_badsig", b).payload()
		tampered := bytes.Replace(p, []byte(`"amount_total":5000`), []byte(`"amount_total":1`), 1)
		if bytes.Equal(tampered, p) {
			t.Fatal("payload not tampered")
		}
		cases := []struct {
			name    string
			payload []byte
			sig     string
		}{
			{"other secret", p, sign(p, "whsec_someone_else")},
			{"tampered body", tampered, sign(p, testSecret)},
			{"malformed header", p, "t=notanumber,v1=zz"},
			{"only v0 scheme", p, strings.Replace(sign(p, testSecret), "v1=", "v0=", 1)},
		}
		for _, c := range cases {
			r := whPost(t, nil, tb.srv.URL, "/webhook", c.payload, c.sig, nil)
			if r.status != http.StatusBadRequest || r.str("error") != "invalid_signature" {
				t.Errorf("%s: answer %d %s", c.name, r.status, r.raw)
			}
		}
		if _, ok := whLedger(t, tb.db, "evt_badsig"); ok {
			t.Fatal("ledger row written")
		}
		if s := tb.status(t, b.ID); s != booking.StatusPending {
			t.Fatalf("status %s, want pending", s)
		}
	})

	t.Run("timestamp outside tolerance is 400", func(t *testing.T) {
		t.Parallel()
		b := createTestBooking(t, tb)
		p := paidEvent("evt_stale", b).payload()
		r := whPost(t, nil, tb.srv.URL, "/webhook", p, whSignAt(p, testSecret, time.Now().Add(-10*time.Minute)), nil)
		if r.status != http.StatusBadRequest || r.str("error") != "invalid_signature" {
			t.Fatalf("stale: answer %d %s", r.status, r.raw)
		}
		// Inside the tolerance the same event is accepted.
		r = whPost(t, nil, tb.srv.URL, "/webhook", p, whSignAt(p, testSecret, time.Now().Add(-4*time.Minute)), nil)
		whWant(t, r, http.StatusOK, "processed")
	})

	t.Run("signed but unparsable is 400", func(t *testing.T) {
		t.Parallel()
		cases := []struct {
			name    string
			payload []byte
		}{
			{"not json", []byte("this is not json")},
			{"not an event", []byte(`{"id":"cus_123","object":"customer","email":"a@example.com"}`)},
			{"event without id", whEvent("", booking.EventCheckoutCompleted, map[string]any{"id": "cs_test_x", "object": "checkout.session"})},
			{"truncated", whEvent("evt_trunc", "customer.created", map[string]any{"id": "cus_1"})[:40]},
		}
		for _, c := range cases {
			r := whSend(t, tb, c.payload)
			if r.status != http.StatusBadRequest || r.str("error") != "invalid_payload" {
				t.Errorf("%s: answer %d %s", c.name, r.status, r.raw)
			}
			if n := whCount(t, tb.db, `SELECT count(*) FROM webhook_events WHERE payload = $1`, c.payload); n != 0 {
				t.Errorf("%s: %d ledger rows, want 0", c.name, n)
			}
		}
	})

	t.Run("processed then same event id is duplicate", func(t *testing.T) {
		t.Parallel()
		b := createTestBooking(t, tb)
		p := paidEvent("evt_once", b).payload()
		r := whSend(t, tb, p)
		if r.status != http.StatusOK || !reflect.DeepEqual(r.body, map[string]any{"received": true, "outcome": "processed"}) {
			t.Fatalf("first: answer %d %s", r.status, r.raw)
		}
		r = whSend(t, tb, p) // a retry: same event, new signature
		if r.status != http.StatusOK || !reflect.DeepEqual(r.body, map[string]any{"received": true, "outcome": "duplicate"}) {
			t.Fatalf("retry: answer %d %s", r.status, r.raw)
		}
		if s := tb.status(t, b.ID); s != booking.StatusConfirmed {
			t.Fatalf("status %s, want confirmed", s)
		}
		if n := whCount(t, tb.db, `SELECT count(*) FROM webhook_events WHERE stripe_event_id = 'evt_once'`); n != 1 {
			t.Fatalf("ledger rows %d, want 1", n)
		}
		if n := whCount(t, tb.db, `SELECT count(*) FROM payments WHERE booking_id = $1`, b.ID); n != 1 {
			t.Fatalf("payments %d, want 1", n)
		}
		row, _ := whLedger(t, tb.db, "evt_once")
		if row.Outcome != "processed" || row.BookingID == nil || *row.BookingID != b.ID || !bytes.Equal(row.Payload, p) {
			t.Fatalf("ledger row %+v", row)
		}
	})

	t.Run("distinct event id with the same effect is duplicate", func(t *testing.T) {
		t.Parallel()
		b := createTestBooking(t, tb)
		whWant(t, tb.deliverEvent(t, paidEvent("evt_effect_1", b)).asWh(), http.StatusOK, "processed")
		second := paidEvent("evt_effect_2", b)
		whWant(t, tb.deliverEvent(t, second).asWh(), http.StatusOK, "duplicate")
		async := paidEvent("evt_effect_3", b)
		async.Type = booking.EventCheckoutAsyncSucceeded
		whWant(t, tb.deliverEvent(t, async).asWh(), http.StatusOK, "duplicate")
		if n := whCount(t, tb.db, `SELECT count(*) FROM payments WHERE stripe_session_id = $1`, *b.StripeSessionID); n != 1 {
			t.Fatalf("payments %d, want 1", n)
		}
		for id, want := range map[string]string{"evt_effect_1": "processed", "evt_effect_2": "duplicate", "evt_effect_3": "duplicate"} {
			row, ok := whLedger(t, tb.db, id)
			if !ok || row.Outcome != want || row.BookingID == nil || *row.BookingID != b.ID {
				t.Errorf("ledger %s: %+v (found %v), want outcome %s on %s", id, row, ok, want, b.ID)
			}
		}
		if s := tb.status(t, b.ID); s != booking.StatusConfirmed {
			t.Fatalf("status %s, want confirmed", s)
		}
		whWantAudit(t, tb.db, b.ID, whAuditRow{"pending", "confirmed", "stripe_event", "evt_effect_1"})
	})

	t.Run("unhandled event type is ignored and recorded", func(t *testing.T) {
		t.Parallel()
		p := whEvent("evt_customer", "customer.created", map[string]any{"id": "cus_123", "object": "customer"})
		whWant(t, whSend(t, tb, p), http.StatusOK, "ignored")
		row, ok := whLedger(t, tb.db, "evt_customer")
		if !ok || row.Outcome != "ignored" || row.Type != "customer.created" || row.BookingID != nil || !bytes.Equal(row.Payload, p) {
			t.Fatalf("ledger row %+v (found %v)", row, ok)
		}
		whWant(t, whSend(t, tb, p), http.StatusOK, "duplicate")
	})

	t.Run("session matching no booking is unmatched and recorded", func(t *testing.T) {
		t.Parallel()
		ev := sessionEvent{ID: "evt_stranger", Type: booking.EventCheckoutCompleted, SessionID: "cs_test_payment_link",
			BookingID: "", Amount: 5000, Currency: "eur"}
		whWant(t, tb.deliverEvent(t, ev).asWh(), http.StatusOK, "unmatched")
		row, ok := whLedger(t, tb.db, "evt_stranger")
		if !ok || row.Outcome != "unmatched" || row.BookingID != nil || row.SessionID == nil || *row.SessionID != "cs_test_payment_link" {
			t.Fatalf("ledger row %+v (found %v)", row, ok)
		}
		if n := whCount(t, tb.db, `SELECT count(*) FROM payments WHERE stripe_session_id = 'cs_test_payment_link'`); n != 0 {
			t.Fatalf("payments %d, want 0", n)
		}
		// An unknown booking id in client_reference_id does not match either.
		ev = sessionEvent{ID: "evt_stranger_2", Type: booking.EventCheckoutCompleted, SessionID: "cs_test_other",
			BookingID: "8b0e1a52-2a8f-4a4e-9d55-0f4c1f0f4b1a", Amount: 5000, Currency: "eur"}
		whWant(t, tb.deliverEvent(t, ev).asWh(), http.StatusOK, "unmatched")
	})

	t.Run("alias route", func(t *testing.T) {
		t.Parallel()
		b := createTestBooking(t, tb)
		p := paidEvent("evt_alias", b).payload()
		r := whPost(t, nil, tb.srv.URL, "/webhooks/stripe", p, sign(p, testSecret), nil)
		whWant(t, r, http.StatusOK, "processed")
		r = whPost(t, nil, tb.srv.URL, "/webhooks/stripe", p, "", nil)
		if r.status != http.StatusBadRequest {
			t.Fatalf("unsigned on alias: %d %s", r.status, r.raw)
		}
		if s := tb.status(t, b.ID); s != booking.StatusConfirmed {
			t.Fatalf("status %s, want confirmed", s)
		}
	})

	t.Run("other api versions are accepted", func(t *testing.T) {
		t.Parallel()
		for i, v := range []string{"2020-08-27", "2024-06-20.acacia", "2025-03-31.basil"} {
			b := createTestBooking(t, tb)
			ev := paidEvent(fmt.Sprintf("evt_version_%d", i), b)
			ev.APIVersion = v
			p := ev.payload()
			if !bytes.Contains(p, []byte(`"api_version":"`+v+`"`)) {
				t.Fatalf("payload %s", p)
			}
			whWant(t, whSend(t, tb, p), http.StatusOK, "processed")
			if s := tb.status(t, b.ID); s != booking.StatusConfirmed {
				t.Fatalf("version %q: status %s, want confirmed", v, s)
			}
		}
	})

	t.Run("body over 1 MiB is 413", func(t *testing.T) {
		t.Parallel()
		// An event just under the limit is fine...
		base := whEvent("evt_big", "customer.created", map[string]any{"id": "cus_1", "object": "customer", "description": ""})
		pad := (1 << 20) - len(base)
		big := bytes.Replace(base, []byte(`"description":""`), []byte(`"description":"`+strings.Repeat("x", pad)+`"`), 1)
		if len(big) != 1<<20 {
			t.Fatalf("padded event is %d bytes", len(big))
		}
		whWant(t, whSend(t, tb, big), http.StatusOK, "ignored")
		// ...one byte more is refused before anything else.
		base = whEvent("evt_huge", "customer.created", map[string]any{"id": "cus_1", "object": "customer", "description": ""})
		huge := bytes.Replace(base, []byte(`"description":""`), []byte(`"description":"`+strings.Repeat("x", pad+1)+`"`), 1)
		r := whSend(t, tb, huge)
		if r.status != http.StatusRequestEntityTooLarge || r.str("error") != "body_too_large" {
			t.Fatalf("answer %d %.200s", r.status, r.raw)
		}
		if _, ok := whLedger(t, tb.db, "evt_huge"); ok {
			t.Fatal("ledger row written for the oversized event")
		}
	})

	t.Run("two v1 signatures while rolling the secret", func(t *testing.T) {
		t.Parallel()
		b := createTestBooking(t, tb)
		p := paidEvent("evt_roll", b).payload()
		now := time.Now()
		oldSig := whSignAt(p, "whsec_old_secret", now)
		newSig := whSignAt(p, testSecret, now)
		v1 := func(h string) string {
			_, sig, _ := strings.Cut(h, ",v1=")
			return "v1=" + sig
		}
		for _, header := range []string{
			oldSig + "," + v1(newSig), // the endpoint's secret second
			newSig + "," + v1(oldSig), // or first
		} {
			if strings.Count(header, "v1=") != 2 {
				t.Fatalf("header %q", header)
			}
			r := whPost(t, nil, tb.srv.URL, "/webhook", p, header, nil)
			if r.status != http.StatusOK {
				t.Fatalf("header %q: answer %d %s", header, r.status, r.raw)
			}
		}
		if s := tb.status(t, b.ID); s != booking.StatusConfirmed {
			t.Fatalf("status %s, want confirmed", s)
		}
		// A server configured with both secrets accepts either alone.
		rolling := whTwin(t, tb, func(s *httpapi.Server) {
			s.Verifier = &payment.Verifier{Secrets: []string{"whsec_new_secret", testSecret}}
		})
		b2 := createTestBooking(t, tb)
		p2 := paidEvent("evt_roll_2", b2).payload()
		whWant(t, whPost(t, nil, rolling.srv.URL, "/webhook", p2, sign(p2, testSecret), nil), http.StatusOK, "processed")
		whWant(t, whPost(t, nil, rolling.srv.URL, "/webhook", p2, sign(p2, "whsec_new_secret"), nil), http.StatusOK, "duplicate")
		if r := whPost(t, nil, rolling.srv.URL, "/webhook", p2, sign(p2, "whsec_retired"), nil); r.status != http.StatusBadRequest {
			t.Fatalf("retired secret: answer %d %s", r.status, r.raw)
		}
	})
}

// asWh adapts the harness's reply for whWant.
func (r webhookReply) asWh() whReply {
	return whReply{status: r.status, body: map[string]any{"outcome": r.Outcome}, raw: []byte(fmt.Sprintf("%+v", r))}
}

func TestWebhookFloodLimit(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{})
	fl := whTwin(t, tb, func(s *httpapi.Server) {
		s.WebhookFlood = httpapi.NewLimiter(5)
		s.TrustProxy = true
	})
	b := createTestBooking(t, tb)
	paid := paidEvent("evt_flood_paid", b).payload()
	attacker := http.Header{"X-Forwarded-For": {"203.0.113.7"}}

	throttledAt := -1
	for i := 0; i < 40; i++ {
		r := whPost(t, nil, fl.srv.URL, "/webhook", paid, sign(paid, "whsec_forged"), attacker)
		if r.status == http.StatusTooManyRequests {
			sec, err := strconv.Atoi(r.header.Get("Retry-After"))
			if err != nil || sec < 1 || r.str("error") != "rate_limited" {
				t.Fatalf("429 with Retry-After %q, body %s", r.header.Get("Retry-After"), r.raw)
			}
			throttledAt = i
			break
		}
		if r.status != http.StatusBadRequest {
			t.Fatalf("bad request %d: answer %d %s", i, r.status, r.raw)
		}
	}
	if throttledAt < 5 {
		t.Fatalf("throttled after %d badly signed requests, want 429 after the burst of 5", throttledAt)
	}
	// Another client is not affected.
	if r := whPost(t, nil, fl.srv.URL, "/webhook", paid, "", http.Header{"X-Forwarded-For": {"203.0.113.8"}}); r.status != http.StatusBadRequest {
		t.Fatalf("other client: answer %d %s", r.status, r.raw)
	}

	// Validly signed traffic from the throttled address is never 429.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	outcomes := map[string]int{}
	const workers, each = 8, 25 // 200 requests
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				p := paid
				if i%2 == 1 {
					p = whEvent(fmt.Sprintf("evt_flood_%d_%d", w, i), "customer.created", map[string]any{"id": "cus_1", "object": "customer"})
				}
				r := whPost(t, client, fl.srv.URL, "/webhook", p, sign(p, testSecret), attacker)
				mu.Lock()
				statuses[r.status]++
				outcomes[r.str("outcome")]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if statuses[http.StatusOK] != workers*each {
		t.Fatalf("valid burst statuses %v, want %d × 200", statuses, workers*each)
	}
	paidSent := workers * ((each + 1) / 2)
	if outcomes["processed"] != 1 || outcomes["duplicate"] != paidSent-1 || outcomes["ignored"] != workers*each-paidSent {
		t.Fatalf("outcomes %v", outcomes)
	}
	// The forger is still throttled (a token refills every 12 s, so allow
	// for one having come back during a slow burst).
	throttled := false
	for i := 0; i < 10 && !throttled; i++ {
		r := whPost(t, nil, fl.srv.URL, "/webhook", paid, sign(paid, "whsec_forged"), attacker)
		throttled = r.status == http.StatusTooManyRequests
	}
	if !throttled {
		t.Fatal("forger no longer throttled after the valid burst")
	}
	if s := tb.status(t, b.ID); s != booking.StatusConfirmed {
		t.Fatalf("status %s, want confirmed", s)
	}

	// Without a trusted proxy the client is the connection's peer address.
	direct := whTwin(t, tb, func(s *httpapi.Server) { s.WebhookFlood = httpapi.NewLimiter(5) })
	var got []int
	for i := 0; i < 7; i++ {
		got = append(got, whPost(t, nil, direct.srv.URL, "/webhook", paid, "", attacker).status)
	}
	if !reflect.DeepEqual(got[:5], []int{400, 400, 400, 400, 400}) || got[6] != http.StatusTooManyRequests {
		t.Fatalf("unsigned requests from one address: statuses %v, want 5 × 400 then 429", got)
	}
	whWant(t, whPost(t, nil, direct.srv.URL, "/webhook", paid, sign(paid, testSecret), nil), http.StatusOK, "duplicate")
}

// whInstallTrigger makes every INSERT into payments run body (PL/pgSQL).
func whInstallTrigger(t testing.TB, db *postgres.DB, body string) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE FUNCTION test_payments_fail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    `+body+`
    RETURN NEW;
END;
$$`); err != nil {
		t.Fatalf("create trigger function: %v", err)
	}
	if _, err := db.Pool.Exec(ctx, `CREATE TRIGGER test_payments_fail BEFORE INSERT ON payments
    FOR EACH ROW EXECUTE FUNCTION test_payments_fail()`); err != nil {
		t.Fatalf("create trigger: %v", err)
	}
}

func whDropTrigger(t testing.TB, db *postgres.DB) {
	t.Helper()
	if _, err := db.Pool.Exec(context.Background(), `DROP TRIGGER test_payments_fail ON payments; DROP FUNCTION test_payments_fail()`); err != nil {
		t.Fatalf("drop trigger: %v", err)
	}
}

// whNothingWritten checks, on a fresh connection pool, that a failed event
// left no trace.
func whNothingWritten(t testing.TB, tb *testBundle, b *booking.Booking, eventID string) {
	t.Helper()
	fresh, err := postgres.Open(context.Background(), tb.db.Pool.Config().ConnString(), postgres.PoolOpts{MaxConns: 2})
	if err != nil {
		t.Fatalf("open fresh pool: %v", err)
	}
	defer fresh.Close()
	if _, ok := whLedger(t, fresh, eventID); ok {
		t.Errorf("ledger row for %s written", eventID)
	}
	if n := whCount(t, fresh, `SELECT count(*) FROM payments WHERE booking_id = $1`, b.ID); n != 0 {
		t.Errorf("payments %d, want 0", n)
	}
	if n := whCount(t, fresh, `SELECT count(*) FROM booking_audit WHERE booking_id = $1`, b.ID); n != 1 {
		t.Errorf("audit rows %d, want only the creation row", n)
	}
	got, err := fresh.FindBooking(context.Background(), b.ID)
	if err != nil {
		t.Fatalf("find booking: %v", err)
	}
	if got.Status != booking.StatusPending || got.StripeSessionID == nil || *got.StripeSessionID != *b.StripeSessionID {
		t.Errorf("booking after failure: status %s session %v", got.Status, got.StripeSessionID)
	}
}

func TestWebhookProcessingFailure(t *testing.T) {
	t.Parallel()
	// The trigger subtests share a database and run one after the other.
	tb := setup(t, setupOpts{})

	t.Run("database connection dies mid-transaction", func(t *testing.T) {
		b := createTestBooking(t, tb)
		whInstallTrigger(t, tb.db, `PERFORM pg_terminate_backend(pg_backend_pid());`)
		p := paidEvent("evt_conn_dies", b).payload()
		r := whSend(t, tb, p)
		if r.status != http.StatusInternalServerError || r.str("error") != "internal" || r.str("outcome") != "" {
			t.Fatalf("answer %d %s, want 500", r.status, r.raw)
		}
		whNothingWritten(t, tb, b, "evt_conn_dies")
		// Stripe retries once the database is back.
		whDropTrigger(t, tb.db)
		whWant(t, whSend(t, tb, p), http.StatusOK, "processed")
		if s := tb.status(t, b.ID); s != booking.StatusConfirmed {
			t.Fatalf("status %s, want confirmed", s)
		}
		if n := whCount(t, tb.db, `SELECT count(*) FROM payments WHERE booking_id = $1`, b.ID); n != 1 {
			t.Fatalf("payments %d, want 1", n)
		}
		whWantAudit(t, tb.db, b.ID, whAuditRow{"pending", "confirmed", "stripe_event", "evt_conn_dies"})
	})

	t.Run("statement error", func(t *testing.T) {
		b := createTestBooking(t, tb)
		whInstallTrigger(t, tb.db, `RAISE EXCEPTION 'payments are unavailable';`)
		p := paidEvent("evt_raise", b).payload()
		for i := 0; i < 3; i++ {
			if r := whSend(t, tb, p); r.status != http.StatusInternalServerError {
				t.Fatalf("attempt %d: answer %d %s, want 500", i, r.status, r.raw)
			} else if strings.Contains(string(r.raw), "payments are unavailable") {
				t.Fatalf("database error leaked: %s", r.raw)
			}
		}
		whNothingWritten(t, tb, b, "evt_raise")
		whDropTrigger(t, tb.db)
		whWant(t, whSend(t, tb, p), http.StatusOK, "processed")
		if s := tb.status(t, b.ID); s != booking.StatusConfirmed {
			t.Fatalf("status %s, want confirmed", s)
		}
	})

	t.Run("closed database pool", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, setupOpts{})
		b := createTestBooking(t, tb)
		p := paidEvent("evt_pool_closed", b).payload()
		url := tb.db.Pool.Config().ConnString()
		tb.db.Close()
		r := whSend(t, tb, p)
		if r.status != http.StatusInternalServerError {
			t.Fatalf("answer %d %s, want 500", r.status, r.raw)
		}
		// Signature checks do not need the database.
		if r := whPost(t, nil, tb.srv.URL, "/webhook", p, "", nil); r.status != http.StatusBadRequest {
			t.Fatalf("unsigned: answer %d %s, want 400", r.status, r.raw)
		}
		fresh, err := postgres.Open(context.Background(), url, postgres.PoolOpts{MaxConns: 2})
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer fresh.Close()
		if n := whCount(t, fresh, `SELECT count(*) FROM webhook_events`); n != 0 {
			t.Fatalf("ledger rows %d, want 0", n)
		}
		if got, err := fresh.FindBooking(context.Background(), b.ID); err != nil || got.Status != booking.StatusPending {
			t.Fatalf("booking after failure: %+v (%v), want pending", got, err)
		}
	})
}

func TestWebhookOutOfOrder(t *testing.T) {
	t.Parallel()
	// One database for all subtests: each works on its own bookings and events.
	tb := setup(t, setupOpts{})
	whAuditFromEvents(t, tb.db)

	t.Run("async success before completed unpaid", func(t *testing.T) {
		t.Parallel()
		b := createTestBooking(t, tb)
		async := paidEvent("evt_ooo_async", b)
		async.Type = booking.EventCheckoutAsyncSucceeded
		whWant(t, tb.deliverEvent(t, async).asWh(), http.StatusOK, "processed")
		unpaid := paidEvent("evt_ooo_completed", b)
		unpaid.PaymentStatus = "unpaid"
		whWant(t, tb.deliverEvent(t, unpaid).asWh(), http.StatusOK, "ignored")
		if s := tb.status(t, b.ID); s != booking.StatusConfirmed {
			t.Fatalf("status %s, want confirmed", s)
		}
		if o := whOutcome(t, tb.db, "evt_ooo_completed"); o != "ignored" {
			t.Fatalf("ledger outcome %q, want ignored", o)
		}
		whWantAudit(t, tb.db, b.ID, whAuditRow{"pending", "confirmed", "stripe_event", "evt_ooo_async"})
	})

	t.Run("expired after completed", func(t *testing.T) {
		t.Parallel()
		b := createTestBooking(t, tb)
		whWant(t, tb.deliverEvent(t, paidEvent("evt_ooo_paid", b)).asWh(), http.StatusOK, "processed")
		exp := sessionEvent{ID: "evt_ooo_expired", Type: booking.EventCheckoutExpired, SessionID: *b.StripeSessionID,
			BookingID: b.ID, PaymentStatus: "unpaid", Amount: b.AmountTotal}
		whWant(t, tb.deliverEvent(t, exp).asWh(), http.StatusOK, "ignored")
		if s := tb.status(t, b.ID); s != booking.StatusConfirmed {
			t.Fatalf("status %s, want confirmed", s)
		}
		whWantAudit(t, tb.db, b.ID, whAuditRow{"pending", "confirmed", "stripe_event", "evt_ooo_paid"})
	})

	t.Run("async failure releases the slot", func(t *testing.T) {
		t.Parallel()
		slot := futureSlot(5, 14)
		b := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{StartsAt: slot})
		unpaid := paidEvent("evt_async_completed", b)
		unpaid.PaymentStatus = "unpaid"
		whWant(t, tb.deliverEvent(t, unpaid).asWh(), http.StatusOK, "processed")
		if s := tb.status(t, b.ID); s != booking.StatusAwaitingPayment {
			t.Fatalf("status %s, want awaiting_payment", s)
		}
		// The hold is kept while the payment is pending.
		var e apiError
		if resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, slot), nil, &e); resp.StatusCode != http.StatusConflict {
			t.Fatalf("booking a held slot: %d %+v, want 409", resp.StatusCode, e)
		}
		whWant(t, tb.deliverEvent(t, unpaid).asWh(), http.StatusOK, "duplicate")
		failed := paidEvent("evt_async_failed", b)
		failed.Type, failed.PaymentStatus = booking.EventCheckoutAsyncFailed, "unpaid"
		whWant(t, tb.deliverEvent(t, failed).asWh(), http.StatusOK, "processed")
		if s := tb.status(t, b.ID); s != booking.StatusPaymentFailed {
			t.Fatalf("status %s, want payment_failed", s)
		}
		var created struct {
			Booking booking.Booking `json:"booking"`
		}
		if resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, slot), nil, &created); resp.StatusCode != http.StatusCreated {
			t.Fatalf("booking the released slot: %d, want 201", resp.StatusCode)
		}
		if created.Booking.Status != booking.StatusPending || !created.Booking.StartsAt.Equal(slot) {
			t.Fatalf("new booking %+v", created.Booking)
		}
		if n := whCount(t, tb.db, `SELECT count(*) FROM payments WHERE booking_id = $1`, b.ID); n != 0 {
			t.Fatalf("payments %d, want 0", n)
		}
		whWantAudit(t, tb.db, b.ID,
			whAuditRow{"pending", "awaiting_payment", "stripe_event", "evt_async_completed"},
			whAuditRow{"awaiting_payment", "payment_failed", "stripe_event", "evt_async_failed"})
	})
}

func TestWebhookLatePayment(t *testing.T) {
	t.Parallel()
	// One database for all subtests: each works on its own bookings and events.
	tb := setup(t, setupOpts{})
	whAuditFromEvents(t, tb.db)

	expire := func(t *testing.T, tb *testBundle, b *booking.Booking, id string) {
		t.Helper()
		exp := sessionEvent{ID: id, Type: booking.EventCheckoutExpired, SessionID: *b.StripeSessionID,
			BookingID: b.ID, PaymentStatus: "unpaid", Amount: b.AmountTotal}
		whWant(t, tb.deliverEvent(t, exp).asWh(), http.StatusOK, "processed")
		if s := tb.status(t, b.ID); s != booking.StatusExpired {
			t.Fatalf("status %s, want expired", s)
		}
	}

	t.Run("slot taken meanwhile: the payment is refunded automatically", func(t *testing.T) {
		t.Parallel()
		slot := futureSlot(6, 9)
		first := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{StartsAt: slot})
		expire(t, tb, first, "evt_late_expired")
		second := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{StartsAt: slot})
		whWant(t, tb.deliverEvent(t, paidEvent("evt_late_second_paid", second)).asWh(), http.StatusOK, "processed")

		whWant(t, tb.deliverEvent(t, paidEvent("evt_late_paid", first)).asWh(), http.StatusOK, "refunding")
		if s := tb.status(t, first.ID); s != booking.StatusExpired {
			t.Fatalf("first: status %s, want expired until its refund is made", s)
		}
		if n := whCount(t, tb.db, `SELECT count(*) FROM refund_requests WHERE booking_id = $1 AND state = 'owed'
			AND reason = 'auto' AND amount = $2 AND idempotency_key = $3`, first.ID, first.AmountTotal, "auto-refund-"+*first.StripeSessionID); n != 1 {
			t.Fatalf("owed refunds of first %d, want 1", n)
		}
		if _, err := tb.app.Refunds.RunDue(context.Background()); err != nil { // through stripe-mock
			t.Fatal(err)
		}
		if s := tb.status(t, first.ID); s != booking.StatusRefunded {
			t.Fatalf("first: status %s, want refunded", s)
		}
		if s := tb.status(t, second.ID); s != booking.StatusConfirmed {
			t.Fatalf("second: status %s, want confirmed", s)
		}
		if n := whCount(t, tb.db, `SELECT count(*) FROM payments WHERE booking_id = $1 AND stripe_session_id = $2 AND amount = $3`,
			first.ID, *first.StripeSessionID, first.AmountTotal); n != 1 {
			t.Fatalf("payments of first %d, want 1", n)
		}
		if n := whCount(t, tb.db, `SELECT count(*) FROM refunds WHERE booking_id = $1 AND source = 'auto' AND amount = $2`,
			first.ID, first.AmountTotal); n != 1 {
			t.Fatalf("refunds of first %d, want 1", n)
		}
		row, _ := whLedger(t, tb.db, "evt_late_paid")
		if row.Outcome != "refunding" || row.BookingID == nil || *row.BookingID != first.ID {
			t.Fatalf("ledger row %+v", row)
		}
		if n := whCount(t, tb.db, `SELECT count(*) FROM bookings WHERE resource_id = $1 AND starts_at = $2 AND holds_slot`,
			tb.resource.ID, slot); n != 1 {
			t.Fatalf("slot holders %d, want 1", n)
		}
		whWantAudit(t, tb.db, first.ID,
			whAuditRow{"pending", "expired", "stripe_event", "evt_late_expired"},
			whAuditRow{"expired", "refunded", "system", "auto_refund"})
		// Redelivery changes nothing.
		whWant(t, tb.deliverEvent(t, paidEvent("evt_late_paid", first)).asWh(), http.StatusOK, "duplicate")
	})

	t.Run("slot still free is re-confirmed", func(t *testing.T) {
		t.Parallel()
		first := createTestBooking(t, tb)
		expire(t, tb, first, "evt_free_expired")
		whWant(t, tb.deliverEvent(t, paidEvent("evt_free_paid", first)).asWh(), http.StatusOK, "processed")
		if s := tb.status(t, first.ID); s != booking.StatusConfirmed {
			t.Fatalf("status %s, want confirmed", s)
		}
		if n := whCount(t, tb.db, `SELECT count(*) FROM payments WHERE booking_id = $1`, first.ID); n != 1 {
			t.Fatalf("payments %d, want 1", n)
		}
		whWantAudit(t, tb.db, first.ID,
			whAuditRow{"pending", "expired", "stripe_event", "evt_free_expired"},
			whAuditRow{"expired", "confirmed", "stripe_event", "evt_free_paid"})
		// The slot is now held: it cannot be booked again.
		var e apiError
		if resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(tb.resource.ID, first.StartsAt), nil, &e); resp.StatusCode != http.StatusConflict {
			t.Fatalf("booking the re-confirmed slot: %d %+v, want 409", resp.StatusCode, e)
		}
	})
}

func TestWebhookAmountMismatch(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{})
	whAuditFromEvents(t, tb.db)
	cases := []struct {
		name     string
		amount   int64 // 0: the booking's
		currency string
	}{
		{name: "amount lower", amount: 100},
		{name: "amount higher", amount: 5001},
		{name: "currency differs", currency: "usd"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := createTestBooking(t, tb)
			ev := paidEvent(fmt.Sprintf("evt_mismatch_%d", i), b)
			if c.amount != 0 {
				ev.Amount = c.amount
			}
			if c.currency != "" {
				ev.Currency = c.currency
			}
			whWant(t, tb.deliverEvent(t, ev).asWh(), http.StatusOK, "amount_mismatch")
			if s := tb.status(t, b.ID); s != booking.StatusNeedsReview {
				t.Fatalf("status %s, want needs_review", s)
			}
			if o := whOutcome(t, tb.db, ev.ID); o != "amount_mismatch" {
				t.Fatalf("ledger outcome %q, want amount_mismatch", o)
			}
			if n := whCount(t, tb.db, `SELECT count(*) FROM payments WHERE booking_id = $1 AND amount = $2 AND currency = $3`,
				b.ID, ev.Amount, ev.Currency); n != 1 {
				t.Fatalf("payment rows with the paid amount %d, want 1", n)
			}
			whWantAudit(t, tb.db, b.ID, whAuditRow{"pending", "needs_review", "stripe_event", ev.ID})
			// The same session paid again through another event is still one payment.
			again := ev
			again.ID += "_async"
			again.Type = booking.EventCheckoutAsyncSucceeded
			whWant(t, tb.deliverEvent(t, again).asWh(), http.StatusOK, "duplicate")
			if s := tb.status(t, b.ID); s != booking.StatusNeedsReview {
				t.Fatalf("status after duplicate %s, want needs_review", s)
			}
		})
	}
}
