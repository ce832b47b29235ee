package browsertest_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/payment"
)

// TestBookPayAndSeeItAsStaff is the whole journey: pick a slot, fill the
// form, pay on the demo checkout, land on the confirmed success page, then
// sign in as staff and find the booking and its ledger row.
func TestBookPayAndSeeItAsStaff(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.newBrowser(t, 1280, 900)

	b.do(t, chromedp.Navigate(a.url+"/"))
	b.waitFor(t, `document.querySelectorAll('#slots .slot').length > 0`)
	if got := text(t, b, "#sum-total"); got != "€50.00" {
		t.Errorf("summary total %q, want €50.00", got)
	}
	b.do(t,
		chromedp.Click(chromedp.CSS("#slots .slot label")),
		fill("#firstName", "Jane"),
		fill("#lastName", "Doe"),
		fill("#email", "jane@example.com"),
	)
	if got := text(t, b, "#sum-time"); !strings.Contains(got, "–") {
		t.Errorf("summary time %q, want a time range after choosing a slot", got)
	}
	b.do(t, chromedp.Click(chromedp.CSS("#submit")))

	b.waitFor(t, `location.pathname.startsWith('/demo/checkout/cs_demo_')`)
	loc := eval[string](t, b, "location.pathname")
	session := strings.TrimPrefix(loc, "/demo/checkout/")
	if got := a.status(t, session); got != booking.StatusPending {
		t.Errorf("status before paying %q, want pending", got)
	}
	if got := text(t, b, ".checkout-amount"); got != "€50.00" {
		t.Errorf("checkout amount %q, want €50.00", got)
	}
	if got := text(t, b, ".demo-banner"); !strings.Contains(strings.ToLower(got), "demo mode") {
		t.Errorf("demo banner %q, want it to say demo mode", got)
	}

	b.do(t, chromedp.Click(chromedp.CSS("#demo-pay")))
	b.waitFor(t, `location.pathname === '/success'`)
	b.waitFor(t, `document.querySelector('#status').dataset.status === 'confirmed'`)
	if got := text(t, b, "#status"); !strings.Contains(strings.ToLower(got), "confirmed") {
		t.Errorf("success page says %q, want confirmed", got)
	}
	if got := eval[string](t, b, "new URLSearchParams(location.search).get('session_id')"); got != session {
		t.Errorf("success page session %q, want %q", got, session)
	}
	if got := a.status(t, session); got != booking.StatusConfirmed {
		t.Errorf("status after paying %q, want confirmed", got)
	}
	bk, err := a.db.FindBookingBySession(t.Context(), session)
	if err != nil {
		t.Fatalf("find booking: %v", err)
	}
	if got := text(t, b, "#booking-reference"); got != bk.Reference {
		t.Errorf("reference on the page %q, want %q", got, bk.Reference)
	}

	// Staff see the booking and the ledger row of the payment.
	a.createStaff(t)
	b.signIn(t, a, a.email)
	b.waitFor(t, `document.querySelector('#bookings-body tr[data-booking]') !== null`)
	row := text(t, b, `#bookings-body tr[data-booking="`+bk.ID+`"]`)
	for _, want := range []string{bk.Reference, "Jane Doe", "jane@example.com", "€50.00", "Confirmed"} {
		if !strings.Contains(row, want) {
			t.Errorf("booking row %q lacks %q", row, want)
		}
	}
	b.waitFor(t, `document.querySelector('#events-body tr[data-event]') !== null`)
	events := text(t, b, "#events-body")
	for _, want := range []string{"checkout.session.completed", "processed", bk.Reference} {
		if !strings.Contains(events, want) {
			t.Errorf("ledger %q lacks %q", events, want)
		}
	}
	b.waitFor(t, `!document.querySelector('#metrics-section').hidden`)
	if got := text(t, b, `[data-metric="processed"]`); got != "1" {
		t.Errorf("processed webhooks %q, want 1", got)
	}
	if got := text(t, b, "#user-email"); got != a.email {
		t.Errorf("signed in as %q, want %q", got, a.email)
	}

	// Replaying the stored event changes nothing; refunding takes two clicks.
	b.do(t, chromedp.Click(chromedp.CSS(`#events-body tr[data-event] .btn`)))
	b.waitFor(t, `/replayed: /.test(document.querySelector('#dash-notice').innerText)`)
	if got := text(t, b, "#dash-notice"); !strings.Contains(got, "duplicate") && !strings.Contains(got, "ignored") {
		t.Errorf("replay notice %q, want a duplicate or ignored outcome", got)
	}
	refund := `#bookings-body tr[data-booking="` + bk.ID + `"] .btn`
	b.do(t, chromedp.Click(chromedp.CSS(refund)))
	if got := text(t, b, refund); got != "Confirm refund" {
		t.Errorf("refund button after one click %q, want Confirm refund", got)
	}
	b.do(t, chromedp.Click(chromedp.CSS(refund)))
	b.waitFor(t, `/is now refunded/.test(document.querySelector('#dash-notice').innerText)`)
	if got := a.status(t, session); got != booking.StatusRefunded {
		t.Errorf("status after refund %q, want refunded", got)
	}
	b.check(t)
}

