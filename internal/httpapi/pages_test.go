package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/app"
	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/httpapi"
	"github.com/bookingplatform/booking/internal/postgres"
)

// demoBundle is a server in demo-payments mode: its checkout URLs lead to
// /demo/checkout/{session}.
type demoBundle struct {
	db       *postgres.DB
	url      string
	api      *httpapi.Server
	resource *booking.Resource
}

func setupDemo(t *testing.T, production bool) *demoBundle {
	t.Helper()
	tb := setup(t, setupOpts{demo: true, configure: func(o *app.Options) { o.Production = production }})
	return &demoBundle{db: tb.db, url: tb.srv.URL, api: tb.api, resource: tb.resource}
}

// noRedirect is a client that reports redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, client *http.Client, rawURL, accept string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (d *demoBundle) book(t *testing.T, start time.Time) (*booking.Booking, string) {
	t.Helper()
	body, _ := json.Marshal(bookingBody(d.resource.ID, start))
	resp, err := http.Post(d.url+"/api/bookings", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("book: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Booking     booking.Booking `json:"booking"`
		CheckoutURL string          `json:"checkoutUrl"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("book: status %d, err %v", resp.StatusCode, err)
	}
	return &out.Booking, out.CheckoutURL
}

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

func TestPagesHeaders(t *testing.T) {
	t.Parallel()
	d := setupDemo(t, false)
	b, checkout := d.book(t, futureSlot(3, 10))
	sid := *b.StripeSessionID
	if want := d.url + "/demo/checkout/" + sid; checkout != want {
		t.Fatalf("checkout URL %q, want %q", checkout, want)
	}
	pages := []struct {
		name, path string
		status     int
		contains   string
	}{
		{"booking", "/", 200, `src="/static/book.js"`},
		{"success", "/success?session_id=" + sid, 200, "Confirming your payment"},
		{"success unknown session", "/success?session_id=cs_test_nope", 404, "find this booking"},
		{"cancel", "/cancel?booking=" + b.ID, 200, "released automatically"},
		{"login", "/login", 200, `id="login-form"`},
		{"dashboard", "/dashboard", 200, `src="/static/dashboard.js"`},
		{"settings", "/settings", 200, `src="/static/settings.js"`},
		{"desk", "/desk", 200, `src="/static/desk.js"`},
		{"demo checkout", "/demo/checkout/" + sid, 200, "Pay €50.00"},
		{"demo checkout unknown", "/demo/checkout/cs_demo_0123456789abcdef", 404, "Page not found"},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			resp, body := get(t, http.DefaultClient, d.url+p.path, browserAccept)
			if resp.StatusCode != p.status {
				t.Errorf("status %d, want %d", resp.StatusCode, p.status)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			csp := resp.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe") {
				t.Errorf("CSP %q allows unsafe sources", csp)
			}
			for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
				if got := resp.Header.Get(h); got != want {
					t.Errorf("%s %q, want %q", h, got, want)
				}
			}
			if !strings.Contains(body, p.contains) {
				t.Errorf("body lacks %q", p.contains)
			}
			for _, bad := range []string{"<script>", "style=", " onclick=", " onload=", "javascript:"} {
				if strings.Contains(body, bad) {
					t.Errorf("body has inline code %q", bad)
				}
			}
			if !strings.Contains(body, "Demo mode") {
				t.Error("no demo-mode banner")
			}
		})
	}
}

// TestSettingsPage checks that the settings page offers what the API
// accepts: every event type an endpoint may subscribe to and every API key
// scope; and that the staff navigation marks the page.
func TestSettingsPage(t *testing.T) {
	t.Parallel()
	d := setupDemo(t, false)
	resp, body := get(t, http.DefaultClient, d.url+"/settings", browserAccept)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, e := range booking.WebhookEventTypes {
		if want := `name="hook-event" value="` + e + `"`; !strings.Contains(body, want) {
			t.Errorf("no checkbox for event %s", e)
		}
	}
	for _, s := range auth.Scopes {
		if want := `name="key-scope" value="` + string(s) + `"`; !strings.Contains(body, want) {
			t.Errorf("no choice of scope %s", s)
		}
	}
	if !strings.Contains(body, `<a href="/settings" aria-current="page">Settings</a>`) {
		t.Error("the staff navigation does not mark the settings page")
	}
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	d := setupDemo(t, false)
	for _, f := range []struct{ path, ctype string }{
		{"/static/site.css", "text/css; charset=utf-8"},
		{"/static/book.js", "text/javascript; charset=utf-8"},
		{"/static/favicon.svg", "image/svg+xml"},
		{"/favicon.ico", "image/"},
	} {
		resp, body := get(t, http.DefaultClient, d.url+f.path, "")
		if resp.StatusCode != 200 || body == "" {
			t.Errorf("%s: status %d, %d bytes", f.path, resp.StatusCode, len(body))
			continue
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, f.ctype) {
			t.Errorf("%s: Content-Type %q, want %q", f.path, ct, f.ctype)
		}
		etag := resp.Header.Get("ETag")
		if etag == "" {
			t.Errorf("%s: no ETag", f.path)
			continue
		}
		req, _ := http.NewRequest(http.MethodGet, d.url+f.path, nil)
		req.Header.Set("If-None-Match", etag)
		again, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		again.Body.Close()
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("%s: revalidation status %d, want 304", f.path, again.StatusCode)
		}
	}
	for _, p := range []string{"/static/", "/static/nope.js", "/static/../go.mod"} {
		if resp, _ := get(t, http.DefaultClient, d.url+p, ""); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, resp.StatusCode)
		}
	}
}

func TestCheckoutReturnNegotiation(t *testing.T) {
	t.Parallel()
	d := setupDemo(t, false)
	b, _ := d.book(t, futureSlot(3, 11))
	sid := *b.StripeSessionID
	ret := d.url + "/checkout/return?session_id=" + url.QueryEscape(sid)

	t.Run("browser is redirected to the success page", func(t *testing.T) {
		resp, _ := get(t, noRedirect, ret, browserAccept)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("status %d, want 303", resp.StatusCode)
		}
		if loc := resp.Header.Get("Location"); loc != "/success?session_id="+url.QueryEscape(sid) {
			t.Errorf("Location %q", loc)
		}
	})
	for _, accept := range []string{"application/json", "*/*", ""} {
		t.Run("API client with Accept "+accept+" gets JSON", func(t *testing.T) {
			resp, body := get(t, noRedirect, ret, accept)
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			var got struct{ BookingID, Reference, Status string }
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if got.BookingID != b.ID || got.Status != "pending" || got.Reference != b.Reference {
				t.Errorf("answer %+v", got)
			}
		})
	}
	t.Run("unknown session is a JSON 404 for API clients", func(t *testing.T) {
		resp, _ := get(t, noRedirect, d.url+"/checkout/return?session_id=cs_nope", "application/json")
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("status %d, want 404", resp.StatusCode)
		}
	})
}

// postDemo presses a button of the demo checkout.
func postDemo(t *testing.T, d *demoBundle, sid, action string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, d.url+"/demo/checkout/"+sid, strings.NewReader(url.Values{"action": {action}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("POST demo %s: %v", action, err)
	}
	resp.Body.Close()
	return resp
}

func TestDemoCheckoutActions(t *testing.T) {
	t.Parallel()
	d := setupDemo(t, false)
	steps := []struct {
		name     string
		actions  []string
		status   booking.Status
		location string // prefix of the last redirect, after APP_URL
		events   int
	}{
		{"pay confirms", []string{"pay"}, booking.StatusConfirmed, "/checkout/return?session_id=", 1},
		{"pay later awaits the transfer", []string{"later"}, booking.StatusAwaitingPayment, "/demo/checkout/", 1},
		{"transfer arrives", []string{"later", "async_succeeded"}, booking.StatusConfirmed, "/checkout/return?session_id=", 2},
		{"transfer fails", []string{"later", "async_failed"}, booking.StatusPaymentFailed, "/checkout/return?session_id=", 2},
		{"payment fails", []string{"fail"}, booking.StatusPaymentFailed, "/checkout/return?session_id=", 2},
		{"cancel expires the session", []string{"cancel"}, booking.StatusExpired, "/cancel?booking=", 1},
		{"a stale button changes nothing", []string{"pay", "cancel"}, booking.StatusConfirmed, "/demo/checkout/", 1},
	}
	for i, s := range steps {
		b, _ := d.book(t, futureSlot(4, 8+i))
		sid := *b.StripeSessionID
		var last *http.Response
		for _, a := range s.actions {
			last = postDemo(t, d, sid, a)
			if last.StatusCode != http.StatusSeeOther {
				t.Fatalf("%s: %s: status %d, want 303", s.name, a, last.StatusCode)
			}
		}
		loc := last.Header.Get("Location")
		if !strings.HasPrefix(strings.TrimPrefix(loc, d.url), s.location) {
			t.Errorf("%s: redirected to %q, want %s…", s.name, loc, s.location)
		}
		got, err := d.db.FindBooking(context.Background(), b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != s.status {
			t.Errorf("%s: status %q, want %q", s.name, got.Status, s.status)
		}
		var n int
		if err := d.db.Pool.QueryRow(context.Background(),
			`SELECT count(*) FROM webhook_events WHERE booking_id = $1 AND source = 'webhook'`, b.ID).Scan(&n); err != nil {
			t.Fatalf("count ledger rows: %v", err)
		}
		if n != s.events {
			t.Errorf("%s: %d ledger rows, want %d", s.name, n, s.events)
		}
	}
	if got := d.api.Metrics.Received.Load(); got == 0 {
		t.Error("demo events did not go through the webhook route")
	}

	t.Run("unknown action is refused", func(t *testing.T) {
		b, _ := d.book(t, futureSlot(5, 9))
		if resp := postDemo(t, d, *b.StripeSessionID, "refund"); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("status %d, want 422", resp.StatusCode)
		}
	})
	t.Run("cross-origin post is refused", func(t *testing.T) {
		b, _ := d.book(t, futureSlot(5, 10))
		req, _ := http.NewRequest(http.MethodPost, d.url+"/demo/checkout/"+*b.StripeSessionID, strings.NewReader("action=pay"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("status %d, want 403", resp.StatusCode)
		}
	})
}

func TestDemoRoutesAbsentInProduction(t *testing.T) {
	t.Parallel()
	d := setupDemo(t, true)
	resp, body := get(t, http.DefaultClient, d.url+"/demo/checkout/cs_demo_0123456789abcdef", browserAccept)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "Page not found") {
		t.Errorf("status %d, Content-Type %q: want the generic not-found page", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if strings.Contains(body, "Demo") {
		t.Errorf("production answer mentions the demo: %s", body)
	}
	if _, body := get(t, http.DefaultClient, d.url+"/", browserAccept); strings.Contains(body, "Demo mode") {
		t.Error("production booking page shows the demo banner")
	}
}
