package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Targets of webhook ingestion.
const (
	targetRatio   = 0.60 // webhook events/s at targetLevel relative to the minimal durable work's TPS
	targetP99Ms   = 15.0 // open-loop p99 at half the capacity measured at targetLevel
	targetRSSKB   = 40 * 1024
	targetLevel   = 32
	resultsBegin  = "<!-- results:begin (written by scripts/bench.sh; edit outside these markers) -->"
	resultsEnd    = "<!-- results:end -->"
	defaultHeader = "# Benchmarks\n\n"
)

func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "results JSON written by run (required)")
	rssKB := fs.Int("rss-kb", 0, "peak RSS (VmHWM) of the server in kB")
	out := fs.String("out", "", "Markdown file whose results section is (re)written")
	command := fs.String("command", "./scripts/bench.sh", "the command that produced the results")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" {
		fs.Usage()
		return errors.New("-in is required")
	}
	b, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("read %s: %w", *in, err)
	}

	fmt.Fprint(stdout, textTable(&res, *rssKB))
	if *out != "" {
		section := markdown(&res, *rssKB, *command)
		if err := writeSection(*out, section); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nwrote %s\n", *out)
	}
	for _, lv := range res.Levels {
		if !lv.Valid() {
			return fmt.Errorf("level %d is invalid: answers or final states were wrong", lv.Concurrency)
		}
	}
	if res.OpenLoop != nil && !res.OpenLoop.Valid() {
		return errors.New("the open-loop run is invalid: answers or final states were wrong")
	}
	return nil
}

// ratio is the webhook throughput relative to a pgbench phase's.
func ratio(lv *Level, pg *PgbenchResult) float64 {
	if pg.TPS == 0 {
		return 0
	}
	return lv.Webhook.PerSec / pg.TPS
}

func textTable(res *Results, rssKB int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-5s %12s %8s %8s %9s %11s %11s %9s %9s %8s  %s\n", "conc", "webhook ev/s", "p50 ms", "p99 ms",
		"cpu µs/ev", "same-SQL TPS", "minimal TPS", "vs same", "vs min", "events", "valid")
	for i := range res.Levels {
		lv := &res.Levels[i]
		valid := "yes"
		if !lv.Valid() {
			valid = "NO: " + firstNonEmpty(lv.Webhook.FirstError, lv.Webhook.VerifyError, lv.Pgbench.Error, lv.Minimal.Error)
		}
		fmt.Fprintf(&b, "%-5d %12.0f %8.2f %8.2f %9.0f %11.0f %11.0f %8.0f%% %8.0f%% %8d  %s\n", lv.Concurrency,
			lv.Webhook.PerSec, lv.Webhook.P50Ms, lv.Webhook.P99Ms, lv.Webhook.ServerCPUUs, lv.Pgbench.TPS,
			lv.Minimal.TPS, ratio(lv, &lv.Pgbench)*100, ratio(lv, &lv.Minimal)*100, lv.Webhook.Sent, valid)
	}
	if ol := res.OpenLoop; ol != nil {
		fmt.Fprintf(&b, "open loop at %.0f events/s: %d events, p50 %.2f ms, p99 %.2f ms, max %.2f ms, %d errors %s\n",
			ol.Rate, ol.Sent, ol.P50Ms, ol.P99Ms, ol.MaxMs, ol.Errors, ol.VerifyError)
	}
	fmt.Fprintf(&b, "peak RSS of the server (VmHWM): %.1f MiB\n", float64(rssKB)/1024)
	for _, line := range verdicts(res, rssKB) {
		fmt.Fprintln(&b, line)
	}
	return b.String()
}

