package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/bulk"
	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

// The plan test: every statement the store issues to find rows is run with
// realistic (and adversarial) arguments on a realistic volume — 200,000
// bookings over 50 resources and three years, their payments, refunds,
// disputes, audit rows and 100,000 ledger rows of 1.5 KB, and a burst of
// 2,500 fresh holds on top (fifty per resource in half an hour, a sale), so
// that the newest rows differ from the rest (internal/bulk) —
// under a custom and under a generic plan, with EXPLAIN (ANALYZE, BUFFERS),
// and fails when the plan does not read about as much as it returns.
//
// The rules, applied to the executed plan (actual counts, every loop):
//
//  1. No sequential scan of a large table (planLargeTables).
//  2. No scan of a large table, and no join, discards much more than it
//     keeps: rows removed by a filter, an index recheck or a join filter ≤
//     planRemovedRatio × rows the node returns + planRemovedSlack. (A small
//     table may be read whole; rule 3 still bounds what that costs.)
//  3. Shared buffers touched to find the rows (hits and reads; for an
//     UPDATE or DELETE, those of the plan below it, not the index upkeep of
//     the change) ≤ planBufferBase + planBuffersPerRow × the rows returned
//     (found, for a change) or, when more, the rows read from tables that
//     are not large (work per row of a bounded table is bounded).
//  4. No custom plan is JIT compiled: PostgreSQL compiles a plan whose cost
//     estimate passes jit_above_cost on every execution, which takes longer
//     than any of these statements runs. (The lists run their generic plan
//     with JIT off, collectGeneric; PostgreSQL picks a generic plan for
//     itself only when it is estimated no dearer than the custom ones.)
//
// Why measured rather than estimated counts: a generic plan's estimates are
// defaults (a third of the rows for an inequality, 0.5% for a range), so
// they say little about what the plan does on real data; the executed plan
// says it exactly, for whichever plan the planner chose in each mode. And
// why buffers besides rows: rows removed by a filter show up in rule 2, but
// index entries skipped inside an index scan (a condition on a later index
// column that is not a boundary of the scan) appear in no row count — only
// in the pages read. The price is that a plan is judged on the arguments
// given, so they include the hard ones: rare statuses, deep cursors, a past
// day, a year, a busy customer, rare ledger outcomes.
//
// Large tables grow with the history of the business (disputes too, if
// slowly). idempotency_keys does not (answers are purged after a day), nor
// do the tables of events that wait or are replayed, or of configuration.
var planLargeTables = []string{"bookings", "payments", "refunds", "webhook_events", "booking_audit", "refund_requests",
	"disputes"}

const (
	planRemovedRatio  = 10
	planRemovedSlack  = 100
	planBufferBase    = 100
	planBuffersPerRow = 20

	planBookings   = 200_000
	planLedger     = 100_000
	planFreshHolds = 2_500
)

// planCase is one statement with its arguments.
type planCase struct {
	name string
	sql  string
	args []any
}

// TestPlanStatementsComplete fails when a statement constant of the store
// (a package-level const or var whose name ends in SQL) is neither checked
// by the plan test nor exempt from it with a reason.
func TestPlanStatementsComplete(t *testing.T) {
	t.Parallel()
	names := statementConstants(t)
	if len(names) < 40 {
		t.Fatalf("found only %d statement constants: the scan is broken: %v", len(names), names)
	}
	for _, n := range names {
		_, checked := postgres.PlanStatements[n]
		_, exempt := postgres.PlanExempt[n]
		switch {
		case !checked && !exempt:
			t.Errorf("statement %s is not in the plan test: add it to PlanStatements (and its arguments to planCases) "+
				"or to PlanExempt with the reason, in export_test.go", n)
		case checked && exempt:
			t.Errorf("statement %s is both checked and exempt", n)
		}
	}
	for n := range postgres.PlanStatements {
		if !slices.Contains(names, n) {
			t.Errorf("PlanStatements lists %s, which the package no longer declares", n)
		}
	}
	for n := range postgres.PlanExempt {
		if !slices.Contains(names, n) {
			t.Errorf("PlanExempt lists %s, which the package no longer declares", n)
		}
	}
	if got, want := sorted(postgres.BookingListShapes()), sorted(booking.BookingShapes); !slices.Equal(got, want) {
		t.Errorf("booking list statements %v, shapes %v", got, want)
	}
	if got, want := sorted(postgres.EventListShapes()), sorted(booking.EventShapes); !slices.Equal(got, want) {
		t.Errorf("ledger list statements %v, shapes %v", got, want)
	}
}

