package browsertest_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/payment"
)

var screenshotDir = flag.String("screenshots", "", "write the page screenshots to this directory (e.g. ../../docs/screenshots)")

// TestScreenshots renders every page at desktop and phone width, checks that
// none is wider than the screen and that none logs an error, and with
// -screenshots writes the PNGs used by docs/PAGES.md.
func TestScreenshots(t *testing.T) {
	t.Parallel()
	dir := *screenshotDir
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot dir: %v", err)
	}
	a := newApp(t)
	a.createStaff(t)

	// A day of activity for the dashboard and the return pages, the day
	// after the server's today, so that today keeps its free times for the
	// booking page.
	slots := a.freeSlots(t, a.today().AddDate(0, 0, 1), 6)
	paid := a.bookAs(t, slots[1].StartsAt, "Amélie", "Laurent", "amelie.laurent@example.com")
	a.send(t, &paid.Booking, payment.DemoEvent{Type: booking.EventCheckoutCompleted, PaymentStatus: "paid"})
	transfer := a.bookAs(t, slots[2].StartsAt, "Noah", "Schmidt", "noah.schmidt@example.com")
	a.send(t, &transfer.Booking, payment.DemoEvent{Type: booking.EventCheckoutCompleted, PaymentStatus: "unpaid"})
	open := a.bookAs(t, slots[3].StartsAt, "Sofia", "Rossi", "sofia.rossi@example.com")
	gone := a.bookAs(t, slots[4].StartsAt, "Liam", "O'Brien", "liam.obrien@example.com")
	a.send(t, &gone.Booking, payment.DemoEvent{Type: booking.EventCheckoutExpired, PaymentStatus: "unpaid"})
	failed := a.bookAs(t, slots[5].StartsAt, "Mia", "Jensen", "mia.jensen@example.com")
	a.send(t, &failed.Booking, payment.DemoEvent{Type: booking.EventCheckoutCompleted, PaymentStatus: "unpaid"})
	a.send(t, &failed.Booking, payment.DemoEvent{Type: booking.EventCheckoutAsyncFailed, PaymentStatus: "unpaid"})
	short := a.bookAs(t, slots[0].StartsAt, "Jonas", "Berg", "jonas.berg@example.com")
	a.payShort(t, &short.Booking, 4000)
	a.openDispute(t, paid.Booking.ID, "product_not_received")

	// A class with places for the seats display (placesLeft; no booking,
	// so the dashboard's figures stay as they are), and a closed day for the
	// month calendar.
	class := consultation
	class.Slug, class.Name, class.Capacity = "yoga-class", "Yoga class", 8
	class.Description = "A group class: book one place or several."
	if _, err := a.db.CreateResource(context.Background(), &class, false); err != nil {
		t.Fatalf("create class: %v", err)
	}
	if _, err := a.app.Overrides.Create(context.Background(), a.resource.ID, booking.DateOverride{
		From: a.today().AddDate(0, 0, 3).Format(time.DateOnly), Closed: true, Note: "Holiday"}); err != nil {
		t.Fatalf("close a day: %v", err)
	}
	// For the settings page: an API key in use and a revoked one, and a
	// webhook endpoint with a delivered test event and a failed one.
	staff, err := a.db.ListStaff(context.Background())
	if err != nil || len(staff) == 0 {
		t.Fatalf("list staff: %v", err)
	}
	admin := &staff[0]
	for _, name := range []string{"Old reporting script", "Accounting export"} {
		k, _, err := a.app.Server.APIKeys.Create(context.Background(), auth.NewKey{Name: name, Scopes: []auth.Scope{auth.ScopeRead}}, admin)
		if err != nil {
			t.Fatalf("create API key: %v", err)
		}
		if name == "Old reporting script" {
			if _, err := a.app.Server.APIKeys.Revoke(context.Background(), k.ID); err != nil {
				t.Fatalf("revoke API key: %v", err)
			}
		}
	}
	rc := newReceiver(t)
	ep, _, err := a.app.Server.Webhooks.Create(context.Background(), booking.NewWebhookEndpoint{URL: rc.srv.URL + "/hooks/booking",
		Events: []string{booking.EventBookingConfirmed, booking.EventBookingCancelled, booking.EventBookingRefunded}}, admin)
	if err != nil {
		t.Fatalf("create webhook endpoint: %v", err)
	}
	rc.failing.Store(true)
	for range 2 {
		if _, err := a.app.Server.Webhooks.SendTest(context.Background(), ep.ID); err != nil {
			t.Fatalf("send test event: %v", err)
		}
		rc.failing.Store(false)
	}
	// For the front desk: a block two days on (made by the signed-in
	// browser, once), beside the bookings of the day after today.
	blockSlots := a.freeSlots(t, a.today().AddDate(0, 0, 2), 3)
	blockJS := fmt.Sprintf(`document.querySelector('.desk-entry[data-kind="block"]') || fetch('/api/admin/resources/%s/blocks', {method: 'POST', headers: {'Content-Type': 'application/json'},
		body: JSON.stringify({startsAt: %q, endsAt: %q, reason: 'Court resurfacing'})}).then(function () {
		document.querySelector('#desk-today').click(); })`, a.resource.ID,
		blockSlots[0].StartsAt.UTC().Format(time.RFC3339), blockSlots[2].EndsAt.UTC().Format(time.RFC3339))

	type shot struct {
		name  string
		path  string
		ready string // JavaScript that is truthy once the page is complete
		setup func(b *browser)
	}
	shots := []shot{
		{name: "book", path: "/", ready: `document.querySelectorAll('#slots .slot').length > 0`, setup: func(b *browser) {
			b.do(t,
				chromedp.Click(chromedp.CSS("#slots .slot:nth-child(2) label")),
				fill("#firstName", "Jane"), fill("#lastName", "Doe"), fill("#email", "jane@example.com"),
				chromedp.Evaluate[chromedp.Void]("document.activeElement.blur()"),
			)
		}},
		{name: "book-month", path: "/", ready: `document.querySelector('#month').getAttribute('aria-busy') === 'false' && document.querySelectorAll('#month-grid .month-day[data-status="closed"]').length > 0`},
		{name: "book-seats", path: "/?resource=yoga-class", ready: `document.querySelectorAll('#slots .slot-places').length > 0 && document.querySelector('#month').getAttribute('aria-busy') === 'false'`,
			setup: func(b *browser) {
				b.do(t, chromedp.Evaluate[chromedp.Void](`(function () {
					const d = document.querySelector('#month-grid .month-day.is-free:not(.is-selected)');
					if (d) d.click();
				})()`))
				b.waitFor(t, `document.querySelector('#slots').getAttribute('aria-busy') === 'false' && document.querySelectorAll('#slots .slot-places').length > 0`)
			}},
		{name: "demo-checkout", path: "/demo/checkout/" + *open.Booking.StripeSessionID, ready: `document.querySelector('#demo-pay') !== null`},
		{name: "success-confirmed", path: "/success?session_id=" + url.QueryEscape(*paid.Booking.StripeSessionID), ready: `document.querySelector('#status').dataset.status === 'confirmed'`},
		{name: "success-processing", path: "/success?session_id=" + url.QueryEscape(*transfer.Booking.StripeSessionID), ready: `document.querySelector('#status').dataset.status === 'awaiting_payment'`},
		{name: "cancel", path: "/cancel?booking=" + gone.Booking.ID, ready: `document.querySelector('.callout') !== null`},
		{name: "login", path: "/login", ready: `document.querySelector('#login-form') !== null`},
		// The booking view first: from /dashboard, only the fragment would change.
		{name: "dashboard-booking", path: "/dashboard#booking/" + paid.Booking.ID, ready: `!document.querySelector('#detail-view').hidden && document.querySelector('#detail-facts').getAttribute('aria-busy') === 'false' && !document.querySelector('#detail-disputes').hidden`},
		{name: "settings", path: "/settings", ready: `document.querySelectorAll('#resources-body tr[data-resource]').length === 2 && document.querySelectorAll('#keys-body tr[data-key]').length === 2 && document.querySelectorAll('#hooks-body tr[data-endpoint]').length === 1`,
			setup: func(b *browser) {
				b.do(t, chromedp.Click(chromedp.CSS(`[data-edit="`+a.resource.ID+`"]`)), chromedp.Click(chromedp.CSS(`#hooks-body [data-manage]`)))
				b.waitFor(t, `document.querySelectorAll('#overrides-body tr[data-override]').length === 1 && document.querySelectorAll('#deliveries-body tr[data-delivery]').length === 2`)
				b.do(t, chromedp.Evaluate[chromedp.Void]("document.activeElement.blur()"))
			}},
		{name: "desk", path: "/desk", ready: `document.querySelector('#desk-grid').getAttribute('aria-busy') === 'false' && document.querySelectorAll('#desk-grid .desk-entry[data-booking]').length >= 2`,
			setup: func(b *browser) {
				b.do(t, chromedp.Evaluate[chromedp.Void](blockJS))
				b.waitFor(t, `document.querySelectorAll('#desk-grid .desk-entry[data-kind="block"]').length === 1`)
				b.do(t, fill("#db-first", "Walk"), fill("#db-last", "In"), fill("#db-email", "walk.in@example.com"),
					chromedp.Evaluate[chromedp.Void]("document.activeElement.blur()"))
			}},
		{name: "dashboard", path: "/dashboard", ready: `document.querySelectorAll('#bookings-body tr[data-booking]').length === 6 && document.querySelectorAll('#events-body tr[data-event]').length === 7 && !document.querySelector('#metrics-section').hidden && document.querySelector('[data-money="needsReview"]').innerText === '1'`},
	}
	for _, width := range []int64{1280, 390} {
		b := a.newBrowser(t, width, 900)
		b.signIn(t, a, a.email)
		for _, s := range shots {
			b.do(t, chromedp.Navigate(a.url+s.path))
			b.waitFor(t, s.ready)
			if s.setup != nil {
				s.setup(b)
			}
			b.waitFor(t, `document.fonts.status === 'loaded'`)
			if w := eval[float64](t, b, `document.documentElement.scrollWidth`); w > float64(width) {
				t.Errorf("%s is %v px wide in a %d px window", s.name, w, width)
			}
			ctx := b.ctx
			img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot %s: %v", s.name, err)
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(img))
			if err != nil {
				t.Fatalf("screenshot %s is not a PNG: %v", s.name, err)
			}
			if int64(cfg.Width) != width {
				t.Errorf("screenshot %s is %d px wide, want %d", s.name, cfg.Width, width)
			}
			file := filepath.Join(dir, fmt.Sprintf("%s-%d.png", s.name, width))
			if err := os.WriteFile(file, img, 0o644); err != nil {
				t.Fatalf("write %s: %v", file, err)
			}
		}
		b.check(t)
	}
}
