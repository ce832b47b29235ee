package main

import (
	"cmp"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bookingplatform/booking/internal/postgres"
)

// Results is everything one run measured; report renders it.
type Results struct {
	Started time.Time `json:"started"`
	Seconds int       `json:"seconds"`
	// Rounds of the three phases per level, each phase RoundSeconds long.
	Rounds       int     `json:"rounds"`
	RoundSeconds int     `json:"roundSeconds"`
	PayloadBytes int     `json:"payloadBytes"`
	Machine      Machine `json:"machine"`
	Levels       []Level `json:"levels"`
	// OpenLoop is the latency at a steady offered rate, half the capacity
	// measured at the highest level.
	OpenLoop *OpenLoopResult `json:"openLoop,omitempty"`
}

// Level holds the measurements of one concurrency level: the product, then
// pgbench running the product's statements, then pgbench running the
// minimal durable work for the same event. The three phases run in turn,
// in Rounds, so that a machine whose speed drifts during the run (shared
// CPUs and disks) slows all three alike; the level's figures add the
// rounds up (throughput: all events over all the time; latency percentiles:
// the median of the rounds').
type Level struct {
	Concurrency int           `json:"concurrency"`
	Webhook     WebhookResult `json:"webhook"`
	Pgbench     PgbenchResult `json:"pgbench"`
	Minimal     PgbenchResult `json:"minimal"`
	Rounds      []Level       `json:"rounds,omitempty"`
}

// WebhookResult is the HTTP side of a level.
type WebhookResult struct {
	Prepared   int     `json:"prepared"`
	Sent       int     `json:"sent"`
	OK         int     `json:"ok"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"firstError,omitempty"`
	Seconds    float64 `json:"seconds"`
	PerSec     float64 `json:"perSec"`
	MeanMs     float64 `json:"meanMs"`
	P50Ms      float64 `json:"p50Ms"`
	P99Ms      float64 `json:"p99Ms"`
	MaxMs      float64 `json:"maxMs"`
	// ServerCPUUs is the server process's CPU time (user+system) per event.
	ServerCPUUs float64 `json:"serverCpuUsPerEvent"`
	// MachineBusy is the share of all CPUs that was busy during the phase.
	MachineBusy float64 `json:"machineBusy"`
	VerifyError string  `json:"verifyError,omitempty"`
}

// PgbenchResult is the pgbench side of a level.
type PgbenchResult struct {
	Command      string  `json:"command"`
	Prepared     int     `json:"prepared"`
	Transactions int     `json:"transactions"`
	Failed       int     `json:"failed"`
	TPS          float64 `json:"tps"`
	AvgMs        float64 `json:"avgMs"`
	P50Ms        float64 `json:"p50Ms"`
	P99Ms        float64 `json:"p99Ms"`
	MachineBusy  float64 `json:"machineBusy"`
	Error        string  `json:"error,omitempty"`
}

// Valid reports whether every phase of the level answered correctly.
func (l *Level) Valid() bool {
	return l.Webhook.Errors == 0 && l.Webhook.VerifyError == "" && l.Webhook.Sent > 0 &&
		l.Pgbench.valid() && l.Minimal.valid()
}

func (r *PgbenchResult) valid() bool { return r.Error == "" && r.Failed == 0 && r.Transactions > 0 }

const benchAmount, benchCurrency = 4500, "eur"

// pgbPrefix starts the Checkout Session ids of the pgbench phases.
const pgbPrefix = "cs_pgb_"

// prepareSQL creates a resource and count pending bookings on it, one hour
// apart (so the no-overlap constraint holds), with session ids prefix||n and
// ids md5(prefix||n)::uuid for n in [from, to].
const prepareSQL = `
WITH r AS (
    INSERT INTO resources (slug, name, price_amount, currency, duration_minutes, timezone)
    VALUES ($1, 'Benchmark room', 4500, 'eur', 60, 'UTC')
    RETURNING id
)
INSERT INTO bookings (id, reference, resource_id, starts_at, ends_at, status, amount_total, currency, hold_expires_at,
    stripe_session_id, customer_first_name, customer_last_name, customer_email, customer_token_hash, status_cause, status_cause_ref)
SELECT md5($2::text || g)::uuid, 'BK-' || upper(left(md5('ref:' || $2::text || g), 12)), r.id,
    timestamptz '2100-01-01 00:00:00+00' + (g - $3::bigint) * interval '1 hour',
    timestamptz '2100-01-01 01:00:00+00' + (g - $3::bigint) * interval '1 hour',
    'pending', 4500, 'eur', now() + interval '1 day', $2::text || g, 'Bench', 'Customer', 'bench@example.com',
    sha256(convert_to('token:' || $2::text || g, 'UTF8')), 'api', ''
FROM r, generate_series($3::bigint, $4::bigint) AS g`

