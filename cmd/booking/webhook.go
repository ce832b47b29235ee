package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/bookingplatform/booking/internal/booking"
)

const webhookUsage = `Usage: booking webhook replay <event-id>

Re-runs a Stripe event stored in the ledger through the same idempotent
fulfilment as its delivery: an effect already applied is not applied again.
`

func cmdWebhook(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "replay" {
		fmt.Fprint(stderr, webhookUsage)
		if len(args) == 0 {
			return usageError{}
		}
		return usageError{msg: fmt.Sprintf("webhook: unknown subcommand %q", args[0])}
	}
	fs := flag.NewFlagSet("webhook replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, webhookUsage) }
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{}
	}
	if fs.NArg() != 1 || fs.Arg(0) == "" {
		fmt.Fprint(stderr, webhookUsage)
		return usageError{msg: "webhook replay: exactly one event id expected"}
	}
	eventID := fs.Arg(0)
	cfg, db, err := openStore(ctx, getenv, 2)
	if err != nil {
		return err
	}
	defer db.Close()
	log := newLogger(stderr, cfg.LogLevel)

	a, err := newApp(cfg, db, log)
	if err != nil {
		return err
	}
	res, _, err := a.Fulfiller.Replay(ctx, eventID, booking.Cause{Kind: booking.CauseSys, Ref: "cli"})
	if err != nil {
		if booking.ErrorCode(err) == booking.ENotFound {
			return fmt.Errorf("webhook replay: no event %s in the ledger", eventID)
		}
		return fmt.Errorf("webhook replay: %w", err)
	}
	// Refunds the replay left owed are made now, as the server would.
	if res.RefundsOwed {
		if _, err := a.Refunds.RunDue(ctx); err != nil {
			return fmt.Errorf("webhook replay: refunds: %w", err)
		}
	}
	line := fmt.Sprintf("event %s: outcome %s", eventID, res.Outcome)
	if res.BookingID != "" {
		line += fmt.Sprintf(", booking %s is %s", res.BookingID, res.Status)
	}
	if res.Detail != "" {
		line += " (" + res.Detail + ")"
	}
	fmt.Fprintln(stdout, line)
	return nil
}
