// Command webhookbench measures Stripe webhook ingestion: it fires signed
// checkout.session.completed events at a running booking server, checks every
// answer and every booking, and runs pgbench with the same SQL statements the
// server executes per event (postgres.PaidCheckoutScript) and with the
// minimal durable work for an event (bench/minimal_event.sql), so the three
// can be compared side by side; then measures latency at a steady rate.
//
// scripts/bench.sh drives it; see docs/BENCHMARKS.md.
//
//	webhookbench run     -db URL -url http://127.0.0.1:PORT -secret whsec_... -out results.json
//	webhookbench report  -in results.json -rss-kb N -out docs/BENCHMARKS.md
//	webhookbench freeport
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/bookingplatform/booking/internal/postgres"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "webhookbench:", err)
		}
		os.Exit(1)
	}
}

const usage = `Usage: webhookbench <command> [flags]

Commands:
  run       prepare bookings, fire signed webhooks and run pgbench per concurrency level
  report    print the results table and write the results section of a Markdown file
  freeport  print a free TCP port on 127.0.0.1
  paid-script
            print the pgbench script of the product's write path for a paid checkout
  steps     run the write path built up from the minimal durable work, one piece at a time
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing command")
	}
	switch args[0] {
	case "run":
		return cmdRun(ctx, args[1:], stdout, stderr)
	case "report":
		return cmdReport(args[1:], stdout, stderr)
	case "freeport":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer ln.Close()
		fmt.Fprintln(stdout, ln.Addr().(*net.TCPAddr).Port)
		return nil
	case "steps":
		return cmdSteps(ctx, args[1:], stdout, stderr)
	case "paid-script":
		_, err := io.WriteString(stdout, postgres.PaidCheckoutScript())
		return err
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