// phasesText says how long each phase ran.
func phasesText(res *Results) string {
	if res.Rounds <= 1 {
		return fmt.Sprintf("%d s per phase", res.Seconds)
	}
	return fmt.Sprintf("the three phases of a level in turn, %d rounds of %d s each (latency percentiles: the median of the rounds')",
		res.Rounds, res.RoundSeconds)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// verdicts states each target and whether this run met it.
func verdicts(res *Results, rssKB int) []string {
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	var lines []string
	var top *Level
	for i := range res.Levels {
		if res.Levels[i].Concurrency == targetLevel {
			top = &res.Levels[i]
		}
	}
	if top == nil {
		lines = append(lines, fmt.Sprintf("- concurrency %d was not measured: the throughput target was not evaluated", targetLevel))
	} else {
		r := ratio(top, &top.Minimal)
		lines = append(lines, fmt.Sprintf("- throughput at concurrency %d: %.0f%% of the minimal durable work (target ≥ %.0f%%): %s",
			targetLevel, r*100, targetRatio*100, met(r >= targetRatio)))
	}
	if ol := res.OpenLoop; ol == nil {
		lines = append(lines, "- the open-loop run did not happen: the latency target was not evaluated")
	} else {
		lines = append(lines, fmt.Sprintf("- p99 latency at a steady %.0f events/s (half the capacity measured): %.2f ms (target ≤ %.0f ms): %s",
			ol.Rate, ol.P99Ms, targetP99Ms, met(ol.P99Ms <= targetP99Ms)))
	}
	if rssKB > 0 {
		lines = append(lines, fmt.Sprintf("- peak RSS: %.1f MiB (target ≤ %d MiB): %s",
			float64(rssKB)/1024, targetRSSKB/1024, met(rssKB <= targetRSSKB)))
	}
	for _, lv := range res.Levels {
		if !lv.Valid() {
			lines = append(lines, fmt.Sprintf("- INVALID: concurrency %d had wrong answers or final states", lv.Concurrency))
		}
	}
	if res.OpenLoop != nil && !res.OpenLoop.Valid() {
		lines = append(lines, "- INVALID: the open-loop run had wrong answers or final states")
	}
	return lines
}

func markdown(res *Results, rssKB int, command string) string {
	var b strings.Builder
	m := res.Machine
	fmt.Fprintf(&b, "## Latest results\n\n")
	fmt.Fprintf(&b, "Run `%s` on %s UTC; %s; events of %d bytes.\n\n", command,
		res.Started.Format("2006-01-02 15:04"), phasesText(res), res.PayloadBytes)
	fmt.Fprintf(&b, "| Machine | |\n|---|---|\n")
	fmt.Fprintf(&b, "| CPUs (nproc) | %d |\n| CPU model | %s |\n| RAM | %s |\n| PostgreSQL | %s |\n| Go | %s |\n| Kernel | %s |\n\n",
		m.CPUs, m.Model, m.MemTotal, m.Postgres, m.Go, m.Kernel)
	fmt.Fprintf(&b, "| Concurrency | Webhook events/s | p50 ms | p99 ms | Same SQL, pgbench TPS | Minimal work, pgbench TPS | Webhook / same SQL | Webhook / minimal |\n")
	fmt.Fprintf(&b, "|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for i := range res.Levels {
		lv := &res.Levels[i]
		fmt.Fprintf(&b, "| %d | %.0f | %.2f | %.2f | %.0f | %.0f | %.0f%% | %.0f%% |\n", lv.Concurrency,
			lv.Webhook.PerSec, lv.Webhook.P50Ms, lv.Webhook.P99Ms, lv.Pgbench.TPS, lv.Minimal.TPS,
			ratio(lv, &lv.Pgbench)*100, ratio(lv, &lv.Minimal)*100)
	}
	if ol := res.OpenLoop; ol != nil {
		fmt.Fprintf(&b, "\nOpen loop, a steady %.0f events/s for %.0f s (half the capacity measured at concurrency %d) after "+
			"%d events of warm-up, latency counted from when each event was due: **p50 %.2f ms, p99 %.2f ms**, max %.2f ms; "+
			"%d events in all, %d errors.\n",
			ol.Rate, ol.Seconds, res.Levels[len(res.Levels)-1].Concurrency, ol.WarmUp, ol.P50Ms, ol.P99Ms, ol.MaxMs, ol.Sent,
			ol.Errors)
	}
	fmt.Fprintf(&b, "\nPeak RSS of the server process (VmHWM, whole run): **%.1f MiB**.\n\n", float64(rssKB)/1024)
	fmt.Fprintf(&b, "Details per level:\n\n")
	fmt.Fprintf(&b, "| Concurrency | Events sent | All 200 `processed` | Bookings confirmed | Server CPU µs/event | CPU busy (webhook / same SQL / minimal) | pgbench transactions (same SQL / minimal) | pgbench p99 ms (same SQL / minimal) | Webhook / minimal, each round |\n")
	fmt.Fprintf(&b, "|---:|---:|---|---|---:|---|---:|---:|---|\n")
	for i := range res.Levels {
		lv := &res.Levels[i]
		answers := "yes"
		if lv.Webhook.Errors > 0 {
			answers = fmt.Sprintf("**no**: %d errors, first: %s", lv.Webhook.Errors, lv.Webhook.FirstError)
		}
		confirmed := "yes"
		if lv.Webhook.VerifyError != "" {
			confirmed = "**no**: " + lv.Webhook.VerifyError
		}
		pgb := func(r *PgbenchResult) string {
			s := fmt.Sprintf("%d", r.Transactions)
			if r.Error != "" || r.Failed > 0 {
				s += fmt.Sprintf(" (**failed**: %d, %s)", r.Failed, r.Error)
			}
			return s
		}
		fmt.Fprintf(&b, "| %d | %d | %s | %s | %.0f | %.0f%% / %.0f%% / %.0f%% | %s / %s | %.2f / %.2f | %s |\n", lv.Concurrency,
			lv.Webhook.Sent, answers, confirmed, lv.Webhook.ServerCPUUs, lv.Webhook.MachineBusy*100,
			lv.Pgbench.MachineBusy*100, lv.Minimal.MachineBusy*100, pgb(&lv.Pgbench), pgb(&lv.Minimal),
			lv.Pgbench.P99Ms, lv.Minimal.P99Ms, cmp.Or(lv.roundRatios(), "—"))
	}
	if len(res.Levels) > 0 {
		last := &res.Levels[len(res.Levels)-1]
		fmt.Fprintf(&b, "\npgbench commands (concurrency %d; `paid_checkout.sql` is `webhookbench paid-script`):\n\n", last.Concurrency)
		fmt.Fprintf(&b, "- same SQL: `%s`\n- minimal: `%s`\n", last.Pgbench.Command, last.Minimal.Command)
	}
	fmt.Fprintf(&b, "\nTargets:\n\n")
	for _, line := range verdicts(res, rssKB) {
		fmt.Fprintln(&b, line)
	}
	return b.String()
}

// writeSection replaces the results section of the Markdown file at path,
// keeping everything outside the markers; a missing file is created.
func writeSection(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	block := resultsBegin + "\n" + section + resultsEnd
	var doc []byte
	i, j := bytes.Index(old, []byte(resultsBegin)), bytes.Index(old, []byte(resultsEnd))
	switch {
	case i >= 0 && j > i:
		doc = append(append(append([]byte{}, old[:i]...), block...), old[j+len(resultsEnd):]...)
	case len(old) > 0:
		doc = append(append(bytes.TrimRight(old, "\n"), "\n\n"...), block+"\n"...)
	default:
		doc = []byte(defaultHeader + block + "\n")
	}
	return os.WriteFile(path, doc, 0o644)
}
