package pgtest

import (
	"context"
	"net/url"
	"testing"

	"github.com/bookingplatform/booking/internal/postgres"
)

// NewAdminDB returns a store on a fresh migrated database, connected as the
// server's administrator (TEST_DATABASE_USER, a superuser by default) rather
// than as the database's owner: for tests that load data in bulk, which
// turn triggers and foreign-key checks off (internal/bulk). The pool closes
// with t, before the database is dropped.
func NewAdminDB(t testing.TB) *postgres.DB {
	t.Helper()
	u, err := url.Parse(NewURL(t))
	if err != nil {
		t.Fatalf("parse test database url: %v", err)
	}
	cfg := Config()
	u.User = url.UserPassword(cfg.User, cfg.Password)
	if cfg.Password == "" {
		u.User = url.User(cfg.User)
	}
	db, err := postgres.Open(context.Background(), u.String(), postgres.PoolOpts{MaxConns: 4})
	if err != nil {
		t.Fatalf("open test database as %s: %v", cfg.User, err)
	}
	t.Cleanup(db.Close)
	return db
}
