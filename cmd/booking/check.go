package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
)

// errViolations makes `booking check` exit 1 without another message.
var errViolations = errors.New("violations found")

func cmdCheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fast := fs.Bool("fast", false, "only the index-backed checks the server runs every minute")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: booking check [--fast]")
		fmt.Fprintln(stderr, "Reports every violation of the data invariants and money rules found in the database,")
		fmt.Fprintln(stderr, "one line each; exit status 1 when there is any.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageError{}
	}
	if fs.NArg() > 0 {
		return usageError{msg: "check: unexpected argument " + fs.Arg(0)}
	}
	_, db, err := openStore(ctx, getenv, 2)
	if err != nil {
		return err
	}
	defer db.Close()
	what := "full check"
	if *fast {
		what = "fast check"
	}
	fmt.Fprintf(stderr, "check: running the %s of the money rules…\n", what)
	c := &booking.Checker{Store: db, Now: time.Now}
	r, err := c.Check(ctx, !*fast)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	for _, v := range r.Violations {
		fmt.Fprintln(stdout, v.String())
	}
	f := r.Figures
	fmt.Fprintf(stderr, "check: %s in %s; %d booking(s) need review, %d refund(s) owed (%d failing)\n",
		what, r.Took.Round(time.Millisecond), f.NeedsReview, f.RefundsOwed, f.RefundsFailing)
	fmt.Fprintln(stdout, r.Summary())
	if len(r.Violations) > 0 {
		return errViolations
	}
	return nil
}
