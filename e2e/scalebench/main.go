// Command scalebench measures how the product's reads and writes scale with
// the number of bookings: it loads a database with internal/bulk, then
// drives a running booking server endpoint by endpoint (availability,
// booking creation, the staff lists, the booking view, the ledger) and runs
// pgbench with the minimal SQL for the same answers, so the growth from a
// thousand to a million bookings can be compared with PostgreSQL's own.
//
// scripts/scale-bench.sh drives it; see docs/BENCHMARKS.md.
//
//	scalebench load     -db URL -bookings N
//	scalebench run      -db URL -url http://127.0.0.1:PORT -email E -password P -out results.json
//	scalebench report   -in 1k.json,1m.json -out docs/BENCHMARKS.md
//	scalebench freeport
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "scalebench:", err)
		}
		os.Exit(1)
	}
}

const usage = `Usage: scalebench <command> [flags]

Commands:
  load      fill a freshly migrated database with bookings, money and ledger rows
  run       measure every endpoint against a running server, and pgbench with the same SQL
  report    print the table of two runs (1k and 1M) and write it into a Markdown file
  freeport  print a free TCP port on 127.0.0.1
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing command")
	}
	switch args[0] {
	case "load":
		return cmdLoad(ctx, args[1:], stdout, stderr)
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
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// withAppName sets application_name on a postgres URL unless present.
func withAppName(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	if q.Get("application_name") == "" {
		q.Set("application_name", name)
		u.RawQuery = q.Encode()
	}
	return u.String()
}