// TestBookingAtAnyHour books on the page with the server's and the browser's
// clocks at three hours of the test day (a Wednesday) in Paris: the page
// opens on the first day with free times, offers only the times still ahead,
// and the first of them is booked and paid.
func TestBookingAtAnyHour(t *testing.T) {
	t.Parallel()
	open := []string{"09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"}
	for _, tt := range []struct {
		name         string
		hour, minute int
		days         int      // the day the page opens on, in days after the test day
		times        []string // the times it offers
	}{
		{name: "08:00 before opening", hour: 8, minute: 0, days: 0, times: open},
		{name: "15:30 with one time left", hour: 15, minute: 30, days: 0, times: []string{"16:00"}},
		{name: "23:50 with none left", hour: 23, minute: 50, days: 1, times: open},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAppAt(t, tt.hour, tt.minute)
			b := a.newBrowser(t, 390, 844)
			b.do(t, chromedp.Navigate(a.url+"/"))
			b.waitFor(t, `document.querySelector('#slots').getAttribute('aria-busy') === 'false' && document.querySelectorAll('#slots .slot').length > 0`)

			if skew := time.UnixMilli(int64(eval[float64](t, b, "Date.now()"))).Sub(a.clock.Now()); skew.Abs() > 5*time.Second {
				t.Errorf("the browser's clock is %v off the server's", skew)
			}
			day := a.today().AddDate(0, 0, tt.days)
			if got := eval[string](t, b, `document.querySelector('#date').value`); got != day.Format(time.DateOnly) {
				t.Errorf("the page opens on %s, want %s", got, day.Format(time.DateOnly))
			}
			if got := eval[[]string](t, b, `Array.from(document.querySelectorAll('#slots .slot label'), l => l.innerText)`); !slices.Equal(got, tt.times) {
				t.Errorf("times offered %v, want %v", got, tt.times)
			}

			b.do(t,
				chromedp.Click(chromedp.CSS("#slots .slot label")),
				fill("#firstName", "Jane"), fill("#lastName", "Doe"), fill("#email", "jane@example.com"),
				chromedp.Click(chromedp.CSS("#submit")),
			)
			b.waitFor(t, `location.pathname.startsWith('/demo/checkout/cs_demo_')`)
			session := strings.TrimPrefix(eval[string](t, b, "location.pathname"), "/demo/checkout/")
			b.do(t, chromedp.Click(chromedp.CSS("#demo-pay")))
			b.waitFor(t, `location.pathname === '/success' && document.querySelector('#status').dataset.status === 'confirmed'`)

			bk, err := a.db.FindBookingBySession(t.Context(), session)
			if err != nil {
				t.Fatalf("find booking: %v", err)
			}
			first, err := time.ParseInLocation("2006-01-02 15:04", day.Format(time.DateOnly)+" "+tt.times[0], a.loc)
			if err != nil {
				t.Fatal(err)
			}
			if bk.Status != booking.StatusConfirmed || !bk.StartsAt.Equal(first) {
				t.Errorf("booking %s at %v, want confirmed at %v", bk.Status, bk.StartsAt, first)
			}
			b.check(t)
		})
	}
}

// TestBookingFormErrors shows a validation error next to its field and a
// clear message when the slot was taken meanwhile.
func TestBookingFormErrors(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.newBrowser(t, 390, 844)
	b.expect(422, "/api/bookings")
	b.expect(409, "/api/bookings")

	b.do(t, chromedp.Navigate(a.url+"/"))
	b.waitFor(t, `document.querySelectorAll('#slots .slot').length > 0`)
	b.do(t,
		chromedp.Click(chromedp.CSS("#slots .slot label")),
		fill("#firstName", "Jane"),
		fill("#lastName", "Doe"),
		fill("#email", "jane@example"),
		chromedp.Click(chromedp.CSS("#submit")),
	)
	b.waitFor(t, `!document.querySelector('#err-email').hidden`)
	if got := text(t, b, "#err-email"); !strings.Contains(got, "valid email") {
		t.Errorf("email error %q, want it to ask for a valid email", got)
	}
	if got := eval[string](t, b, `document.querySelector('#email').getAttribute('aria-invalid')`); got != "true" {
		t.Errorf("email aria-invalid %q, want true", got)
	}
	if got := eval[string](t, b, `document.activeElement.id`); got != "email" {
		t.Errorf("focus on %q, want the email field", got)
	}

	// Someone else takes the chosen slot before the customer submits.
	chosen := eval[string](t, b, `document.querySelector('#slots input:checked').value`)
	start, err := timeParse(chosen)
	if err != nil {
		t.Fatalf("chosen slot %q: %v", chosen, err)
	}
	a.book(t, start, "other@example.com")
	b.do(t, fill("#email", "jane@example.com"), chromedp.Click(chromedp.CSS("#submit")))
	b.waitFor(t, `!document.querySelector('#form-error').hidden`)
	if got := text(t, b, "#form-error"); !strings.Contains(got, "just taken") {
		t.Errorf("form error %q, want it to say the slot was just taken", got)
	}
	if !eval[bool](t, b, `document.querySelector('#err-email').hidden`) {
		t.Error("the fixed email still shows its error")
	}
	b.waitFor(t, `document.querySelector('#slots').getAttribute('aria-busy') === 'false'`)
	if eval[bool](t, b, `Array.from(document.querySelectorAll('#slots input')).some(i => i.value === `+jsString(chosen)+`)`) {
		t.Errorf("the taken slot %s is still offered", chosen)
	}
	if got := eval[float64](t, b, `document.documentElement.scrollWidth`); got > 390 {
		t.Errorf("page is %v px wide on a 390 px phone", got)
	}
	b.check(t)
}