// statementConstants returns the package-level constants and variables of
// the package's non-test sources whose names end in SQL.
func statementConstants(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || (gd.Tok != token.CONST && gd.Tok != token.VAR) {
				continue
			}
			for _, s := range gd.Specs {
				for _, n := range s.(*ast.ValueSpec).Names {
					if strings.HasSuffix(n.Name, "SQL") {
						names = append(names, n.Name)
					}
				}
			}
		}
	}
	return names
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// planFixtures are rows of the loaded data that the cases use.
type planFixtures struct {
	now, pastDay, futureDay, yearAgo time.Time
	resource                         string
	confirmed, confirmedSession      string
	intent                           string
	paymentID                        int64
	refunded                         string
	review                           string
	owedRequest                      int64
	pending                          string
	replayed                         string
	event, waitingEvent, waitingPI   string
	keyHash                          []byte
	email                            string
	midCreated                       booking.Cursor
	midStarts                        time.Time
	midReceived                      booking.Cursor
}

func loadPlanFixtures(t *testing.T, db *postgres.DB, now time.Time) *planFixtures {
	t.Helper()
	ctx := context.Background()
	f := &planFixtures{now: now}
	day := now.UTC().Truncate(24 * time.Hour)
	f.pastDay, f.futureDay, f.yearAgo = day.AddDate(0, 0, -200), day.AddDate(0, 0, 30), day.AddDate(-1, 0, 0)
	row := func(q string, dest ...any) {
		t.Helper()
		if err := db.Pool.QueryRow(ctx, q).Scan(dest...); err != nil {
			t.Fatalf("fixture %q: %v", q, err)
		}
	}
	row(`SELECT id::text FROM resources WHERE slug = 'bulk-7'`, &f.resource)
	row(`SELECT b.id::text, b.stripe_session_id, p.stripe_payment_intent_id, p.id FROM bookings b
JOIN payments p ON p.booking_id = b.id WHERE b.status = 'confirmed' ORDER BY b.id LIMIT 1`,
		&f.confirmed, &f.confirmedSession, &f.intent, &f.paymentID)
	row(`SELECT id::text FROM bookings WHERE status = 'refunded' ORDER BY id LIMIT 1`, &f.refunded)
	row(`SELECT booking_id::text, id FROM refund_requests ORDER BY state <> 'owed', id LIMIT 1`, &f.review, &f.owedRequest)
	row(`SELECT id::text FROM bookings WHERE status IN ('pending', 'awaiting_payment') ORDER BY status, id LIMIT 1`, &f.pending)
	row(`SELECT booking_id::text FROM webhook_event_replays ORDER BY id LIMIT 1`, &f.replayed)
	row(`SELECT stripe_event_id FROM webhook_events WHERE outcome = 'processed' ORDER BY stripe_event_id LIMIT 1`, &f.event)
	row(`SELECT stripe_event_id, payment_intent_id FROM pending_money_events ORDER BY 1 LIMIT 1`, &f.waitingEvent, &f.waitingPI)
	row(`SELECT key_hash FROM idempotency_keys ORDER BY 1 LIMIT 1`, &f.keyHash)
	// The customer with the most bookings, asked for in other letter case.
	row(`SELECT upper(lower(customer_email)) FROM bookings GROUP BY lower(customer_email) ORDER BY count(*) DESC, 1 LIMIT 1`, &f.email)
	row(`SELECT created_at, id::text FROM bookings ORDER BY created_at DESC, id DESC
OFFSET (SELECT count(*) / 2 FROM bookings) LIMIT 1`, &f.midCreated.At, &f.midCreated.ID)
	row(`SELECT received_at, stripe_event_id FROM webhook_events ORDER BY received_at DESC, stripe_event_id DESC
OFFSET (SELECT count(*) / 2 FROM webhook_events) LIMIT 1`, &f.midReceived.At, &f.midReceived.ID)
	f.midStarts = f.yearAgo.Add(now.Sub(f.yearAgo) / 2)
	return f
}

