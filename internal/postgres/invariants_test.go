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

	t.Run("overlapping active bookings are refused by the exclusion constraint", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		r := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
		start := time.Now().UTC().Truncate(time.Hour).Add(48 * time.Hour)
		first := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{StartsAt: start, Status: booking.StatusConfirmed})
		const q = `INSERT INTO bookings (reference, resource_id, starts_at, ends_at, status, amount_total, currency, hold_expires_at,
			customer_first_name, customer_last_name, customer_email, customer_token_hash, status_cause)
			VALUES ($1, $2, $3, $4, $5, 5000, 'eur', now(), 'A', 'B', 'a@b.co', '\x00', 'system')`
		for _, st := range []string{"pending", "awaiting_payment", "confirmed"} {
			_, err := db.Pool.Exec(ctx, q, "BK-X"+st, r.ID, start.Add(30*time.Minute), start.Add(90*time.Minute), st)
			if code, name := pgCode(err); code != "23P01" || name != "bookings_no_overlap" {
				t.Fatalf("%s overlapping %s: err %v", st, first.Status, err)
			}
		}
		// Inactive bookings may overlap; adjacent ranges do not overlap.
		for i, st := range []string{"expired", "cancelled", "payment_failed", "refunded", "needs_review"} {
			if _, err := db.Pool.Exec(ctx, q, fmt.Sprintf("BK-I%d", i), r.ID, start, start.Add(time.Hour), st); err != nil {
				t.Fatalf("inactive %s refused: %v", st, err)
			}
		}
		if _, err := db.Pool.Exec(ctx, q, "BK-ADJ", r.ID, start.Add(time.Hour), start.Add(2*time.Hour), "pending"); err != nil {
			t.Fatalf("adjacent booking refused: %v", err)
		}
		// Reactivating an inactive booking on a taken slot is refused too.
		_, err := db.Pool.Exec(ctx, `UPDATE bookings SET status = 'confirmed' WHERE reference = 'BK-I0'`)
		if code, _ := pgCode(err); code != "23P01" {
			t.Fatalf("reactivation over a taken slot: %v", err)
		}
	})

	t.Run("one payment per Checkout Session", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		r := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
		b := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{})
		const q = `INSERT INTO payments (booking_id, stripe_session_id, amount, currency, stripe_event_id) VALUES ($1, $2, 5000, 'eur', $3)`
		if _, err := db.Pool.Exec(ctx, q, b.ID, *b.StripeSessionID, "evt_1"); err != nil {
			t.Fatal(err)
		}
		_, err := db.Pool.Exec(ctx, q, b.ID, *b.StripeSessionID, "evt_2")
		if code, name := pgCode(err); code != "23505" || name != "payments_stripe_session_id_key" {
			t.Fatalf("second payment for one session: %v", err)
		}
	})

	t.Run("money rows are append-only", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		r := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
		b := pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{})
		if _, err := db.Pool.Exec(ctx, `INSERT INTO payments (booking_id, stripe_session_id, amount, currency, stripe_event_id) VALUES ($1, $2, 5000, 'eur', 'evt_1')`, b.ID, *b.StripeSessionID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Pool.Exec(ctx, `INSERT INTO refunds (booking_id, stripe_refund_id, amount, currency, source) VALUES ($1, 're_1', 5000, 'eur', 'staff')`, b.ID); err != nil {
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
		if code, name := pgCode(err); code != "23505" || name != "webhook_events_stripe_event_id_key" {
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
	if n := pgtest.Count(t, db, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`); n != int(versions[0]) {
		t.Fatalf("goose rows %d, want %d (each migration applied once)", n, versions[0])
	}
}
