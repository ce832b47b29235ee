package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/pgtest"
)

func TestSweepHolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("expires lapsed holds only, with audit rows", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		res := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
		lapsed := pgtest.CreateBooking(t, db, res, pgtest.BookingOpts{HoldUntil: time.Now().Add(-time.Minute)})
		live := pgtest.CreateBooking(t, db, res, pgtest.BookingOpts{HoldUntil: time.Now().Add(time.Hour)})
		paid := pgtest.CreateBooking(t, db, res, pgtest.BookingOpts{Status: booking.StatusConfirmed, HoldUntil: time.Now().Add(-time.Hour)})
		async := pgtest.CreateBooking(t, db, res, pgtest.BookingOpts{Status: booking.StatusAwaitingPayment, HoldUntil: time.Now().Add(-time.Hour)})

		n, err := (&booking.Sweeper{Store: db, Now: time.Now}).SweepHolds(ctx)
		if err != nil || n != 1 {
			t.Fatalf("sweep: %d, %v; want 1", n, err)
		}
		for _, c := range []struct {
			b    *booking.Booking
			want booking.Status
		}{{lapsed, booking.StatusExpired}, {live, booking.StatusPending}, {paid, booking.StatusConfirmed}, {async, booking.StatusAwaitingPayment}} {
			got, err := db.FindBooking(ctx, c.b.ID)
			if err != nil || got.Status != c.want {
				t.Fatalf("booking %s: %v %v, want %s", c.b.ID, got, err, c.want)
			}
		}
		if n := pgtest.Count(t, db, `SELECT count(*) FROM booking_audit WHERE booking_id = $1 AND from_status = 'pending'
			AND to_status = 'expired' AND cause = 'system' AND cause_ref = 'hold_sweep'`, lapsed.ID); n != 1 {
			t.Fatalf("audit rows %d", n)
		}
		if n, err := (&booking.Sweeper{Store: db, Now: time.Now}).SweepHolds(ctx); err != nil || n != 0 {
			t.Fatalf("second sweep: %d, %v", n, err)
		}
	})

	t.Run("waits its turn while another replica sweeps", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		res := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
		pgtest.CreateBooking(t, db, res, pgtest.BookingOpts{HoldUntil: time.Now().Add(-time.Minute)})
		tx, err := db.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck
		var held bool
		// The same key as the sweep: "bkholdsw".
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, int64(0x626b_686f_6c64_7377)).Scan(&held); err != nil || !held {
			t.Fatalf("take lock: %v %v", held, err)
		}
		n, ran, err := db.ExpireLapsedHolds(ctx, time.Now(), 10)
		if err != nil || ran || n != 0 {
			t.Fatalf("sweep under another's lock: n=%d ran=%v err=%v", n, ran, err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		if n, ran, err := db.ExpireLapsedHolds(ctx, time.Now(), 10); err != nil || !ran || n != 1 {
			t.Fatalf("sweep after: n=%d ran=%v err=%v", n, ran, err)
		}
	})

	t.Run("concurrent sweepers expire each hold once", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		res := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
		const holds = 1200 // more than two batches
		start := time.Now().UTC().Truncate(time.Hour).Add(24 * time.Hour)
		rows := make([][]any, holds)
		for i := range rows {
			s := start.Add(time.Duration(i) * time.Hour)
			rows[i] = []any{"BK-SW" + string(rune('A'+i%26)) + time.Duration(i).String(), res.ID, s, s.Add(time.Hour),
				"pending", int64(5000), "eur", time.Now().Add(-time.Minute), "T", "C", "t@example.com", []byte{1}, "system", "test"}
		}
		if _, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"bookings"}, []string{"reference", "resource_id", "starts_at",
			"ends_at", "status", "amount_total", "currency", "hold_expires_at", "customer_first_name", "customer_last_name",
			"customer_email", "customer_token_hash", "status_cause", "status_cause_ref"}, pgx.CopyFromRows(rows)); err != nil {
			t.Fatalf("insert holds: %v", err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for range 4 {
			wg.Go(func() {
				// Keep sweeping until nothing is left, as replicas on a timer would.
				for range 50 {
					n, err := (&booking.Sweeper{Store: db, Now: time.Now}).SweepHolds(ctx)
					if err != nil {
						t.Errorf("sweep: %v", err)
						return
					}
					mu.Lock()
					total += n
					mu.Unlock()
					if pgtest.Count(t, db, `SELECT count(*) FROM bookings WHERE status = 'pending'`) == 0 {
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		if total != holds {
			t.Fatalf("sweepers report %d expired, want %d", total, holds)
		}
		if n := pgtest.Count(t, db, `SELECT count(*) FROM bookings WHERE status = 'expired'`); n != holds {
			t.Fatalf("expired %d", n)
		}
		if n := pgtest.Count(t, db, `SELECT count(*) FROM booking_audit WHERE to_status = 'expired' AND cause_ref = 'hold_sweep'`); n != holds {
			t.Fatalf("audit rows to expired: %d, want %d", n, holds)
		}
		if n := pgtest.Count(t, db, `SELECT count(*) FROM (SELECT booking_id FROM booking_audit WHERE to_status = 'expired' GROUP BY booking_id HAVING count(*) > 1) d`); n != 0 {
			t.Fatalf("%d bookings expired more than once", n)
		}
	})
}