// planCases are the statements of the store with their arguments.
func planCases(f *planFixtures) []planCase {
	var cs []planCase
	add := func(name string, args ...any) {
		sql, ok := postgres.PlanStatements[name]
		if !ok {
			panic("no statement " + name)
		}
		cs = append(cs, planCase{name: name, sql: sql, args: args})
	}
	hour := f.futureDay.Add(10 * time.Hour)
	unknownID := "00000000-0000-4000-8000-000000000000"

	// Customer-facing reads and the booking write path.
	add("busyRangesSQL", f.resource, f.futureDay, f.futureDay.Add(24*time.Hour), f.now)
	add("busyRangesSQL", f.resource, f.pastDay, f.pastDay.Add(24*time.Hour), f.now)
	add("claimIdemKeySQL", f.keyHash, []byte("request"), f.now, f.now.Add(-booking.IdempotencyKeyTTL),
		f.now.Add(-booking.IdempotencyClaimLease))
	add("claimIdemKeySQL", []byte("a new key hash"), []byte("request"), f.now, f.now.Add(-booking.IdempotencyKeyTTL),
		f.now.Add(-booking.IdempotencyClaimLease))
	add("readIdemKeySQL", f.keyHash)
	add("releaseLapsedSQL", f.resource, hour, hour.Add(time.Hour), f.now)
	add("scheduleSQL", f.resource, f.futureDay, f.futureDay.Add(7*24*time.Hour), f.now)
	add("blocksOfSQL", f.resource, f.futureDay, f.futureDay.Add(7*24*time.Hour))
	add("notesOfSQL", f.confirmed)
	add("storeIdemAnswerSQL", f.keyHash, f.pending, []byte("sealed"))
	add("forgetIdemKeySQL", f.keyHash)
	add("findBookingWithTokenSQL", f.confirmed)
	add("findBookingBySessionSQL", f.confirmedSession)
	add("findBookingSQL", f.confirmed)
	add("findResourceSQL", f.resource)
	add("defaultResourceSQL")
	add("listResourcesSQL", false)
	add("messageSentSQL", f.confirmed, "confirmation", int64(0))
	add("messagesOfSQL", f.confirmed)
	add("manageTokenSQL", f.confirmed, f.keyHash)

	// Decisions.
	add("lockBookingByIDSQL", f.confirmed)
	add("lockBookingBySessionSQL", f.confirmedSession, f.confirmed)
	add("lockBookingBySessionSQL", "cs_test_unknown", f.pending)
	add("lockBookingByIntentSQL", f.intent)
	add("lockIntentSQL", f.intent)
	add("moneyByIDSQL", f.confirmed, "evt_plan", "")
	add("moneyByIDSQL", f.review, "", f.waitingPI)
	add("moneyBySessionSQL", f.confirmedSession, "evt_plan", f.intent, f.confirmed)
	add("moneyByIntentSQL", f.intent, "evt_plan", "")
	add("updateBookingSQL", f.confirmed, "confirmed", true, "", booking.CauseStaff, "plan", int64(4500), int64(0), "", int64(0), int64(0))
	add("insertRequestSQL", f.confirmed, int64(0), int64(4500), "eur", booking.RefundSourceStaff, "plan-refund", f.now,
		f.confirmedSession, "plan")
	add("updateRequestSQL", f.owedRequest, booking.RequestOwed, 1, (*time.Time)(nil), "declined", "", 0)
	add("deleteWaitingSQL", f.waitingEvent)
	moved := time.Date(2100, 1, 4, 10, 0, 0, 0, time.UTC)
	add("rescheduleBookingSQL", f.confirmed, moved, moved.Add(time.Hour), booking.CauseStaff, "plan")

	// Refunds owed, the sweep, idempotency answers.
	add("claimDueRefundsSQL", f.now.Add(time.Hour), 60.0, 10)
	add("claimBookingRefundsSQL", f.now, 60.0, 10, f.review)
	add("trySweepLockSQL", int64(42))
	add("expireLapsedSQL", 100, f.now)
	add("purgeIdemKeysSQL", f.now.Add(-booking.IdempotencyKeyTTL), 1000)

	// Staff views.
	add("bookingAuditSQL", f.confirmed)
	add("bookingEventsSQL", f.replayed)
	add("bookingEventsSQL", f.confirmed)
	add("refundRequestsSQL", f.refunded)
	add("findPaymentEventSQL", f.event)
	add("findStoredEventSQL", f.event)
	add("knownEventsSQL", []string{f.event, f.waitingEvent, "evt_unknown"})
	add("moneyFiguresSQL", f.now, booking.RefundReviewAfter)
	add("findStaffSQL", unknownID)
	add("findStaffCredentialsSQL", "nobody@example.com")
	add("listStaffSQL")

	for kind, sql := range postgres.FastChecks() {
		cs = append(cs, planCase{name: "check " + kind, sql: sql, args: []any{100}})
	}

	// Every shape of the booking list, first pages and deep cursors.
	day, dayEnd := f.pastDay, f.pastDay.Add(24*time.Hour)
	cur := func(f booking.BookingFilter, at time.Time, id string) *booking.Cursor {
		return &booking.Cursor{Shape: f.Shape(), At: at, ID: id}
	}
	var filters []booking.BookingFilter
	list := func(bf booking.BookingFilter) { bf.Limit = booking.DefaultPageSize + 1; filters = append(filters, bf) }
	deep := func(bf booking.BookingFilter) {
		if bf.ByStart() {
			bf.After = cur(bf, f.midStarts, "8"+unknownID[1:])
		} else {
			bf.After = cur(bf, f.midCreated.At, f.midCreated.ID)
		}
		list(bf)
	}
	for _, bf := range []booking.BookingFilter{
		{},
		{Status: booking.StatusNeedsReview},
		{Status: booking.StatusAwaitingPayment},
		{Status: booking.StatusPending},
		{Status: booking.StatusConfirmed},
		{ResourceID: f.resource},
		{ResourceID: f.resource, Status: booking.StatusNeedsReview},
		{ResourceID: f.resource, Status: booking.StatusConfirmed},
		{Email: f.email},
		{Email: f.email, Status: booking.StatusNeedsReview},
		{Email: f.email, ResourceID: f.resource},
	} {
		list(bf)
		deep(bf)
	}
	for _, bf := range []booking.BookingFilter{
		{From: day, To: dayEnd},
		{From: f.yearAgo, To: f.now},
		{To: f.yearAgo.AddDate(-1, 0, 10)},
		{From: f.now.AddDate(0, 10, 0)},
		{Status: booking.StatusNeedsReview, From: f.yearAgo, To: f.now},
		{Status: booking.StatusAwaitingPayment, From: f.yearAgo.AddDate(-1, 0, 0)},
		{Status: booking.StatusConfirmed, From: day, To: dayEnd},
		{ResourceID: f.resource, From: day, To: dayEnd},
		{ResourceID: f.resource, From: f.yearAgo, To: f.now},
		{ResourceID: f.resource, Status: booking.StatusNeedsReview, From: f.yearAgo, To: f.now},
		{ResourceID: f.resource, Status: booking.StatusConfirmed, From: day, To: dayEnd},
		{Email: f.email, From: f.yearAgo, To: f.now},
		{Email: f.email, Status: booking.StatusConfirmed, From: f.yearAgo.AddDate(-1, 0, 0)},
	} {
		list(bf)
		deep(bf)
	}
	// A cursor in the middle of one day.
	mid := booking.BookingFilter{From: day, To: dayEnd}
	mid.After = cur(mid, day.Add(12*time.Hour), unknownID)
	list(mid)
	for _, bf := range filters {
		sql, args := postgres.BookingListArgs(bf)
		cs = append(cs, planCase{name: "list " + describeBookingFilter(&bf), sql: sql, args: args})
	}

	// Every shape of the ledger list.
	var events []booking.EventFilter
	elist := func(ef booking.EventFilter) { ef.Limit = booking.DefaultPageSize + 1; events = append(events, ef) }
	for _, ef := range []booking.EventFilter{
		{},
		{From: day, To: dayEnd},
		{Type: booking.EventChargeRefunded},
		{Type: booking.EventCheckoutCompleted, From: day, To: dayEnd},
		{Outcome: string(booking.OutcomeAmountMismatch)},
		{Outcome: string(booking.OutcomeUnmatched), From: f.yearAgo},
		{Type: booking.EventCheckoutCompleted, Outcome: string(booking.OutcomeAmountMismatch)},
		{Type: booking.EventChargeRefunded, Outcome: string(booking.OutcomeUnmatched)},
		{Type: booking.EventCheckoutExpired, Outcome: string(booking.OutcomeProcessed), To: f.yearAgo},
	} {
		elist(ef)
		ef.After = &booking.Cursor{Shape: ef.Shape(), At: f.midReceived.At, ID: f.midReceived.ID}
		elist(ef)
	}
	for _, ef := range events {
		sql, args := postgres.EventListArgs(ef)
		cs = append(cs, planCase{name: "ledger " + describeEventFilter(&ef), sql: sql, args: args})
	}
	return cs
}

