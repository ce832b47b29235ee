package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

// violations runs the full check (M5) and returns what it found.
func violations(t *testing.T, db *postgres.DB) []booking.Violation {
	t.Helper()
	vs, err := db.FindViolations(context.Background(), true, 100)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// A customer's late cancellation leaves a fee retained: the schema keeps
// it within what is paid and not returned and off slot holders, and the
// checks of M5 count it, so the books still prove out.
func TestRetainedFeeInTheSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	start := time.Now().UTC().Truncate(time.Hour).Add(240 * time.Hour)
	cause := booking.Cause{Kind: booking.CauseAPI, Ref: "test"}

	t.Run("a late cancellation keeps its fee and the books prove out", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		r := pgtest.CreateResource(t, db, pgtest.ResourceOpts{Price: 4999, LateCancelRefundPercent: pgtest.Int(37)})
		b := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{StartsAt: start, Status: booking.StatusConfirmed, PaymentIntent: "pi_fee_1"})
		late := start.Add(-time.Hour)
		st, err := db.ChangeBooking(ctx, b.ID, func(st *booking.State) (booking.Plan, error) {
			return booking.DecideCustomerCancel(st, r, late, nil, cause)
		})
		if err != nil {
			t.Fatal(err)
		}
		if st.Booking.Status != booking.StatusCancelled || st.Booking.HoldsSlot || st.Booking.AmountRetained != 3150 ||
			len(st.Owed) != 1 || st.Owed[0].Amount != 1849 {
			t.Fatalf("after the cancellation: %+v owed %+v", st.Booking, st.Owed)
		}
		if vs := violations(t, db); len(vs) != 0 {
			t.Fatalf("violations while the refund is owed: %v", vs)
		}
		// The refund is made (as Refunds.make records it).
		req := st.Owed[0]
		st, err = db.ChangeBooking(ctx, b.ID, func(st *booking.State) (booking.Plan, error) {
			return booking.DecideRefundMade(st, req, &booking.Refund{ID: "re_fee_1", Amount: 1849, Currency: "eur"}, nil, late), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if st.Booking.Status != booking.StatusRefunded || st.Booking.AmountRefunded != 1849 || st.Booking.AmountRetained != 3150 ||
			st.Booking.Kept() != 0 || len(st.Owed) != 0 {
			t.Fatalf("after the refund: %+v", st.Booking)
		}
		if vs := violations(t, db); len(vs) != 0 {
			t.Fatalf("violations after the refund: %v", vs)
		}
		// Without the fee the books would not prove out: the check sees
		// money kept by a refunded booking.
		if _, err := db.Pool.Exec(ctx, `UPDATE bookings SET amount_retained = 0 WHERE id = $1`, b.ID); err != nil {
			t.Fatal(err)
		}
		if vs := violations(t, db); len(vs) != 2 || vs[0].Kind != booking.ViolationKeptWithoutSlot || vs[1].Kind != booking.ViolationRefundedKept {
			t.Fatalf("violations without the fee: %v", vs)
		}
	})

	t.Run("a fee of everything leaves the booking cancelled", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		r := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
		b := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{StartsAt: start, Status: booking.StatusConfirmed, PaymentIntent: "pi_fee_2"})
		st, err := db.ChangeBooking(ctx, b.ID, func(st *booking.State) (booking.Plan, error) {
			return booking.DecideCustomerCancel(st, r, start.Add(-time.Minute), nil, cause)
		})
		if err != nil {
			t.Fatal(err)
		}
		if st.Booking.Status != booking.StatusCancelled || st.Booking.AmountRetained != 5000 || len(st.Owed) != 0 {
			t.Fatalf("after the cancellation: %+v", st.Booking)
		}
		if vs := violations(t, db); len(vs) != 0 {
			t.Fatalf("violations: %v", vs)
		}
		// The slot is free at once.
		again := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{StartsAt: start})
		if !again.HoldsSlot {
			t.Fatal("the slot was not freed")
		}
	})

	t.Run("the schema keeps the fee within what is kept and off slot holders", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		r := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
		held := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{StartsAt: start, Status: booking.StatusConfirmed, PaymentIntent: "pi_fee_3"})
		_, err := db.Pool.Exec(ctx, `UPDATE bookings SET amount_retained = 100 WHERE id = $1`, held.ID)
		if code, name := pgCode(err); code != "23514" || name != "bookings_retained_check" {
			t.Fatalf("a fee on a slot holder: %v", err)
		}
		gone := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{StartsAt: start.Add(time.Hour), Status: booking.StatusCancelled,
			PaymentIntent: "pi_fee_4"})
		_, err = db.Pool.Exec(ctx, `UPDATE bookings SET amount_retained = 5001 WHERE id = $1`, gone.ID)
		if code, name := pgCode(err); code != "23514" || name != "bookings_retained_check" {
			t.Fatalf("a fee above the payment: %v", err)
		}
		if _, err := db.Pool.Exec(ctx, `UPDATE bookings SET amount_retained = 5000 WHERE id = $1`, gone.ID); err != nil {
			t.Fatalf("the whole payment as a fee: %v", err)
		}
	})
}

