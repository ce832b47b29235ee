package browsertest_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/riverqueue/river"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/jobs"
	"github.com/bookingplatform/booking/internal/payment"
)

// TestStaffBookingView opens bookings from the dashboard's table: a paid one
// shows its money, payment, audit trail and ledger row and is refunded from
// its view; one under review after a payment of the wrong amount is
// accepted and confirmed. A READONLY account sees the view without the
// actions and without the money figures.
func TestStaffBookingView(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.createStaff(t)
	slots := a.freeSlots(t, a.today(), 2)
	paid := a.bookAs(t, slots[0].StartsAt, "Inès", "Moreau", "ines.moreau@example.com").Booking
	a.send(t, &paid, payment.DemoEvent{Type: booking.EventCheckoutCompleted, PaymentStatus: "paid"})
	review := a.bookAs(t, slots[1].StartsAt, "Tom", "Becker", "tom.becker@example.com").Booking
	a.payShort(t, &review, 4000)
	if got := a.status(t, *review.StripeSessionID); got != booking.StatusNeedsReview {
		t.Fatalf("status after a short payment %q, want needs_review", got)
	}

	b := a.newBrowser(t, 1280, 900)
	b.signIn(t, a, a.email)
	b.waitFor(t, `document.querySelectorAll('#bookings-body tr[data-booking]').length === 2`)
	// Under review, the payment is kept until staff decide: no refund owed.
	if row := text(t, b, `#bookings-body tr[data-booking="`+review.ID+`"]`); !strings.Contains(row, "Needs review") || strings.Contains(row, "Refund owed") {
		t.Errorf("row of the booking under review %q, want Needs review and no refund owed", row)
	}
	b.waitFor(t, `document.querySelector('[data-money="needsReview"]').innerText === '1'`)

	open := func(bk booking.Booking) {
		t.Helper()
		b.do(t, chromedp.Click(chromedp.CSS(`#bookings-body tr[data-booking="`+bk.ID+`"] .booking-link`)))
		b.waitFor(t, `!document.querySelector('#detail-view').hidden && document.querySelector('#detail-facts').getAttribute('aria-busy') === 'false' && document.querySelector('#detail-ref').innerText === `+jsString(bk.Reference))
		if !eval[bool](t, b, `document.querySelector('#list-view').hidden`) {
			t.Error("the lists are still shown beside the booking")
		}
		if got := eval[string](t, b, `location.hash`); got != "#booking/"+bk.ID {
			t.Errorf("address fragment %q, want #booking/%s", got, bk.ID)
		}
		if got := eval[string](t, b, `document.activeElement.id`); got != "detail-title" {
			t.Errorf("focus on %q, want the booking's heading", got)
		}
	}
	fact := func(name string) string {
		t.Helper()
		return text(t, b, `#detail-facts [data-fact="`+name+`"] dd`)
	}
	actions := func() []string {
		t.Helper()
		return eval[[]string](t, b, `Array.from(document.querySelectorAll('#detail-actions [data-action]'), e => e.dataset.action)`)
	}
	confirm := func(action, armed, done string) {
		t.Helper()
		btn := `#detail-actions [data-action="` + action + `"]`
		b.do(t, chromedp.Click(chromedp.CSS(btn)))
		if got := text(t, b, btn); got != armed {
			t.Errorf("%s button after one click %q, want %q", action, got, armed)
		}
		b.do(t, chromedp.Click(chromedp.CSS(btn)))
		b.waitFor(t, `document.querySelector('#dash-notice').innerText.includes(`+jsString(done)+`)`)
	}

	// The paid booking: its money, rows and trail, then a refund from its view.
	open(paid)
	for name, want := range map[string]string{"status": "Confirmed", "slot": "Held by this booking", "paid": "€50.00",
		"refunded": "€0.00", "owed": "€0.00", "customer": "ines.moreau@example.com"} {
		if got := fact(name); !strings.Contains(got, want) {
			t.Errorf("%s %q, want %q", name, got, want)
		}
	}
	for sel, wants := range map[string][]string{
		"#payments-body": {"€50.00", *paid.StripeSessionID},
		"#audit-body":    {"Created → Pending", "Pending → Confirmed"},
		"#ledger-body":   {booking.EventCheckoutCompleted, "processed", "webhook"},
		"#refunds-body":  {"No refund."},
	} {
		got := text(t, b, sel)
		for _, want := range wants {
			if !strings.Contains(got, want) {
				t.Errorf("%s %q lacks %q", sel, got, want)
			}
		}
	}
	if got := actions(); len(got) != 1 || got[0] != "refund" {
		t.Errorf("actions %v, want [refund]", got)
	}
	confirm("refund", "Confirm refund", "is now refunded")
	if got := a.status(t, *paid.StripeSessionID); got != booking.StatusRefunded {
		t.Errorf("status after the refund %q, want refunded", got)
	}
	b.waitFor(t, `document.querySelector('#detail-facts [data-fact="status"] dd').innerText.includes('Refunded')`)
	for name, want := range map[string]string{"refunded": "€50.00", "slot": "Not held"} {
		if got := fact(name); !strings.Contains(got, want) {
			t.Errorf("after the refund, %s %q, want %q", name, got, want)
		}
	}
	if got := text(t, b, "#refunds-body"); !strings.Contains(got, "€50.00") || !strings.Contains(got, "staff") {
		t.Errorf("refunds %q, want the staff refund of €50.00", got)
	}
	if got := text(t, b, "#requests-body"); !strings.Contains(got, "done") {
		t.Errorf("refund requests %q, want the request done", got)
	}
	if got := actions(); len(got) != 0 {
		t.Errorf("actions after the refund %v, want none", got)
	}
	if got := eval[string](t, b, `document.querySelector('#bookings-body tr[data-booking="`+paid.ID+`"]').textContent`); !strings.Contains(got, "Refunded") {
		t.Errorf("the bookings table was not reloaded: %q", got)
	}

	// Back to the lists, focus on the booking left.
	b.do(t, chromedp.Click(chromedp.CSS("#detail-back")))
	b.waitFor(t, `!document.querySelector('#list-view').hidden && document.querySelector('#detail-view').hidden`)
	if got := eval[string](t, b, `document.activeElement.closest('tr') ? document.activeElement.closest('tr').dataset.booking : ''`); got != paid.ID {
		t.Errorf("focus back on booking %q, want %s", got, paid.ID)
	}

	// The booking under review: accepted, it is confirmed and keeps its slot.
	open(review)
	if got := fact("status"); !strings.Contains(got, "Needs review") {
		t.Errorf("status %q, want Needs review", got)
	}
	if got := fact("paid"); !strings.Contains(got, "€40.00") {
		t.Errorf("paid %q, want €40.00", got)
	}
	if got := text(t, b, "#ledger-body"); !strings.Contains(got, "amount_mismatch") {
		t.Errorf("ledger %q, want the amount_mismatch outcome", got)
	}
	if got := actions(); strings.Join(got, ",") != "accept,refund" {
		t.Errorf("actions %v, want [accept refund]", got)
	}
	confirm("accept", "Confirm accept", "is now confirmed")
	if got := a.status(t, *review.StripeSessionID); got != booking.StatusConfirmed {
		t.Errorf("status after accepting %q, want confirmed", got)
	}
	b.waitFor(t, `document.querySelector('#detail-facts [data-fact="status"] dd').innerText.includes('Confirmed')`)
	if got := text(t, b, "#audit-body"); !strings.Contains(got, "Needs review → Confirmed") || !strings.Contains(got, "staff") {
		t.Errorf("audit trail %q, want the staff's accept", got)
	}
	if got := fact("slot"); !strings.Contains(got, "Held by this booking") {
		t.Errorf("slot %q, want held", got)
	}
	b.check(t)

	// A READONLY account opens the same view by its address: no actions,
	// no money figures.
	a.createStaffAs(t, "viewer@example.com", booking.RoleReadonly)
	b.do(t, chromedp.Click(chromedp.CSS("#logout")))
	b.waitFor(t, `location.pathname === '/login'`)
	b.signIn(t, a, "viewer@example.com")
	b.do(t, chromedp.Navigate(a.url+"/dashboard#booking/"+review.ID))
	b.waitFor(t, `!document.querySelector('#detail-view').hidden && document.querySelector('#detail-facts').getAttribute('aria-busy') === 'false'`)
	if got := actions(); len(got) != 0 {
		t.Errorf("READONLY sees actions %v", got)
	}
	if !eval[bool](t, b, `document.querySelector('#money-section').hidden && document.querySelector('#metrics-section').hidden`) {
		t.Error("READONLY sees the metrics")
	}
	b.check(t)
}

