package modeltest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

// check compares the product with the model and checks §2 and M1–M4 in the
// database, after every step.
func (r *run) check() {
	m := r.model
	type row struct {
		status         booking.Status
		holds          bool
		paid, refunded int64
		owed           int
	}
	rows, err := r.db.Pool.Query(r.ctx, `
SELECT b.id::text, b.status, b.holds_slot, b.amount_paid, b.amount_refunded,
    (SELECT count(*) FROM refund_requests q WHERE q.booking_id = b.id AND q.state = 'owed')
FROM bookings b WHERE b.resource_id = $1`, r.res.ID)
	if err != nil {
		r.fail("read bookings: %v", err)
	}
	// A failed check panics out of the loop: close the rows anyway, or the
	// connection is never released and closing the pool waits for ever.
	defer rows.Close()
	got := map[string]row{}
	for rows.Next() {
		var id string
		var x row
		if err := rows.Scan(&id, &x.status, &x.holds, &x.paid, &x.refunded, &x.owed); err != nil {
			r.fail("read bookings: %v", err)
		}
		got[id] = x
	}
	rows.Close()
	if len(got) != len(m.bookings) {
		r.fail("%d bookings in the database, %d in the model", len(got), len(m.bookings))
	}
	for i, b := range m.bookings {
		x, ok := got[b.id]
		want := row{status: b.status, holds: b.holds, paid: b.paid, refunded: b.refunded, owed: len(b.owed)}
		if !ok || x != want {
			r.fail("booking #%d: database %+v, model %+v", i, x, want)
		}
	}
	// Disputes, with how they ended.
	drows, err := r.db.Pool.Query(r.ctx, `
SELECT d.booking_id::text, d.stripe_dispute_id, coalesce(c.status, d.status)
FROM disputes d JOIN bookings b ON b.id = d.booking_id
LEFT JOIN dispute_closures c ON c.stripe_dispute_id = d.stripe_dispute_id
WHERE b.resource_id = $1`, r.res.ID)
	if err != nil {
		r.fail("read disputes: %v", err)
	}
	defer drows.Close()
	gotDisputes := map[string]string{}
	for drows.Next() {
		var bid, id, st string
		if err := drows.Scan(&bid, &id, &st); err != nil {
			r.fail("read disputes: %v", err)
		}
		gotDisputes[bid+"/"+id] = st
	}
	drows.Close()
	wantDisputes := map[string]string{}
	for _, b := range m.bookings {
		for id, st := range b.disputes {
			wantDisputes[b.id+"/"+id] = st
		}
	}
	if fmt.Sprint(gotDisputes) != fmt.Sprint(wantDisputes) {
		r.fail("disputes: database %v, model %v", gotDisputes, wantDisputes)
	}
	// §2.3: one ledger row per event the product was told of.
	if n := r.count(`SELECT count(*) FROM webhook_events WHERE strpos(stripe_event_id, $1) > 0`, "_"+r.tag+"_"); n != len(m.seen) {
		r.fail("%d ledger rows, the model saw %d events", n, len(m.seen))
	}
	// The product never records more refunded than Stripe refunded.
	r.world.mu.Lock()
	charges := map[string]int64{}
	for pi, ch := range r.world.charges {
		charges[pi] = ch.refunded()
	}
	r.world.mu.Unlock()
	prow, err := r.db.Pool.Query(r.ctx, `
SELECT coalesce(p.stripe_payment_intent_id, ''), coalesce(sum(f.amount), 0)
FROM payments p JOIN bookings b ON b.id = p.booking_id LEFT JOIN refunds f ON f.payment_id = p.id
WHERE b.resource_id = $1 AND p.method = 'stripe' GROUP BY p.id`, r.res.ID)
	if err != nil {
		r.fail("read payments: %v", err)
	}
	defer prow.Close()
	for prow.Next() {
		var pi string
		var refunded int64
		if err := prow.Scan(&pi, &refunded); err != nil {
			r.fail("read payments: %v", err)
		}
		if refunded > charges[pi] {
			r.fail("payment %s: %d recorded as refunded, Stripe refunded %d", pi, refunded, charges[pi])
		}
	}
	prow.Close()
	// SPEC §3.1 M5: booking check finds nothing.
	rep, err := r.app.Checker.Check(r.ctx, true)
	if err != nil {
		r.fail("check: %v", err)
	}
	for _, v := range rep.Violations {
		r.fail("booking check: %s", v)
	}
}

func (r *run) count(q string, args ...any) int {
	var n int
	if err := r.db.Pool.QueryRow(r.ctx, q, args...).Scan(&n); err != nil {
		r.fail("%s: %v", q, err)
	}
	return n
}

