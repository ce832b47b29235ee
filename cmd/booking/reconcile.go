package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/payment"
	"github.com/bookingplatform/booking/internal/postgres"
)

// maxReconcileSince is how far back Stripe's Events API goes.
const maxReconcileSince = 30 * 24 * time.Hour

// reconcileProgressEvery is how often a long run reports progress on stderr.
const reconcileProgressEvery = 100

func cmdReconcile(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	since := fs.Duration("since", 72*time.Hour, "process events created within this long before now (at most 720h)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: booking reconcile [--since 72h]")
		fmt.Fprintln(stderr, "Lists recent Stripe events of the handled types and processes those the ledger lacks.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageError{}
	}
	if fs.NArg() > 0 {
		return usageError{msg: "reconcile: unexpected argument " + fs.Arg(0)}
	}
	if *since <= 0 || *since > maxReconcileSince {
		return usageError{msg: "reconcile: --since must be a duration from 1s to 720h (Stripe keeps events 30 days)"}
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if cfg.StripeSecret == "" {
		return errors.New("reconcile: STRIPE_SECRET_KEY is required (demo payments have no Events API)")
	}
	log := newLogger(stderr, cfg.LogLevel)
	db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.PoolOpts{MaxConns: 4})
	if err != nil {
		return err
	}
	defer db.Close()
	st := payment.NewStripe(payment.StripeOpts{SecretKey: cfg.StripeSecret, APIBase: cfg.StripeAPIBase, AppURL: cfg.AppURL})
	a, err := newApp(cfg, db, log)
	if err != nil {
		return err
	}

	from := time.Now().Add(-*since)
	fmt.Fprintf(stderr, "reconcile: listing Stripe events since %s\n", from.UTC().Format(time.RFC3339))
	sum, err := reconcile(ctx, st.ListEvents(ctx, from), db.KnownEvents, a.Fulfiller.HandleEvent, stderr)
	// Refunds the events left owed are made now, as the server would.
	if _, rerr := a.Refunds.RunDue(ctx); rerr != nil && err == nil {
		err = fmt.Errorf("refunds: %w", rerr)
	}
	fmt.Fprintln(stdout, sum.String())
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	if sum.Failed > 0 {
		return fmt.Errorf("reconcile: %d event(s) failed; run it again to retry them", sum.Failed)
	}
	return nil
}

// reconcileSummary counts what a reconcile run did.
type reconcileSummary struct {
	Seen      int // events of the handled types listed
	Skipped   int // events of other types (a listing that ignored the filter)
	Known     int // already in the ledger
	Processed int // fed through fulfilment now
	Failed    int // unreadable, or processing failed
	Outcomes  map[booking.Outcome]int
}

func (s reconcileSummary) String() string {
	out := fmt.Sprintf("seen %d, already known %d, processed %d, failed %d", s.Seen, s.Known, s.Processed, s.Failed)
	if s.Skipped > 0 {
		out += fmt.Sprintf(", skipped %d of other types", s.Skipped)
	}
	if len(s.Outcomes) > 0 {
		keys := make([]string, 0, len(s.Outcomes))
		for o, n := range s.Outcomes {
			keys = append(keys, fmt.Sprintf("%s %d", o, n))
		}
		sort.Strings(keys)
		out += " (" + strings.Join(keys, ", ") + ")"
	}
	return out
}

// knownFunc reports which event ids the ledger holds.
type knownFunc func(ctx context.Context, ids []string) (map[string]bool, error)

// handleFunc processes one event through the idempotent fulfilment path.
type handleFunc func(ctx context.Context, ev *booking.PaymentEvent) (*booking.EventResult, error)

// knownBatch is how many event ids one ledger lookup checks.
const knownBatch = 500

// reconcile lists the events, then feeds those the ledger lacks through
// handle, oldest first. It is safe to run beside the server and on several
// machines at once: the ledger's unique event id lets one of the concurrent
// deliveries of an event through and makes the others duplicates. A listing
// that stops early is returned as an error after what was listed is processed.
func reconcile(ctx context.Context, events iter.Seq2[payment.ListedEvent, error], known knownFunc, handle handleFunc, progress io.Writer) (reconcileSummary, error) {
	sum := reconcileSummary{Outcomes: map[booking.Outcome]int{}}
	var listed []*booking.PaymentEvent
	var listErr error
	for le, err := range events {
		if err != nil && le.ID == "" {
			listErr = err
			break
		}
		if le.Event == nil && err == nil {
			sum.Skipped++
			continue
		}
		sum.Seen++
		if err != nil {
			sum.Failed++
			fmt.Fprintf(progress, "reconcile: cannot read event %s: %v\n", le.ID, err)
			continue
		}
		listed = append(listed, le.Event)
		if sum.Seen%reconcileProgressEvery == 0 {
			fmt.Fprintf(progress, "reconcile: listed %d events\n", sum.Seen)
		}
	}
	// The Events API lists newest first; apply them in the order they happened.
	slices.Reverse(listed)
	sort.SliceStable(listed, func(i, j int) bool { return listed[i].Created.Before(listed[j].Created) })

	done := 0
	for start := 0; start < len(listed); start += knownBatch {
		batch := listed[start:min(start+knownBatch, len(listed))]
		ids := make([]string, len(batch))
		for i, ev := range batch {
			ids[i] = ev.ID
		}
		have, err := known(ctx, ids)
		if err != nil {
			return sum, fmt.Errorf("read ledger: %w", err)
		}
		for _, ev := range batch {
			if ctx.Err() != nil {
				return sum, ctx.Err()
			}
			done++
			if done%reconcileProgressEvery == 0 {
				fmt.Fprintf(progress, "reconcile: %d/%d events checked (processed %d, failed %d)\n", done, len(listed), sum.Processed, sum.Failed)
			}
			if have[ev.ID] {
				sum.Known++
				continue
			}
			res, err := handle(ctx, ev)
			if err != nil {
				sum.Failed++
				fmt.Fprintf(progress, "reconcile: event %s (%s) failed: %v\n", ev.ID, ev.Type, err)
				continue
			}
			sum.Processed++
			sum.Outcomes[res.Outcome]++
		}
	}
	if listErr != nil {
		return sum, fmt.Errorf("listing stopped after %d events: %w", sum.Seen+sum.Skipped, listErr)
	}
	return sum, nil
}
