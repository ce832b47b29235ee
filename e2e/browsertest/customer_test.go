package browsertest_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-ical"

	"github.com/bookingplatform/booking/internal/app"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/mailer"
	"github.com/bookingplatform/booking/internal/mailtest"
)

// newMailApp is newApp with messages sent to Mailpit and its job queue
// working.
func newMailApp(t *testing.T) *testApp {
	t.Helper()
	cfg, err := mailer.ParseURL(mailtest.SMTPURL())
	if err != nil {
		t.Fatal(err)
	}
	sender, err := mailer.NewSender(cfg, "Demo Studio <bookings@example.com>", mailer.SenderOpts{})
	if err != nil {
		t.Fatal(err)
	}
	return newAppWith(t, 10, 0, func(a *testApp, o *app.Options) {
		o.Mail, o.StaffEmail = sender, mailtest.Recipient(t)
	})
}

// calendar parses the text/calendar part of m and returns its METHOD and
// its one event.
func calendar(t *testing.T, m mailtest.Message) (string, *ical.Event) {
	t.Helper()
	parts := m.PartsOfType("text/calendar")
	if len(parts) == 0 {
		t.Fatalf("%q has no calendar file", m.Subject)
	}
	cal, err := ical.NewDecoder(bytes.NewReader(parts[0].Body)).Decode()
	if err != nil {
		t.Fatalf("calendar of %q: %v", m.Subject, err)
	}
	if len(cal.Events()) != 1 {
		t.Fatalf("calendar of %q has %d events", m.Subject, len(cal.Events()))
	}
	ev := cal.Events()[0]
	return cal.Props.Get(ical.PropMethod).Value, &ev
}

func sequence(ev *ical.Event) string {
	if p := ev.Props.Get(ical.PropSequence); p != nil {
		return p.Value
	}
	return ""
}

// manageLink is the manage page's address in a message.
func manageLink(t *testing.T, m mailtest.Message, base string) string {
	t.Helper()
	i := strings.Index(m.Text, base+"/manage/")
	if i < 0 {
		t.Fatalf("%q has no manage link to %s:\n%s", m.Subject, base, m.Text)
	}
	return strings.Fields(m.Text[i:])[0]
}