func describeBookingFilter(f *booking.BookingFilter) string {
	var p []string
	if f.Status != "" {
		p = append(p, "status="+string(f.Status))
	}
	if f.ResourceID != "" {
		p = append(p, "resource")
	}
	if f.Email != "" {
		p = append(p, "email")
	}
	if !f.From.IsZero() {
		p = append(p, "from="+f.From.Format(time.DateOnly))
	}
	if !f.To.IsZero() {
		p = append(p, "to="+f.To.Format(time.DateOnly))
	}
	if f.After != nil {
		p = append(p, "cursor")
	}
	return f.Shape() + " " + strings.Join(p, " ")
}

func describeEventFilter(f *booking.EventFilter) string {
	var p []string
	for _, kv := range [][2]string{{"type", f.Type}, {"outcome", f.Outcome}} {
		if kv[1] != "" {
			p = append(p, kv[0]+"="+kv[1])
		}
	}
	if !f.From.IsZero() {
		p = append(p, "from="+f.From.Format(time.DateOnly))
	}
	if !f.To.IsZero() {
		p = append(p, "to="+f.To.Format(time.DateOnly))
	}
	if f.After != nil {
		p = append(p, "cursor")
	}
	return f.Shape() + " " + strings.Join(p, " ")
}

// oldCatchAllListSQL is the booking list as one statement for every filter,
// as it was before the list had a statement per shape: the rules must
// refuse it (TestPlans checks they do, on its date filter).
const oldCatchAllListSQL = `
SELECT b.id::text, b.status, b.starts_at, b.created_at,
    (SELECT count(*) FROM disputes d WHERE d.booking_id = b.id),
    (SELECT coalesce(sum(q.amount), 0) FROM refund_requests q WHERE q.booking_id = b.id AND q.state = 'owed')
FROM bookings b
WHERE ($1::text IS NULL OR b.status = $1)
  AND ($2::timestamptz IS NULL OR b.starts_at >= $2)
  AND ($3::timestamptz IS NULL OR b.starts_at < $3)
  AND ($4::timestamptz IS NULL OR (b.created_at, b.id) < ($4, $5::uuid))
ORDER BY b.created_at DESC, b.id DESC
LIMIT $6`

func TestPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var db *postgres.DB
	now := time.Now().UTC().Truncate(time.Second)
	if url := os.Getenv("PLAN_TEST_DATABASE_URL"); url != "" {
		// A database loaded by internal/bulk beforehand, e.g. with a million
		// bookings (scalebench load): its statements run in transactions
		// that are rolled back.
		var err error
		if db, err = postgres.Open(ctx, url, postgres.PoolOpts{MaxConns: 2}); err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		t.Logf("on the database of PLAN_TEST_DATABASE_URL")
	} else {
		db = pgtest.NewAdminDB(t)
		start := time.Now()
		err := bulk.Load(ctx, db, bulk.Opts{Bookings: planBookings, LedgerRows: planLedger, FreshHolds: planFreshHolds, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("loaded %d bookings and about %d ledger rows in %s", planBookings, planLedger, time.Since(start).Round(time.Millisecond))
	}
	f := loadPlanFixtures(t, db, now)
	cases := planCases(f)

	checked := map[string]bool{}
	for _, c := range cases {
		checked[c.name] = true
	}
	for n := range postgres.PlanStatements {
		if !checked[n] {
			t.Errorf("no case runs %s: add its arguments to planCases", n)
		}
	}

	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	start := time.Now()
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		for _, c := range cases {
			plan, err := explainPlan(ctx, conn, mode, c.sql, c.args)
			if err != nil {
				t.Errorf("%s (%s): %v", c.name, mode, err)
				continue
			}
			problems := judgePlan(plan)
			// Rule 4.
			if mode == "force_custom_plan" && plan.jitFunctions > 0 {
				problems = append(problems, fmt.Sprintf("JIT compiled %d functions for one execution: the plan's cost "+
					"estimate passed jit_above_cost", plan.jitFunctions))
			}
			if len(problems) > 0 {
				t.Errorf("%s (%s):\n  %s\nplan:\n%s", c.name, mode, strings.Join(problems, "\n  "), renderPlan(plan, "  "))
			}
		}
	}
	t.Logf("checked %d cases × 2 plan modes in %s", len(cases), time.Since(start).Round(time.Millisecond))

	// The rules have teeth: the old catch-all list filtered by one past day
	// walks the newest-first index and throws most bookings away — under a
	// generic plan at least (a custom plan can use the startsAt index of
	// 00006; without it, both plans walk).
	old := []any{nil, f.pastDay, f.pastDay.Add(24 * time.Hour), nil, nil, booking.DefaultPageSize + 1}
	refused := false
	var plans []string
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		plan, err := explainPlan(ctx, conn, mode, oldCatchAllListSQL, old)
		if err != nil {
			t.Fatalf("old list (%s): %v", mode, err)
		}
		problems := judgePlan(plan)
		refused = refused || len(problems) > 0
		plans = append(plans, mode+": "+strings.Join(problems, "; ")+"\n"+renderPlan(plan, "  "))
	}
	if !refused {
		t.Errorf("the rules accept the old catch-all list filtered by one day:\n%s", strings.Join(plans, "\n"))
	} else {
		t.Logf("the rules refuse the old catch-all list filtered by one day:\n%s", strings.Join(plans, "\n"))
	}
}

