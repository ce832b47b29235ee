package browsertest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestFrontDesk books a walk-in paid at the venue from the front desk, sees
// it on the week calendar, blocks the next free hour, finds that hour gone
// from the times offered, removes the block, and writes a note on the
// booking from its dashboard view.
func TestFrontDesk(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.createStaff(t)
	slots := a.freeSlots(t, a.today(), 3)

	b := a.newBrowser(t, 1280, 900)
	b.signIn(t, a, a.email)
	b.do(t, chromedp.Navigate(a.url+"/desk"))
	b.waitFor(t, `document.querySelector('#desk-grid').getAttribute('aria-busy') === 'false' && document.querySelectorAll('#db-time option').length >= 3`)

	// A walk-in, paid at the venue, in the second free slot of today.
	second := slots[1].StartsAt.UTC().Format("2006-01-02T15:04:05Z")
	b.do(t,
		setValue("#db-time", second),
		fill("#db-first", "Lena"), fill("#db-last", "Walker"), fill("#db-email", "lena.walker@example.com"),
		fill("#db-note", "Paid by card at the counter."),
		chromedp.Click(chromedp.CSS("#db-submit")),
	)
	b.waitFor(t, `document.querySelector('#desk-notice').innerText.includes('paid at the venue')`)
	b.waitFor(t, `Array.from(document.querySelectorAll('#desk-grid .desk-entry[data-kind="confirmed"]')).some(e => e.innerText.includes('Lena Walker'))`)
	entry := text(t, b, `#desk-grid .desk-entry[data-kind="confirmed"]`)
	if !strings.Contains(entry, "paid at the venue") {
		t.Errorf("calendar entry %q does not say it was paid at the venue", entry)
	}
	if eval[bool](t, b, `Array.from(document.querySelectorAll('#db-time option')).some(o => o.value === `+jsString(second)+`)`) {
		t.Error("the booked time is still offered")
	}

	// Block the third free slot; it is no longer offered, then given back.
	from, to := slots[2].StartsAt.In(a.loc).Format("15:04"), slots[2].EndsAt.In(a.loc).Format("15:04")
	third := slots[2].StartsAt.UTC().Format("2006-01-02T15:04:05Z")
	b.do(t,
		setValue("#bk-from", from), setValue("#bk-to", to),
		fill("#bk-reason", "Deep clean"),
		chromedp.Click(chromedp.CSS("#bk-submit")),
	)
	b.waitFor(t, `document.querySelectorAll('#desk-grid .desk-entry[data-kind="block"]').length === 1`)
	b.waitFor(t, `!Array.from(document.querySelectorAll('#db-time option')).some(o => o.value === `+jsString(third)+`)`)
	b.do(t, chromedp.Click(chromedp.CSS(`#desk-grid .desk-entry[data-kind="block"] .desk-entry-del`)))
	b.waitFor(t, `document.querySelectorAll('#desk-grid .desk-entry[data-kind="block"]').length === 0`)
	b.waitFor(t, `Array.from(document.querySelectorAll('#db-time option')).some(o => o.value === `+jsString(third)+`)`)

	// The booking's view in the dashboard shows the note written at the
	// desk and takes another.
	href := eval[string](t, b, `document.querySelector('#desk-grid .desk-entry[data-kind="confirmed"] a').getAttribute('href')`)
	if !strings.HasPrefix(href, "/dashboard#booking/") {
		t.Fatalf("calendar entry links to %q, want the booking's view", href)
	}
	b.do(t, chromedp.Navigate(a.url+href))
	b.waitFor(t, `!document.querySelector('#detail-view').hidden && document.querySelector('#notes-list').innerText.includes('Paid by card at the counter.')`)
	if got := text(t, b, "#payments-body"); !strings.Contains(got, "At the venue") || !strings.Contains(got, "recorded by admin@example.com") {
		t.Errorf("payments of the booking view %q, want the payment at the venue and who recorded it", got)
	}
	b.do(t, fill("#note-body", "Asked for a receipt by email."), chromedp.Click(chromedp.CSS(`#note-form button[type="submit"]`)))
	b.waitFor(t, `document.querySelector('#notes-list').innerText.includes('Asked for a receipt by email.')`)
	b.check(t)
}

// setValue sets the value of a select or time input as a choice would.
func setValue(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`(function (e) { e.value = %s; e.dispatchEvent(new Event('change', {bubbles: true})); })(document.querySelector(%q))`,
		jsString(v), sel))
}
