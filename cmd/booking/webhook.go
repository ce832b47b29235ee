package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/config"
	"github.com/bookingplatform/booking/internal/payment"
	"github.com/bookingplatform/booking/internal/postgres"
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

	stored, err := db.FindStoredEvent(ctx, eventID)
	if err != nil {
		if booking.ErrorCode(err) == booking.ENotFound {
			return fmt.Errorf("webhook replay: no event %s in the ledger", eventID)
		}
		return err
	}
	ev, err := payment.ParseStored(stored.Payload)
	if err != nil {
		return fmt.Errorf("webhook replay: %w", err)
	}
	ev.Source = "replay"
	res, err := newCommandService(cfg, db, log).HandleEvent(ctx, ev)
	if err != nil {
		return fmt.Errorf("webhook replay: %w", err)
	}
	line := fmt.Sprintf("event %s (%s): outcome %s", ev.ID, ev.Type, res.Outcome)
	if res.BookingID != "" {
		line += fmt.Sprintf(", booking %s is %s", res.BookingID, res.Status)
	}
	if res.Detail != "" {
		line += " (" + res.Detail + ")"
	}
	fmt.Fprintln(stdout, line)
	return nil
}

// newCommandService is the booking service of a one-off command: Stripe, or
// demo payments in development without Stripe keys, as serve would use.
func newCommandService(cfg *config.Config, db *postgres.DB, log *slog.Logger) *booking.Service {
	svc := &booking.Service{Store: db, Logger: log, Hold: time.Duration(cfg.HoldMinutes) * time.Minute, Now: time.Now,
		ParseStored: payment.ParseStored}
	if cfg.DemoPayments {
		d := &payment.Demo{AppURL: cfg.AppURL}
		svc.Payments, svc.Refunder = d, d
	} else {
		st := payment.NewStripe(payment.StripeOpts{SecretKey: cfg.StripeSecret, APIBase: cfg.StripeAPIBase, AppURL: cfg.AppURL})
		svc.Payments, svc.Refunder = st, st
	}
	return svc
}
