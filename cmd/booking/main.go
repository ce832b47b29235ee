// Command booking is the booking platform: an HTTP server for paid bookings
// confirmed by Stripe webhooks, and the commands to operate it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ue usageError
		if (!errors.As(err, &ue) || ue.msg != "") && !errors.Is(err, errViolations) {
			fmt.Fprintln(os.Stderr, "booking:", err)
		}
		os.Exit(exitCode(err))
	}
}

// usageError is a command-line mistake; it exits with status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

const usage = `Usage: booking <command> [flags]

Commands:
  serve                      apply pending migrations and serve HTTP
  migrate                    apply pending migrations and exit
  seed                       create the demo resource when none exists
  user create --email --role create a staff account (password from stdin or generated)
  webhook replay <event-id>  re-run a stored Stripe event through fulfilment
  reconcile --since 72h      process Stripe events the ledger lacks
  check [--fast]             report violations of the money rules (exit 1 if any)
  healthcheck                exit 0 when the local server's /health is ok
  version                    print the version

Configuration comes from the environment and an optional .env file; see the README.
`

// run is the whole program; main only wires the process to it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, getenv, stdout, stderr)
	case "seed":
		return cmdSeed(ctx, rest, getenv, stdout, stderr)
	case "user":
		return cmdUser(ctx, rest, getenv, stdin, stdout, stderr)
	case "webhook":
		return cmdWebhook(ctx, rest, getenv, stdout, stderr)
	case "reconcile":
		return cmdReconcile(ctx, rest, getenv, stdout, stderr)
	case "check":
		return cmdCheck(ctx, rest, getenv, stdout, stderr)
	case "healthcheck":
		return cmdHealthcheck(ctx, rest, getenv, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "booking", version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{msg: fmt.Sprintf("unknown command %q", cmd)}
}
