package jobs_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
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

// jobsOf returns when each message of booking id is due, from its jobs
// (a job holds the messages of one change: its own, Also, and the
// reminder, due at RemindAt).
func jobsOf(t *testing.T, db *postgres.DB, id string) map[string]time.Time {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(),
		`SELECT args, scheduled_at FROM river_job WHERE args->>'booking_id' = $1`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	add := func(message string, at time.Time) {
		if _, dup := out[message]; dup {
			t.Errorf("two %s messages queued for one booking", message)
		}
		out[message] = at
	}
	for rows.Next() {
		var a jobs.MessageArgs
		var at time.Time
		if err := rows.Scan(&a, &at); err != nil {
			t.Fatal(err)
		}
		add(a.Message, at)
		for _, p := range a.Also {
			add(p.Message, at)
		}
		if a.Reminder != nil {
			add(a.Reminder.Message, a.RemindAt)
		}
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

	// One job per change: the confirmation leads, the staff alert follows,
	// and the reminder waits in the same job.
	if n := pgtest.Count(t, db, `SELECT count(*) FROM river_job WHERE args->>'booking_id' = $1`, far.ID); n != 1 {
		t.Errorf("%d jobs for one confirmation, want 1", n)
	}

	// Confirming again (a replayed change) queues nothing more.
	var again jobs.MessageArgs
	if err := db.Pool.QueryRow(context.Background(), `SELECT args FROM river_job WHERE args->>'booking_id' = $1`,
		far.ID).Scan(&again); err != nil {
		t.Fatal(err)
	}
	before := pgtest.Count(t, db, `SELECT count(*) FROM river_job`)
	if _, err = q.Client.InsertMany(context.Background(), []river.InsertManyParams{{Args: again}}); err != nil {
		t.Fatal(err)
	}
	if after := pgtest.Count(t, db, `SELECT count(*) FROM river_job`); after != before {
		t.Errorf("a second job of the same change was inserted (%d → %d)", before, after)
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

// oldMessageArgs is a message job as earlier versions queued it: kind
// "message", one message.
type oldMessageArgs jobs.MessageArgs

func (oldMessageArgs) Kind() string { return "message" }

func (oldMessageArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueMessages}
}

// sentIDs are the message ids (booking.kind.version) sender was given.
func (c *captureSender) ids() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.sent))
	for _, m := range c.sent {
		out = append(out, m.ID)
	}
	return out
}

// jobFixture is a booking confirmed with an insert-only queue on a fixed
// clock (*now, three days before the start; its resource reminds 24 hours
// before), and the arguments of the job its confirmation queued.
type jobFixture struct {
	db    *postgres.DB
	q     *jobs.Queue
	res   *booking.Resource
	b     *booking.Booking
	args  jobs.MessageArgs
	start time.Time
	now   *time.Time
	clock func() time.Time
}