// A reschedule is one update of the booking under the no-overlap
// constraint, raises its sequence and is in the audit trail with who moved
// it; a slot taken by another booking leaves it where it was.
func TestRescheduleInTheSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	r := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
	start := time.Now().UTC().Truncate(time.Hour).Add(240 * time.Hour)
	b := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{StartsAt: start, Status: booking.StatusConfirmed, PaymentIntent: "pi_move_1"})
	now := start.Add(-72 * time.Hour)
	move := func(to time.Time, by booking.Cause, override bool) (*booking.State, error) {
		return db.ChangeBooking(ctx, b.ID, func(st *booking.State) (booking.Plan, error) {
			return booking.DecideReschedule(st, r, to, now, by, override)
		})
	}
	to := start.Add(3 * time.Hour)
	st, err := move(to, booking.Cause{Kind: booking.CauseAPI, Ref: "req-1"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Booking.StartsAt.Equal(to) || !st.Booking.EndsAt.Equal(to.Add(time.Hour)) || st.Booking.Sequence != 1 ||
		st.Booking.Status != booking.StatusConfirmed || st.Booking.AmountPaid != 5000 {
		t.Fatalf("after the move: %+v", st.Booking)
	}
	// The old slot is free, the new one held.
	pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{StartsAt: start})
	if n := pgtest.Count(t, db, `SELECT count(*) FROM bookings WHERE holds_slot AND starts_at = $1`, to); n != 1 {
		t.Fatalf("%d holders of the new slot", n)
	}

	// Staff past the cut-off, with the override: audited with the note.
	now = to.Add(-time.Hour)
	to2 := to.Add(2 * time.Hour)
	if _, err := move(to2, booking.Cause{Kind: booking.CauseStaff, Ref: "staff-7"}, true); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Pool.Query(ctx, `SELECT from_status, to_status, cause, cause_ref, detail FROM booking_audit
		WHERE booking_id = $1 AND detail <> '' ORDER BY id`, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got [][5]string
	for rows.Next() {
		var a [5]string
		if err := rows.Scan(&a[0], &a[1], &a[2], &a[3], &a[4]); err != nil {
			t.Fatal(err)
		}
		got = append(got, a)
	}
	rows.Close()
	f := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
	want := [][5]string{
		{"confirmed", "confirmed", "api", "req-1", "rescheduled from " + f(start) + " to " + f(to)},
		{"confirmed", "confirmed", "staff", "staff-7", "rescheduled from " + f(to) + " to " + f(to2) + " (cut-off overridden)"},
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("audit rows\n%v\nwant\n%v", got, want)
	}

	// A slot another booking holds: slot_unavailable, nothing changes.
	now = start.Add(-72 * time.Hour)
	taken := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{StartsAt: start.Add(8 * time.Hour), Status: booking.StatusConfirmed})
	_, err = move(taken.StartsAt, booking.Cause{Kind: booking.CauseAPI, Ref: "req-2"}, false)
	if booking.ErrorCode(err) != booking.ESlotUnavailable {
		t.Fatalf("onto a held slot: %v", err)
	}
	after, err := db.FindBooking(ctx, b.ID)
	if err != nil || !after.StartsAt.Equal(to2) || after.Sequence != 2 || !after.HoldsSlot {
		t.Fatalf("after a refused move: %+v %v", after, err)
	}
	// A pending hold of that slot that lapsed does not block a move.
	lapsed := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{StartsAt: start.Add(9 * time.Hour), HoldUntil: now.Add(-time.Minute)})
	if _, err := move(lapsed.StartsAt, booking.Cause{Kind: booking.CauseAPI, Ref: "req-3"}, false); err != nil {
		t.Fatalf("onto a lapsed hold: %v", err)
	}
	if s := pgtest.Count(t, db, `SELECT count(*) FROM bookings WHERE id = $1 AND status = 'expired'`, lapsed.ID); s != 1 {
		t.Fatal("the lapsed hold was not expired")
	}
}

// Moves racing for one slot: exactly one of the bookings gets it.
func TestRescheduleRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	r := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
	start := time.Now().UTC().Truncate(time.Hour).Add(240 * time.Hour)
	target := start.Add(-5 * time.Hour)
	now := start.Add(-72 * time.Hour)
	var ids []string
	for i := range 8 {
		b := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{StartsAt: start.Add(time.Duration(i) * time.Hour),
			Status: booking.StatusConfirmed})
		ids = append(ids, b.ID)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Go(func() {
			_, errs[i] = db.ChangeBooking(ctx, id, func(st *booking.State) (booking.Plan, error) {
				return booking.DecideReschedule(st, r, target, now, booking.Cause{Kind: booking.CauseAPI, Ref: "race"}, false)
			})
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case booking.ErrorCode(err) != booking.ESlotUnavailable:
			t.Errorf("booking %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d moves won, want 1", won)
	}
	if n := pgtest.Count(t, db, `SELECT count(*) FROM bookings WHERE holds_slot AND starts_at = $1`, target); n != 1 {
		t.Fatalf("%d holders of the slot", n)
	}
	if n := pgtest.Count(t, db, `SELECT count(*) FROM bookings WHERE holds_slot`); n != len(ids) {
		t.Fatalf("%d slot holders, want %d: a loser lost its slot", n, len(ids))
	}
}
