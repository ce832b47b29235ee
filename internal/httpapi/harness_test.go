package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/bookingplatform/booking/internal/app"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/httpapi"
	"github.com/bookingplatform/booking/internal/payment"
	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

const testSecret = "whsec_test_secret"

// stripeMockURL is the local stripe-mock the tests call (STRIPE_MOCK_URL).
func stripeMockURL() string {
	if u := os.Getenv("STRIPE_MOCK_URL"); u != "" {
		return u
	}
	return "http://127.0.0.1:12111"
}

// testBundle is what most tests need: a fresh database, a server on it and
// a resource.
type testBundle struct {
	db       *postgres.DB
	srv      *httptest.Server
	api      *httpapi.Server
	app      *app.App
	resource *booking.Resource
	logs     *syncBuffer
}

type setupOpts struct {
	payments app.Provider // default: stripe-mock
	db       *postgres.DB // default: a fresh database
	now      func() time.Time
	// bookingPerMinute, when set, limits slot holds per client address.
	bookingPerMinute int
	// configure, when set, changes the options before the product is wired,
	// and server the server before its handler is built.
	configure func(*app.Options)
	server    func(*httpapi.Server)
	// demo serves demo payments on a listener whose address is APP_URL.
	demo bool
	// resource, when set, is the bundle's resource instead of a new one.
	resource *booking.Resource
}

// syncBuffer is a goroutine-safe log sink for assertions on log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func setup(t testing.TB, o setupOpts) *testBundle {
	t.Helper()
	db := o.db
	if db == nil {
		db = pgtest.NewDB(t)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	base := "http://" + ln.Addr().String()
	var demo *payment.Demo
	if o.demo {
		demo = &payment.Demo{AppURL: base, WebhookSecret: testSecret}
		o.payments = demo
	}
	if o.payments == nil {
		o.payments = payment.NewStripe(payment.StripeOpts{SecretKey: "sk_test_123", APIBase: stripeMockURL(),
			AppURL: "http://localhost:3000", Timeout: 5 * time.Second})
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := app.Options{DB: db, Logger: log, Now: o.now, Payments: o.payments, WebhookSecrets: []string{testSecret},
		BookingPerMinute: o.bookingPerMinute, NoStaff: true, Version: "test", Demo: demo}
	if o.configure != nil {
		o.configure(&opts)
	}
	a := app.New(opts)
	if o.server != nil {
		o.server(a.Server)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: a.Server.Handler(), ReadHeaderTimeout: 5 * time.Second}}
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("TEST_SERVER_LOG") != "" {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	res := o.resource
	if res == nil {
		res = pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
	}
	return &testBundle{db: db, srv: srv, api: a.Server, app: a, resource: res, logs: logs}
}

// sessionEvent builds a Stripe-shaped checkout.session.* event.
type sessionEvent struct {
	ID            string
	Type          string
	SessionID     string
	BookingID     string
	PaymentStatus string // default "paid"
	Amount        int64
	Currency      string
	APIVersion    string // default: the SDK's
}

func (e sessionEvent) payload() []byte {
	if e.PaymentStatus == "" {
		e.PaymentStatus = "paid"
	}
	if e.Currency == "" {
		e.Currency = "eur"
	}
	if e.APIVersion == "" {
		e.APIVersion = stripe.APIVersion
	}
	status := "complete"
	if e.Type == booking.EventCheckoutExpired {
		status = "expired"
	}
	ev := map[string]any{
		"id": e.ID, "object": "event", "type": e.Type, "api_version": e.APIVersion,
		"created": time.Now().Unix(), "livemode": false, "pending_webhooks": 1,
		"data": map[string]any{"object": map[string]any{
			"id": e.SessionID, "object": "checkout.session", "client_reference_id": e.BookingID,
			"metadata": map[string]string{"booking_id": e.BookingID}, "payment_status": e.PaymentStatus,
			"status": status, "amount_total": e.Amount, "currency": e.Currency, "mode": "payment",
			"payment_intent": "pi_" + strings.TrimPrefix(e.SessionID, "cs_"),
		}},
	}
	b, _ := json.Marshal(ev)
	return b
}

// sign returns the Stripe-Signature header for payload, signed now.
func sign(payload []byte, secret string) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: time.Now()}).Header
}

type webhookReply struct {
	status  int
	Outcome string `json:"outcome"`
	Error   string `json:"error"`
}

// deliver POSTs a signed event to /webhook and decodes the answer.
func (tb *testBundle) deliver(t testing.TB, payload []byte, header string) webhookReply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, tb.srv.URL+"/webhook", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	if header != "" {
		req.Header.Set("Stripe-Signature", header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("deliver: %v", err)
		return webhookReply{}
	}
	defer resp.Body.Close()
	var r webhookReply
	body, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(body, &r)
	r.status = resp.StatusCode
	return r
}

// deliverEvent signs and delivers e.
func (tb *testBundle) deliverEvent(t testing.TB, e sessionEvent) webhookReply {
	t.Helper()
	p := e.payload()
	return tb.deliver(t, p, sign(p, testSecret))
}

// paidEvent is a checkout.session.completed (paid) event for b.
func paidEvent(id string, b *booking.Booking) sessionEvent {
	return sessionEvent{ID: id, Type: booking.EventCheckoutCompleted, SessionID: *b.StripeSessionID,
		BookingID: b.ID, Amount: b.AmountTotal, Currency: b.Currency}
}

