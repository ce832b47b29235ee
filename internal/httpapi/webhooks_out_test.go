package httpapi_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/app"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/mailer"
	"github.com/bookingplatform/booking/internal/mailtest"
	"github.com/bookingplatform/booking/internal/pgtest"
)

// swVerify is an independent implementation of the Standard Webhooks
// verification (https://www.standardwebhooks.com), written from the
// specification and not calling the product's signer: the signed content is
// "<webhook-id>.<webhook-timestamp>.<body>", the key the base64 after
// "whsec_", the header a space-separated list of "v1,<base64 HMAC-SHA256>";
// a timestamp more than five minutes away from now is refused.
func swVerify(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("missing headers")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("bad timestamp %q", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %s too far from now", ts)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	want := mac.Sum(nil)
	for s := range strings.FieldsSeq(sigs) {
		version, b64, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no valid signature in %q", sigs)
}

// receiver is a webhook receiver that checks every request's signature,
// applies each event id once, and checks that the events of a booking come
// in the order of their timestamps. fail decides how to answer request n
// (0-based): 0 for 200, a status, or -1 to hang past the client's timeout.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret atomic.Value
	fail   func(n int) int

	mu       sync.Mutex
	requests int
	applied  map[string]bool           // webhook-id → applied
	effects  []string                  // "<booking>:<type>" in order applied
	last     map[string]time.Time      // booking → timestamp of its last applied event
	bodies   map[string]map[string]any // webhook-id → payload
	byType   map[string][]string       // type → ids
	bad      []string
}

func newReceiver(t *testing.T, fail func(n int) int) *receiver {
	rc := &receiver{t: t, fail: fail, applied: map[string]bool{}, last: map[string]time.Time{},
		bodies: map[string]map[string]any{}, byType: map[string][]string{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	n := rc.requests
	rc.requests++
	rc.mu.Unlock()
	if rc.fail != nil {
		switch code := rc.fail(n); {
		case code < 0:
			select {
			case <-r.Context().Done():
			case <-time.After(3 * time.Second):
			}
			return
		case code > 0:
			http.Error(w, "receiver down "+strings.Repeat("x", 3000), code)
			return
		}
	}
	secret, _ := rc.secret.Load().(string)
	if err := swVerify(secret, r.Header, body, time.Now()); err != nil {
		rc.mu.Lock()
		rc.bad = append(rc.bad, err.Error())
		rc.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var ev struct {
		ID        string         `json:"id"`
		Type      string         `json:"type"`
		Timestamp time.Time      `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	id := r.Header.Get("webhook-id")
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if ev.ID != id {
		rc.bad = append(rc.bad, "payload id "+ev.ID+" differs from webhook-id "+id)
	}
	if rc.applied[id] {
		w.WriteHeader(http.StatusOK) // already applied: acknowledged, no effect
		return
	}
	rc.applied[id] = true
	rc.bodies[id] = ev.Data
	rc.byType[ev.Type] = append(rc.byType[ev.Type], id)
	bid, _ := ev.Data["id"].(string)
	if bid != "" {
		if prev, ok := rc.last[bid]; ok && ev.Timestamp.Before(prev) {
			rc.bad = append(rc.bad, fmt.Sprintf("%s of %s arrived after a later event", ev.Type, bid))
		}
		rc.last[bid] = ev.Timestamp
	}
	rc.effects = append(rc.effects, bid+":"+ev.Type)
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) snapshot() (effects []string, requests int, bad []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.effects), rc.requests, slices.Clone(rc.bad)
}

func (rc *receiver) waitEffects(t *testing.T, n int, within time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if e, _, _ := rc.snapshot(); len(e) >= n {
			return e
		}
		time.Sleep(20 * time.Millisecond)
	}
	e, reqs, bad := rc.snapshot()
	t.Fatalf("receiver applied %d events (%v) after %d requests, want %d; problems %v", len(e), e, reqs, n, bad)
	return nil
}

type hookOpts struct {
	production bool
	allowed    []netip.Prefix
	now        func() time.Time
	mail       bool
}

// hookSetup is the staff product with the job queue working (50 ms poll),
// retries of deliveries 30 ms apart and a 400 ms delivery timeout.
func hookSetup(t *testing.T, o hookOpts) (*testBundle, *staffClient, string) {
	t.Helper()
	staff := ""
	tb := setup(t, setupOpts{now: o.now, configure: func(opts *app.Options) {
		opts.NoStaff, opts.HashParams, opts.LoginPerMinute = false, staffParams, 10000
		opts.JobPoll, opts.WebhookRetryBase, opts.WebhookTimeout = 50*time.Millisecond, 30*time.Millisecond,
			400*time.Millisecond
		opts.Production, opts.WebhookAllowedNetworks = o.production, o.allowed
		opts.MetricsToken = staffMetricsToken
		if o.mail {
			cfg, err := mailer.ParseURL(mailtest.SMTPURL())
			if err != nil {
				t.Fatal(err)
			}
			sender, err := mailer.NewSender(cfg, "Studio Bookings <bookings@example.com>",
				mailer.SenderOpts{DialTimeout: 2 * time.Second, SendTimeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			staff = mailtest.Recipient(t)
			opts.Mail, opts.StaffEmail, opts.AppURL = sender, staff, "https://book.example.com"
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	if err := tb.app.Queue.Start(ctx); err != nil {
		t.Fatalf("start queue: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = tb.app.Queue.Stop(sctx)
	})
	admin, _ := staffLogin(t, tb, booking.RoleAdmin)
	return tb, admin, staff
}

type endpointAnswer struct {
	Endpoint booking.WebhookEndpoint `json:"endpoint"`
	Secret   string                  `json:"secret"`
}

func createEndpoint(t *testing.T, admin *staffClient, url string, events ...string) endpointAnswer {
	t.Helper()
	var out endpointAnswer
	resp := admin.do(t, http.MethodPost, "/api/admin/webhook-endpoints", map[string]any{"url": url, "events": events}, nil,
		&out)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create endpoint %s: status %d", url, resp.StatusCode)
	}
	return out
}

func deliveriesOf(t *testing.T, admin *staffClient, endpointID string) []booking.WebhookDelivery {
	t.Helper()
	var out struct{ Items []booking.WebhookDelivery }
	if resp := admin.do(t, http.MethodGet, "/api/admin/webhook-endpoints/"+endpointID+"/deliveries?limit=200", nil, nil,
		&out); resp.StatusCode != http.StatusOK {
		t.Fatalf("deliveries: status %d", resp.StatusCode)
	}
	return out.Items
}

func waitHooksDone(t *testing.T, tb *testBundle) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if pgtest.Count(t, tb.db, `SELECT count(*) FROM river_job WHERE kind = 'webhook_delivery'
AND state IN ('available', 'running', 'retryable', 'pending', 'scheduled')`) == 0 {
			return
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatal("webhook deliveries still waiting")
}

// A receiver that fails, then hangs past the timeout, then recovers gets
// every event of a booking once, in order, each verified by an independent
// Standard Webhooks implementation; the delivery log shows every attempt,
// and "send again" resends the same event id, which the receiver ignores.
func TestWebhookDeliveryRetriesInOrder(t *testing.T) {
	t.Parallel()
	tb, admin, _ := hookSetup(t, hookOpts{})
	rc := newReceiver(t, func(n int) int {
		switch n {
		case 0:
			return http.StatusInternalServerError
		case 1:
			return -1 // hangs past the 400 ms timeout
		case 2:
			return http.StatusBadGateway
		}
		return 0
	})
	ep := createEndpoint(t, admin, rc.srv.URL+"/hooks", booking.EventBookingCreated, booking.EventBookingConfirmed,
		booking.EventBookingCancelled, booking.EventBookingRefunded)
	if !strings.HasPrefix(ep.Secret, "whsec_") || len(ep.Secret) < 6+32 {
		t.Fatalf("secret %q", ep.Secret)
	}
	if raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(ep.Secret, "whsec_")); len(raw) < 24 {
		t.Fatalf("secret has %d random bytes, want 24 or more", len(raw))
	}
	rc.secret.Store(ep.Secret)
	if strings.Contains(tb.logs.String(), ep.Secret) {
		t.Fatal("the secret is in the log")
	}
	// The list never shows the secret.
	var list struct{ Items []map[string]any }
	admin.do(t, http.MethodGet, "/api/admin/webhook-endpoints", nil, nil, &list)
	if len(list.Items) != 1 || list.Items[0]["secret"] != nil {
		t.Fatalf("list %v", list.Items)
	}

	// A hold (booking.created), its payment (confirmed), a staff cancel
	// (refunded or cancelled): three events of one booking.
	c := tb.book(t, tb.resource.ID, futureSlot(3, 10))
	if r := tb.deliverEvent(t, paidEvent("evt_hook_"+c.Booking.ID, &c.Booking)); r.status != 200 {
		t.Fatalf("paid event: %d", r.status)
	}
	if resp := admin.do(t, http.MethodPost, "/api/admin/bookings/"+c.Booking.ID+"/cancel", map[string]any{}, nil,
		nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("staff cancel: %d", resp.StatusCode)
	}
	rc.waitEffects(t, 3, 20*time.Second)
	waitHooksDone(t, tb)
	effects, _, bad := rc.snapshot()
	if len(bad) > 0 {
		t.Fatalf("receiver problems: %v", bad)
	}
	final := tb.status(t, c.Booking.ID)
	if len(effects) < 3 || effects[0] != c.Booking.ID+":booking.created" ||
		effects[1] != c.Booking.ID+":booking.confirmed" || effects[len(effects)-1] != c.Booking.ID+":booking."+string(final) {
		t.Fatalf("effects %v, want created, confirmed, …, %s", effects, final)
	}
	for _, e := range effects[2:] {
		if e != c.Booking.ID+":booking.cancelled" && e != c.Booking.ID+":booking.refunded" {
			t.Fatalf("effects %v", effects)
		}
	}
	// The payload carries the booking as the API shows it.
	rc.mu.Lock()
	confirmed := rc.bodies[rc.byType[booking.EventBookingConfirmed][0]]
	rc.mu.Unlock()
	if confirmed["status"] != "confirmed" || confirmed["reference"] != c.Booking.Reference ||
		confirmed["customer"] == nil || confirmed["startsAt"] == nil {
		t.Fatalf("confirmed payload %v", confirmed)
	}

	// The log: the three failures of the first event, then deliveries.
	log := deliveriesOf(t, admin, ep.Endpoint.ID)
	slices.Reverse(log)
	if len(log) != 3+len(effects) {
		t.Fatalf("log has %d attempts, want %d: %+v", len(log), 3+len(effects), log)
	}
	first := log[0]
	if first.Status != booking.DeliveryFailed || first.HTTPStatus != 500 || first.Attempt != 1 ||
		len(first.Response) > 1024 || !strings.HasPrefix(first.Response, "receiver down") ||
		first.EventType != booking.EventBookingCreated {
		t.Errorf("first attempt %+v", first)
	}
	if log[1].Status != booking.DeliveryFailed || log[1].HTTPStatus != 0 || !strings.Contains(log[1].Error, "timed out") ||
		log[1].Attempt != 2 || log[1].LatencyMS < 300 {
		t.Errorf("second attempt %+v", log[1])
	}
	if log[2].HTTPStatus != 502 || log[3].Status != booking.DeliveryDelivered || log[3].Attempt != 4 ||
		log[3].EventID != first.EventID || log[3].HTTPStatus != 204 {
		t.Errorf("third and fourth attempts %+v %+v", log[2], log[3])
	}

	// Send again: the same event id comes back; the receiver applies it once.
	_, before, _ := rc.snapshot()
	var again struct{ JobID int64 }
	if resp := admin.do(t, http.MethodPost, "/api/admin/webhook-deliveries/"+strconv.FormatInt(log[3].ID, 10)+"/retry",
		map[string]any{}, nil, &again); resp.StatusCode != http.StatusAccepted || again.JobID == 0 {
		t.Fatalf("send again: status %d %+v", resp.StatusCode, again)
	}
	waitHooksDone(t, tb)
	effects2, after, _ := rc.snapshot()
	if after != before+1 || len(effects2) != len(effects) {
		t.Fatalf("send again: %d requests (want %d), effects %v", after, before+1, effects2)
	}
	log = deliveriesOf(t, admin, ep.Endpoint.ID)
	if log[0].EventID != first.EventID || log[0].Status != booking.DeliveryDelivered {
		t.Fatalf("resent attempt %+v", log[0])
	}
	if resp := admin.do(t, http.MethodPost, "/api/admin/webhook-deliveries/999999/retry", map[string]any{}, nil,
		nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown delivery: %d", resp.StatusCode)
	}

	// Send a test event.
	var test struct{ Delivery booking.WebhookDelivery }
	if resp := admin.do(t, http.MethodPost, "/api/admin/webhook-endpoints/"+ep.Endpoint.ID+"/test", map[string]any{},
		nil, &test); resp.StatusCode != http.StatusOK || test.Delivery.Status != booking.DeliveryDelivered ||
		test.Delivery.EventType != booking.EventWebhookTest {
		t.Fatalf("test event: %d %+v", resp.StatusCode, test.Delivery)
	}

	// Disabled, the endpoint gets nothing more.
	var upd endpointAnswer
	if resp := admin.do(t, http.MethodPatch, "/api/admin/webhook-endpoints/"+ep.Endpoint.ID,
		map[string]any{"enabled": false}, nil, &upd); resp.StatusCode != http.StatusOK || upd.Endpoint.Enabled {
		t.Fatalf("disable: %d %+v", resp.StatusCode, upd.Endpoint)
	}
	c2 := tb.book(t, tb.resource.ID, futureSlot(3, 12))
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM river_job WHERE kind = 'webhook_delivery'
AND args->>'booking_id' = $1`, c2.Booking.ID); n != 0 {
		t.Fatalf("%d deliveries queued for a disabled endpoint", n)
	}
}

// A change whose transaction rolls back queues no delivery.
func TestWebhookNothingForRolledBack(t *testing.T) {
	t.Parallel()
	tb, admin, _ := hookSetup(t, hookOpts{})
	rc := newReceiver(t, nil)
	ep := createEndpoint(t, admin, rc.srv.URL, booking.EventBookingConfirmed)
	rc.secret.Store(ep.Secret)
	b := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{})
	_, err := tb.db.ChangeBooking(context.Background(), b.ID, func(st *booking.State) (booking.Plan, error) {
		// Confirms the booking and records a refund of a payment that does
		// not exist: the insert fails and the transaction rolls back.
		return booking.Plan{
			After: &booking.BookingChange{Status: booking.StatusConfirmed, HoldsSlot: true,
				Cause: booking.Cause{Kind: booking.CauseSys, Ref: "test"}},
			Refunds: []booking.Refund{{ID: "re_none", PaymentID: 987654321, Amount: 1, Currency: "eur",
				Status: "succeeded", Source: "test"}},
		}, nil
	})
	if err == nil {
		t.Fatal("the change did not fail")
	}
	// The same change without the bad refund does queue one.
	if _, err := tb.db.ChangeBooking(context.Background(), b.ID, func(st *booking.State) (booking.Plan, error) {
		return booking.Plan{After: &booking.BookingChange{Status: booking.StatusCancelled,
			Cause: booking.Cause{Kind: booking.CauseSys, Ref: "test"}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM river_job WHERE kind = 'webhook_delivery'`); n != 0 {
		t.Fatalf("%d deliveries queued, want none (rolled back; cancelled is not subscribed)", n)
	}
	if _, _, bad := rc.snapshot(); len(bad) > 0 {
		t.Fatal(bad)
	}
}

// In production the client refuses loopback, link-local and names that
// resolve to them, at save time and at connect time; networks in
// WEBHOOK_ALLOWED_NETWORKS pass.
func TestWebhookSSRFRefusedInProduction(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	_, port, _ := net.SplitHostPort(rc.srv.Listener.Addr().String())

	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		tb, admin, _ := hookSetup(t, hookOpts{production: true})
		for _, u := range []string{"http://127.0.0.1:" + port + "/", "http://169.254.169.254/latest/meta-data/",
			"http://localhost:" + port + "/", "http://[::1]:" + port + "/", "http://10.1.2.3/", "ftp://example.com/",
			"file:///etc/passwd"} {
			var e apiError
			resp := admin.do(t, http.MethodPost, "/api/admin/webhook-endpoints",
				map[string]any{"url": u, "events": []string{booking.EventBookingConfirmed}}, nil, &e)
			checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
		}
		// Past the save-time check (the name resolved elsewhere then, or
		// was rebound since): refused at connect time.
		for _, u := range []string{"http://localhost:" + port + "/", "http://169.254.169.254/latest/meta-data/",
			"http://127.0.0.1:" + port + "/"} {
			var id string
			if err := tb.db.Pool.QueryRow(context.Background(), `INSERT INTO webhook_endpoints (url, events, secret)
VALUES ($1, '{booking.confirmed}', 'whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0') RETURNING id::text`, u).Scan(&id); err != nil {
				t.Fatal(err)
			}
			var test struct{ Delivery booking.WebhookDelivery }
			if resp := admin.do(t, http.MethodPost, "/api/admin/webhook-endpoints/"+id+"/test", map[string]any{}, nil,
				&test); resp.StatusCode != http.StatusOK {
				t.Fatalf("test %s: status %d", u, resp.StatusCode)
			}
			if test.Delivery.Status != booking.DeliveryFailed || !strings.Contains(test.Delivery.Error, "not allowed") {
				t.Errorf("%s: %+v", u, test.Delivery)
			}
		}
		if _, n, _ := rc.snapshot(); n != 0 {
			t.Fatalf("the receiver got %d requests", n)
		}
	})

	t.Run("allowed network", func(t *testing.T) {
		t.Parallel()
		tb, admin, _ := hookSetup(t, hookOpts{production: true, allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
		_ = tb
		rc2 := newReceiver(t, nil)
		_, port2, _ := net.SplitHostPort(rc2.srv.Listener.Addr().String())
		ep := createEndpoint(t, admin, "http://127.0.0.1:"+port2+"/in", booking.EventBookingConfirmed)
		rc2.secret.Store(ep.Secret)
		var test struct{ Delivery booking.WebhookDelivery }
		if resp := admin.do(t, http.MethodPost, "/api/admin/webhook-endpoints/"+ep.Endpoint.ID+"/test", map[string]any{},
			nil, &test); resp.StatusCode != http.StatusOK || test.Delivery.Status != booking.DeliveryDelivered {
			t.Fatalf("test: %d %+v", resp.StatusCode, test.Delivery)
		}
		// Link-local stays refused.
		var e apiError
		resp := admin.do(t, http.MethodPost, "/api/admin/webhook-endpoints",
			map[string]any{"url": "http://169.254.169.254/", "events": []string{booking.EventBookingConfirmed}}, nil, &e)
		checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
	})
}

// An endpoint that fails for a day is marked failing and ADMIN is told by
// email, once; it stays enabled and its deliveries keep being retried.
func TestWebhookEndpointFailingAfterADay(t *testing.T) {
	t.Parallel()
	var shift atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }
	tb, admin, staff := hookSetup(t, hookOpts{now: now, mail: true})
	rc := newReceiver(t, func(int) int { return http.StatusServiceUnavailable })
	ep := createEndpoint(t, admin, rc.srv.URL, booking.EventBookingCancelled)
	rc.secret.Store(ep.Secret)
	b := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{})
	if _, err := tb.db.ChangeBooking(context.Background(), b.ID, func(st *booking.State) (booking.Plan, error) {
		return booking.Plan{After: &booking.BookingChange{Status: booking.StatusCancelled,
			Cause: booking.Cause{Kind: booking.CauseSys, Ref: "test"}}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("two failed attempts", func() bool { return len(deliveriesOf(t, admin, ep.Endpoint.ID)) >= 2 })
	var list struct{ Items []booking.WebhookEndpoint }
	admin.do(t, http.MethodGet, "/api/admin/webhook-endpoints", nil, nil, &list)
	if list.Items[0].Failing || list.Items[0].FailingSince == nil {
		t.Fatalf("after a few failures: %+v", list.Items[0])
	}
	shift.Store(int64(25 * time.Hour))
	waitFor("failing", func() bool {
		admin.do(t, http.MethodGet, "/api/admin/webhook-endpoints", nil, nil, &list)
		return list.Items[0].Failing
	})
	msgs := mailtest.WaitFor(t, staff, 1, 20*time.Second)
	if !strings.Contains(msgs[0].Subject, "failing") || !strings.Contains(msgs[0].Text, rc.srv.URL) {
		t.Fatalf("alert %q:\n%s", msgs[0].Subject, msgs[0].Text)
	}
	if !list.Items[0].Enabled {
		t.Fatal("the endpoint was disabled")
	}
	n := len(deliveriesOf(t, admin, ep.Endpoint.ID))
	waitFor("more attempts", func() bool { return len(deliveriesOf(t, admin, ep.Endpoint.ID)) > n+1 })
	time.Sleep(200 * time.Millisecond)
	if c := mailtest.Count(t, staff); c != 1 {
		t.Fatalf("%d alerts, want 1", c)
	}
}

// A hold made through a pool queues booking.created like a hold of one
// resource, in the same transaction, with the booking as POST /api/bookings
// returned it: the member actually held (here the second, the first being
// taken), not the pool's first.
func TestWebhookCreatedThroughPool(t *testing.T) {
	t.Parallel()
	tb, admin, _ := hookSetup(t, hookOpts{})
	rc := newReceiver(t, nil)
	ep := createEndpoint(t, admin, rc.srv.URL, booking.EventBookingCreated)
	rc.secret.Store(ep.Secret)
	p, rs := courts(t, tb, 2)
	at := pgtest.TestDay(time.UTC).Add(17 * time.Hour)
	direct := tb.book(t, rs[0].ID, at)
	var c createdBooking
	if resp := tb.doJSON(t, http.MethodPost, "/api/bookings", poolBody(p.ID, at), nil, &c); resp.StatusCode != http.StatusCreated {
		t.Fatalf("book through the pool: status %d", resp.StatusCode)
	}
	if c.Booking.ResourceID != rs[1].ID {
		t.Fatalf("pool hold on %s, want the free court %s", c.Booking.ResourceID, rs[1].ID)
	}
	rc.waitEffects(t, 2, 20*time.Second)
	waitHooksDone(t, tb)
	effects, _, bad := rc.snapshot()
	if len(bad) > 0 {
		t.Fatalf("receiver problems: %v", bad)
	}
	want := []string{direct.Booking.ID + ":booking.created", c.Booking.ID + ":booking.created"}
	slices.Sort(effects)
	slices.Sort(want)
	if !slices.Equal(effects, want) {
		t.Fatalf("effects %v, want %v", effects, want)
	}
	rc.mu.Lock()
	var got map[string]any
	for _, id := range rc.byType[booking.EventBookingCreated] {
		if rc.bodies[id]["id"] == c.Booking.ID {
			got = rc.bodies[id]
		}
	}
	rc.mu.Unlock()
	raw, _ := json.Marshal(c.Booking)
	var answered map[string]any
	if err := json.Unmarshal(raw, &answered); err != nil {
		t.Fatal(err)
	}
	// updatedAt is the moment of the event; every other field is the
	// booking as the API answered it.
	if got["updatedAt"] == nil {
		t.Fatalf("payload without updatedAt: %v", got)
	}
	delete(got, "updatedAt")
	delete(answered, "updatedAt")
	if !reflect.DeepEqual(got, answered) {
		t.Fatalf("booking.created payload\n%v\nwant the booking as answered\n%v", got, answered)
	}
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM webhook_deliveries WHERE booking_id = $1
AND event_type = 'booking.created' AND status = 'delivered'`, c.Booking.ID); n != 1 {
		t.Fatalf("%d delivered booking.created attempts for the pool hold, want 1", n)
	}
}

// scrape reads GET /metrics.
func scrape(t *testing.T, tb *testBundle) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, tb.srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+staffMetricsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: status %d", resp.StatusCode)
	}
	return string(text)
}

// metricValue is the value of series (its name and labels as the
// exposition writes them) in text; false when absent.
func metricValue(text, series string) (float64, bool) {
	for line := range strings.Lines(text) {
		rest, ok := strings.CutPrefix(line, series+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		return v, err == nil
	}
	return 0, false
}

// The delivery metrics follow what the worker does: a delivery to a
// receiver that answers 2xx counts as delivered and times its round trip;
// one to a receiver that answers 503 counts failed attempts, then given_up
// for the last one; a delivery of an endpoint disabled meanwhile counts as
// cancelled. The gauges show the endpoints marked failing and the age of
// the oldest delivery not yet made.
func TestWebhookDeliveryMetrics(t *testing.T) {
	t.Parallel()
	tb, admin, _ := hookSetup(t, hookOpts{})
	good := newReceiver(t, nil)
	down := newReceiver(t, func(int) int { return http.StatusServiceUnavailable })
	epGood := createEndpoint(t, admin, good.srv.URL, booking.EventBookingCreated)
	good.secret.Store(epGood.Secret)
	epDown := createEndpoint(t, admin, down.srv.URL, booking.EventBookingCreated)
	down.secret.Store(epDown.Secret)
	const (
		delivered = `booking_webhook_deliveries_total{event="booking.created",result="delivered"}`
		failed    = `booking_webhook_deliveries_total{event="booking.created",result="failed"}`
		givenUp   = `booking_webhook_deliveries_total{event="booking.created",result="given_up"}`
		cancelled = `booking_webhook_deliveries_total{event="booking.created",result="cancelled"}`
		rounds    = `booking_webhook_delivery_seconds_count`
		failing   = `booking_webhook_endpoints_failing`
		oldest    = `booking_webhook_oldest_pending_seconds`
	)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; /metrics:\n%s", what, grepMetrics(scrape(t, tb), "booking_webhook_"))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	text := scrape(t, tb)
	if v, ok := metricValue(text, oldest); !ok || v != 0 {
		t.Fatalf("%s = %v (%v) before any delivery, want 0", oldest, v, ok)
	}
	if v, ok := metricValue(text, failing); !ok || v != 0 {
		t.Fatalf("%s = %v (%v), want 0", failing, v, ok)
	}

	c := tb.book(t, tb.resource.ID, futureSlot(3, 10))
	good.waitEffects(t, 1, 20*time.Second)
	waitFor("two failed attempts", func() bool {
		v, _ := metricValue(scrape(t, tb), failed)
		return v >= 2
	})
	text = scrape(t, tb)
	if v, _ := metricValue(text, delivered); v != 1 {
		t.Fatalf("%s = %v, want 1", delivered, v)
	}
	// Every attempt made a request: each is timed.
	d, _ := metricValue(text, delivered)
	f, _ := metricValue(text, failed)
	if v, _ := metricValue(text, rounds); v < d+f {
		t.Fatalf("%s = %v, want at least %v", rounds, v, d+f)
	}
	if v, ok := metricValue(text, oldest); !ok || v <= 0 {
		t.Fatalf("%s = %v (%v) while a delivery is retried, want more than 0", oldest, v, ok)
	}

	// The failing endpoint, once marked (a day of failures, shortened here).
	if _, err := tb.db.Pool.Exec(context.Background(), `UPDATE webhook_endpoints
SET failing_since = now() - interval '25 hours', failing_at = now() WHERE id = $1`, epDown.Endpoint.ID); err != nil {
		t.Fatal(err)
	}
	if v, _ := metricValue(scrape(t, tb), failing); v != 1 {
		t.Fatalf("%s = %v, want 1", failing, v)
	}

	// The next attempt is the last one: it is given up. The job is changed
	// between two attempts (retryable), not while one runs.
	retryNow := func(bookingID, set string) func() bool {
		return func() bool {
			tag, err := tb.db.Pool.Exec(context.Background(), `UPDATE river_job SET `+set+`scheduled_at = now()
WHERE kind = 'webhook_delivery' AND state = 'retryable' AND args->>'booking_id' = $1`, bookingID)
			if err != nil {
				t.Fatal(err)
			}
			return tag.RowsAffected() == 1
		}
	}
	waitFor("the delivery between two attempts", retryNow(c.Booking.ID, "max_attempts = attempt + 1, "))
	waitFor("the delivery given up", func() bool {
		v, _ := metricValue(scrape(t, tb), givenUp)
		return v == 1
	})
	waitFor("no delivery pending", func() bool {
		v, _ := metricValue(scrape(t, tb), oldest)
		return v == 0
	})

	// A delivery of an endpoint disabled while it waits is cancelled.
	c2 := tb.book(t, tb.resource.ID, futureSlot(3, 12))
	good.waitEffects(t, 2, 20*time.Second)
	waitFor("a failed attempt of the second booking", func() bool {
		return pgtest.Count(t, tb.db, `SELECT count(*) FROM webhook_deliveries WHERE booking_id = $1
AND endpoint_id = $2`, c2.Booking.ID, epDown.Endpoint.ID) > 0
	})
	if resp := admin.do(t, http.MethodPatch, "/api/admin/webhook-endpoints/"+epDown.Endpoint.ID,
		map[string]any{"enabled": false}, nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("disable: %d", resp.StatusCode)
	}
	// Disabled, it no longer counts as failing.
	if v, _ := metricValue(scrape(t, tb), failing); v != 0 {
		t.Fatalf("%s = %v after disabling, want 0", failing, v)
	}
	waitFor("the delivery cancelled", func() bool {
		retryNow(c2.Booking.ID, "")() // its next attempt now, if it is still waiting for it
		v, _ := metricValue(scrape(t, tb), cancelled)
		return v == 1
	})
	waitHooksDone(t, tb)
	text = scrape(t, tb)
	if v, _ := metricValue(text, delivered); v != 2 {
		t.Fatalf("%s = %v, want 2", delivered, v)
	}
	if v, _ := metricValue(text, oldest); v != 0 {
		t.Fatalf("%s = %v with nothing pending, want 0", oldest, v)
	}
	if _, _, bad := good.snapshot(); len(bad) > 0 {
		t.Fatal(bad)
	}
}

// grepMetrics keeps the lines of text that start with prefix.
func grepMetrics(text, prefix string) string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, prefix) {
			b.WriteString(line)
		}
	}
	return b.String()
}

// hookRequest is one request a recorder received.
type hookRequest struct {
	header http.Header
	body   []byte
}

// The webhooks section of openapi.json documents every event the server
// sends, and what the server sends matches it: the three Standard Webhooks
// headers, and a body valid against the schema of its event type.
func TestOpenAPIWebhooks(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	hooks, ok := doc["webhooks"].(map[string]any)
	if !ok {
		t.Fatal("openapi.json has no webhooks section")
	}
	want := append(slices.Clone(booking.WebhookEventTypes), booking.EventWebhookTest)
	got := slices.Sorted(maps.Keys(hooks))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("webhooks %v, want the event types %v", got, want)
	}
	ids := map[string]bool{}
	for _, op := range doc.operations(t) {
		ids[op["operationId"].(string)] = true
	}
	ops := map[string]map[string]any{}
	for typ, item := range hooks {
		op, ok := doc.deref(t, item)["post"].(map[string]any)
		if !ok {
			t.Fatalf("webhook %s: no post operation", typ)
		}
		ops[typ] = op
		id, _ := op["operationId"].(string)
		if id == "" || ids[id] {
			t.Errorf("webhook %s: operationId %q missing or used twice", typ, id)
		}
		ids[id] = true
		var headers []string
		for _, p := range op["parameters"].([]any) {
			pm := doc.deref(t, p)
			if pm["in"] == "header" && pm["required"] == true {
				headers = append(headers, pm["name"].(string))
			}
		}
		slices.Sort(headers)
		if !slices.Equal(headers, []string{"webhook-id", "webhook-signature", "webhook-timestamp"}) {
			t.Errorf("webhook %s: required headers %v", typ, headers)
		}
	}
	// check validates a request the server sent against its documented
	// webhook.
	check := func(r hookRequest) string {
		t.Helper()
		dec := json.NewDecoder(bytes.NewReader(r.body))
		dec.UseNumber()
		var body map[string]any
		if err := dec.Decode(&body); err != nil {
			t.Fatalf("payload does not parse: %v", err)
		}
		typ, _ := body["type"].(string)
		op := ops[typ]
		if op == nil {
			t.Fatalf("sent an undocumented event type %q", typ)
		}
		for _, p := range op["parameters"].([]any) {
			pm := doc.deref(t, p)
			v := r.header.Get(pm["name"].(string))
			if v == "" {
				t.Errorf("%s: header %s missing", typ, pm["name"])
				continue
			}
			for _, e := range validateSchema(doc, pm["schema"], v, typ+" header "+pm["name"].(string)) {
				t.Error(e)
			}
		}
		rb := doc.deref(t, op["requestBody"])
		schema := rb["content"].(map[string]any)["application/json"].(map[string]any)["schema"]
		for _, e := range validateSchema(doc, schema, any(body), typ) {
			t.Error(e)
		}
		return typ
	}

	tb, admin, _ := hookSetup(t, hookOpts{})
	var mu sync.Mutex
	var reqs []hookRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, hookRequest{header: r.Header.Clone(), body: body})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	ep := createEndpoint(t, admin, srv.URL, booking.WebhookEventTypes...)

	// created, confirmed, then cancelled or refunded through the API.
	c := tb.book(t, tb.resource.ID, futureSlot(4, 10))
	if r := tb.deliverEvent(t, paidEvent("evt_oa_hook_"+c.Booking.ID, &c.Booking)); r.status != 200 {
		t.Fatalf("paid event: %d", r.status)
	}
	if resp := admin.do(t, http.MethodPost, "/api/admin/bookings/"+c.Booking.ID+"/cancel", map[string]any{}, nil,
		nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("staff cancel: %d", resp.StatusCode)
	}
	// needs_review and rescheduled through the store.
	b := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{StartsAt: futureSlot(4, 14)})
	sys := booking.Cause{Kind: booking.CauseSys, Ref: "test"}
	for _, p := range []booking.Plan{
		{After: &booking.BookingChange{Status: booking.StatusNeedsReview, HoldsSlot: true, ReviewReason: "test", Cause: sys}},
		{Reschedule: &booking.Reschedule{StartsAt: futureSlot(4, 16), EndsAt: futureSlot(4, 17), Cause: sys,
			ReleaseLapsed: time.Now()}},
	} {
		if _, err := tb.db.ChangeBooking(context.Background(), b.ID, func(*booking.State) (booking.Plan, error) {
			return p, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitHooksDone(t, tb)
	var test struct{ Delivery booking.WebhookDelivery }
	if resp := admin.do(t, http.MethodPost, "/api/admin/webhook-endpoints/"+ep.Endpoint.ID+"/test", map[string]any{},
		nil, &test); resp.StatusCode != http.StatusOK || test.Delivery.Status != booking.DeliveryDelivered {
		t.Fatalf("test event: %d %+v", resp.StatusCode, test.Delivery)
	}
	mu.Lock()
	defer mu.Unlock()
	seen := map[string]bool{}
	for _, r := range reqs {
		seen[check(r)] = true
	}
	for _, typ := range []string{booking.EventBookingCreated, booking.EventBookingConfirmed, booking.EventBookingNeedsReview,
		booking.EventBookingRescheduled, booking.EventWebhookTest} {
		if !seen[typ] {
			t.Errorf("no %s event was sent (saw %v)", typ, seen)
		}
	}
	if !seen[booking.EventBookingCancelled] && !seen[booking.EventBookingRefunded] {
		t.Errorf("the staff cancel sent neither booking.cancelled nor booking.refunded (saw %v)", seen)
	}
}
