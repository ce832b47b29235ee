// Package pgtest gives each test a fresh PostgreSQL database cloned from a
// template migrated once per migration set (through pgtestdb), factories of
// rows, and a test clock for tests that depend on the time of day. Tests
// fail, never skip, when PostgreSQL is not reachable.
package pgtest

import (
	"context"
	"database/sql"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for pgtestdb
	"github.com/peterldowns/pgtestdb"

	"github.com/bookingplatform/booking/internal/postgres"
)

type migrator struct{}

func (migrator) Hash() (string, error) { return postgres.MigrationsHash() }

func (migrator) Migrate(ctx context.Context, db *sql.DB, _ pgtestdb.Config) error {
	return postgres.MigrateDB(ctx, db)
}

// Config is the server the test databases live on: TEST_DATABASE_HOST/PORT/USER
// (default 127.0.0.1:5432, user postgres, no password).
func Config() pgtestdb.Config {
	get := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	return pgtestdb.Config{
		DriverName: "pgx",
		Host:       get("TEST_DATABASE_HOST", "127.0.0.1"),
		Port:       get("TEST_DATABASE_PORT", "5432"),
		User:       get("TEST_DATABASE_USER", "postgres"),
		Password:   os.Getenv("TEST_DATABASE_PASSWORD"),
		Database:   "postgres",
		Options:    "sslmode=disable",
	}
}

// NewURL creates a fresh migrated database for t and returns its URL. The
// database is dropped when the test passes.
func NewURL(t testing.TB) string {
	t.Helper()
	cfg := pgtestdb.Custom(t, Config(), migrator{})
	return cfg.URL()
}

// NewDB returns a store on a fresh migrated database; the pool closes with t.
func NewDB(t testing.TB) *postgres.DB {
	t.Helper()
	return OpenDB(t, NewURL(t), 40)
}

// OpenDB opens a store of at most maxConns connections on the database of
// url (one NewURL returned); the pool closes with t.
func OpenDB(t testing.TB, url string, maxConns int32) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), url, postgres.PoolOpts{MaxConns: maxConns})
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}
