package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/notify"
)

// data returns what a message of any kind needs, with staff-only values
// that must never reach a customer.
func data(t *testing.T) notify.Data {
	t.Helper()
	paris := zone(t, "Europe/Paris")
	b := booking(t, "Europe/Paris", time.Date(2026, 12, 4, 10, 0, 0, 0, paris), 90*time.Minute)
	b.AmountRefunded = 2700
	b.PayURL = "https://checkout.stripe.com/c/pay/cs_test_a1"
	b.PayBy = time.Date(2026, 12, 3, 18, 0, 0, 0, paris)
	return notify.Data{
		Booking:          b,
		PreviousStartsAt: time.Date(2026, 12, 3, 9, 0, 0, 0, paris),
		PreviousEndsAt:   time.Date(2026, 12, 3, 10, 30, 0, 0, paris),
		Staff: notify.Staff{
			BookingURL:    "https://book.example.com/admin/bookings/staff-only-link",
			Reason:        "staff-only-reason: amount_mismatch",
			DisputeAmount: 5400,
			DisputeReason: "staff-only-dispute-reason",
			DisputeStatus: "needs_response",
		},
	}
}

func render(t *testing.T, kind notify.Kind, d notify.Data, lang string) (subject, text, html string) {
	t.Helper()
	subject, text, html, err := notify.Render(kind, d, lang)
	if err != nil {
		t.Fatalf("Render(%s): %v", kind, err)
	}
	return subject, text, html
}

// Every kind renders a one-line subject, a text and an HTML body showing
// the reference and the time with its zone named.
func TestRenderEveryKind(t *testing.T) {
	t.Parallel()
	const when = "Friday 4 December 2026, 10:00–11:30 (Europe/Paris, CET)"
	for _, kind := range notify.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			d := data(t)
			subject, text, html := render(t, kind, d, "en")
			if subject == "" || strings.ContainsAny(subject, "\r\n") {
				t.Errorf("subject = %q, want one non-empty line", subject)
			}
			for name, body := range map[string]string{"text": text, "html": html} {
				if !strings.Contains(body, when) {
					t.Errorf("%s body lacks %q:\n%s", name, when, body)
				}
				if !strings.Contains(body, "BK-7Q2M4X") {
					t.Errorf("%s body lacks the reference", name)
				}
				if !strings.Contains(body, "Club house, 12 rue de la Paix; Paris") {
					t.Errorf("%s body lacks the location", name)
				}
			}
			if !strings.HasPrefix(html, "<!DOCTYPE html>") || !strings.Contains(html, "</html>") {
				t.Errorf("HTML body is not a document:\n%s", html)
			}
			if strings.Contains(text, "\n\n\n") || !strings.HasSuffix(text, "\n") || strings.HasSuffix(text, "\n\n") {
				t.Errorf("text body has stray blank lines:\n%q", text)
			}
		})
	}
}

// Customer messages show the duration, amounts and manage link, and never
// what is for staff only: the reasons, the dispute, the dashboard link.
func TestRenderCustomerMessages(t *testing.T) {
	t.Parallel()
	staffOnly := []string{"staff-only", "needs_response", "/admin/"}
	for _, kind := range notify.Kinds {
		if kind.ForStaff() {
			continue
		}
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			d := data(t)
			_, text, html := render(t, kind, d, "en")
			for name, body := range map[string]string{"text": text, "html": html} {
				for _, s := range staffOnly {
					if strings.Contains(body, s) {
						t.Errorf("%s body of a customer message shows staff-only %q", name, s)
					}
				}
				if !strings.Contains(body, "1 hour 30 minutes") {
					t.Errorf("%s body lacks the duration", name)
				}
			}
			if !strings.Contains(text, "Manage your booking: "+d.Booking.ManageURL) {
				t.Errorf("text body lacks the manage link:\n%s", text)
			}
			if !strings.Contains(html, `href="https://book.example.com/manage/0b7c4f52?token=s3cr3t"`) {
				t.Errorf("HTML body lacks the manage link:\n%s", html)
			}
		})
	}
}

func TestRenderKindSpecifics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind notify.Kind
		want []string // in the text body
	}{
		{notify.KindConfirmation, []string{"confirmed", "Paid:      €54.00"}},
		{notify.KindCancellation, []string{"cancelled", "€27.00 is being refunded"}},
		{notify.KindRefund, []string{"We have refunded €27.00 of the €54.00"}},
		{notify.KindReschedule, []string{"Before:    Thursday 3 December 2026, 09:00–10:30 (Europe/Paris, CET)", "Now:       Friday 4 December 2026"}},
		{notify.KindStaffNewBooking, []string{"Ada Lovelace <ada@example.com>", "Paid:      €54.00", "Open:      https://book.example.com/admin/"}},
		{notify.KindStaffNeedsReview, []string{"Reason:    staff-only-reason: amount_mismatch"}},
		{notify.KindStaffDispute, []string{"Disputed:  €54.00", "staff-only-dispute-reason", "needs_response"}},
		{notify.KindStaffRefundFailing, []string{"To refund: €27.00", "staff-only-reason"}},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			t.Parallel()
			_, text, _ := render(t, tc.kind, data(t), "en")
			for _, want := range tc.want {
				if !strings.Contains(text, want) {
					t.Errorf("text body lacks %q:\n%s", want, text)
				}
			}
		})
	}
}