// settle ends a history the way time does: Stripe comes back, every event
// still queued is delivered, and the refunds owed are retried until none
// is; then every refund Stripe made is recorded once, and no money is kept
// for a booking that will not happen.
func (r *run) settle(rnd *rand.Rand) {
	r.note("settle")
	r.world.mu.Lock()
	r.world.down = false
	// Open disputes end, won or lost.
	for _, ch := range r.world.charges {
		r.world.closeDispute(ch, rnd.IntN(2) == 0)
	}
	r.world.mu.Unlock()
	for round := 0; round < 12; round++ {
		for {
			r.world.mu.Lock()
			if len(r.world.queue) == 0 {
				r.world.mu.Unlock()
				break
			}
			i := rnd.IntN(len(r.world.queue))
			ev := r.world.queue[i]
			r.world.queue = append(r.world.queue[:i], r.world.queue[i+1:]...)
			r.world.mu.Unlock()
			r.note("deliver %s %s", ev.typ, ev.id)
			r.deliver(ev, false)
		}
		owed := 0
		for _, b := range r.model.bookings {
			owed += len(b.owed)
		}
		if owed == 0 {
			break
		}
		r.setClock(r.now().Add(7 * time.Hour)) // past any refund backoff
		r.exec(step{Kind: "refunds"})
		r.check()
	}
	r.check()
	for i, b := range r.model.bookings {
		if len(b.owed) > 0 {
			r.fail("booking #%d: a refund is still owed after settling", i)
		}
		if b.kept() > 0 && !b.holds {
			r.fail("booking #%d keeps %d without its slot after settling (M2)", i, b.kept())
		}
	}
	// Every refund Stripe made is recorded once (unless its event was dropped
	// and the product never heard of it).
	r.world.mu.Lock()
	defer r.world.mu.Unlock()
	for pi, ch := range r.world.charges {
		b := r.model.byPI[pi]
		if b == nil || r.dropped[pi] {
			continue
		}
		if p := r.model.payment(b, pi); p.refunded != ch.refunded() {
			r.fail("payment %s: %d recorded as refunded, Stripe refunded %d", pi, p.refunded, ch.refunded())
		}
	}
}

// outcome is how a history ended.
type outcome struct {
	failure string
	log     []string
	steps   int
}

var dbSeq atomic.Int64

// runHistory runs steps on db, or, when db is nil, on a fresh database in
// a subtest of its own (which never fails: the database goes away with it),
// and reports how it ended.
func runHistory(t *testing.T, db *postgres.DB, seed uint64, steps []step) (out outcome) {
	if db == nil {
		t.Run(fmt.Sprintf("db%d", dbSeq.Add(1)), func(t *testing.T) {
			db, err := postgres.Open(t.Context(), pgtest.NewURL(t), postgres.PoolOpts{MaxConns: 6})
			if err != nil {
				out.failure = "open database: " + err.Error()
				return
			}
			defer db.Close()
			out = runHistory(t, db, seed, steps)
		})
		return out
	}
	rnd := rand.New(rand.NewPCG(seed, 0xb00c))
	r := newRun(t, db, fmt.Sprintf("h%d", seed), rnd.IntN(2) == 0)
	defer r.close()
	defer func() {
		if p := recover(); p != nil {
			if pr, ok := p.(problem); ok {
				out.failure = pr.msg
			} else {
				out.failure = fmt.Sprintf("panic: %v", p)
			}
		}
		out.log = r.log
	}()
	for i, s := range steps {
		out.steps = i + 1
		r.note("step %d %s", i, s)
		r.exec(s)
		r.check()
	}
	r.settle(rnd)
	return out
}