// status reads a booking's status from the database.
func (tb *testBundle) status(t testing.TB, id string) booking.Status {
	t.Helper()
	b, err := tb.db.FindBooking(context.Background(), id)
	if err != nil {
		t.Fatalf("find booking %s: %v", id, err)
	}
	return b.Status
}

// doJSON sends a JSON request and decodes a JSON answer into out (may be nil).
func (tb *testBundle) doJSON(t testing.TB, method, path string, body any, header http.Header, out any) *http.Response {
	t.Helper()
	return sendJSON(t, http.DefaultClient, method, tb.srv.URL+path, body, header, out)
}

// sendJSON sends body (a string or []byte as is, anything else as JSON) with
// hc and decodes a JSON answer into out when out is not nil.
func sendJSON(t testing.TB, hc *http.Client, method, url string, body any, header http.Header, out any) *http.Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/") {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, raw, err)
		}
	}
	return resp
}

// apiError is the API's error body.
type apiError struct {
	Error     string            `json:"error"`
	Message   string            `json:"message"`
	RequestID string            `json:"requestId"`
	Fields    map[string]string `json:"fields"`
}

// futureSlot returns a whole-hour UTC slot start n days ahead.
func futureSlot(days, hour int) time.Time {
	d := time.Now().UTC().AddDate(0, 0, days)
	return time.Date(d.Year(), d.Month(), d.Day(), hour, 0, 0, 0, time.UTC)
}

func bookingBody(resourceID string, startsAt time.Time) map[string]any {
	return map[string]any{
		"resourceId": resourceID, "startsAt": startsAt.Format(time.RFC3339),
		"customer": map[string]string{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"},
	}
}

var _ = fmt.Sprintf

// createTestBooking inserts a pending booking with a Checkout Session id.
func createTestBooking(t testing.TB, tb *testBundle) *booking.Booking {
	t.Helper()
	return pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{})
}

// createdBooking is the 201 answer of POST /api/bookings.
type createdBooking struct {
	Booking       booking.Booking `json:"booking"`
	CheckoutURL   string          `json:"checkoutUrl"`
	CustomerToken string          `json:"customerToken"`
}

// book creates a booking of resourceID at startsAt through the API and fails
// t unless the answer is 201.
func (tb *testBundle) book(t testing.TB, resourceID string, startsAt time.Time) createdBooking {
	t.Helper()
	var c createdBooking
	resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(resourceID, startsAt), nil, &c)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("book %s at %s: status %d", resourceID, startsAt.Format(time.RFC3339), resp.StatusCode)
	}
	return c
}

// rawResult is an HTTP answer read without a testing.TB.
type rawResult struct {
	status int
	header http.Header
	body   []byte
}

// rawDo sends a request and reads the whole answer; it does not touch a
// testing.TB, so it is safe to call from any goroutine.
func (tb *testBundle) rawDo(method, path string, body []byte, header http.Header) (rawResult, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, tb.srv.URL+path, rd)
	if err != nil {
		return rawResult{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rawResult{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return rawResult{status: resp.StatusCode, header: resp.Header, body: raw}, err
}

// leakMarkers are fragments that must never reach a client in an error body.
var leakMarkers = []string{"goroutine", ".go:", "panic", "runtime.", "sqlstate", "select ", "insert ", "pgx", "pgconn",
	"constraint", "sk_test", "sk_live", "whsec", "127.0.0.1", "dial tcp", "connection refused", "stripe-go"}

// checkAPIError asserts the error contract of SPEC §4: the status, the code,
// a message, a requestId equal to the X-Request-Id header, a JSON content
// type, and no internals in the message or fields.
func checkAPIError(t testing.TB, resp *http.Response, got apiError, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status %d, want %d (body %+v)", resp.StatusCode, status, got)
	}
	if got.Error != code {
		t.Errorf("error code %q, want %q (body %+v)", got.Error, code, got)
	}
	if strings.TrimSpace(got.Message) == "" {
		t.Errorf("empty message (body %+v)", got)
	}
	if hid := resp.Header.Get("X-Request-Id"); hid == "" || got.RequestID != hid {
		t.Errorf("requestId %q, X-Request-Id header %q: want equal and non-empty", got.RequestID, hid)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	texts := []string{got.Message}
	for k, v := range got.Fields {
		texts = append(texts, k+" "+v)
	}
	for _, s := range texts {
		for _, m := range leakMarkers {
			if strings.Contains(strings.ToLower(s), m) {
				t.Errorf("error text %q leaks %q", s, m)
			}
		}
	}
}

// availabilityOf returns the free slots of a resource on a date, failing t
// unless the answer is 200.
func (tb *testBundle) availabilityOf(t testing.TB, resourceID, date string) []booking.Slot {
	t.Helper()
	var a booking.Availability
	resp := tb.doJSON(t, http.MethodGet, "/api/resources/"+resourceID+"/availability?date="+date, nil, nil, &a)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("availability of %s on %s: status %d", resourceID, date, resp.StatusCode)
	}
	out := make([]booking.Slot, len(a.Slots))
	for i, s := range a.Slots {
		out[i] = booking.Slot{StartsAt: s.StartsAt, EndsAt: s.EndsAt}
	}
	return out
}

// hasSlotAt reports whether slots holds one starting at start.
func hasSlotAt(slots []booking.Slot, start time.Time) bool {
	for _, s := range slots {
		if s.StartsAt.Equal(start) {
			return true
		}
	}
	return false
}