// Names and other customer input are escaped in HTML, and cannot break
// the subject line.
func TestRenderEscapesCustomerInput(t *testing.T) {
	t.Parallel()
	d := data(t)
	d.Booking.FirstName = `<script>alert("x")</script>`
	d.Booking.LastName = `O'Brien & <b>Sons</b>`
	d.Booking.ResourceName = "Court 1\r\nBcc: victim@example.com"
	d.Booking.Location = `<img src=x onerror=alert(1)>`
	d.Booking.ManageURL = "javascript:alert(1)"
	for _, kind := range notify.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			subject, text, html := render(t, kind, d, "en")
			if strings.ContainsAny(subject, "\r\n") {
				t.Errorf("subject = %q holds a line break", subject)
			}
			for _, raw := range []string{"<script>", "<img", "<b>Sons", "javascript:"} {
				if strings.Contains(html, raw) {
					t.Errorf("HTML body holds unescaped %q:\n%s", raw, html)
				}
			}
			if !kind.ForStaff() && !strings.Contains(html, "&lt;script&gt;") {
				t.Errorf("HTML body lacks the escaped name:\n%s", html)
			}
			if !kind.ForStaff() && !strings.Contains(text, `Hello <script>alert("x")</script>,`) {
				t.Errorf("text body does not show the name as given:\n%s", text)
			}
		})
	}
}

func TestRenderAmounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		currency string
		paid     int64
		want     string
	}{
		{"eur", 5400, "€54.00"},
		{"usd", 5400, "$54.00"},
		{"jpy", 5400, "¥5,400"},
		{"usd", 123456, "$1,234.56"},
	}
	for _, tc := range tests {
		t.Run(tc.currency, func(t *testing.T) {
			t.Parallel()
			d := data(t)
			d.Booking.Currency, d.Booking.AmountPaid, d.Booking.AmountTotal = tc.currency, tc.paid, tc.paid
			_, text, html := render(t, notify.KindConfirmation, d, "en")
			if !strings.Contains(text, tc.want) || !strings.Contains(html, tc.want) {
				t.Errorf("confirmation lacks %q:\n%s", tc.want, text)
			}
		})
	}
}

// A language without templates falls back to English.
func TestRenderLanguageFallback(t *testing.T) {
	t.Parallel()
	_, want, _ := render(t, notify.KindConfirmation, data(t), "en")
	for _, lang := range []string{"", "EN", "en-GB", "fr", "de-AT", "zz_ZZ"} {
		if _, got, _ := render(t, notify.KindConfirmation, data(t), lang); got != want {
			t.Errorf("language %q: text differs from English:\n%s", lang, got)
		}
	}
}

func TestRenderRejectsBadData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		kind   notify.Kind
		mutate func(*notify.Data)
	}{
		{"unknown kind", "newsletter", func(*notify.Data) {}},
		{"no zone", notify.KindConfirmation, func(d *notify.Data) { d.Booking.Timezone = "" }},
		{"unknown zone", notify.KindConfirmation, func(d *notify.Data) { d.Booking.Timezone = "Nowhere/Land" }},
		{"no start", notify.KindReminder, func(d *notify.Data) { d.Booking.StartsAt = time.Time{} }},
		{"no reference", notify.KindConfirmation, func(d *notify.Data) { d.Booking.Reference = "" }},
		{"reschedule without the previous slot", notify.KindReschedule, func(d *notify.Data) { d.PreviousStartsAt = time.Time{} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := data(t)
			tc.mutate(&d)
			if _, _, _, err := notify.Render(tc.kind, d, "en"); err == nil {
				t.Fatal("Render succeeded, want an error")
			}
		})
	}
}

// The payment link message carries the link and when it lapses, in the
// resource's zone, and refuses a link that is not absolute.
func TestRenderPaymentLink(t *testing.T) {
	t.Parallel()
	d := data(t)
	subject, text, html := render(t, notify.KindPaymentLink, d, "en")
	if !strings.HasPrefix(subject, "Pay for your booking") {
		t.Errorf("subject = %q", subject)
	}
	for name, body := range map[string]string{"text": text, "html": html} {
		if !strings.Contains(body, d.Booking.PayURL) {
			t.Errorf("%s body lacks the payment link", name)
		}
		if !strings.Contains(body, "18:00") {
			t.Errorf("%s body lacks when the link lapses (18:00 Paris time):\n%s", name, body)
		}
	}
	d.Booking.PayURL = "/demo/checkout/cs_1"
	if _, _, _, err := notify.Render(notify.KindPaymentLink, d, "en"); err == nil {
		t.Error("a relative payment link was rendered")
	}
}