func confirmedJob(t *testing.T, email string) jobFixture {
	t.Helper()
	f := jobFixture{db: pgtest.NewDB(t), start: time.Date(2031, 5, 6, 10, 0, 0, 0, time.UTC)}
	now := f.start.Add(-72 * time.Hour)
	f.now = &now
	f.clock = func() time.Time { return *f.now }
	q, err := jobs.New(f.db.Pool, f.clock, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	f.q, f.db.Notices = q, q
	f.res = pgtest.CreateResource(t, f.db, pgtest.ResourceOpts{ReminderHours: pgtest.Int(24)})
	f.b = pgtest.CreateBooking(t, f.db, f.res, pgtest.BookingOpts{StartsAt: f.start, Email: email})
	confirm(t, f.db, f.b.ID)
	if err := f.db.Pool.QueryRow(context.Background(), `SELECT args FROM river_job WHERE args->>'booking_id' = $1`,
		f.b.ID).Scan(&f.args); err != nil {
		t.Fatal(err)
	}
	return f
}

// A confirmation is one job: its first run sends the confirmation and the
// staff alert and then snoozes until the reminder is due; run again once
// snoozed, it sends the reminder alone, and only when due.
func TestOneJobPerChange(t *testing.T) {
	t.Parallel()
	f := confirmedJob(t, "ada@example.com")
	db, q, res, b, args, start, clock := f.db, f.q, f.res, f.b, f.args, f.start, f.clock
	// Staff see the job under its next message, with the ones after it.
	desk := &jobs.Messages{Queue: q, Store: db}
	viewOf := func() booking.QueuedMessage {
		t.Helper()
		l, err := desk.List(context.Background(), "", b.ID, 10)
		if err != nil || len(l) != 1 {
			t.Fatalf("staff view: %v, %+v", err, l)
		}
		return l[0]
	}
	if v := viewOf(); v.Kind != booking.NoticeConfirmation ||
		!slices.Equal(v.Then, []string{booking.NoticeStaffNewBooking, booking.NoticeReminder}) {
		t.Errorf("staff view %s then %v, want confirmation then staff alert and reminder", v.Kind, v.Then)
	}
	if _, err := db.Pool.Exec(context.Background(), `UPDATE river_job SET metadata = metadata || '{"snoozes": 1}'
WHERE args->>'booking_id' = $1`, b.ID); err != nil {
		t.Fatal(err)
	}
	if v := viewOf(); v.Kind != booking.NoticeReminder || len(v.Then) != 0 {
		t.Errorf("snoozed job seen as %s then %v, want the reminder alone", v.Kind, v.Then)
	}
	// Jobs queued by earlier versions (kind "message") are listed too.
	other := pgtest.CreateBooking(t, db, res, pgtest.BookingOpts{StartsAt: start.Add(time.Hour)})
	if _, err := q.Client.Insert(context.Background(), oldMessageArgs{BookingID: other.ID,
		Message: booking.NoticeConfirmation}, &river.InsertOpts{Metadata: []byte(`{"booking_id":"` + other.ID + `"}`)}); err != nil {
		t.Fatal(err)
	}
	if l, err := desk.List(context.Background(), booking.MessageQueued, other.ID, 10); err != nil || len(l) != 1 ||
		l[0].Kind != booking.NoticeConfirmation {
		t.Errorf("an earlier version's job: %v, %+v", err, l)
	}
	// An attempt that failed before its first messages went out is history
	// once it waits for the reminder; one that failed after is a failure.
	listed := func(state string) int {
		t.Helper()
		l, err := desk.List(context.Background(), state, b.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}
	for _, c := range []struct {
		at                    time.Time
		state, lastError      string
		queuedList, failedLst int
	}{
		{start.Add(-72 * time.Hour), booking.MessageQueued, "", 1, 0},
		{start.Add(-23 * time.Hour), booking.MessageFailed, "smtp down", 0, 1},
	} {
		if _, err := db.Pool.Exec(context.Background(), `UPDATE river_job SET errors = ARRAY[jsonb_build_object(
'at', $2::timestamptz, 'attempt', 1, 'error', 'smtp down')] WHERE args->>'booking_id' = $1`, b.ID, c.at); err != nil {
			t.Fatal(err)
		}
		v := viewOf()
		if v.State != c.state || v.LastError != c.lastError {
			t.Errorf("error at %s: seen %s (%q), want %s (%q)", c.at, v.State, v.LastError, c.state, c.lastError)
		}
		if q, f := listed(booking.MessageQueued), listed(booking.MessageFailed); q != c.queuedList || f != c.failedLst {
			t.Errorf("error at %s: listed %d queued, %d failed; want %d, %d", c.at, q, f, c.queuedList, c.failedLst)
		}
	}

	sender := &captureSender{}
	w := &jobs.MessageWorker{Store: db, Resources: db, Sender: sender, StaffEmail: "desk@example.com",
		AppURL: "https://book.example.com", Now: clock, Logger: pgtestLogger()}
	run := func(metadata string) error {
		return w.Work(context.Background(), &river.Job[jobs.MessageArgs]{
			JobRow: &rivertype.JobRow{ID: 7, Attempt: 1, Metadata: []byte(metadata)}, Args: args})
	}
	snoozedFor := func(err error) time.Duration {
		t.Helper()
		var s *river.JobSnoozeError
		if !errors.As(err, &s) {
			t.Fatalf("want a snooze, got %v", err)
		}
		return s.Duration
	}
	confirmation, staff, reminder := b.ID+".confirmation.0", b.ID+".staff_new_booking.0", b.ID+".reminder.0"

	if d := snoozedFor(run(`{}`)); d != 48*time.Hour {
		t.Errorf("snoozed for %s, want until the reminder (48h)", d)
	}
	if got := sender.ids(); !slices.Equal(got, []string{confirmation, staff}) {
		t.Fatalf("first run sent %v, want the confirmation, then the staff alert", got)
	}
	// Woken early: nothing more, and it waits again.
	*f.now = f.now.Add(47 * time.Hour)
	if d := snoozedFor(run(`{"snoozes":1}`)); d != time.Hour {
		t.Errorf("snoozed for %s, want 1h", d)
	}
	// Due: the reminder alone.
	*f.now = f.now.Add(time.Hour)
	if err := run(`{"snoozes":1}`); err != nil {
		t.Fatal(err)
	}
	if got := sender.ids(); !slices.Equal(got, []string{confirmation, staff, reminder}) {
		t.Fatalf("sent %v, want the reminder third", got)
	}
	// A retry of the first run (its attempt failed after sending) sends
	// nothing twice.
	if err := run(`{"snoozes":1}`); err != nil || len(sender.ids()) != 3 {
		t.Fatalf("run again: err %v, sent %v", err, sender.ids())
	}
	if n := pgtest.Count(t, db, `SELECT count(*) FROM messages WHERE booking_id = $1`, b.ID); n != 3 {
		t.Errorf("%d messages recorded, want 3", n)
	}
}

// refusingSender refuses one recipient for good, and sends the rest.
type refusingSender struct {
	captureSender
	refused string
}

func (r *refusingSender) Send(ctx context.Context, m *mailer.Message) error {
	if m.To == r.refused {
		return &mailer.SendError{Op: mailer.OpRcptTo, Code: 550, Permanent: true}
	}
	return r.captureSender.Send(ctx, m)
}

// A customer address the mail server refuses for good does not keep the
// staff alert of the same change from going; the job then ends cancelled.
func TestOneJobPerChangeRefusedAddress(t *testing.T) {
	t.Parallel()
	f := confirmedJob(t, "refused@example.com")
	db, b, args, clock := f.db, f.b, f.args, f.clock
	sender := &refusingSender{refused: "refused@example.com"}
	w := &jobs.MessageWorker{Store: db, Resources: db, Sender: sender, StaffEmail: "desk@example.com",
		AppURL: "https://book.example.com", Now: clock, Logger: pgtestLogger()}
	err := w.Work(context.Background(), &river.Job[jobs.MessageArgs]{JobRow: &rivertype.JobRow{ID: 9, Attempt: 1}, Args: args})
	var cancel *rivertype.JobCancelError
	if !errors.As(err, &cancel) {
		t.Errorf("want the job cancelled, got %v", err)
	}
	if got := sender.ids(); !slices.Equal(got, []string{b.ID + ".staff_new_booking.0"}) {
		t.Errorf("sent %v, want the staff alert alone", got)
	}
}

// Through a working queue: the job of a confirmation sends its two
// messages, waits in River (scheduled, its snooze counted in its metadata,
// still found by its booking), and sends the reminder when it is due.
func TestOneJobPerChangeThroughRiver(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	res := pgtest.CreateResource(t, db, pgtest.ResourceOpts{ReminderHours: pgtest.Int(24)})
	// River snoozes by the real clock: a reminder due two seconds from now.
	b := pgtest.CreateBooking(t, db, res, pgtest.BookingOpts{StartsAt: time.Now().Add(24*time.Hour + 2*time.Second),
		Email: "ada@example.com"})
	sender := &captureSender{}
	w := &jobs.MessageWorker{Store: db, Resources: db, Sender: sender, StaffEmail: "desk@example.com",
		AppURL: "https://book.example.com", Now: time.Now, Logger: pgtestLogger()}
	q, err := jobs.New(db.Pool, time.Now, jobs.Config{Message: w, FetchPollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	db.Notices = q
	ctx := working(t, q)
	// A job an earlier version queued (kind "message", one message) for a
	// booking confirmed before the upgrade: worked as before.
	db.Notices = nil
	before := pgtest.CreateBooking(t, db, res, pgtest.BookingOpts{StartsAt: time.Now().Add(72 * time.Hour),
		Email: "bob@example.com"})
	confirm(t, db, before.ID)
	db.Notices = q
	if _, err := q.Client.Insert(ctx, oldMessageArgs{BookingID: before.ID, Message: booking.NoticeConfirmation}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for sender.count() < 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}

	confirm(t, db, b.ID)
	for sender.count() < 4 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	want := []string{before.ID + ".confirmation.0", b.ID + ".confirmation.0", b.ID + ".staff_new_booking.0",
		b.ID + ".reminder.0"}
	if got := sender.ids(); !slices.Equal(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
	var state string
	var snoozes int
	for time.Now().Before(deadline) {
		if err := db.Pool.QueryRow(ctx, `SELECT state, coalesce((metadata->>'snoozes')::int, 0) FROM river_job
WHERE metadata @> jsonb_build_object('booking_id', $1::text)`, b.ID).Scan(&state, &snoozes); err != nil {
			t.Fatal(err)
		}
		if state == "completed" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if state != "completed" || snoozes != 1 {
		t.Errorf("job %s after %d snoozes, want completed after 1", state, snoozes)
	}
}

// working starts c working jobs until the test ends, and returns the
// context it works in.
func working(t *testing.T, c interface {
	Start(context.Context) error
	Stop(context.Context) error
},
) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = c.Stop(sctx)
	})
	return ctx
}

// oldWorker is a message worker of an earlier version: it knows kind
// "message" only.
type oldWorker struct {
	river.WorkerDefaults[oldMessageArgs]
	ran chan string
}

func (w *oldWorker) Work(_ context.Context, job *river.Job[oldMessageArgs]) error {
	w.ran <- job.Args.Message
	return nil
}

// During a rolling upgrade a replica of an earlier version meets the job of
// a change: it fails it as a kind it does not know, and River keeps it for
// a retry — it neither sends the first message alone nor drops the job.
func TestOneJobPerChangeOldReplica(t *testing.T) {
	t.Parallel()
	f := confirmedJob(t, "ada@example.com")
	w := &oldWorker{ran: make(chan string, 4)}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	old, err := river.NewClient(riverpgxv5.New(f.db.Pool), &river.Config{Logger: pgtestLogger(),
		FetchPollInterval: 50 * time.Millisecond, FetchCooldown: 50 * time.Millisecond,
		Queues: map[string]river.QueueConfig{jobs.QueueMessages: {MaxWorkers: 2}}, Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	ctx := working(t, old)
	var state, lastError string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err := f.db.Pool.QueryRow(ctx, `SELECT state, coalesce(errors[cardinality(errors)]->>'error', '')
FROM river_job WHERE args->>'booking_id' = $1`, f.b.ID).Scan(&state, &lastError); err != nil {
			t.Fatal(err)
		}
		if lastError != "" {
			break
		}
	}
	if !strings.Contains(lastError, "not registered") || (state != "retryable" && state != "available") {
		t.Errorf("job %s with error %q, want kept for a retry as an unknown kind", state, lastError)
	}
	select {
	case m := <-w.ran:
		t.Errorf("the old worker ran %s", m)
	default:
	}
}
