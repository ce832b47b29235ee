package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/bookingplatform/booking/internal/bulk"
	"github.com/bookingplatform/booking/internal/postgres"
)

// cmdLoad fills a migrated database with bulk.Load.
func cmdLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("db", "", "database URL of a freshly migrated database (required)")
	n := fs.Int("bookings", 1000, "bookings to create")
	resources := fs.Int("resources", 50, "resources holding them")
	ledger := fs.Int("ledger", 0, "ledger rows (default 30% of the bookings)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbURL == "" {
		fs.Usage()
		return errors.New("-db is required")
	}
	db, err := postgres.Open(ctx, withAppName(*dbURL, "scalebench"), postgres.PoolOpts{MaxConns: 2})
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	err = bulk.Load(ctx, db, bulk.Opts{Bookings: *n, Resources: *resources, LedgerRows: *ledger,
		Progress: func(step string, took time.Duration) {
			fmt.Fprintf(stderr, "    %-40s %8.1f s\n", step, took.Seconds())
		}})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "loaded %d bookings in %.0f s\n", *n, time.Since(start).Seconds())
	return nil
}
