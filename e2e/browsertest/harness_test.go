package browsertest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/bookingplatform/booking/internal/app"
	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/payment"
	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

// testApp is a running server in demo-payments mode on a fresh database,
// with a resource and the credentials of an ADMIN account (see createStaff).
// Its clock starts at a chosen wall time of the test day in the resource's
// zone; the browsers it opens share that clock.
type testApp struct {
	app      *app.App
	db       *postgres.DB
	url      string
	demo     *payment.Demo
	resource *booking.Resource
	loc      *time.Location
	clock    *pgtest.Clock
	secret   string // the webhook signing secret
	email    string
	password string
	logs     *syncBuffer
}

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

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// consultation is the resource the tests book: the demo resource, open
// Monday to Saturday.
var consultation = booking.DemoResource()

// newApp starts the server with its clock at 10:00 on the test day: the
// day's first two slots have started and six are free.
func newApp(t *testing.T) *testApp {
	t.Helper()
	return newAppAt(t, 10, 0)
}

// newAppAt starts the server with its clock at hour:minute on the test day
// (pgtest.TestDay) in the resource's zone, whatever the real time.
func newAppAt(t *testing.T, hour, minute int) *testApp {
	t.Helper()
	return newAppWith(t, hour, minute, nil)
}

// newAppWith is newAppAt with configure applied to the options (messages
// sent to Mailpit, for one).
func newAppWith(t *testing.T, hour, minute int, configure func(a *testApp, o *app.Options)) *testApp {
	t.Helper()
	db := pgtest.NewDB(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	loc, err := time.LoadLocation(consultation.Timezone)
	if err != nil {
		t.Fatalf("time zone: %v", err)
	}
	a := &testApp{db: db, url: "http://" + ln.Addr().String(), logs: &syncBuffer{}, loc: loc,
		clock:  pgtest.ClockAt(pgtest.WallTime(pgtest.TestDay(loc), hour, minute)),
		secret: "whsec_browsertest_" + randomHex(8), email: "admin@example.com", password: "correct-horse-" + randomHex(6)}
	a.demo = &payment.Demo{AppURL: a.url, WebhookSecret: a.secret}
	log := slog.New(slog.NewJSONHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts := app.Options{DB: db, Logger: log, Now: a.clock.Now, Payments: a.demo, WebhookSecrets: []string{a.secret},
		Demo: a.demo, Session: auth.SessionOpts{}, AppURL: a.url, JobPoll: 50 * time.Millisecond}
	if configure != nil {
		configure(a, &opts)
	}
	a.app = app.New(opts)
	api := a.app.Server
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 5 * time.Second}}
	srv.Start()
	t.Cleanup(srv.Close)
	// The background work of `booking serve`, without the sweep (Every 0)
	// and with the money check every second, so that the dashboard's
	// figures follow the tests.
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.app.Run(ctx, app.Background{CheckEvery: time.Second})
	}()
	t.Cleanup(func() {
		stop()
		<-done
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", a.logs.String())
		}
	})

	r := consultation
	if a.resource, err = db.CreateResource(context.Background(), &r, true); err != nil {
		t.Fatalf("create resource: %v", err)
	}
	return a
}

// createStaff creates the ADMIN account a.email with a.password.
func (a *testApp) createStaff(t *testing.T) {
	t.Helper()
	a.createStaffAs(t, a.email, booking.RoleAdmin)
}

// createStaffAs creates a staff account of role with a.password.
func (a *testApp) createStaffAs(t *testing.T, email string, role booking.Role) {
	t.Helper()
	hash, err := auth.HashPassword(a.password, nil)
	if err != nil {
		t.Fatalf("hash password: %v", err)
	}
	if _, err := a.db.CreateStaff(context.Background(), booking.NewStaff{Email: email, Role: role, PasswordHash: hash}); err != nil {
		t.Fatalf("create staff: %v", err)
	}
}

// created is the 201 answer of POST /api/bookings.
type created struct {
	Booking     booking.Booking `json:"booking"`
	CheckoutURL string          `json:"checkoutUrl"`
}

// book books the resource at start through the API.
func (a *testApp) book(t *testing.T, start time.Time, email string) created {
	t.Helper()
	return a.bookAs(t, start, "Alex", "Martin", email)
}

// bookAs books the resource at start for the named customer.
func (a *testApp) bookAs(t *testing.T, start time.Time, first, last, email string) created {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"resourceId": a.resource.ID, "startsAt": start.UTC().Format(time.RFC3339),
		"customer": map[string]string{"firstName": first, "lastName": last, "email": email}})
	resp, err := http.Post(a.url+"/api/bookings", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("book: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("book %s: status %d: %s", start, resp.StatusCode, raw)
	}
	var c created
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("decode booking: %v", err)
	}
	return c
}

