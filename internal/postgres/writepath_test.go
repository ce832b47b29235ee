package postgres_test

import (
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stripe/stripe-go/v85"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/payment"
	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

// batchTrace records the statements of every batch a pool sends.
type batchTrace struct {
	mu      sync.Mutex
	on      bool
	batches [][]postgres.PathStatement
	other   []string
}

func (bt *batchTrace) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if bt.on {
		bt.other = append(bt.other, d.SQL)
	}
	return ctx
}

func (bt *batchTrace) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (bt *batchTrace) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if bt.on {
		bt.batches = append(bt.batches, nil)
	}
	return ctx
}

func (bt *batchTrace) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if bt.on && len(bt.batches) > 0 {
		i := len(bt.batches) - 1
		bt.batches[i] = append(bt.batches[i], postgres.PathStatement{SQL: d.SQL, Args: len(d.Args)})
	}
}

func (bt *batchTrace) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// benchBookingsSQL creates pending bookings prefix||n, n in [$3, $4], on
// resource $1, with ids md5(prefix||n)::uuid, one hour apart.
const benchBookingsSQL = `
INSERT INTO bookings (id, reference, resource_id, starts_at, ends_at, status, amount_total, currency, hold_expires_at,
    stripe_session_id, customer_first_name, customer_last_name, customer_email, customer_token_hash, status_cause, status_cause_ref)
SELECT md5($2::text || g)::uuid, 'BK-' || upper(left(md5('ref:' || $2::text || g), 12)), $1::uuid,
    timestamptz '2100-01-01 00:00:00+00' + g * interval '1 hour', timestamptz '2100-01-01 01:00:00+00' + g * interval '1 hour',
    'pending', 5000, 'eur', now() + interval '1 day', $2::text || g, 'Path', 'Customer', 'path@example.com',
    sha256(convert_to('token:' || $2::text || g, 'UTF8')), 'api', ''
FROM generate_series($3::bigint, $4::bigint) AS g`

// TestPaidCheckoutScript proves the benchmark's copy of the payment write
// path is the write path: the statements a real ApplyEvent sends for a paid
// checkout.session.completed are those of postgres.PaidCheckoutScript, in
// the same pipelines with the same argument counts; and pgbench running the
// script leaves bookings, payments and ledger rows like the server's.
func TestPaidCheckoutScript(t *testing.T) {
	pgbench, err := exec.LookPath("pgbench")
	if err != nil {
		t.Fatal("pgbench is required (apt-get install postgresql-client): ", err)
	}
	ctx := context.Background()
	url := pgtest.NewURL(t)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	trace := &batchTrace{}
	cfg.ConnConfig.Tracer = trace
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	db := &postgres.DB{Pool: pool}
	res := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
	const prefix = "cs_path_"
	if _, err := pool.Exec(ctx, benchBookingsSQL, res.ID, prefix, 1, 6); err != nil {
		t.Fatalf("create bookings: %v", err)
	}

	// The server's way, traced: booking 1.
	first, err := db.FindBookingBySession(ctx, prefix+"1")
	if err != nil {
		t.Fatal(err)
	}
	payload := moneyEvent("evt_"+prefix+"1", booking.EventCheckoutCompleted, map[string]any{
		"id": prefix + "1", "object": "checkout.session", "client_reference_id": first.ID,
		"payment_status": "paid", "status": "complete", "amount_total": 5000, "currency": "eur",
		"payment_intent": "pi_" + prefix + "1",
	})
	ev, err := payment.ParseStored(payload)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ful := &booking.Fulfiller{Store: db, Parse: payment.ParseStored, Logger: log,
		Now: func() time.Time { return time.Date(2030, 1, 7, 9, 0, 0, 0, time.UTC) }}
	trace.mu.Lock()
	trace.on = true
	trace.mu.Unlock()
	got, err := ful.HandleEvent(ctx, ev)
	trace.mu.Lock()
	trace.on = false
	trace.mu.Unlock()
	if err != nil || got.Outcome != booking.OutcomeProcessed || got.Status != booking.StatusConfirmed {
		t.Fatalf("handle: %+v, %v", got, err)
	}

	want := postgres.PaidCheckoutStatements()
	if len(trace.other) > 0 {
		t.Errorf("statements outside pipelines: %q", trace.other)
	}
	if len(trace.batches) != len(want) {
		t.Fatalf("ApplyEvent sent %d pipelines, the script has %d:\n%v", len(trace.batches), len(want), trace.batches)
	}
	for i := range want {
		if len(trace.batches[i]) != len(want[i]) {
			t.Errorf("pipeline %d: ApplyEvent sent %d statements, the script has %d:\n%v", i+1,
				len(trace.batches[i]), len(want[i]), trace.batches[i])
			continue
		}
		for j, w := range want[i] {
			if g := trace.batches[i][j]; g != w {
				t.Errorf("pipeline %d statement %d differs:\nApplyEvent: %d args %s\nscript:     %d args %s", i+1, j+1,
					g.Args, g.SQL, w.Args, w.SQL)
			}
		}
	}

	// pgbench's way: bookings 2..6 (base 1, one client, five transactions).
	script := filepath.Join(t.TempDir(), "paid.sql")
	if err := os.WriteFile(script, []byte(postgres.PaidCheckoutScript()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, pgbench, "-n", "-M", "prepared", "-c", "1", "-t", "5", "-f", script,
		"-D", "k=0", "-D", "clients=1", "-D", "base=1", "-D", "prefix="+prefix, "-D", "amount=5000",
		"-D", "currency=eur", "-D", "livemode=false", "-D", "apiver="+stripe.APIVersion,
		"-D", "created=2030-01-07T09:00:00Z", "-D", "payload=\\x"+hex.EncodeToString(payload), url).CombinedOutput()
	if err != nil {
		t.Fatalf("pgbench: %v\n%s", err, out)
	}

	// Every booking looks as the server left booking 1, but for its ids.
	const rowSQL = `
SELECT b.status, b.holds_slot, b.amount_paid, b.amount_refunded, b.status_cause, b.status_cause_ref = 'evt_' || b.stripe_session_id,
    p.amount, p.currency, p.stripe_payment_intent_id = 'pi_' || b.stripe_session_id, p.stripe_event_id = 'evt_' || b.stripe_session_id,
    e.outcome, e.type, e.source, e.booking_id = b.id, e.stripe_payment_intent_id = p.stripe_payment_intent_id, length(e.payload) > 0,
    (SELECT count(*) FROM booking_audit a WHERE a.booking_id = b.id)
FROM bookings b
JOIN payments p ON p.booking_id = b.id
JOIN webhook_events e ON e.stripe_session_id = b.stripe_session_id
WHERE b.stripe_session_id = $1`
	row := func(n int) []any {
		t.Helper()
		rows, err := pool.Query(ctx, rowSQL, prefix+strconv.Itoa(n))
		if err != nil {
			t.Fatal(err)
		}
		vals, err := pgx.CollectExactlyOneRow(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
		if err != nil {
			t.Fatalf("booking %d: %v", n, err)
		}
		return vals
	}
	server := row(1)
	for n := 2; n <= 6; n++ {
		if g := row(n); !sameValues(g, server) {
			t.Errorf("booking %d after pgbench:\n%v\nafter the server:\n%v", n, g, server)
		}
	}
	r, err := (&booking.Checker{Store: db, Now: time.Now}).Check(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range r.Violations {
		t.Errorf("check: %s", v)
	}
}

func sameValues(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