// bookingID is the id prepareSQL gives the booking of sessionID.
func bookingID(sessionID string) string {
	h := md5.Sum([]byte(sessionID))
	s := hex.EncodeToString(h[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("db", "", "database URL of the benchmark database (required)")
	baseURL := fs.String("url", "", "base URL of the running server, e.g. http://127.0.0.1:18080 (required)")
	secret := fs.String("secret", "", "the server's STRIPE_WEBHOOK_SECRET (required)")
	levelsFlag := fs.String("levels", "1,8,32", "comma-separated concurrency levels")
	seconds := fs.Int("seconds", 15, "time of each phase, over all rounds")
	rounds := fs.Int("rounds", 3, "rounds of the three phases per level (each phase runs seconds/rounds, at least 3 s, per round)")
	firstEvents := fs.Int("events", 8000, "bookings prepared for the first level, at least 3,000 per second of a phase (later levels scale from the measured rate)")
	maxEvents := fs.Int("max-events", 100000, "upper bound on bookings prepared for one phase")
	minimal := fs.String("minimal", "bench/minimal_event.sql", "pgbench script of the minimal durable work per event")
	pgbenchBin := fs.String("pgbench", "pgbench", "pgbench binary")
	serverPID := fs.Int("server-pid", 0, "PID of the server, to measure its CPU time")
	out := fs.String("out", "", "write the results as JSON to this file (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbURL == "" || *baseURL == "" || *secret == "" || *out == "" {
		fs.Usage()
		return errors.New("-db, -url, -secret and -out are required")
	}
	if *rounds < 1 || *rounds > 10 {
		return fmt.Errorf("invalid -rounds %d (1 to 10)", *rounds)
	}
	if _, err := os.Stat(*minimal); err != nil {
		return fmt.Errorf("minimal pgbench script: %w", err)
	}
	// The product's statements, from the product's own constants.
	dir, err := os.MkdirTemp("", "webhookbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "paid_checkout.sql")
	if err := os.WriteFile(script, []byte(postgres.PaidCheckoutScript()), 0o600); err != nil {
		return err
	}
	var levels []int
	for _, s := range strings.Split(*levelsFlag, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 1 || c > 256 {
			return fmt.Errorf("invalid level %q", s)
		}
		levels = append(levels, c)
	}

	db, err := postgres.Open(ctx, withAppName(*dbURL, "webhookbench"), postgres.PoolOpts{MaxConns: 4})
	if err != nil {
		return err
	}
	defer db.Close()

	res := Results{Started: time.Now().UTC(), Seconds: *seconds, Machine: machineInfo(ctx, db)}
	res.PayloadBytes = len(eventPayload("evt_bench_sample_000000", "cs_test_bench_sample_000000", bookingID("x"), 0))
	dur := time.Duration(*seconds) * time.Second
	per := max(*seconds / *rounds, 3) // seconds of one phase in one round
	res.Rounds, res.RoundSeconds = *rounds, per
	// A phase that runs out of bookings ends early; 3,000 a second is above
	// any rate measured on this kind of machine.
	events := max(*firstEvents, per*3000)
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "==> "+format+"\n", args...) }

	for i, c := range levels {
		lv := Level{Concurrency: c}
		for r := 1; r <= *rounds; r++ {
			rd, err := runRound(ctx, roundOpts{db: db, dbURL: *dbURL, baseURL: *baseURL, secret: *secret,
				script: script, minimal: *minimal, pgbenchBin: *pgbenchBin, serverPID: *serverPID, c: c, round: r,
				seconds: per, events: clamp(events, 1000, *maxEvents), maxEvents: *maxEvents,
				base: int64((i*100+r)*2) * 10_000_000, logf: logf})
			if err != nil {
				return err
			}
			lv.Rounds = append(lv.Rounds, rd)
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		lv.addUp()
		if len(lv.Rounds) > 1 {
			logf("c=%d: %d rounds: webhook %.0f events/s, same SQL %.0f TPS, minimal %.0f TPS, webhook/minimal %.0f%% (rounds: %s)",
				c, len(lv.Rounds), lv.Webhook.PerSec, lv.Pgbench.TPS, lv.Minimal.TPS, ratio(&lv, &lv.Minimal)*100,
				lv.roundRatios())
		}
		res.Levels = append(res.Levels, lv)
		events = int(lv.Webhook.PerSec*float64(per)*2.5) + 2000
	}

	// Open loop: a steady offered rate of half the capacity measured at the
	// highest level, on fresh bookings, latency counted from when each
	// event was due (so a stall shows in every event that waited for it).
	// The events of the first openLoopWarmUp are sent and checked but not
	// counted: they meet new connections and a database just checkpointed.
	if top := res.Levels[len(res.Levels)-1]; top.Webhook.PerSec > 0 {
		rate := top.Webhook.PerSec / 2
		n := int(rate*(float64(*seconds)+openLoopWarmUp.Seconds())) + 10
		prefix := "cs_test_bench_open_"
		logf("open loop: preparing %d pending bookings", n)
		if err := prepare(ctx, db, "bench-open", prefix, 1, int64(n)); err != nil {
			return err
		}
		sessions := make([]string, n)
		for j := range sessions {
			sessions[j] = prefix + strconv.Itoa(j+1)
		}
		logf("open loop: %.0f events/s for %s of warm-up and %ds", rate, openLoopWarmUp, *seconds)
		ol := &OpenLoopResult{Rate: rate}
		sent, err := fireOpenLoop(ctx, *baseURL, *secret, sessions, rate, dur, ol)
		if err != nil {
			return err
		}
		if err := verifyWebhooks(ctx, db, "bench-open", sent); err != nil {
			ol.VerifyError = err.Error()
		}
		logf("open loop: %d events, p50 %.2f ms, p99 %.2f ms, max %.2f ms, %d errors%s", ol.Sent, ol.P50Ms, ol.P99Ms,
			ol.MaxMs, ol.Errors, suffix(ol.VerifyError))
		res.OpenLoop = ol
	}

	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		return err
	}
	for _, lv := range res.Levels {
		if !lv.Valid() {
			fmt.Fprintf(stdout, "level %d is INVALID: see %s\n", lv.Concurrency, *out)
		}
	}
	if res.OpenLoop != nil && !res.OpenLoop.Valid() {
		fmt.Fprintf(stdout, "the open-loop run is INVALID: see %s\n", *out)
	}
	return nil
}

// roundOpts is what one round of a level needs.
type roundOpts struct {
	db                                                  *postgres.DB
	dbURL, baseURL, secret, script, minimal, pgbenchBin string
	serverPID, c, round, seconds, events, maxEvents     int
	// base numbers the pgbench phases' bookings (base and base+10,000,000).
	base int64
	logf func(format string, args ...any)
}

// runRound runs the three phases of a level once, each on fresh bookings.
func runRound(ctx context.Context, o roundOpts) (Level, error) {
	lv := Level{Concurrency: o.c}
	c, logf := o.c, o.logf
	tag := fmt.Sprintf("c%d-r%d", c, o.round)
	dur := time.Duration(o.seconds) * time.Second

	// Webhook phase.
	prefix := fmt.Sprintf("cs_test_bench_%s_", strings.ReplaceAll(tag, "-", "_"))
	n := o.events
	logf("c=%d round %d: preparing %d pending bookings for the webhook run", c, o.round, n)
	if err := prepare(ctx, o.db, "bench-wh-"+tag, prefix, 1, int64(n)); err != nil {
		return lv, err
	}
	lv.Webhook.Prepared = n
	sessions := make([]string, n)
	for j := range sessions {
		sessions[j] = prefix + strconv.Itoa(j+1)
	}
	logf("c=%d round %d: firing signed webhooks for %ds", c, o.round, o.seconds)
	sent, err := fireWebhooks(ctx, o.baseURL, o.secret, sessions, c, dur, o.serverPID, &lv.Webhook)
	if err != nil {
		return lv, err
	}
	if err := verifyWebhooks(ctx, o.db, "bench-wh-"+tag, sent); err != nil {
		lv.Webhook.VerifyError = err.Error()
	}
	logf("c=%d round %d: webhook %.0f events/s, p50 %.2f ms, p99 %.2f ms, %d errors%s", c, o.round, lv.Webhook.PerSec,
		lv.Webhook.P50Ms, lv.Webhook.P99Ms, lv.Webhook.Errors, suffix(lv.Webhook.VerifyError))

	// pgbench phases: the same statements, then the minimal work, each
	// on fresh bookings.
	m := clamp(int(lv.Webhook.PerSec*float64(o.seconds)*4)+10000, 10000, o.maxEvents)
	for j, ph := range []struct {
		name, script, shown string
		r                   *PgbenchResult
	}{
		{"pgbench", o.script, "paid_checkout.sql", &lv.Pgbench},
		{"minimal", o.minimal, o.minimal, &lv.Minimal},
	} {
		slug := fmt.Sprintf("bench-%s-%s", ph.name, tag)
		base := o.base + int64(j)*10_000_000
		logf("c=%d round %d: preparing %d pending bookings for %s", c, o.round, m, ph.name)
		if err := prepare(ctx, o.db, slug, pgbPrefix, base, base+int64(m)+int64(c)); err != nil {
			return lv, err
		}
		ph.r.Prepared = m
		logf("c=%d round %d: %s for %ds", c, o.round, ph.name, o.seconds)
		runPgbench(ctx, o.pgbenchBin, ph.script, ph.shown, o.dbURL, c, o.seconds, base, ph.r)
		if ph.r.Error == "" {
			if err := verifyPgbench(ctx, o.db, slug, ph.r.Transactions); err != nil {
				ph.r.Error = err.Error()
			}
		}
		logf("c=%d round %d: %s %.0f TPS, avg %.2f ms, p99 %.2f ms%s", c, o.round, ph.name, ph.r.TPS, ph.r.AvgMs,
			ph.r.P99Ms, suffix(ph.r.Error))
	}
	return lv, nil
}

// addUp sets the level's figures from its rounds: counts and time added,
// throughput over the whole time, means weighted by count, percentiles the
// median of the rounds'.
func (l *Level) addUp() {
	var w WebhookResult
	var p50, p99 []float64
	for _, r := range l.Rounds {
		x := r.Webhook
		w.Prepared += x.Prepared
		w.Sent += x.Sent
		w.OK += x.OK
		w.Errors += x.Errors
		w.Seconds += x.Seconds
		w.MeanMs += x.MeanMs * float64(x.Sent)
		w.ServerCPUUs += x.ServerCPUUs * float64(x.Sent)
		w.MachineBusy += x.MachineBusy / float64(len(l.Rounds))
		w.MaxMs = max(w.MaxMs, x.MaxMs)
		w.FirstError = cmp.Or(w.FirstError, x.FirstError)
		w.VerifyError = cmp.Or(w.VerifyError, x.VerifyError)
		p50, p99 = append(p50, x.P50Ms), append(p99, x.P99Ms)
	}
	if w.Sent > 0 {
		w.MeanMs /= float64(w.Sent)
		w.ServerCPUUs /= float64(w.Sent)
	}
	if w.Seconds > 0 {
		w.PerSec = float64(w.Sent) / w.Seconds
	}
	w.P50Ms, w.P99Ms = median(p50), median(p99)
	l.Webhook = w
	pick := func(f func(Level) PgbenchResult) PgbenchResult {
		var out PgbenchResult
		var p50, p99 []float64
		for _, r := range l.Rounds {
			x := f(r)
			out.Command = cmp.Or(out.Command, x.Command)
			out.Prepared += x.Prepared
			out.Transactions += x.Transactions
			out.Failed += x.Failed
			out.TPS += x.TPS / float64(len(l.Rounds))
			out.AvgMs += x.AvgMs * float64(x.Transactions)
			out.MachineBusy += x.MachineBusy / float64(len(l.Rounds))
			out.Error = cmp.Or(out.Error, x.Error)
			p50, p99 = append(p50, x.P50Ms), append(p99, x.P99Ms)
		}
		if out.Transactions > 0 {
			out.AvgMs /= float64(out.Transactions)
		}
		out.P50Ms, out.P99Ms = median(p50), median(p99)
		return out
	}
	l.Pgbench = pick(func(r Level) PgbenchResult { return r.Pgbench })
	l.Minimal = pick(func(r Level) PgbenchResult { return r.Minimal })
}

// roundRatios lists each round's webhook throughput over its minimal work's.
func (l *Level) roundRatios() string {
	parts := make([]string, 0, len(l.Rounds))
	for i := range l.Rounds {
		parts = append(parts, fmt.Sprintf("%.0f%%", ratio(&l.Rounds[i], &l.Rounds[i].Minimal)*100))
	}
	return strings.Join(parts, ", ")
}

// median of xs (0 for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return " — ERROR: " + s
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// withAppName sets application_name on a postgres URL unless present.
func withAppName(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	if q.Get("application_name") == "" {
		q.Set("application_name", name)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// prepare inserts the bookings of one phase, then analyzes and checkpoints
// so both phases start from fresh statistics and a clean WAL state.
func prepare(ctx context.Context, db *postgres.DB, slug, prefix string, from, to int64) error {
	if _, err := db.Pool.Exec(ctx, prepareSQL, slug, prefix, from, to); err != nil {
		return fmt.Errorf("prepare bookings: %w", err)
	}
	for _, q := range []string{"ANALYZE bookings", "ANALYZE payments", "ANALYZE webhook_events", "CHECKPOINT"} {
		if _, err := db.Pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// verifyWebhooks checks that exactly the sessions sent were confirmed, each
// with one payment and one processed ledger row, and nothing else changed.
func verifyWebhooks(ctx context.Context, db *postgres.DB, slug string, sent []string) error {
	const q = `
SELECT
    (SELECT count(*) FROM bookings WHERE stripe_session_id = ANY($2) AND status = 'confirmed'),
    (SELECT count(*) FROM bookings b JOIN resources r ON r.id = b.resource_id WHERE r.slug = $1 AND b.status <> 'pending'),
    (SELECT count(*) FROM payments WHERE stripe_session_id = ANY($2) AND amount = 4500 AND currency = 'eur'),
    (SELECT count(*) FROM webhook_events WHERE stripe_session_id = ANY($2) AND outcome = 'processed' AND booking_id IS NOT NULL)`
	var confirmed, changed, payments, ledger int
	if err := db.Pool.QueryRow(ctx, q, slug, sent).Scan(&confirmed, &changed, &payments, &ledger); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	n := len(sent)
	if confirmed != n || changed != n || payments != n || ledger != n {
		return fmt.Errorf("sent %d events but found %d confirmed bookings (%d non-pending), %d payments, %d processed ledger rows",
			n, confirmed, changed, payments, ledger)
	}
	return nil
}

// verifyPgbench checks that every pgbench transaction confirmed one booking.
func verifyPgbench(ctx context.Context, db *postgres.DB, slug string, transactions int) error {
	const q = `SELECT count(*) FROM bookings b JOIN resources r ON r.id = b.resource_id WHERE r.slug = $1 AND b.status = 'confirmed'`
	var confirmed int
	if err := db.Pool.QueryRow(ctx, q, slug).Scan(&confirmed); err != nil {
		return fmt.Errorf("verify pgbench: %w", err)
	}
	if confirmed != transactions {
		return fmt.Errorf("pgbench reported %d transactions but %d bookings were confirmed", transactions, confirmed)
	}
	return nil
}

// processTicks returns the user+system clock ticks of process pid.
func processTicks(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// machineTicks returns the busy and total clock ticks of all CPUs.
func machineTicks() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 8 { // guest time is already counted in user
			break
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// clockTick is USER_HZ, 100 on every Linux architecture Go supports.
const clockTick = 100

// busyMeter measures the busy share of all CPUs over a phase.
type busyMeter struct{ busy, total int64 }

func startBusy() busyMeter {
	b, t := machineTicks()
	return busyMeter{b, t}
}

func (m busyMeter) share() float64 {
	b, t := machineTicks()
	if t <= m.total {
		return 0
	}
	return float64(b-m.busy) / float64(t-m.total)
}
