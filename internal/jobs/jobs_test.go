package jobs_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/jobs"
	"github.com/bookingplatform/booking/internal/mailer"
	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

// confirm moves b to confirmed through the store, as a payment would (the
// money columns untouched: the test is about the messages).
func confirm(t *testing.T, db *postgres.DB, id string) {
	t.Helper()
	_, err := db.ChangeBooking(context.Background(), id, func(st *booking.State) (booking.Plan, error) {
		return booking.Plan{After: &booking.BookingChange{Status: booking.StatusConfirmed, HoldsSlot: true,
			Cause: booking.Cause{Kind: booking.CauseSys, Ref: "test"}}}, nil
	})
	if err != nil {
		t.Fatalf("confirm: %v", err)
	}
}

type scheduled struct {
	Message string
	At      time.Time
}

func jobsOf(t *testing.T, db *postgres.DB, id string) map[string]time.Time {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(),
		`SELECT args->>'message', scheduled_at FROM river_job WHERE args->>'booking_id' = $1`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var s scheduled
		if err := rows.Scan(&s.Message, &s.At); err != nil {
			t.Fatal(err)
		}
		if _, dup := out[s.Message]; dup {
			t.Errorf("two %s jobs for one booking", s.Message)
		}
		out[s.Message] = s.At
	}
	return out
}

// The reminder is scheduled at confirmation, reminderHours before the
// start by the injected clock; none for a booking confirmed inside that
// window, or of a resource that sends none.
func TestReminderScheduling(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	now := time.Date(2031, 3, 4, 9, 30, 0, 0, time.UTC)
	clock := pgtest.ClockAt(now)
	q, err := jobs.New(db.Pool, clock.Now, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	db.Notices = q
	res := pgtest.CreateResource(t, db, pgtest.ResourceOpts{ReminderHours: pgtest.Int(24)})
	none := pgtest.CreateResource(t, db, pgtest.ResourceOpts{ReminderHours: pgtest.Int(0)})

	far := pgtest.CreateBooking(t, db, res, pgtest.BookingOpts{StartsAt: now.Add(72 * time.Hour)})
	edge := pgtest.CreateBooking(t, db, res, pgtest.BookingOpts{StartsAt: now.Add(24*time.Hour + time.Minute)})
	inside := pgtest.CreateBooking(t, db, res, pgtest.BookingOpts{StartsAt: now.Add(23 * time.Hour)})
	off := pgtest.CreateBooking(t, db, none, pgtest.BookingOpts{StartsAt: now.Add(72 * time.Hour)})
	for _, b := range []*booking.Booking{far, edge, inside, off} {
		confirm(t, db, b.ID)
	}

	cases := []struct {
		b        *booking.Booking
		reminder time.Time // zero: none
	}{
		{far, far.StartsAt.Add(-24 * time.Hour)},
		{edge, now.Add(time.Minute)},
		{inside, time.Time{}},
		{off, time.Time{}},
	}
	for _, c := range cases {
		got := jobsOf(t, db, c.b.ID)
		if _, ok := got[booking.NoticeConfirmation]; !ok {
			t.Errorf("%s: no confirmation job: %v", c.b.StartsAt, got)
		}
		if _, ok := got[booking.NoticeStaffNewBooking]; !ok {
			t.Errorf("%s: no staff alert job: %v", c.b.StartsAt, got)
		}
		at, ok := got[booking.NoticeReminder]
		switch {
		case c.reminder.IsZero() && ok:
			t.Errorf("%s: a reminder at %s, want none", c.b.StartsAt, at)
		case !c.reminder.IsZero() && !ok:
			t.Errorf("%s: no reminder, want one at %s", c.b.StartsAt, c.reminder)
		case ok && !at.Equal(c.reminder):
			t.Errorf("%s: reminder at %s, want %s", c.b.StartsAt, at, c.reminder)
		}
	}

	// Confirming again (a replayed change) queues nothing more.
	before := pgtest.Count(t, db, `SELECT count(*) FROM river_job`)
	_, err = q.Client.InsertMany(context.Background(), []river.InsertManyParams{{Args: jobs.MessageArgs{
		BookingID: far.ID, Message: booking.NoticeConfirmation, Version: 0}}})
	if err != nil {
		t.Fatal(err)
	}
	if after := pgtest.Count(t, db, `SELECT count(*) FROM river_job`); after != before {
		t.Errorf("a second confirmation job of the same version was inserted (%d → %d)", before, after)
	}
}

// captureSender records what would be sent.
type captureSender struct {
	mu   sync.Mutex
	sent []*mailer.Message
}

func (c *captureSender) Send(_ context.Context, m *mailer.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, m)
	return nil
}

func (c *captureSender) From() string { return "bookings@example.com" }

func (c *captureSender) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sent)
}

// A reminder is sent while its booking is confirmed, unmoved and not
// started; not when the booking moved (its sequence was raised), nor once
// it started, nor twice.
func TestReminderSentOnlyWhileTrue(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	start := time.Date(2031, 5, 6, 10, 0, 0, 0, time.UTC)
	res := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
	b := pgtest.CreateBooking(t, db, res, pgtest.BookingOpts{StartsAt: start, Email: "ada@example.com"})
	confirm(t, db, b.ID)

	clock := pgtest.ClockAt(start.Add(-24 * time.Hour))
	sender := &captureSender{}
	w := &jobs.MessageWorker{Store: db, Resources: db, Sender: sender, AppURL: "https://book.example.com",
		Now: clock.Now, Logger: pgtestLogger()}
	job := func(version int64) *river.Job[jobs.MessageArgs] {
		return &river.Job[jobs.MessageArgs]{JobRow: &rivertype.JobRow{ID: 1, Attempt: 1},
			Args: jobs.MessageArgs{BookingID: b.ID, Message: booking.NoticeReminder, Version: version}}
	}
	ctx := context.Background()

	// A reminder of another version (the booking moved since): not sent.
	if err := w.Work(ctx, job(1)); err != nil || sender.count() != 0 {
		t.Fatalf("stale reminder: err %v, sent %d", err, sender.count())
	}
	// Due and true: sent once, and not again.
	if err := w.Work(ctx, job(0)); err != nil || sender.count() != 1 {
		t.Fatalf("due reminder: err %v, sent %d", err, sender.count())
	}
	if err := w.Work(ctx, job(0)); err != nil || sender.count() != 1 {
		t.Fatalf("second run: err %v, sent %d", err, sender.count())
	}
	if m := sender.sent[0]; m.To != "ada@example.com" || m.ICS != nil {
		t.Errorf("reminder to %q with a calendar file: %v", m.To, m.ICS != nil)
	}

	// Another booking whose reminder runs late, after the start: not sent.
	late := pgtest.CreateBooking(t, db, res, pgtest.BookingOpts{StartsAt: start.Add(2 * time.Hour)})
	confirm(t, db, late.ID)
	clock2 := pgtest.ClockAt(start.Add(2 * time.Hour))
	w.Now = clock2.Now
	j := job(0)
	j.Args.BookingID = late.ID
	if err := w.Work(ctx, j); err != nil || sender.count() != 1 {
		t.Fatalf("reminder after the start: err %v, sent %d", err, sender.count())
	}
}

func pgtestLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
