package browsertest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bookingplatform/booking/internal/booking"
)

// receiver is a local webhook endpoint: it records what it is sent and
// answers 200, or 500 while failing is set.
type receiver struct {
	srv     *httptest.Server
	failing atomic.Bool

	mu    sync.Mutex
	types []string
	sigs  []string
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.types = append(rc.types, string(body))
		rc.sigs = append(rc.sigs, r.Header.Get("webhook-signature"))
		rc.mu.Unlock()
		if rc.failing.Load() {
			http.Error(w, "receiver down for maintenance", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) received() (bodies, sigs []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.types...), append([]string(nil), rc.sigs...)
}

// bearerStatus sends GET path with the API key token and returns the status.
func (a *testApp) bearerStatus(t *testing.T, path, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestStaffSettings walks ADMIN's settings page: a rule of the resource is
// refused (422 under its field) then saved; a closed day is added and
// deleted; an API key is made, its token shown once and used, then
// revoked; a webhook endpoint on a local receiver gets a test event, and a
// failed delivery is sent again from the log. A READONLY account is told
// it cannot change settings.
func TestStaffSettings(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.createStaff(t)
	rc := newReceiver(t)
	ctx := context.Background()
	res := a.resource.ID

	b := a.newBrowser(t, 1280, 900)
	b.signIn(t, a, a.email)
	b.do(t, chromedp.Click(chromedp.CSS(`.staff-nav a[href="/settings"]`)))
	b.waitFor(t, `location.pathname === '/settings' && document.querySelectorAll('#resources-body tr[data-resource]').length === 1`)
	if got := eval[string](t, b, `document.querySelector('.staff-nav [aria-current="page"]').innerText`); got != "Settings" {
		t.Errorf("current navigation entry %q, want Settings", got)
	}

	// Rules: a bad value is refused under its field, then the rules are saved.
	b.do(t, chromedp.Click(chromedp.CSS(`[data-edit="`+res+`"]`)))
	b.waitFor(t, `!document.querySelector('#resource-detail').hidden && document.activeElement.id === 'resource-title'`)
	if got := eval[string](t, b, `document.querySelector('#rule-durationMinutes').value`); got != "60" {
		t.Errorf("duration in the form %q, want 60", got)
	}
	b.expect(http.StatusUnprocessableEntity, "/api/admin/resources/"+res)
	b.do(t, fill("#rule-durationMinutes", "2"), fill("#rule-minNoticeMinutes", "120"), chromedp.Click(chromedp.CSS("#rules-save")))
	b.waitFor(t, `!document.querySelector('#err-rule-durationMinutes').hidden`)
	if got := text(t, b, "#err-rule-durationMinutes"); !strings.Contains(got, "between 5 and 1440") {
		t.Errorf("field error %q", got)
	}
	if !eval[bool](t, b, `document.querySelector('#rule-durationMinutes').getAttribute('aria-invalid') === 'true' && document.activeElement.id === 'rule-durationMinutes'`) {
		t.Error("the refused field is not marked aria-invalid with the focus")
	}
	if r, _ := a.app.Catalog.Resource(ctx, res); r.MinNoticeMinutes != a.resource.MinNoticeMinutes {
		t.Errorf("a refused save changed the minimum notice to %d", r.MinNoticeMinutes)
	}
	b.do(t, fill("#rule-durationMinutes", "60"), chromedp.Click(chromedp.CSS("#rules-save")))
	b.waitFor(t, `document.querySelector('#settings-notice').innerText.includes('saved')`)
	if !eval[bool](t, b, `document.querySelector('#err-rule-durationMinutes').hidden && !document.querySelector('#rule-durationMinutes').hasAttribute('aria-invalid')`) {
		t.Error("the field error stayed after a successful save")
	}
	if r, err := a.app.Catalog.Resource(ctx, res); err != nil || r.MinNoticeMinutes != 120 || r.DurationMinutes != 60 {
		t.Errorf("after saving: %+v, %v; want 120 minutes of notice", r, err)
	}

	// A closed day: added, shown, closing the date for customers, deleted.
	day := a.today().AddDate(0, 0, 7).Format(time.DateOnly)
	b.do(t, chromedp.Evaluate[chromedp.Void](`document.querySelector('#override-from').value = `+jsString(day)),
		fill("#override-note", "Staff training"), chromedp.Click(chromedp.CSS("#override-add")))
	b.waitFor(t, `document.querySelectorAll('#overrides-body tr[data-override]').length === 1`)
	if got := text(t, b, "#overrides-body"); !strings.Contains(got, day) || !strings.Contains(got, "Closed") || !strings.Contains(got, "Staff training") {
		t.Errorf("overrides %q, want the closed day", got)
	}
	r, _ := a.app.Catalog.Resource(ctx, res)
	if len(r.Overrides) != 1 || !r.Overrides[0].Closed || r.Overrides[0].From != day {
		t.Fatalf("overrides stored %+v", r.Overrides)
	}
	b.do(t, chromedp.Click(chromedp.CSS(`#overrides-body tr[data-override] button`)))
	if got := text(t, b, `#overrides-body tr[data-override] button`); got != "Confirm delete" {
		t.Errorf("delete button after one click %q", got)
	}
	b.do(t, chromedp.Click(chromedp.CSS(`#overrides-body tr[data-override] button`)))
	b.waitFor(t, `document.querySelectorAll('#overrides-body tr[data-override]').length === 0 && document.querySelector('#settings-notice').innerText.includes('deleted')`)
	if r, _ := a.app.Catalog.Resource(ctx, res); len(r.Overrides) != 0 {
		t.Errorf("overrides after the delete %+v", r.Overrides)
	}

	// Calendar feed: a new URL, shown once.
	b.do(t, chromedp.Click(chromedp.CSS("#feed-new")))
	b.waitFor(t, `!document.querySelector('#feed-secret').hidden && document.querySelector('#feed-url').value.includes('/calendar/')`)
	feed := eval[string](t, b, `document.querySelector('#feed-url').value`)
	if resp, err := http.Get(feed); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("feed URL %s: %v %v", feed, resp, err)
	} else {
		resp.Body.Close()
	}

	// An API key: the token shown once works as a bearer token until revoked.
	b.do(t, fill("#key-name", "Accounting export"), chromedp.Click(chromedp.CSS(`[name="key-scope"][value="bookings:read"]`)),
		chromedp.Click(chromedp.CSS("#key-create")))
	b.waitFor(t, `!document.querySelector('#key-secret').hidden && document.querySelector('#key-token').value.startsWith('bk_live_')`)
	token := eval[string](t, b, `document.querySelector('#key-token').value`)
	if got := text(t, b, "#key-secret"); !strings.Contains(got, "will not be shown again") {
		t.Errorf("token box %q lacks the warning", got)
	}
	if loc := eval[string](t, b, `location.href`); strings.Contains(loc, token) {
		t.Error("the token is in the address")
	}
	if got := text(t, b, "#keys-body"); !strings.Contains(got, "Accounting export") || !strings.Contains(got, "bookings:read") || !strings.Contains(got, "Never") {
		t.Errorf("keys %q", got)
	}
	if got := a.bearerStatus(t, "/api/admin/bookings", token); got != http.StatusOK {
		t.Errorf("bearer request with the new key: status %d, want 200", got)
	}
	if got := a.bearerStatus(t, "/api/admin/api-keys", token); got != http.StatusForbidden {
		t.Errorf("bearer request beyond the key's scope: status %d, want 403", got)
	}
	b.do(t, chromedp.Click(chromedp.CSS(`#key-secret [data-dismiss]`)))
	if !eval[bool](t, b, `document.querySelector('#key-secret').hidden && document.querySelector('#key-token').value === ''`) {
		t.Error("Done left the token on the page")
	}
	b.do(t, chromedp.Click(chromedp.CSS(`#keys-body [data-revoke]`)))
	b.do(t, chromedp.Click(chromedp.CSS(`#keys-body [data-revoke]`)))
	b.waitFor(t, `document.querySelector('#keys-body').innerText.includes('Revoked') && !document.querySelector('#keys-body [data-revoke]')`)
	if got := a.bearerStatus(t, "/api/admin/bookings", token); got != http.StatusUnauthorized {
		t.Errorf("bearer request with the revoked key: status %d, want 401", got)
	}

	// A webhook endpoint on the local receiver: the secret once, a test
	// event in the log, a failed one sent again.
	b.do(t, fill("#hook-url", rc.srv.URL+"/hooks/booking"),
		chromedp.Click(chromedp.CSS(`[name="hook-event"][value="`+booking.EventBookingConfirmed+`"]`)),
		chromedp.Click(chromedp.CSS("#hook-create")))
	b.waitFor(t, `!document.querySelector('#hook-secret').hidden && document.querySelector('#hook-secret-value').value.startsWith('whsec_')`)
	b.waitFor(t, `document.querySelectorAll('#hooks-body tr[data-endpoint]').length === 1`)
	if got := text(t, b, "#hooks-body"); !strings.Contains(got, rc.srv.URL) || !strings.Contains(got, booking.EventBookingConfirmed) || !strings.Contains(got, "Enabled") {
		t.Errorf("endpoints %q", got)
	}
	b.do(t, chromedp.Click(chromedp.CSS(`#hooks-body [data-manage]`)))
	b.waitFor(t, `!document.querySelector('#hook-detail').hidden && document.querySelector('#deliveries-body').innerText.includes('Nothing sent yet')`)
	b.do(t, chromedp.Click(chromedp.CSS("#hook-test")))
	b.waitFor(t, `document.querySelectorAll('#deliveries-body tr[data-delivery]').length === 1`)
	if got := text(t, b, "#deliveries-body"); !strings.Contains(got, "webhook.test") || !strings.Contains(got, "Delivered") || !strings.Contains(got, "200") {
		t.Errorf("delivery log %q, want the delivered test event", got)
	}
	if bodies, sigs := rc.received(); len(bodies) != 1 || !strings.Contains(bodies[0], "webhook.test") || !strings.HasPrefix(sigs[0], "v1,") {
		t.Errorf("receiver got %q with signatures %q", bodies, sigs)
	}

	rc.failing.Store(true)
	b.do(t, chromedp.Click(chromedp.CSS("#hook-test")))
	b.waitFor(t, `document.querySelectorAll('#deliveries-body tr[data-delivery]').length === 2 && document.querySelector('#deliveries-body [data-retry]')`)
	if got := text(t, b, "#deliveries-body tr[data-delivery]"); !strings.Contains(got, "Failed") || !strings.Contains(got, "500") || !strings.Contains(got, "maintenance") {
		t.Errorf("failed delivery %q", got)
	}
	rc.failing.Store(false)
	b.do(t, chromedp.Click(chromedp.CSS("#deliveries-body [data-retry]")))
	b.waitFor(t, `document.querySelector('#settings-notice').innerText.includes('queued again')`)
	b.waitFor(t, `document.querySelectorAll('#deliveries-body tr[data-delivery]').length === 3`)
	if got := text(t, b, "#deliveries-body tr[data-delivery]"); !strings.Contains(got, "Delivered") {
		t.Errorf("newest delivery after sending again %q, want delivered", got)
	}

	// Disable, and change its events.
	b.do(t, chromedp.Click(chromedp.CSS("#hook-toggle")))
	b.waitFor(t, `document.querySelector('#hooks-body').innerText.includes('Disabled') && document.querySelector('#hook-toggle').innerText === 'Enable'`)
	b.do(t, chromedp.Click(chromedp.CSS(`[name="hook-edit-event"][value="`+booking.EventBookingCancelled+`"]`)),
		chromedp.Click(chromedp.CSS("#hook-events-save")))
	b.waitFor(t, `document.querySelector('#hooks-body').innerText.includes('`+booking.EventBookingCancelled+`')`)
	eps, err := a.app.Server.Webhooks.List(ctx)
	if err != nil || len(eps) != 1 || eps[0].Enabled || len(eps[0].Events) != 2 {
		t.Errorf("endpoints stored %+v, %v; want one, disabled, with two events", eps, err)
	}
	if logs := a.logs.String(); strings.Contains(logs, token) || strings.Contains(logs, "whsec_") {
		t.Error("the server log holds a token or a signing secret")
	}
	b.check(t)

	// READONLY: told, shown nothing.
	a.createStaffAs(t, "viewer@example.com", booking.RoleReadonly)
	b.do(t, chromedp.Click(chromedp.CSS("#logout")))
	b.waitFor(t, `location.pathname === '/login'`)
	b.signIn(t, a, "viewer@example.com")
	b.do(t, chromedp.Navigate(a.url+"/settings"))
	b.waitFor(t, `!document.querySelector('#settings-denied').hidden`)
	if !eval[bool](t, b, `document.querySelector('#settings-body').hidden`) {
		t.Error("READONLY sees the settings")
	}
	b.check(t)
}
