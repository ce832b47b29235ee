package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85"

	"github.com/bookingplatform/booking/e2e/internal/bench"
)

var (
	rePgbenchTx     = regexp.MustCompile(`number of transactions actually processed: (\d+)`)
	rePgbenchFailed = regexp.MustCompile(`number of failed transactions: (\d+)`)
	rePgbenchAvg    = regexp.MustCompile(`latency average = ([0-9.]+) ms`)
	rePgbenchTPS    = regexp.MustCompile(`tps = ([0-9.]+)`)
)

// runPgbench runs the script with c clients for the given seconds. Each
// transaction takes booking pgbPrefix<n> with n = base + k*c + client_id, k
// counting that client's transactions from 1, so no two touch the same row.
// shown names the script in the command reported.
func runPgbench(ctx context.Context, bin, script, shown, dbURL string, c, seconds int, base int64, r *PgbenchResult) {
	dir, err := os.MkdirTemp("", "webhookbench-pgbench-")
	if err != nil {
		r.Error = err.Error()
		return
	}
	defer os.RemoveAll(dir)
	sample := eventPayload("evt_pgb_000000000", pgbPrefix+"000000000", bookingID(pgbPrefix+"000000000"), 0)
	cs := strconv.Itoa(c)
	args := []string{"-n", "-M", "prepared", "-c", cs, "-j", cs, "-T", strconv.Itoa(seconds), "-f", script,
		"-D", "k=0", "-D", "clients=" + cs, "-D", "base=" + strconv.FormatInt(base, 10), "-D", "prefix=" + pgbPrefix,
		"-D", "amount=" + strconv.Itoa(benchAmount), "-D", "currency=" + benchCurrency, "-D", "livemode=false",
		"-D", "created=" + time.Now().UTC().Format(time.RFC3339), "-D", "apiver=" + stripe.APIVersion,
		"-D", "payload=\\x" + hex.EncodeToString(sample),
		"-l", "--log-prefix=" + filepath.Join(dir, "pgb")}
	display := make([]string, len(args))
	for i, a := range args {
		if a == script {
			a = shown
		}
		if strings.HasPrefix(a, "payload=") {
			a = fmt.Sprintf("payload=<%d-byte event as bytea>", len(sample))
		}
		if strings.HasPrefix(a, "--log-prefix=") {
			a = "--log-prefix=<tmp>/pgb"
		}
		display[i] = a
	}
	r.Command = "pgbench " + strings.Join(display, " ") + " booking_bench"

	busy := startBusy()
	cmd := exec.CommandContext(ctx, bin, append(args, withAppName(dbURL, "pgbench"))...)
	out, err := cmd.CombinedOutput()
	r.MachineBusy = busy.share()
	text := string(out)
	if m := rePgbenchTx.FindStringSubmatch(text); m != nil {
		r.Transactions, _ = strconv.Atoi(m[1])
	}
	if m := rePgbenchFailed.FindStringSubmatch(text); m != nil {
		r.Failed, _ = strconv.Atoi(m[1])
	}
	if m := rePgbenchAvg.FindStringSubmatch(text); m != nil {
		r.AvgMs, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := rePgbenchTPS.FindStringSubmatch(text); m != nil {
		r.TPS, _ = strconv.ParseFloat(m[1], 64)
	}
	if err != nil || r.Transactions == 0 || strings.Contains(text, "aborted") {
		r.Error = fmt.Sprintf("pgbench failed (%v): %s", err, lastLines(text, 6))
		return
	}
	lat, err := pgbenchLatencies(dir)
	if err != nil {
		r.Error = err.Error()
		return
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.P50Ms = float64(bench.Percentile(lat, 0.50)) / 1000
		r.P99Ms = float64(bench.Percentile(lat, 0.99)) / 1000
	}
}
