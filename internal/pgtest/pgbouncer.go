package pgtest

import (
	"context"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/peterldowns/pgtestdb"

	"github.com/bookingplatform/booking/internal/postgres"
)

// PgBouncerAddr is the PgBouncer in transaction pooling mode the tests run
// through (TEST_PGBOUNCER_ADDR, default 127.0.0.1:6432; scripts/test.sh
// starts one in front of the test PostgreSQL).
func PgBouncerAddr() string {
	if a := os.Getenv("TEST_PGBOUNCER_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6432"
}

// ThroughPgBouncer returns databaseURL rewritten to reach the same database
// through PgBouncer. The test fails, never skips, when PgBouncer does not
// answer.
func ThroughPgBouncer(t testing.TB, databaseURL string) string {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatalf("parse database url: %v", err)
	}
	addr := PgBouncerAddr()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("PgBouncer does not answer on %s (scripts/test.sh starts one; TEST_PGBOUNCER_ADDR): %v", addr, err)
	}
	conn.Close()
	u.Host = addr
	return u.String()
}

// NewPooledDB returns a store on a fresh migrated database reached through
// PgBouncer in transaction pooling mode, and that database's direct URL.
func NewPooledDB(t testing.TB, maxConns int32) (*postgres.DB, string) {
	t.Helper()
	// PgBouncer keeps its server connections open after the test's pools
	// close: they are ended when the database is dropped.
	cfg := Config()
	cfg.ForceTerminateConnections = true
	direct := pgtestdb.Custom(t, cfg, migrator{}).URL()
	return OpenPooled(t, direct, maxConns), direct
}

// OpenPooled opens another pool, through PgBouncer, on the database of
// direct (a URL NewURL returned); it closes with t.
func OpenPooled(t testing.TB, direct string, maxConns int32) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), ThroughPgBouncer(t, direct), postgres.PoolOpts{MaxConns: maxConns, Pooler: true})
	if err != nil {
		t.Fatalf("open test database through PgBouncer: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}
