package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"github.com/bookingplatform/booking/internal/app"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/mailer"
	"github.com/bookingplatform/booking/internal/mailtest"
	"github.com/bookingplatform/booking/internal/pgtest"
)

// mailBundle is a test server whose messages go to Mailpit through smtpURL,
// with its job queue working.
type mailBundle struct {
	*testBundle
	customer, staff string
}

func setupMail(t *testing.T, smtpURL string, o setupOpts) *mailBundle {
	t.Helper()
	cfg, err := mailer.ParseURL(smtpURL)
	if err != nil {
		t.Fatal(err)
	}
	sender, err := mailer.NewSender(cfg, "Studio Bookings <bookings@example.com>",
		mailer.SenderOpts{DialTimeout: 2 * time.Second, SendTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	staff := mailtest.Recipient(t)
	configure := o.configure
	o.configure = func(opts *app.Options) {
		opts.Mail, opts.StaffEmail, opts.AppURL, opts.JobPoll = sender, staff, "https://book.example.com", 50*time.Millisecond
		if configure != nil {
			configure(opts)
		}
	}
	if o.resource == nil && o.db == nil {
		o.db = pgtest.NewDB(t)
		o.resource = pgtest.CreateResource(t, o.db, pgtest.ResourceOpts{Location: "Studio 4, 12 Rue de Rivoli, Paris",
			Timezone: "Europe/Paris"})
	}
	tb := setup(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	if err := tb.app.Queue.Start(ctx); err != nil {
		t.Fatalf("start queue: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = tb.app.Queue.Stop(sctx)
	})
	return &mailBundle{testBundle: tb, customer: mailtest.Recipient(t), staff: staff}
}

// calendarOf parses the text/calendar part of m.
func calendarOf(t *testing.T, m mailtest.Message) (*ical.Calendar, *ical.Event) {
	t.Helper()
	parts := m.PartsOfType("text/calendar")
	if len(parts) == 0 {
		t.Fatalf("message %q has no text/calendar part", m.Subject)
	}
	cal, err := ical.NewDecoder(bytes.NewReader(parts[0].Body)).Decode()
	if err != nil {
		t.Fatalf("calendar of %q does not parse: %v\n%s", m.Subject, err, parts[0].Body)
	}
	events := cal.Events()
	if len(events) != 1 {
		t.Fatalf("calendar has %d events, want 1", len(events))
	}
	return cal, &events[0]
}

func propText(t *testing.T, c *ical.Component, name string) string {
	t.Helper()
	p := c.Props.Get(name)
	if p == nil {
		return ""
	}
	if v, err := p.Text(); err == nil {
		return v
	}
	return p.Value // not a TEXT property: SEQUENCE

}

// A storm of deliveries of one paid event, more events for the same
// payment, and replays of the stored event confirm the booking once: one confirmation to the customer with
// its calendar file, one alert to staff.
func TestMessagesConfirmationOnceUnderStorm(t *testing.T) {
	t.Parallel()
	tb := setupMail(t, mailtest.SMTPURL(), setupOpts{})
	b := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{Email: tb.customer})

	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			id := "evt_storm_" + b.ID
			if i%4 == 3 { // other events of the same payment
				id = fmt.Sprintf("evt_storm_%d_%s", i, b.ID)
			}
			if r := tb.deliverEvent(t, paidEvent(id, b)); r.status != 200 {
				t.Errorf("delivery %d: status %d (%s)", i, r.status, r.Error)
			}
		})
	}
	wg.Wait()
	if got := tb.status(t, b.ID); got != booking.StatusConfirmed {
		t.Fatalf("status %s, want confirmed", got)
	}
	// Staff replay the stored event, twice.
	for range 2 {
		if _, _, err := tb.app.Fulfiller.Replay(context.Background(), "evt_storm_"+b.ID,
			booking.Cause{Kind: booking.CauseStaff, Ref: "test"}); err != nil {
			t.Fatalf("replay: %v", err)
		}
	}

	msgs := mailtest.WaitFor(t, tb.customer, 1, 20*time.Second)
	staff := mailtest.WaitFor(t, tb.staff, 1, 20*time.Second)
	// Let any second job run before counting.
	waitJobsDone(t, tb.testBundle, b.ID)
	if n := mailtest.Count(t, tb.customer); n != 1 {
		t.Fatalf("customer got %d messages, want 1", n)
	}
	if n := mailtest.Count(t, tb.staff); n != 1 {
		t.Fatalf("staff got %d messages, want 1", n)
	}
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM messages WHERE booking_id = $1`, b.ID); n != 2 {
		t.Fatalf("%d messages recorded, want 2 (confirmation, staff alert)", n)
	}
	m := msgs[0]
	if !strings.Contains(m.Subject, "confirmed") && !strings.Contains(strings.ToLower(m.Subject), "confirm") {
		t.Errorf("subject %q", m.Subject)
	}
	for _, want := range []string{"Studio 4, 12 Rue de Rivoli, Paris", b.Reference, "https://book.example.com/manage/" + b.ID + "?token="} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	if m.HTML == "" {
		t.Error("no HTML part")
	}
	cal, ev := calendarOf(t, m)
	if got := propText(t, cal.Component, ical.PropMethod); got != "REQUEST" {
		t.Errorf("METHOD %q", got)
	}
	if got := propText(t, ev.Component, ical.PropSequence); got != "0" {
		t.Errorf("SEQUENCE %q, want 0", got)
	}
	if got := propText(t, ev.Component, ical.PropStatus); got != "CONFIRMED" {
		t.Errorf("STATUS %q", got)
	}
	if got := propText(t, ev.Component, ical.PropLocation); got != "Studio 4, 12 Rue de Rivoli, Paris" {
		t.Errorf("LOCATION %q", got)
	}
	if uid := propText(t, ev.Component, ical.PropUID); !strings.HasPrefix(uid, b.ID+"@") {
		t.Errorf("UID %q", uid)
	}
	start, err := ev.DateTimeStart(nil)
	if err != nil || !start.Equal(b.StartsAt) {
		t.Errorf("DTSTART %v (%v), want %v", start, err, b.StartsAt)
	}
	if tz := ev.Props.Get(ical.PropDateTimeStart).Params.Get(ical.ParamTimezoneID); tz != "Europe/Paris" {
		t.Errorf("DTSTART TZID %q", tz)
	}

	// The manage link opens the booking.
	_, rest, found := strings.Cut(m.Text, "https://book.example.com/manage/")
	if !found {
		t.Fatalf("no manage link in:\n%s", m.Text)
	}
	link := "https://book.example.com/manage/" + strings.Fields(rest)[0]
	_, token, _ := strings.Cut(link, "token=")
	var got struct{ Booking booking.Booking }
	if resp := tb.doJSON(t, "GET", "/api/bookings/"+b.ID+"?token="+token, nil, nil, &got); resp.StatusCode != 200 || got.Booking.ID != b.ID {
		t.Fatalf("manage token: status %d, booking %q", resp.StatusCode, got.Booking.ID)
	}
	if resp := tb.doJSON(t, "GET", "/api/bookings/"+b.ID+"?token="+token+"x", nil, nil, nil); resp.StatusCode != 404 {
		t.Fatalf("a wrong token: status %d", resp.StatusCode)
	}
	if !strings.Contains(staff[0].Text, b.Reference) {
		t.Errorf("staff alert lacks the reference:\n%s", staff[0].Text)
	}
	if strings.Contains(tb.logs.String(), tb.customer) {
		t.Error("the customer's address is in the log")
	}
}

// waitJobsDone waits until no message job of the booking waits to run now.
func waitJobsDone(t *testing.T, tb *testBundle, bookingID string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		n := pgtest.Count(t, tb.db, `SELECT count(*) FROM river_job WHERE args->>'booking_id' = $1
AND state IN ('available', 'running', 'retryable', 'pending') AND scheduled_at <= now() + interval '1 second'`, bookingID)
		if n == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("message jobs of %s still waiting", bookingID)
}

// A change whose transaction rolls back queues nothing and sends nothing.
func TestMessagesNothingForRolledBack(t *testing.T) {
	t.Parallel()
	tb := setupMail(t, mailtest.SMTPURL(), setupOpts{})
	b := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{Email: tb.customer})
	_, err := tb.db.ChangeBooking(context.Background(), b.ID, func(st *booking.State) (booking.Plan, error) {
		// Confirms the booking (a confirmation is queued) and records a
		// refund of a payment that does not exist: the insert fails and
		// the transaction rolls back.
		return booking.Plan{
			After: &booking.BookingChange{Status: booking.StatusConfirmed, HoldsSlot: true,
				Cause: booking.Cause{Kind: booking.CauseSys, Ref: "test"}},
			Refunds: []booking.Refund{{ID: "re_rollback", PaymentID: 987654321, Amount: 100, Currency: "eur", Source: "staff"}},
		}, nil
	})
	if err == nil {
		t.Fatal("the change was accepted")
	}
	if got := tb.status(t, b.ID); got != booking.StatusPending {
		t.Fatalf("status %s after a rolled-back change", got)
	}
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM river_job WHERE args->>'booking_id' = $1`, b.ID); n != 0 {
		t.Fatalf("%d jobs queued by a rolled-back change", n)
	}

	// The same change committed queues its messages (the test would pass
	// vacuously if nothing were ever queued).
	r := tb.deliverEvent(t, paidEvent("evt_after_rollback_"+b.ID, b))
	if r.Outcome != "processed" {
		t.Fatalf("outcome %q", r.Outcome)
	}
	mailtest.WaitFor(t, tb.customer, 1, 20*time.Second)
}

