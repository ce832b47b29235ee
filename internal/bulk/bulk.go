// Package bulk fills a migrated database with a realistic volume of
// bookings and of what surrounds them — resources, audit rows, payments,
// refunds, disputes, refund requests, ledger rows with their payloads,
// waiting events, replays, idempotency answers — generated inside
// PostgreSQL with generate_series, so that a million bookings load in
// minutes. The plan test of internal/postgres and the scale benchmark
// (e2e/scalebench, scripts/scale-bench.sh) use it.
//
// The data is deterministic for given options and Now: every choice is a
// hash of the booking's number g, and booking g has the id
// md5('bulk-booking-' || g)::uuid, resource g % Resources (id
// md5('bulk-resource-' || i)::uuid), the Checkout Session cs_test_b<g> and
// the customer email customer<c>@example.com (some capitalised). One more
// resource, number Resources, is the same at every size: a month from 60
// days ahead with 415 of its 720 hours booked (415 bookings more,
// numbered from Bookings), for measuring the month view at equal fullness.
package bulk

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/bookingplatform/booking/internal/postgres"
)

//go:embed bulk.sql
var script string

// Opts sizes a load.
type Opts struct {
	// Bookings is how many bookings to create (at least 1).
	Bookings int
	// Resources is how many resources hold them (default 50).
	Resources int
	// LedgerRows is about how many webhook ledger rows to create (default
	// 30% of Bookings).
	LedgerRows int
	// PayloadBytes is the size of each ledger row's payload (default 1500).
	PayloadBytes int
	// FreshHolds adds that many pending bookings made in the last half
	// hour (a sale), with half as many ledger rows received meanwhile: the
	// newest rows then differ from the rest, as they do in life.
	FreshHolds int
	// Now is the moment the data is generated around: two years of
	// bookings before it, one after (default time.Now()).
	Now time.Time
	// Progress, when set, is told the time each statement took.
	Progress func(step string, took time.Duration)
}

// Tables are the tables Load writes to, for ANALYZE and reports.
var Tables = []string{"resources", "bookings", "booking_audit", "payments", "refunds", "disputes", "refund_requests",
	"webhook_events", "pending_money_events", "webhook_event_replays", "idempotency_keys"}

// rebuilt are the large tables whose secondary indexes and exclusion
// constraints Load drops before writing and builds again afterwards: one
// sorted build is many times faster than as many row-by-row insertions.
var rebuilt = []string{"bookings", "booking_audit", "payments", "refunds", "webhook_events"}

// triggered are the tables whose triggers (audit, derived columns, money
// sums checked at commit) Load turns off while it writes rows that are
// consistent by construction, when it may not use session_replication_role.
var triggered = []string{"bookings", "payments", "refunds", "disputes"}

// secondarySQL lists the indexes of the rebuilt tables that no foreign key
// depends on, with how to build them again (and the constraint they back).
const secondarySQL = `
SELECT c.relname, x.relname, pg_get_indexdef(i.indexrelid), coalesce(k.conname, ''),
    coalesce(pg_get_constraintdef(k.oid), '')
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_class x ON x.oid = i.indexrelid
LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid
WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
ORDER BY c.relname, x.relname`

type secondary struct {
	table, index, def, constraint, constraintDef string
}