// explainPlan prepares sql on conn and runs EXPLAIN (ANALYZE, BUFFERS) of
// its execution with args under plan_cache_mode mode, in a transaction that
// is rolled back, and returns the plan's top node. The arguments go into
// EXECUTE as literals of the parameter types PostgreSQL inferred, as it
// infers them for the store's own statements.
func explainPlan(ctx context.Context, conn *pgxpool.Conn, mode, sql string, args []any) (*planNode, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after an error that ended it
	if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = "+mode); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, "PREPARE plan_stmt AS "+sql); err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "DEALLOCATE plan_stmt") //nolint:errcheck // best effort
	var types []string
	err = tx.QueryRow(ctx, `SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = 'plan_stmt'`).Scan(&types)
	if err != nil {
		return nil, err
	}
	if len(types) != len(args) {
		return nil, fmt.Errorf("%d arguments for %d parameters", len(args), len(types))
	}
	lits := make([]string, len(args))
	for i, a := range args {
		var text *string
		if err := tx.QueryRow(ctx, "SELECT $1::"+types[i]+"::text", a).Scan(&text); err != nil {
			return nil, fmt.Errorf("argument %d (%s): %w", i+1, types[i], err)
		}
		lits[i] = "NULL"
		if text != nil {
			lits[i] = "'" + strings.ReplaceAll(*text, "'", "''") + "'"
		}
	}
	q := "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE plan_stmt"
	if len(lits) > 0 {
		q += "(" + strings.Join(lits, ", ") + ")"
	}
	var out []byte
	if err := tx.QueryRow(ctx, q).Scan(&out); err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	var doc []struct {
		Plan planNode `json:"Plan"`
		JIT  struct {
			Functions int `json:"Functions"`
		} `json:"JIT"`
	}
	if err := json.Unmarshal(out, &doc); err != nil || len(doc) != 1 {
		return nil, fmt.Errorf("read plan: %v: %s", err, out)
	}
	doc[0].Plan.jitFunctions = doc[0].JIT.Functions
	return &doc[0].Plan, nil
}

