package mailer_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"github.com/bookingplatform/booking/internal/mailer"
	"github.com/bookingplatform/booking/internal/mailtest"
	"github.com/bookingplatform/booking/internal/notify"
)

// mailpitSender sends to the Mailpit of the tests, with credentials (which
// Mailpit accepts whatever they are) when auth is set.
func mailpitSender(t *testing.T, auth bool) *mailer.Sender {
	t.Helper()
	raw := mailtest.SMTPURL()
	if auth {
		raw = strings.Replace(raw, "smtp://", "smtp://bookings:Zq9pw-secret@", 1)
	}
	cfg, err := mailer.ParseURL(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", raw, err)
	}
	return sender(t, cfg, mailer.SenderOpts{SendTimeout: 10 * time.Second})
}

// confirmation renders the confirmation of a booking for to, with its
// calendar file.
func confirmation(t *testing.T, to string, method string, seq int) (*mailer.Message, notify.Booking) {
	t.Helper()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	b := notify.Booking{
		ID: "0b7c4f52-3c1e-4a57-9d7e-1f2a3b4c5d6e", Reference: "BK-7Q2M4X", Status: "confirmed",
		ResourceName: "Tennis court 1", Location: "Club house, 12 rue de la Paix; Paris", Timezone: "Europe/Paris",
		StartsAt: time.Date(2026, 12, 4, 10, 0, 0, 0, paris), EndsAt: time.Date(2026, 12, 4, 11, 0, 0, 0, paris),
		AmountTotal: 5400, AmountPaid: 5400, Currency: "eur",
		FirstName: "Ada <b>", LastName: "Lovelace", Email: to,
		ManageURL: "https://book.example.com/manage/0b7c4f52?token=s3cr3t", Sequence: seq,
	}
	kind := notify.KindConfirmation
	if method == notify.MethodCancel {
		kind, b.Status, b.AmountRefunded = notify.KindCancellation, "refunded", 5400
	}
	subject, text, html, err := notify.Render(kind, notify.Data{Booking: b}, b.Language)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	ics, err := notify.ICS(b, method, notify.ICSOpts{Organizer: from, Stamp: time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)})
	if err != nil {
		t.Fatalf("calendar: %v", err)
	}
	return &mailer.Message{
		ID: b.ID + "." + string(kind) + "." + string(rune('0'+seq)), To: to, ToName: b.FirstName + " " + b.LastName,
		Subject: subject, Text: text, HTML: html, ICS: ics, ICSMethod: method,
	}, b
}