// A customer books and pays, gets the confirmation with its calendar file,
// opens the link in it, moves the booking, gets the new calendar file
// (SEQUENCE:1), cancels after seeing the refund, and gets the cancelling
// calendar file.
func TestCustomerManagesBooking(t *testing.T) {
	t.Parallel()
	a := newMailApp(t)
	customer := mailtest.Recipient(t)
	b := a.newBrowser(t, 1280, 900)

	// Book a time three days ahead (well before the resource's 24-hour
	// cut-offs for changes), and pay.
	slots := a.freeSlots(t, a.today().AddDate(0, 0, 3), 3)
	c := a.book(t, slots[0].StartsAt, customer)
	b.do(t, chromedp.Navigate(c.CheckoutURL))
	b.do(t, chromedp.Click(chromedp.CSS("#demo-pay")))
	b.waitFor(t, `document.querySelector('#status') && document.querySelector('#status').dataset.status === 'confirmed'`)

	msgs := mailtest.WaitFor(t, customer, 1, 30*time.Second)
	confirmation := msgs[0]
	method, ev := calendar(t, confirmation)
	if method != "REQUEST" || sequence(ev) != "0" {
		t.Errorf("confirmation calendar: METHOD %q SEQUENCE %q, want REQUEST 0", method, sequence(ev))
	}
	uid := ev.Props.Get(ical.PropUID).Value
	link := manageLink(t, confirmation, a.url)

	// Move it to the third free time.
	b.do(t, chromedp.Navigate(link))
	b.waitFor(t, `document.querySelectorAll('#slots .slot').length > 0`)
	target := slots[2].StartsAt
	day := target.In(a.loc).Format(time.DateOnly)
	b.do(t, chromedp.Evaluate[chromedp.Void](`(function () {
		const d = document.querySelector('#move-date');
		d.value = `+jsString(day)+`;
		d.dispatchEvent(new Event('change'));
	})()`))
	pick := `#slots input[value="` + target.UTC().Format(time.RFC3339) + `"]`
	b.waitFor(t, `document.querySelector('`+pick+`') !== null`)
	b.do(t, chromedp.Click(chromedp.CSS(pick+" + label")))
	b.do(t, chromedp.Click(chromedp.CSS("#move-button")))
	b.waitFor(t, `!document.querySelector('#manage-message').hidden`)
	if got := text(t, b, "#manage-message"); !strings.Contains(got, "now starts") {
		t.Errorf("after moving: %q", got)
	}

	msgs = mailtest.WaitFor(t, customer, 2, 30*time.Second)
	moved := newest(msgs, confirmation.ID)
	method, ev = calendar(t, moved)
	if method != "REQUEST" || sequence(ev) != "1" || ev.Props.Get(ical.PropUID).Value != uid {
		t.Errorf("reschedule calendar: METHOD %q SEQUENCE %q UID %q, want REQUEST 1 %q", method, sequence(ev),
			ev.Props.Get(ical.PropUID).Value, uid)
	}
	if start, err := ev.DateTimeStart(nil); err != nil || !start.Equal(target) {
		t.Errorf("reschedule DTSTART %v (%v), want %v", start, err, target)
	}

	// Cancel: the page shows the refund before the customer confirms.
	if got := text(t, b, "#quote-amount"); !strings.Contains(got, "You will get €50.00 back") {
		t.Errorf("quote %q, want the full refund shown", got)
	}
	if *screenshotDir != "" {
		shoot(t, b, filepath.Join(*screenshotDir, "manage-1280.png"))
	}
	b.do(t, chromedp.Click(chromedp.CSS("#cancel-button")))
	if got := text(t, b, "#confirm-text"); !strings.Contains(got, "€50.00") {
		t.Errorf("confirmation text %q", got)
	}
	b.do(t, chromedp.Click(chromedp.CSS("#cancel-yes")))
	b.waitFor(t, `/cancelled/.test(document.querySelector('#manage-message').innerText)`)
	if got := text(t, b, "#manage-message"); !strings.Contains(got, "cancelled") {
		t.Errorf("after cancelling: %q", got)
	}

	msgs = mailtest.WaitFor(t, customer, 3, 30*time.Second)
	var cancelled mailtest.Message
	for _, m := range msgs {
		if m.ID != confirmation.ID && m.ID != moved.ID {
			cancelled = m
		}
	}
	method, ev = calendar(t, cancelled)
	if method != "CANCEL" || sequence(ev) != "2" || ev.Props.Get(ical.PropUID).Value != uid {
		t.Errorf("cancellation calendar: METHOD %q SEQUENCE %q, want CANCEL 2 with the same UID", method, sequence(ev))
	}
	bk, err := a.db.FindBooking(t.Context(), c.Booking.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bk.Status != booking.StatusRefunded || bk.AmountRefunded != 5000 {
		t.Errorf("booking %s with %d refunded, want refunded with 5000", bk.Status, bk.AmountRefunded)
	}
	b.check(t)

	if *screenshotDir != "" {
		shootMailpit(t, a, confirmation.ID, filepath.Join(*screenshotDir, "email-confirmation-1280.png"))
	}
}

// newest returns the message of msgs that is not old.
func newest(msgs []mailtest.Message, old ...string) mailtest.Message {
	for _, m := range msgs {
		seen := false
		for _, o := range old {
			seen = seen || m.ID == o
		}
		if !seen {
			return m
		}
	}
	return mailtest.Message{}
}

// shoot writes a full-page screenshot of b's page.
func shoot(t *testing.T, b *browser, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// shootMailpit writes a screenshot of message id's HTML body as Mailpit
// renders it (its /view/<id>.html preview; the inbox's own scripts are not
// part of a `go install`ed Mailpit).
func shootMailpit(t *testing.T, a *testApp, id, path string) {
	t.Helper()
	mb := a.newBrowser(t, 1280, 900)
	mb.do(t, chromedp.Navigate(mailtest.API()+"/view/"+id+".html"))
	mb.waitFor(t, `document.readyState === 'complete' && document.body.innerText.includes('confirmed')`)
	shoot(t, mb, path)
}