// send signs event e for b as the demo checkout does and delivers it to POST
// /webhook over HTTP, failing t unless the answer is 200.
func (a *testApp) send(t *testing.T, b *booking.Booking, e payment.DemoEvent) {
	t.Helper()
	ev, err := a.demo.SignEvent(e, b)
	if err != nil {
		t.Fatalf("sign event: %v", err)
	}
	a.deliver(t, ev.Payload, ev.Header)
}

// payShort pays b's Checkout Session with amount instead of b's price, as
// Stripe would report a payment that does not match: the booking goes to
// needs_review.
func (a *testApp) payShort(t *testing.T, b *booking.Booking, amount int64) {
	t.Helper()
	short := *b
	short.AmountTotal = amount
	a.send(t, &short, payment.DemoEvent{Type: booking.EventCheckoutCompleted, PaymentStatus: "paid"})
}

// openDispute delivers a signed charge.dispute.created event about the
// payment of booking id: the customer disputes all of it for reason.
func (a *testApp) openDispute(t *testing.T, id, reason string) {
	t.Helper()
	d, _, err := a.db.FindBookingDetail(context.Background(), id)
	if err != nil {
		t.Fatalf("find booking %s: %v", id, err)
	}
	if len(d.Payments) == 0 {
		t.Fatalf("booking %s has no payment to dispute", id)
	}
	p := d.Payments[0]
	payload, _ := json.Marshal(map[string]any{
		"id": "evt_dispute_" + randomHex(8), "object": "event", "type": booking.EventDisputeCreated,
		"api_version": stripe.APIVersion, "created": time.Now().Unix(), "livemode": false, "pending_webhooks": 1,
		"data": map[string]any{"object": map[string]any{
			"id": "dp_" + randomHex(8), "object": "dispute", "amount": p.Amount, "currency": p.Currency,
			"charge": "ch_" + randomHex(8), "payment_intent": p.PaymentIntentID, "reason": reason, "status": "needs_response",
		}},
	})
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: a.secret, Timestamp: time.Now()})
	a.deliver(t, payload, signed.Header)
}

// deliver POSTs a signed event to /webhook, failing t unless the answer is 200.
func (a *testApp) deliver(t *testing.T, payload []byte, signature string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.url+"/webhook", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", signature)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("deliver: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		t.Fatalf("deliver: status %d: %s", resp.StatusCode, raw)
	}
}

// status reads a booking's status from the database.
func (a *testApp) status(t *testing.T, sessionID string) booking.Status {
	t.Helper()
	b, err := a.db.FindBookingBySession(context.Background(), sessionID)
	if err != nil {
		t.Fatalf("find booking of %s: %v", sessionID, err)
	}
	return b.Status
}

// today is the date of the server's clock in the resource's zone.
func (a *testApp) today() time.Time {
	now := a.clock.Now().In(a.loc)
	return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, a.loc)
}

// freeSlots lists the resource's free slots from the date of from on, up to n.
func (a *testApp) freeSlots(t *testing.T, from time.Time, n int) []booking.Slot {
	t.Helper()
	var out []booking.Slot
	for d := 0; d < 30 && len(out) < n; d++ {
		date := from.AddDate(0, 0, d).Format(time.DateOnly)
		resp, err := http.Get(a.url + "/api/resources/" + a.resource.ID + "/availability?date=" + date)
		if err != nil {
			t.Fatalf("availability: %v", err)
		}
		var av booking.Availability
		err = json.NewDecoder(resp.Body).Decode(&av)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("decode availability: %v", err)
		}
		for _, s := range av.Slots {
			if len(out) < n {
				out = append(out, booking.Slot{StartsAt: s.StartsAt, EndsAt: s.EndsAt})
			}
		}
	}
	if len(out) < n {
		t.Fatalf("only %d free slots in 30 days, want %d", len(out), n)
	}
	return out
}

// browser is one headless Chromium with one tab. It records every console
// error, uncaught exception, failed request and error response; check fails
// the test on any that was not expected.
type browser struct {
	ctx context.Context

	mu       sync.Mutex
	urls     map[network.RequestID]string
	problems []string
	allowed  map[string]bool // "<status> <path>" expected error responses
}

// chromiumPath finds Chromium; when it is missing the test fails, unless
// BROWSER_TESTS=skip.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("BROWSER_TESTS") == "skip" {
		t.Skip("Chromium is not installed and BROWSER_TESTS=skip")
	}
	t.Fatal("Chromium is not installed: run `apt-get install -y chromium` (scripts/test.sh does), or set BROWSER_TESTS=skip")
	return ""
}