// A message queued while the mail server is down is delivered when it comes
// back, with the failed attempt visible to staff in the meantime.
func TestMessagesDeliveredWhenSMTPComesBack(t *testing.T) {
	t.Parallel()
	// A port nothing listens on yet: the first attempt is refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	tb := setupMail(t, "smtp://"+addr+"?tls=none", setupOpts{})
	b := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{Email: tb.customer})
	if r := tb.deliverEvent(t, paidEvent("evt_down_"+b.ID, b)); r.Outcome != "processed" {
		t.Fatalf("outcome %q", r.Outcome)
	}
	// Wait for a failed attempt to be recorded.
	deadline := time.Now().Add(15 * time.Second)
	for pgtest.Count(t, tb.db, `SELECT count(*) FROM river_job WHERE args->>'booking_id' = $1
AND args->>'message' = 'confirmation' AND cardinality(errors) > 0`, b.ID) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no failed attempt recorded")
		}
		time.Sleep(20 * time.Millisecond)
	}
	failed, err := tb.api.Messages.List(context.Background(), booking.MessageFailed, b.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) == 0 || failed[0].LastError == "" {
		t.Errorf("staff see no failed message: %+v", failed)
	}
	// The server comes back: a proxy to Mailpit on the same address.
	proxy(t, addr, mailtest.Addr())
	tb.api.Messages.Retry(context.Background(), fmt.Sprint(failed[0].JobID)) //nolint:errcheck // the retry policy would get there too, later
	msgs := mailtest.WaitFor(t, tb.customer, 1, 30*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
}

