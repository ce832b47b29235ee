package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

// eventually polls cond every 20 ms for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestResourceCache runs two caches, as two replicas would, on one
// database: each serves from memory while it listens, forgets a resource
// changed by anyone (here, plain SQL), and reads through while its
// listening connection is gone.
func TestResourceCache(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewURL(t)
	db := pgtest.OpenDB(t, url, 8)
	res := pgtest.CreateResource(t, db, pgtest.ResourceOpts{Price: 1000, Default: true})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	setPrice := func(p int64) {
		t.Helper()
		if _, err := db.Pool.Exec(ctx, `UPDATE resources SET price_amount = $2 WHERE id = $1`, res.ID, p); err != nil {
			t.Fatal(err)
		}
	}
	price := func(c *postgres.ResourceCache) int64 {
		t.Helper()
		r, err := c.FindResource(ctx, res.ID)
		if err != nil {
			t.Fatal(err)
		}
		return r.PriceAmount
	}
	defaultPrice := func(c *postgres.ResourceCache) int64 {
		t.Helper()
		r, err := c.DefaultResource(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return r.PriceAmount
	}

	// Not listening: every read goes to the database.
	idle := postgres.NewResourceCache(db, log)
	price(idle)
	setPrice(1100)
	if p := price(idle); p != 1100 {
		t.Errorf("a cache that does not listen served %d, want 1100", p)
	}
	if hits, _ := idle.Stats(); hits != 0 {
		t.Errorf("a cache that does not listen served %d reads from memory", hits)
	}

	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	a, b := postgres.NewResourceCache(db, log), postgres.NewResourceCache(db, log)
	for _, c := range []*postgres.ResourceCache{a, b} {
		go func() { c.Listen(lctx, url); done <- struct{}{} }()
	}
	t.Cleanup(func() { cancel(); <-done; <-done })
	eventually(t, "both caches to listen", func() bool { return a.Live() && b.Live() })

	for _, c := range []*postgres.ResourceCache{a, b} {
		price(c)
		defaultPrice(c)
	}
	hits0, _ := a.Stats()
	if p, d := price(a), defaultPrice(a); p != 1100 || d != 1100 {
		t.Errorf("cached prices %d and %d, want 1100", p, d)
	}
	if hits, _ := a.Stats(); hits != hits0+2 {
		t.Errorf("%d reads served from memory, want 2", hits-hits0)
	}
	// A copy handed out is the caller's own.
	r, _ := a.FindResource(ctx, res.ID)
	r.PriceAmount, r.WeeklyHours[0].Start = 1, "23:00"
	if r2, _ := a.FindResource(ctx, res.ID); r2.PriceAmount != 1100 || r2.WeeklyHours[0].Start == "23:00" {
		t.Errorf("changing a returned resource changed the cache: %+v", r2)
	}

	// A change made anywhere reaches both replicas' caches.
	setPrice(1200)
	eventually(t, "both caches to see 1200", func() bool {
		return price(a) == 1200 && price(b) == 1200 && defaultPrice(a) == 1200 && defaultPrice(b) == 1200
	})

	// Listening connections lost: both read through until they are back.
	var killed int
	if err := db.Pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'booking resource cache'`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 2 {
		t.Fatalf("terminated %d listening connections, want 2", killed)
	}
	eventually(t, "both caches to notice", func() bool { return !a.Live() && !b.Live() })
	setPrice(1300)
	if pa, pb := price(a), price(b); pa != 1300 || pb != 1300 {
		t.Errorf("while not listening: %d and %d, want 1300", pa, pb)
	}
	eventually(t, "both caches to listen again", func() bool { return a.Live() && b.Live() })
	price(a)
	price(b)
	setPrice(1400)
	eventually(t, "both caches to see 1400", func() bool { return price(a) == 1400 && price(b) == 1400 })

	// A resource that does not exist is not found, and not remembered.
	if _, err := a.FindResource(ctx, "00000000-0000-4000-8000-000000000000"); booking.ErrorCode(err) != booking.ENotFound {
		t.Errorf("unknown resource: %v, want not_found", err)
	}
}