// A confirmation rendered by package notify reaches a real SMTP server
// (Mailpit) as multipart text + HTML with its calendar invitation, and a
// retried send carries the same Message-ID.
func TestMailpitConfirmation(t *testing.T) {
	t.Parallel()
	to := mailtest.Recipient(t)
	m, b := confirmation(t, to, notify.MethodRequest, 0)
	s := mailpitSender(t, true)
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := s.Send(t.Context(), m); err != nil { // a retry of the same job
		t.Fatalf("send again: %v", err)
	}
	got := mailtest.WaitFor(t, to, 2, 10*time.Second)
	if len(got) != 2 {
		t.Fatalf("%d messages arrived, want 2", len(got))
	}
	wantID := s.MessageID(m.ID)
	for _, msg := range got {
		if msg.MessageID != wantID {
			t.Errorf("Message-ID %q, want %q", msg.MessageID, wantID)
		}
		if msg.Subject != m.Subject || msg.From != "bookings@example.com" || len(msg.To) != 1 || msg.To[0] != to {
			t.Errorf("subject %q from %q to %v", msg.Subject, msg.From, msg.To)
		}
		if got := msg.Header("Auto-Submitted"); got != "auto-generated" {
			t.Errorf("Auto-Submitted = %q", got)
		}
		const when = "Friday 4 December 2026, 10:00–11:00 (Europe/Paris, CET)"
		if !strings.Contains(msg.Text, when) || !strings.Contains(msg.Text, "€54.00") || !strings.Contains(msg.Text, b.ManageURL) {
			t.Errorf("text body:\n%s", msg.Text)
		}
		if !strings.Contains(msg.HTML, when) || !strings.Contains(msg.HTML, "Hello Ada &lt;b&gt;,") || strings.Contains(msg.HTML, "<b>") {
			t.Errorf("HTML body:\n%s", msg.HTML)
		}
		if len(msg.PartsOfType("text/plain")) != 1 || len(msg.PartsOfType("text/html")) != 1 {
			t.Errorf("parts %+v, want one text/plain and one text/html", msg.Parts)
		}

		cals := msg.PartsOfType("text/calendar")
		if len(cals) != 1 {
			t.Fatalf("%d text/calendar parts, want 1", len(cals))
		}
		if cals[0].Params["method"] != "REQUEST" || !strings.EqualFold(cals[0].Params["charset"], "utf-8") {
			t.Errorf("calendar part: Content-Type %q", cals[0].Header.Get("Content-Type"))
		}
		checkCalendar(t, cals[0].Body, "REQUEST", b)

		var invite *mailtest.Attachment
		for i, a := range msg.Attachments {
			if a.FileName == mailer.ICSFileName {
				invite = &msg.Attachments[i]
			}
		}
		if invite == nil {
			t.Fatalf("no %s attachment in %+v", mailer.ICSFileName, msg.Attachments)
		}
		if !bytes.Equal(invite.Data, m.ICS) {
			t.Errorf("attachment differs from the calendar object")
		}
		checkCalendar(t, invite.Data, "REQUEST", b)
	}
}

// A cancellation carries a METHOD:CANCEL calendar part.
func TestMailpitCancellation(t *testing.T) {
	t.Parallel()
	to := mailtest.Recipient(t)
	m, b := confirmation(t, to, notify.MethodCancel, 1)
	if err := mailpitSender(t, false).Send(t.Context(), m); err != nil {
		t.Fatalf("send: %v", err)
	}
	msg := mailtest.WaitFor(t, to, 1, 10*time.Second)[0]
	cals := msg.PartsOfType("text/calendar")
	if len(cals) != 1 || cals[0].Params["method"] != "CANCEL" {
		t.Fatalf("calendar parts %+v, want one of method CANCEL", cals)
	}
	cal := checkCalendar(t, cals[0].Body, "CANCEL", b)
	if ev := cal.Events()[0]; ev.Props.Get(ical.PropStatus).Value != "CANCELLED" || ev.Props.Get(ical.PropSequence).Value != "1" {
		t.Errorf("STATUS %s SEQUENCE %s", ev.Props.Get(ical.PropStatus).Value, ev.Props.Get(ical.PropSequence).Value)
	}
	if !strings.Contains(msg.Text, "€54.00 is being refunded") {
		t.Errorf("text body:\n%s", msg.Text)
	}
	if n := mailtest.Count(t, to); n != 1 {
		t.Errorf("Mailpit holds %d messages for the recipient, want 1", n)
	}
}

// checkCalendar parses a calendar object and checks its method and event.
func checkCalendar(t *testing.T, data []byte, method string, b notify.Booking) *ical.Calendar {
	t.Helper()
	cal, err := ical.NewDecoder(bytes.NewReader(data)).Decode()
	if err != nil {
		t.Fatalf("parse calendar part: %v", err)
	}
	if got := cal.Props.Get(ical.PropMethod).Value; got != method {
		t.Errorf("METHOD = %s, want %s", got, method)
	}
	events := cal.Events()
	if len(events) != 1 {
		t.Fatalf("%d events", len(events))
	}
	start, err := events[0].DateTimeStart(nil)
	if err != nil || !start.Equal(b.StartsAt) {
		t.Errorf("DTSTART = %v, %v; want %v", start, err, b.StartsAt)
	}
	if loc, err := events[0].Props.Text(ical.PropLocation); err != nil || loc != b.Location {
		t.Errorf("LOCATION = %q, %v", loc, err)
	}
	return cal
}