// TestStaffSeesAChangesMessages: the messages of one change are one job;
// the dashboard's Messages list shows it under its first message, with the
// ones after it.
func TestStaffSeesAChangesMessages(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.createStaff(t)
	slot := a.freeSlots(t, a.today(), 1)[0]
	bk := a.bookAs(t, slot.StartsAt, "Ada", "Lovelace", "ada.lovelace@example.com").Booking
	// Due in a week (the test clock's), so that it waits in the queue.
	args := jobs.MessageArgs{BookingID: bk.ID, Message: booking.NoticeConfirmation,
		Also:     []jobs.MessagePart{{Message: booking.NoticeStaffNewBooking}},
		Reminder: &jobs.MessagePart{Message: booking.NoticeReminder}, RemindAt: a.clock.Now().Add(8 * 24 * time.Hour)}
	res, err := a.app.Queue.Client.Insert(context.Background(), args, &river.InsertOpts{
		ScheduledAt: time.Now().Add(7 * 24 * time.Hour), Metadata: []byte(`{"booking_id":"` + bk.ID + `"}`)})
	if err != nil {
		t.Fatal(err)
	}

	b := a.newBrowser(t, 1280, 900)
	b.signIn(t, a, a.email)
	row := `#messages-body tr[data-message="` + strconv.FormatInt(res.Job.ID, 10) + `"]`
	b.waitFor(t, `document.querySelector(`+jsString(row)+`) !== null`)
	if got := text(t, b, row); !strings.Contains(got, "Confirmation") ||
		!strings.Contains(got, "then Staff: new booking, Reminder") || !strings.Contains(got, "queued") {
		t.Errorf("message row %q, want the confirmation, then the staff alert and the reminder, queued", got)
	}
}
