package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

func pgCode(err error) (string, string) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code, pgErr.ConstraintName
	}
	return "", ""
}

// The invariants of SPEC §2 hold in the schema itself, whatever the Go code does.
func TestSchemaInvariants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("overlapping slot holders are refused by the exclusion constraint", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		r := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
		start := time.Date(2030, 3, 4, 10, 0, 0, 0, time.UTC)
		first := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{StartsAt: start, Status: booking.StatusConfirmed})
		const q = `INSERT INTO bookings (reference, resource_id, starts_at, ends_at, status, amount_total, currency, hold_expires_at,
			customer_first_name, customer_last_name, customer_email, customer_token_hash, status_cause, holds_slot)
			VALUES ($1, $2, $3, $4, $5, 5000, 'eur', now(), 'A', 'B', 'a@b.co', '\x00', 'system', $6)`
		for _, st := range []string{"pending", "awaiting_payment", "confirmed"} {
			_, err := db.Pool.Exec(ctx, q, "BK-X"+st, r.ID, start.Add(30*time.Minute), start.Add(90*time.Minute), st, nil)
			if code, name := pgCode(err); code != "23P01" || name != "bookings_no_overlap" {
				t.Fatalf("%s overlapping %s: err %v", st, first.Status, err)
			}
		}
		// M1: a booking under review that holds its slot is refused too.
		_, err := db.Pool.Exec(ctx, q, "BK-XREV", r.ID, start, start.Add(time.Hour), "needs_review", true)
		if code, name := pgCode(err); code != "23P01" || name != "bookings_no_overlap" {
			t.Fatalf("needs_review holding the slot: err %v", err)
		}
		// Bookings holding no slot may overlap, whatever the application says
		// of holds_slot: the database derives it from the status.
		for i, st := range []string{"expired", "cancelled", "payment_failed", "refunded", "needs_review"} {
			if _, err := db.Pool.Exec(ctx, q, fmt.Sprintf("BK-I%d", i), r.ID, start, start.Add(time.Hour), st, st != "needs_review"); err != nil {
				t.Fatalf("%s refused: %v", st, err)
			}
		}
		if n := pgtest.Count(t, db, `SELECT count(*) FROM bookings WHERE holds_slot`); n != 1 {
			t.Fatalf("%d slot holders, want 1", n)
		}
		if _, err := db.Pool.Exec(ctx, q, "BK-ADJ", r.ID, start.Add(time.Hour), start.Add(2*time.Hour), "pending", nil); err != nil {
			t.Fatalf("adjacent booking refused: %v", err)
		}
		// Reactivating a booking on a taken slot is refused, and so is a
		// review that takes the slot back.
		_, err = db.Pool.Exec(ctx, `UPDATE bookings SET status = 'confirmed' WHERE reference = 'BK-I0'`)
		if code, _ := pgCode(err); code != "23P01" {
			t.Fatalf("reactivation over a taken slot: %v", err)
		}
		_, err = db.Pool.Exec(ctx, `UPDATE bookings SET holds_slot = true WHERE reference = 'BK-I4'`)
		if code, _ := pgCode(err); code != "23P01" {
			t.Fatalf("review taking a taken slot: %v", err)
		}
	})

	t.Run("a booking keeps time at most 24 hours from its own", func(t *testing.T) {
		// The busy-ranges read finds bookings by their start
		// (busyStartsWindow), which holds only under bookings_span_check.
		t.Parallel()
		db := pgtest.NewDB(t)
		r := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
		b := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{StartsAt: time.Date(2030, 3, 4, 10, 0, 0, 0, time.UTC)})
		for _, set := range []string{
			`ends_at = starts_at + interval '24 hours 1 minute'`,
			`blocked = tstzrange(starts_at - interval '24 hours 1 minute', ends_at, '[)')`,
			`blocked = tstzrange(starts_at, ends_at + interval '24 hours 1 minute', '[)')`,
			`blocked = tstzrange(NULL, ends_at, '[)')`,
		} {
			_, err := db.Pool.Exec(ctx, `UPDATE bookings SET `+set+` WHERE id = $1`, b.ID)
			if code, name := pgCode(err); code != "23514" || name != "bookings_span_check" {
				t.Errorf("%s: err %v", set, err)
			}
		}
		// A day is 24 hours, as slots and buffers are counted, whatever the
		// session's time zone: this one lasts from the day before to the day
		// after Berlin's clocks go forward (a calendar day of 23 hours there).
		tx, err := db.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if _, err := tx.Exec(ctx, `SET LOCAL TimeZone = 'Europe/Berlin'`); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE bookings SET starts_at = '2030-03-30 12:00Z', ends_at = '2030-03-31 12:00Z',
			blocked = tstzrange('2030-03-29 12:00Z', '2030-04-01 12:00Z', '[)') WHERE id = $1`, b.ID); err != nil {
			t.Errorf("24 hours long with 24 hours of buffers on each side, across a change of clocks: %v", err)
		}
	})

	t.Run("a confirmed booking under review keeps its slot", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		r := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
		b := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{Status: booking.StatusConfirmed})
		if _, err := db.Pool.Exec(ctx, `UPDATE bookings SET status = 'needs_review' WHERE id = $1`, b.ID); err != nil {
			t.Fatal(err)
		}
		if n := pgtest.Count(t, db, `SELECT count(*) FROM bookings WHERE id = $1 AND holds_slot`, b.ID); n != 1 {
			t.Fatal("the review released the slot")
		}
	})

	t.Run("one payment per Checkout Session", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		r := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
		b := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{})
		if err := pay(ctx, db, b, "evt_1", 5000); err != nil {
			t.Fatal(err)
		}
		err := pay(ctx, db, b, "evt_2", 5000)
		if code, name := pgCode(err); code != "23505" || name != "payments_stripe_session_id_key" {
			t.Fatalf("second payment for one session: %v", err)
		}
	})

	t.Run("a booking's money sums must match its money rows", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		r := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
		b := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{})
		_, err := db.Pool.Exec(ctx, `INSERT INTO payments (booking_id, stripe_session_id, amount, currency, stripe_event_id) VALUES ($1, $2, 5000, 'eur', 'evt_1')`, b.ID, *b.StripeSessionID)
		if code, name := pgCode(err); code != "23514" || name != "bookings_money_matches" {
			t.Fatalf("payment without its sum: %v", err)
		}
		_, err = db.Pool.Exec(ctx, `UPDATE bookings SET amount_paid = 100 WHERE id = $1`, b.ID)
		if code, name := pgCode(err); code != "23514" || name != "bookings_money_matches" {
			t.Fatalf("sum without its payment: %v", err)
		}
		// Each sum is checked by what can change it: the booking's update
		// checks the sums whose value it changed, a refund the refunded sum.
		if err := pay(ctx, db, b, "evt_2", 5000); err != nil {
			t.Fatal(err)
		}
		for _, set := range []string{"amount_refunded = 100", "amount_withdrawn = 100",
			"amount_paid = amount_paid + 1, amount_refunded = amount_refunded"} {
			_, err = db.Pool.Exec(ctx, `UPDATE bookings SET `+set+` WHERE id = $1`, b.ID)
			if code, name := pgCode(err); code != "23514" || name != "bookings_money_matches" {
				t.Errorf("SET %s: %v", set, err)
			}
		}
		_, err = db.Pool.Exec(ctx, `INSERT INTO refunds (booking_id, payment_id, stripe_refund_id, amount, currency, source)
SELECT $1, min(id), 're_1', 100, 'eur', 'staff' FROM payments WHERE booking_id = $1`, b.ID)
		if code, name := pgCode(err); code != "23514" || name != "bookings_money_matches" {
			t.Errorf("refund without its sum: %v", err)
		}
		// Sums and rows that agree are accepted (the checks are not
		// refusing everything).
		if err := refund(ctx, db, b, "re_2", 100); err != nil {
			t.Fatalf("a refund with its sum: %v", err)
		}
		if _, err := db.Pool.Exec(ctx, `UPDATE bookings SET amount_paid = amount_paid, status = 'confirmed' WHERE id = $1`,
			b.ID); err != nil {
			t.Fatalf("an update that keeps the sums: %v", err)
		}
	})

	t.Run("the refunds of a payment never exceed it", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		r := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
		b := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{})
		if err := pay(ctx, db, b, "evt_1", 5000); err != nil {
			t.Fatal(err)
		}
		if err := refund(ctx, db, b, "re_1", 3000); err != nil {
			t.Fatal(err)
		}
		err := refund(ctx, db, b, "re_2", 2001)
		if code, name := pgCode(err); code != "23514" || name != "refunds_within_payment" {
			t.Fatalf("refunds above the payment: %v", err)
		}
		// Concurrent refunds that each fit but together exceed: one wins.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Go(func() { errs[i] = refund(ctx, db, b, fmt.Sprintf("re_c%d", i), 1500) })
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("concurrent refunds: %v, %v; want exactly one refused", errs[0], errs[1])
		}
		if n := pgtest.Count(t, db, `SELECT sum(amount)::int FROM refunds WHERE booking_id = $1`, b.ID); n != 4500 {
			t.Fatalf("refunded %d, want 4500", n)
		}
	})

	t.Run("money rows are append-only", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		r := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
		b := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{})
		if err := pay(ctx, db, b, "evt_1", 5000); err != nil {
			t.Fatal(err)
		}
		if err := refund(ctx, db, b, "re_1", 5000); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`UPDATE payments SET amount = 1`, `DELETE FROM payments`,
			`UPDATE refunds SET amount = 1`, `DELETE FROM refunds`,
		} {
			if _, err := db.Pool.Exec(ctx, q); err == nil {
				t.Errorf("%s: allowed", q)
			}
		}
		if n := pgtest.Count(t, db, `SELECT count(*) FROM payments WHERE amount = 5000`); n != 1 {
			t.Fatalf("payment row changed: %d", n)
		}
	})

	t.Run("ledger keeps one row per Stripe event id", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		const q = `INSERT INTO webhook_events (stripe_event_id, type, outcome, payload) VALUES ('evt_1', 'x', 'ignored', '\x7b7d')`
		if _, err := db.Pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
		_, err := db.Pool.Exec(ctx, q)
		if code, name := pgCode(err); code != "23505" || name != "webhook_events_pkey" {
			t.Fatalf("duplicate event id: %v", err)
		}
	})

	t.Run("every status change is audited by the database", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		r := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
		b := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{})
		if _, err := db.Pool.Exec(ctx, `UPDATE bookings SET status = 'confirmed', status_cause = 'stripe_event', status_cause_ref = 'evt_9' WHERE id = $1`, b.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Pool.Exec(ctx, `UPDATE bookings SET customer_first_name = 'Z' WHERE id = $1`, b.ID); err != nil {
			t.Fatal(err)
		}
		rows, _ := db.Pool.Query(ctx, `SELECT coalesce(from_status, ''), to_status, cause, cause_ref FROM booking_audit WHERE booking_id = $1 ORDER BY id`, b.ID)
		got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([4]string, error) {
			var a [4]string
			err := row.Scan(&a[0], &a[1], &a[2], &a[3])
			return a, err
		})
		if err != nil {
			t.Fatal(err)
		}
		want := [][4]string{{"", "pending", "system", "test"}, {"pending", "confirmed", "stripe_event", "evt_9"}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("audit rows %v, want %v", got, want)
		}
	})
}

// pay records a payment of booking b with its sum, in one transaction.
func pay(ctx context.Context, db *postgres.DB, b *booking.Booking, eventID string, amount int64) error {
	return pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO payments (booking_id, stripe_session_id, amount, currency, stripe_event_id)
			VALUES ($1, $2, $3, 'eur', $4)`, b.ID, *b.StripeSessionID, amount, eventID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE bookings SET amount_paid = amount_paid + $2 WHERE id = $1`, b.ID, amount)
		return err
	})
}

// refund records a refund of booking b's first payment with its sum.
func refund(ctx context.Context, db *postgres.DB, b *booking.Booking, refundID string, amount int64) error {
	return pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO refunds (booking_id, payment_id, stripe_refund_id, amount, currency, source)
			SELECT $1, min(id), $2, $3, 'eur', 'staff' FROM payments WHERE booking_id = $1`, b.ID, refundID, amount); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE bookings SET amount_refunded = amount_refunded + $2 WHERE id = $1`, b.ID, amount)
		return err
	})
}

// Replicas starting together apply migrations once, serialised by the advisory lock.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := pgtest.Config()
	admin, err := postgres.Open(ctx, fmt.Sprintf("postgres://%s@%s:%s/postgres?sslmode=disable", cfg.User, cfg.Host, cfg.Port), postgres.PoolOpts{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	name := fmt.Sprintf("booking_migrate_%d", time.Now().UnixNano())
	if _, err := admin.Pool.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Pool.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	url := fmt.Sprintf("postgres://%s@%s:%s/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var wg sync.WaitGroup
	errs := make([]error, 4)
	versions := make([]int64, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			versions[i], errs[i] = postgres.MigrateURL(ctx, url, log)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("migrator %d: %v", i, err)
		}
		if versions[i] != versions[0] || versions[i] < 1 {
			t.Fatalf("versions %v", versions)
		}
	}
	db, err := postgres.Open(ctx, url, postgres.PoolOpts{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Versions are not contiguous (each issue owns a range of numbers):
	// each applied version has one row, and the last is the one reported.
	if n := pgtest.Count(t, db, `SELECT count(*) - count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0`); n != 0 {
		t.Fatalf("%d goose rows repeat a version (each migration must be applied once)", n)
	}
	if n := pgtest.Count(t, db, `SELECT max(version_id) FROM goose_db_version`); n != int(versions[0]) {
		t.Fatalf("last goose version %d, want %d", n, versions[0])
	}
}
