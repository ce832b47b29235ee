package postgres

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/bookingplatform/booking/internal/postgres/migrations"
)

// migrationLockID is the advisory lock key that serialises migrations across
// replicas starting at the same time.
const migrationLockID = 0x626f6f6b696e67 // "booking"

func newProvider(db *sql.DB) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithSessionLocker(locker),
		goose.WithGoMigrations(riverMigration()))
}

// riverVersion is the schema version of River's job tables (river_job,
// river_leader, river_queue, ...) that this build needs: migration 10
// applies River's own migrations up to it, in goose's order and under its
// lock, so that `booking migrate`, serve and the test template all get
// River's tables the same way. A River upgrade that brings new River
// migrations adds a goose migration of its own that moves riverVersion on.
const riverVersion = 8

func riverMigration() *goose.Migration {
	// River's migrations run one transaction each (a later one uses an enum
	// value an earlier one adds, which PostgreSQL refuses in the same
	// transaction); River records each in river_migration, so a run that
	// stops half-way resumes where it stopped.
	run := func(direction rivermigrate.Direction, target int) func(ctx context.Context, db *sql.DB) error {
		return func(ctx context.Context, db *sql.DB) error {
			m, err := rivermigrate.New(riverdatabasesql.New(db), nil)
			if err != nil {
				return err
			}
			_, err = m.Migrate(ctx, direction, &rivermigrate.MigrateOpts{TargetVersion: target})
			return err
		}
	}
	return goose.NewGoMigration(10,
		&goose.GoFunc{RunDB: run(rivermigrate.DirectionUp, riverVersion)},
		&goose.GoFunc{RunDB: run(rivermigrate.DirectionDown, -1)})
}

// Migrate applies pending migrations under a PostgreSQL session advisory lock,
// so concurrent callers wait for each other instead of racing. It logs each
// applied migration and returns the resulting version.
func Migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (int64, error) {
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	p, err := newProvider(sqlDB)
	if err != nil {
		return 0, fmt.Errorf("prepare migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return 0, fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range results {
		log.InfoContext(ctx, "migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration_ms", r.Duration.Milliseconds())
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// MigrateURL applies migrations using a short-lived pool for url.
func MigrateURL(ctx context.Context, url string, log *slog.Logger) (int64, error) {
	db, err := Open(ctx, url, PoolOpts{MaxConns: 2})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return Migrate(ctx, db.Pool, log)
}

// MigrateDB applies migrations through a database/sql handle (used by the
// test database template).
func MigrateDB(ctx context.Context, db *sql.DB) error {
	p, err := newProvider(db)
	if err != nil {
		return fmt.Errorf("prepare migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// MigrationsHash identifies the embedded migration set.
func MigrationsHash() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "river\x00%d\x00", riverVersion)
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}