// Load generates the data of o into a freshly migrated database nobody else
// uses, in one transaction, then vacuums and analyzes the tables. Connected
// as a superuser it turns triggers and foreign-key checks off with
// session_replication_role (the rows are consistent by construction);
// otherwise, as the tables' owner, it disables their triggers (foreign keys
// stay checked, which is slower). The rows have fixed ids, so a second load
// into the same database fails on them.
func Load(ctx context.Context, db *postgres.DB, o Opts) error {
	if o.Bookings < 1 {
		return fmt.Errorf("bulk load: %d bookings", o.Bookings)
	}
	if o.Resources <= 0 {
		o.Resources = 50
	}
	if o.LedgerRows <= 0 {
		o.LedgerRows = max(o.Bookings*3/10, 1)
	}
	if o.PayloadBytes <= 0 {
		o.PayloadBytes = 1500
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string, time.Duration) {}
	}
	step := func(name string, start time.Time) { progress(name, time.Since(start)) }

	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("bulk load: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	var super bool
	if err := tx.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		return fmt.Errorf("bulk load: %w", err)
	}
	setup := []string{
		"SET LOCAL synchronous_commit = off",
		"SET LOCAL work_mem = '256MB'",
		"SET LOCAL maintenance_work_mem = '256MB'",
		"SET LOCAL statement_timeout = 0",
	}
	if super {
		setup = append(setup, "SET LOCAL session_replication_role = replica")
	} else {
		for _, t := range triggered {
			setup = append(setup, "ALTER TABLE "+t+" DISABLE TRIGGER USER")
		}
	}
	for _, q := range setup {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("bulk load: %s: %w", q, err)
		}
	}

	// Drop the secondary indexes and exclusion constraints.
	start := time.Now()
	rows, _ := tx.Query(ctx, secondarySQL, rebuilt)
	var idx []secondary
	for rows.Next() {
		var s secondary
		if err := rows.Scan(&s.table, &s.index, &s.def, &s.constraint, &s.constraintDef); err != nil {
			rows.Close()
			return fmt.Errorf("bulk load: list indexes: %w", err)
		}
		idx = append(idx, s)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("bulk load: list indexes: %w", err)
	}
	for _, s := range idx {
		q := "DROP INDEX " + quoteIdent(s.index)
		if s.constraint != "" {
			q = "ALTER TABLE " + quoteIdent(s.table) + " DROP CONSTRAINT " + quoteIdent(s.constraint)
		}
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("bulk load: %s: %w", q, err)
		}
	}
	step(fmt.Sprintf("drop %d secondary indexes", len(idx)), start)

	_, err = tx.Exec(ctx, `CREATE TEMPORARY TABLE bulk_params ON COMMIT DROP AS
SELECT $1::bigint AS n, $2::int AS r, $3::bigint AS l, $4::int AS p, $5::timestamptz AS t, $6::bigint AS f`,
		o.Bookings, o.Resources, o.LedgerRows, o.PayloadBytes, o.Now, max(o.FreshHolds, 0))
	if err != nil {
		return fmt.Errorf("bulk load: parameters: %w", err)
	}
	for _, q := range statements() {
		start := time.Now()
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("bulk load: %s: %w", summary(q), err)
		}
		step(summary(q), start)
	}

	// Build the indexes and constraints again, exactly as they were.
	for _, s := range idx {
		start := time.Now()
		q := s.def
		if s.constraint != "" {
			q = "ALTER TABLE " + quoteIdent(s.table) + " ADD CONSTRAINT " + quoteIdent(s.constraint) + " " + s.constraintDef
		}
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("bulk load: %s: %w", q, err)
		}
		step("build "+s.index, start)
	}
	if !super {
		for _, t := range triggered {
			if _, err := tx.Exec(ctx, "ALTER TABLE "+t+" ENABLE TRIGGER USER"); err != nil {
				return fmt.Errorf("bulk load: enable triggers of %s: %w", t, err)
			}
		}
	}
	start = time.Now()
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("bulk load: commit: %w", err)
	}
	step("COMMIT", start)
	// VACUUM sets the visibility map (index-only scans) and ANALYZE the
	// statistics the planner decides with.
	start = time.Now()
	if _, err := db.Pool.Exec(ctx, "VACUUM (ANALYZE) "+strings.Join(Tables, ", ")); err != nil {
		return fmt.Errorf("bulk load: vacuum analyze: %w", err)
	}
	step("VACUUM (ANALYZE)", start)
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// statements splits the script on its "-- ;" lines.
func statements() []string {
	var out []string
	for _, part := range strings.Split(script, "\n-- ;\n") {
		var lines []string
		for _, l := range strings.Split(part, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "--") {
				lines = append(lines, l)
			}
		}
		if q := strings.TrimSpace(strings.Join(lines, "\n")); q != "" {
			out = append(out, q)
		}
	}
	return out
}

// summary names a statement by its first words, for progress and errors.
func summary(q string) string {
	f := strings.Fields(q)
	n := min(len(f), 4)
	return strings.Join(f[:n], " ")
}