// shrink removes steps from a failing history while it still fails
// (delta debugging) and returns the smallest failing history found.
func shrink(t *testing.T, seed uint64, steps []step, budget int) ([]step, outcome) {
	best := runHistory(t, nil, seed, steps)
	for n := 2; len(steps) >= 2 && budget > 0; {
		chunk := (len(steps) + n - 1) / n
		reduced := false
		for i := 0; i < len(steps) && budget > 0; i += chunk {
			cand := append(append([]step{}, steps[:i]...), steps[min(i+chunk, len(steps)):]...)
			budget--
			if o := runHistory(t, nil, seed, cand); o.failure != "" {
				steps, best, reduced = cand, o, true
				n = max(n-1, 2)
				break
			}
		}
		if !reduced {
			if chunk == 1 {
				break
			}
			n = min(n*2, len(steps))
		}
	}
	return steps, best
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// TestModel runs seeded random histories against the product and the
// reference model; any difference, any violation of §2 or M1–M4, or a
// refund the product should not have asked for fails it with the seed and
// a shrunk reproduction.
func TestModel(t *testing.T) {
	histories := envInt("MODEL_HISTORIES", 200)
	length := envInt("MODEL_STEPS", 40)
	base := uint64(envInt("MODEL_SEED_BASE", 1))
	seeds := make([]uint64, histories)
	for i := range seeds {
		seeds[i] = base + uint64(i)
	}
	if s := os.Getenv("MODEL_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MODEL_SEED: %v", err)
		}
		seeds = []uint64{n}
	}
	var steps, ran atomic.Int64
	started := time.Now()
	// Histories wait on the database more than on the CPU: run a few at once.
	work := make(chan uint64)
	var wg sync.WaitGroup
	cov := &coverage{seen: map[string]int{}}
	for w := range envInt("MODEL_WORKERS", 4) {
		wg.Go(func() {
			// A database per batch of histories, shared by them (each on its
			// own resource and Stripe ids): cloning one per history costs
			// more than the history, and a database that grows for ever
			// makes the full check slower and slower.
			for batch := 0; ; batch++ {
				more := true
				t.Run(fmt.Sprintf("w%d-batch%d", w, batch), func(t *testing.T) {
					db, err := postgres.Open(t.Context(), pgtest.NewURL(t), postgres.PoolOpts{MaxConns: 6})
					if err != nil {
						t.Fatalf("open database: %v", err)
					}
					defer db.Close()
					for range 50 {
						seed, ok := <-work
						if !ok {
							more = false
							break
						}
						runSeed(t, db, seed, length, len(seeds) == 1, &steps)
						ran.Add(1)
					}
					cov.add(t, db)
				})
				if !more {
					return
				}
			}
		})
	}
	for _, seed := range seeds {
		work <- seed
	}
	close(work)
	wg.Wait()
	t.Logf("model test: %d histories, %d steps (+ settling), in %s", ran.Load(), steps.Load(), time.Since(started).Round(time.Second))
	t.Logf("paths taken: %s", cov)
}

// coverage counts, over the histories, how often the interesting paths of
// the money rules were taken, to show the generator reaches them.
type coverage struct {
	mu   sync.Mutex
	seen map[string]int
}

// coverageSQL names and counts the paths taken in one database.
const coverageSQL = `
SELECT 'booking ' || coalesce(from_status, 'new') || '→' || to_status || ' (' || cause || ')', count(*)
FROM booking_audit GROUP BY 1
UNION ALL SELECT 'ledger outcome ' || outcome, count(*) FROM webhook_events GROUP BY 1
UNION ALL SELECT 'event applied ' || source || ' ' || outcome, count(*) FROM webhook_event_replays GROUP BY 1
UNION ALL SELECT 'refund row ' || source || ' ' || method, count(*) FROM refunds GROUP BY 1
UNION ALL SELECT 'payment ' || method, count(*) FROM payments GROUP BY 1
UNION ALL SELECT 'staff blocks left', count(*) FROM resource_blocks
UNION ALL SELECT 'refund request ' || reason || ' ' || state || CASE WHEN attempts > 0 THEN ' after failures' ELSE '' END, count(*)
  FROM refund_requests GROUP BY 1
UNION ALL SELECT 'dispute closed ' || status, count(*) FROM dispute_closures GROUP BY 1`

func (c *coverage) add(t *testing.T, db *postgres.DB) {
	rows, err := db.Pool.Query(t.Context(), coverageSQL)
	if err != nil {
		t.Errorf("coverage: %v", err)
		return
	}
	defer rows.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			t.Errorf("coverage: %v", err)
			return
		}
		c.seen[name] += n
	}
}

func (c *coverage) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(c.seen))
	for k := range c.seen {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, k := range names {
		fmt.Fprintf(&b, "\n  %6d  %s", c.seen[k], k)
	}
	return b.String()
}

// runSeed runs the history of seed as a subtest of t; a failure is shrunk
// and reported with the way to reproduce it.
func runSeed(t *testing.T, db *postgres.DB, seed uint64, length int, verbose bool, steps *atomic.Int64) {
	t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
		h := randomHistory(rand.New(rand.NewPCG(seed, 0x5eed)), length)
		o := runHistory(t, db, seed, h)
		steps.Add(int64(o.steps))
		if o.failure == "" {
			if verbose {
				t.Logf("history:\n%s", strings.Join(o.log, "\n"))
			}
			return
		}
		small, so := shrink(t, seed, h[:o.steps], 200)
		var lit strings.Builder
		for _, s := range small {
			lit.WriteString("\t" + s.String() + ",\n")
		}
		t.Fatalf("history %d failed at step %d of %d: %s\n\nreproduce: MODEL_SEED=%d go test -run 'TestModel' -v ./internal/modeltest\n\n"+
			"shrunk to %d steps (%s):\n%s\nwhat happened:\n%s",
			seed, o.steps, len(h), o.failure, seed, len(small), so.failure, lit.String(), strings.Join(so.log, "\n"))
	})
}