// newBrowser starts Chromium with an empty profile and a width x height
// viewport, its clock set to the server's.
func (a *testApp) newBrowser(t *testing.T, width, height int64) *browser {
	t.Helper()
	// An empty profile per browser; removed after Chromium exits (its
	// helpers may still write for a moment, hence no t.TempDir).
	profile, err := os.MkdirTemp("", "browsertest-profile-")
	if err != nil {
		t.Fatalf("profile dir: %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("lang", "en-GB"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(int(width), int(height)),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	b := &browser{ctx: ctx, urls: map[network.RequestID]string{}, allowed: map[string]bool{}}
	if err := chromedp.Listen(ctx, b.record); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b.do(t, chromedp.EmulateViewport(width, height), shiftClock(a.clock.Shift))
	return b
}

// shiftClockJS, formatted with a shift in milliseconds, moves a page's
// clock: Date() and Date.now() read the shifted time; dates made from a
// value are untouched.
const shiftClockJS = `(function () {
  const shift = %d;
  const RealDate = Date;
  function ShiftedDate(...args) {
    if (!new.target) return new RealDate(RealDate.now() + shift).toString();
    return args.length ? new RealDate(...args) : new RealDate(RealDate.now() + shift);
  }
  ShiftedDate.prototype = RealDate.prototype;
  ShiftedDate.now = function () { return RealDate.now() + shift; };
  ShiftedDate.parse = RealDate.parse;
  ShiftedDate.UTC = RealDate.UTC;
  globalThis.Date = ShiftedDate;
})();`

// shiftClock makes every document the tab opens from now on see the real
// time moved by shift, as the server's test clock does.
func shiftClock(shift time.Duration) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: fmt.Sprintf(shiftClockJS, shift.Milliseconds())})
		return chromedp.Void{}, err
	}
}

// expect allows one error response, e.g. expect(409, "/api/bookings").
func (b *browser) expect(status int, path string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.allowed[fmt.Sprintf("%d %s", status, path)] = true
}

func (b *browser) isAllowed(status int64, rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	return b.allowed[fmt.Sprintf("%d %s", status, u.Path)]
}

func (b *browser) problem(format string, args ...any) {
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
}

// record runs on the event loop of the tab: it must return fast.
func (b *browser) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.urls[e.RequestID] = e.Request.URL
	case *network.EventResponseReceived:
		if e.Response.Status >= 400 && !b.isAllowed(e.Response.Status, e.Response.URL) {
			b.problem("response %d for %s", e.Response.Status, e.Response.URL)
		}
	case *network.EventLoadingFailed:
		b.problem("request failed: %s %s (canceled %v, blocked %q)", b.urls[e.RequestID], e.ErrorText, e.Canceled, e.BlockedReason)
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			b.problem("console.%s: %s", e.Type, strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.problem("uncaught exception: %s (%s:%d)", msg, d.URL, d.LineNumber)
	case *cdplog.EventEntryAdded:
		en := e.Entry
		if en.Level != cdplog.EntryLevelError {
			return
		}
		if en.Source == cdplog.EntrySourceNetwork && en.URL != "" {
			for k := range b.allowed {
				status, path, _ := strings.Cut(k, " ")
				if u, err := url.Parse(en.URL); err == nil && u.Path == path && strings.Contains(en.Text, "status of "+status) {
					return
				}
			}
		}
		b.problem("console %s error: %s %s", en.Source, en.Text, en.URL)
	}
}

// check fails t for every problem recorded so far.
func (b *browser) check(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Errorf("browser: %s", p)
	}
	b.problems = nil
}

// do runs steps with a time limit.
func (b *browser) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.check(t)
		t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.check(t)
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor waits until the JavaScript expression is truthy. It evaluates it
// again and again, so navigations in between do no harm.
func (b *browser) waitFor(t *testing.T, expr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!(function(){ try { return ("+expr+"); } catch (e) { return false; } })()"))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText.slice(0, 1500) : ''"))
	b.check(t)
	t.Fatalf("waiting for %s (last error %v)\nat %s:\n%s", expr, last, loc, text)
}

// text returns the visible text of the first element matching a CSS selector.
func text(t *testing.T, b *browser, sel string) string {
	t.Helper()
	return eval[string](t, b, fmt.Sprintf("(document.querySelector(%q) || {innerText: ''}).innerText", sel))
}

// signIn signs in on the login page as email with a.password and waits for
// the dashboard.
func (b *browser) signIn(t *testing.T, a *testApp, email string) {
	t.Helper()
	b.do(t, chromedp.Navigate(a.url+"/login"))
	b.do(t, fill("#login-email", email), fill("#login-password", a.password), chromedp.Click(chromedp.CSS("#login-submit")))
	b.waitFor(t, `location.pathname === '/dashboard'`)
}

// fill types v into the input matching sel, replacing its value.
func fill(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[chromedp.Void](fmt.Sprintf("document.querySelector(%q).value = ''", sel))(ctx, t)
			return err
		}),
		chromedp.SendKeys(chromedp.CSS(sel), v),
	)
}