// TestSuccessPageWaitsForWebhook shows "Confirming your payment…" until the
// webhook confirms the booking, then "Confirmed", without a reload.
func TestSuccessPageWaitsForWebhook(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.newBrowser(t, 1280, 900)
	slot := a.freeSlots(t, a.today(), 1)[0]
	c := a.book(t, slot.StartsAt, "sam@example.com")
	session := *c.Booking.StripeSessionID

	// The browser follows Stripe's success_url: /checkout/return redirects it.
	b.do(t, chromedp.Navigate(a.url+"/checkout/return?session_id="+url.QueryEscape(session)))
	b.waitFor(t, `location.pathname === '/success'`)
	if got := text(t, b, "#status .status-panel:not([hidden]) h1"); got != "Confirming your payment…" {
		t.Errorf("heading %q, want Confirming your payment…", got)
	}
	a.send(t, &c.Booking, payment.DemoEvent{Type: booking.EventCheckoutCompleted, PaymentStatus: "paid"})
	b.waitFor(t, `document.querySelector('#status').dataset.status === 'confirmed'`)
	if got := text(t, b, "#status-badge"); got != "Confirmed" {
		t.Errorf("status badge %q, want Confirmed", got)
	}
	if !eval[bool](t, b, `document.querySelector('[data-for="pending"]').hidden`) {
		t.Error("the pending panel is still shown")
	}
	b.check(t)
}

// TestDemoPayLaterThenFail walks the asynchronous path of the demo checkout:
// Pay later leaves the booking awaiting payment, then the transfer fails.
func TestDemoPayLaterThenFail(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.newBrowser(t, 390, 844)
	slot := a.freeSlots(t, a.today(), 1)[0]
	c := a.book(t, slot.StartsAt, "kim@example.com")
	session := *c.Booking.StripeSessionID

	b.do(t, chromedp.Navigate(c.CheckoutURL), chromedp.Click(chromedp.CSS("#demo-later")))
	b.waitFor(t, `document.querySelector('#demo-async-failed') !== null`)
	if got := a.status(t, session); got != booking.StatusAwaitingPayment {
		t.Errorf("status after pay later %q, want awaiting_payment", got)
	}
	b.do(t, chromedp.Click(chromedp.CSS("#demo-async-failed")))
	b.waitFor(t, `location.pathname === '/success'`)
	b.waitFor(t, `document.querySelector('#status').dataset.status === 'payment_failed'`)
	if got := text(t, b, "#status .status-panel:not([hidden]) h1"); got != "Payment failed" {
		t.Errorf("heading %q, want Payment failed", got)
	}
	if got := a.status(t, session); got != booking.StatusPaymentFailed {
		t.Errorf("status %q, want payment_failed", got)
	}
	b.check(t)
}

// TestDemoCancel expires the session and lands on the cancel page.
func TestDemoCancel(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.newBrowser(t, 1280, 900)
	slot := a.freeSlots(t, a.today(), 1)[0]
	c := a.book(t, slot.StartsAt, "lee@example.com")

	b.do(t, chromedp.Navigate(c.CheckoutURL), chromedp.Click(chromedp.CSS("#demo-cancel")))
	b.waitFor(t, `location.pathname === '/cancel' && document.querySelector('.callout') !== null`)
	if got := text(t, b, "main"); !strings.Contains(got, "released automatically") {
		t.Errorf("cancel page %q, want it to explain the slot release", got)
	}
	if got := a.status(t, *c.Booking.StripeSessionID); got != booking.StatusExpired {
		t.Errorf("status %q, want expired", got)
	}
	b.check(t)
}