// planNode is a node of an executed plan (EXPLAIN ANALYZE, FORMAT JSON).
// Row counts are per loop, buffer counts for all loops, both including
// the node's children.
type planNode struct {
	NodeType       string     `json:"Node Type"`
	Operation      string     `json:"Operation"`
	Relation       string     `json:"Relation Name"`
	Index          string     `json:"Index Name"`
	Parent         string     `json:"Parent Relationship"`
	Subplan        string     `json:"Subplan Name"`
	IndexCond      string     `json:"Index Cond"`
	RecheckCond    string     `json:"Recheck Cond"`
	Filter         string     `json:"Filter"`
	ActualRows     float64    `json:"Actual Rows"`
	Loops          float64    `json:"Actual Loops"`
	RemovedFilter  float64    `json:"Rows Removed by Filter"`
	RemovedRecheck float64    `json:"Rows Removed by Index Recheck"`
	RemovedJoin    float64    `json:"Rows Removed by Join Filter"`
	HeapFetches    float64    `json:"Heap Fetches"`
	SharedHit      float64    `json:"Shared Hit Blocks"`
	SharedRead     float64    `json:"Shared Read Blocks"`
	Plans          []planNode `json:"Plans"`
	// jitFunctions (top node only): the functions JIT compiled for the
	// execution, 0 when it was not compiled.
	jitFunctions int
}

func (n *planNode) rows() float64 { return n.ActualRows * n.Loops }
func (n *planNode) removed() float64 {
	return (n.RemovedFilter + n.RemovedRecheck + n.RemovedJoin) * n.Loops
}
func (n *planNode) buffers() float64 { return n.SharedHit + n.SharedRead }

func (n *planNode) walk(fn func(*planNode)) {
	fn(n)
	for i := range n.Plans {
		n.Plans[i].walk(fn)
	}
}

// judgePlan applies the rules of the plan test to the executed plan p and
// returns what breaks them.
func judgePlan(p *planNode) []string {
	var problems []string
	p.walk(func(n *planNode) {
		if strings.Contains(n.NodeType, "Seq Scan") && slices.Contains(planLargeTables, n.Relation) {
			problems = append(problems, fmt.Sprintf("sequential scan of %s (%.0f rows returned)", n.Relation, n.rows()))
		}
		large := slices.Contains(planLargeTables, n.Relation) || n.RemovedJoin > 0
		if large && n.removed() > planRemovedRatio*n.rows()+planRemovedSlack {
			problems = append(problems, fmt.Sprintf("%s discards %.0f rows to return %.0f (limit: %d × returned + %d)",
				nodeLabel(n), n.removed(), n.rows(), planRemovedRatio, planRemovedSlack))
		}
	})
	// The rows a statement finds, and the pages it reads to find them: for
	// a change, the plan below it (its index upkeep is not reading).
	found, buffers := p.rows(), p.buffers()
	if p.NodeType == "ModifyTable" {
		found, buffers = 0, 0
		for i := range p.Plans {
			c := &p.Plans[i]
			if c.Parent == "Outer" || c.Parent == "Member" {
				found += c.rows()
			}
			buffers += c.buffers()
		}
	}
	// Work done for each row of a table that does not grow with history
	// (a check driven by the events waiting for a payment) is bounded too.
	var bounded float64
	p.walk(func(n *planNode) {
		if n.Relation != "" && !slices.Contains(planLargeTables, n.Relation) {
			bounded += n.rows()
		}
	})
	if limit := planBufferBase + planBuffersPerRow*max(found, bounded, 1); buffers > limit {
		problems = append(problems, fmt.Sprintf("reads %.0f buffers to find %.0f rows (%.0f read from small tables; "+
			"limit: %d + %d per row = %.0f)", buffers, found, bounded, planBufferBase, planBuffersPerRow, limit))
	}
	return problems
}