// proxy forwards TCP connections from listen to target until the test ends.
func proxy(t *testing.T, listen, target string) {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.DialTimeout("tcp", target, 2*time.Second)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { _, _ = io.Copy(u, c) }()
				_, _ = io.Copy(c, u)
			}()
		}
	}()
}

// Through PgBouncer in transaction pooling mode and a pool of two
// connections, concurrent confirmations each queue and send their
// messages: queuing a message never waits for a second connection while a
// transaction holds the first (which would starve a small pool).
func TestMessagesThroughPgBouncerSmallPool(t *testing.T) {
	t.Parallel()
	db, _ := pgtest.NewPooledDB(t, 2)
	res := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
	tb := setupMail(t, mailtest.SMTPURL(), setupOpts{db: db, resource: res,
		configure: func(o *app.Options) { o.PollOnly = true }})
	const n = 8
	bookings := make([]*booking.Booking, n)
	for i := range bookings {
		bookings[i] = pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{Email: tb.customer})
	}
	var wg sync.WaitGroup
	for i, b := range bookings {
		wg.Go(func() {
			if r := tb.deliverEvent(t, paidEvent(fmt.Sprintf("evt_pool_%d_%s", i, b.ID), b)); r.Outcome != "processed" {
				t.Errorf("booking %d: status %d outcome %q (%s)", i, r.status, r.Outcome, r.Error)
			}
		})
	}
	wg.Wait()
	mailtest.WaitFor(t, tb.customer, n, 30*time.Second)
}