func nodeLabel(n *planNode) string {
	s := n.NodeType
	if n.Operation != "" && n.NodeType == "ModifyTable" {
		s = n.Operation
	}
	if n.Index != "" {
		s += " using " + n.Index
	}
	if n.Relation != "" {
		s += " on " + n.Relation
	}
	if n.Subplan != "" {
		s = n.Subplan + ": " + s
	}
	return s
}

// renderPlan draws p as an indented tree with the counts the rules use.
func renderPlan(p *planNode, indent string) string {
	var b strings.Builder
	var draw func(n *planNode, depth int)
	draw = func(n *planNode, depth int) {
		fmt.Fprintf(&b, "%s%s%s  (rows %.0f×%.0f, removed %.0f, buffers %.0f)\n", indent, strings.Repeat("  ", depth),
			nodeLabel(n), n.ActualRows, n.Loops, n.removed(), n.buffers())
		for _, c := range []struct{ k, v string }{{"index cond", n.IndexCond}, {"recheck", n.RecheckCond}, {"filter", n.Filter}} {
			if c.v != "" {
				fmt.Fprintf(&b, "%s%s    %s: %s\n", indent, strings.Repeat("  ", depth), c.k, c.v)
			}
		}
		for i := range n.Plans {
			draw(&n.Plans[i], depth+1)
		}
	}
	draw(p, 0)
	return b.String()
}

// The staff lists run on their generic plan from the first request: planned
// once per connection, never again per request (collectGeneric), whatever
// PostgreSQL's own choice between custom and generic plans would be.
func TestListsRunOnGenericPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pooled, direct := pgtest.NewPooledDB(t, 1)
	// One connection, so that its prepared statements are the ones asked about.
	db := pgtest.OpenDB(t, direct, 1)
	r := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
	day := pgtest.TestDay(time.UTC)
	for h := range 3 {
		pgtest.CreateBooking(t, db, r, pgtest.BookingOpts{StartsAt: day.Add(time.Duration(10+h) * time.Hour)})
	}
	bookings := booking.BookingFilter{ResourceID: r.ID, Limit: 2}
	events := booking.EventFilter{Limit: 2}
	list := func(t *testing.T, db *postgres.DB) {
		t.Helper()
		page, err := db.ListBookings(ctx, bookings)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 2 {
			t.Fatalf("a page of 2 of the resource's 3 bookings has %d", len(page))
		}
		if _, err := db.ListPaymentEvents(ctx, events); err != nil {
			t.Fatal(err)
		}
	}
	// A statement that fails leaves its transaction aborted; the pool's
	// only connection is replaced, and the next list is answered.
	recovers := func(t *testing.T, db *postgres.DB) {
		t.Helper()
		bad := bookings
		bad.After = &booking.Cursor{Shape: booking.ShapeBookingsResource, At: day, ID: "not-a-uuid"}
		if _, err := db.ListBookings(ctx, bad); err == nil {
			t.Fatal("a list with an id that is not a UUID did not fail")
		}
		list(t, db)
	}

	const runs = 8 // PostgreSQL's own choice makes five custom plans first
	for range runs {
		list(t, db)
	}
	for name, sql := range map[string]string{
		"booking list": first(postgres.BookingListArgs(bookings)),
		"ledger list":  first(postgres.EventListArgs(events)),
	} {
		var generic, custom int
		err := db.Pool.QueryRow(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1`,
			sql).Scan(&generic, &custom)
		if err != nil {
			t.Fatalf("%s: the statement is not prepared on the connection: %v", name, err)
		}
		if custom != 0 || generic != runs {
			t.Errorf("%s: %d custom and %d generic plans for %d runs, want only generic ones", name, custom, generic, runs)
		}
	}
	recovers(t, db)

	// Behind PgBouncer in transaction pooling mode statements are not
	// prepared by name; the transaction and its settings fit it.
	t.Run("through PgBouncer", func(t *testing.T) {
		list(t, pooled)
		recovers(t, pooled)
	})
}

func first(s string, _ []any) string { return s }
