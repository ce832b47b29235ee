package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const (
	// targetGrowth is the most an endpoint's p50 may grow from the smallest
	// to the largest database.
	targetGrowth = 1.5
	resultsBegin = "<!-- scale-results:begin (written by scripts/scale-bench.sh; edit outside these markers) -->"
	resultsEnd   = "<!-- scale-results:end -->"
)

func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "comma-separated results of run, smallest database first (required)")
	out := fs.String("out", "", "Markdown file whose scale results section is (re)written")
	command := fs.String("command", "./scripts/scale-bench.sh", "the command that produced the results")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" {
		fs.Usage()
		return errors.New("-in is required")
	}
	var runs []Results
	for _, name := range strings.Split(*in, ",") {
		b, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		var r Results
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		runs = append(runs, r)
	}
	md := markdown(runs, *command)
	fmt.Fprint(stdout, md)
	if *out != "" {
		if err := writeSection(*out, md); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nwrote %s\n", *out)
	}
	return nil
}

// growth is how much the p50 of endpoint i grew from the first run to the last.
func growth(small, large *Measure) float64 {
	if small.P50Ms == 0 {
		return 0
	}
	return large.P50Ms / small.P50Ms
}

func find(r *Results, name string) *Endpoint {
	for i := range r.Endpoints {
		if r.Endpoints[i].Name == name {
			return &r.Endpoints[i]
		}
	}
	return nil
}

func markdown(runs []Results, command string) string {
	var b strings.Builder
	if len(runs) == 0 {
		return "No results.\n"
	}
	first, last := &runs[0], &runs[len(runs)-1]
	m := last.Machine
	fmt.Fprintf(&b, "## Latest scale results\n\n")
	fmt.Fprintf(&b, "Run `%s` on %s UTC; per endpoint and size %d rounds of %d s (the sizes in turn, latencies pooled) after a warm-up.\n\n",
		command, first.Started.Format("2006-01-02 15:04"), last.Rounds, last.Seconds)
	fmt.Fprintf(&b, "| Machine | |\n|---|---|\n")
	fmt.Fprintf(&b, "| CPUs (nproc) | %d |\n| CPU model | %s |\n| RAM | %s |\n| PostgreSQL | %s |\n| Go | %s |\n| Kernel | %s |\n",
		m.CPUs, m.Model, m.MemTotal, m.Postgres, m.Go, m.Kernel)
	var loads []string
	for _, r := range runs {
		loads = append(loads, fmt.Sprintf("%s: %s", r.Label, r.Machine.Load))
	}
	fmt.Fprintf(&b, "| Load average at the start of each size | %s |\n\n", strings.Join(loads, "; "))

	fmt.Fprintf(&b, "| Data | %s |\n|---|%s\n", joinRuns(runs, func(r *Results) string { return r.Label }),
		strings.Repeat("---:|", len(runs)))
	rows := []struct {
		name string
		val  func(r *Results) string
	}{
		{"bookings", func(r *Results) string { return thousands(r.Data.Bookings) }},
		{"payments", func(r *Results) string { return thousands(r.Data.Payments) }},
		{"refunds", func(r *Results) string { return thousands(r.Data.Refunds) }},
		{"ledger rows (1.5 KB payloads)", func(r *Results) string { return thousands(r.Data.LedgerRows) }},
		{"audit rows", func(r *Results) string { return thousands(r.Data.AuditRows) }},
		{"database size", func(r *Results) string { return r.Data.Size }},
		{"load time (internal/bulk)", func(r *Results) string { return fmt.Sprintf("%.0f s", r.LoadSeconds) }},
		{"server peak RSS (VmHWM)", func(r *Results) string { return fmt.Sprintf("%.1f MiB", float64(r.RSSKB)/1024) }},
	}
	for _, row := range rows {
		fmt.Fprintf(&b, "| %s | %s |\n", row.name, joinRuns(runs, row.val))
	}

	fmt.Fprintf(&b, "\nThroughput (requests/s) and latency (ms) through HTTP, and pgbench running the minimal SQL for the same answer (`bench/scale_*.sql`) at the same concurrency:\n\n")
	fmt.Fprintf(&b, "| Endpoint | c | %[1]s req/s | %[1]s p50 | %[1]s p99 | %[2]s req/s | %[2]s p50 | %[2]s p99 | p50 %[2]s/%[1]s | pgbench %[1]s TPS, p50 | pgbench %[2]s TPS, p50 | pgbench p50 %[2]s/%[1]s | HTTP/pgbench req/s %[2]s |\n",
		first.Label, last.Label)
	fmt.Fprintf(&b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var verdicts []string
	for i := range last.Endpoints {
		l := &last.Endpoints[i]
		s := find(first, l.Name)
		if s == nil {
			continue
		}
		g := growth(&s.HTTP, &l.HTTP)
		ratio := 0.0
		if l.Pgbench.PerSec > 0 {
			ratio = l.HTTP.PerSec / l.Pgbench.PerSec
		}
		fmt.Fprintf(&b, "| %s | %d | %.0f | %.2f | %.2f | %.0f | %.2f | %.2f | **%.2f×** | %.0f, %.2f | %.0f, %.2f | %.2f× | %.0f%% |\n",
			l.Name, l.Concurrency, s.HTTP.PerSec, s.HTTP.P50Ms, s.HTTP.P99Ms, l.HTTP.PerSec, l.HTTP.P50Ms, l.HTTP.P99Ms, g,
			s.Pgbench.PerSec, s.Pgbench.P50Ms, l.Pgbench.PerSec, l.Pgbench.P50Ms, growth(&s.Pgbench, &l.Pgbench), ratio*100)
		met := "met"
		if g > targetGrowth {
			met = "NOT met"
		}
		verdicts = append(verdicts, fmt.Sprintf("- %s: p50 %.2f ms → %.2f ms, %.2f× (target ≤ %.1f×): %s", l.Name,
			s.HTTP.P50Ms, l.HTTP.P50Ms, g, targetGrowth, met))
		for _, mm := range []*Measure{&s.HTTP, &l.HTTP, &s.Pgbench, &l.Pgbench} {
			if mm.Errors > 0 {
				verdicts = append(verdicts, fmt.Sprintf("- %s: **%d wrong answers**: %s", l.Name, mm.Errors, mm.FirstError))
			}
		}
	}
	fmt.Fprintf(&b, "\nRequests:\n\n")
	for _, e := range last.Endpoints {
		req := "`" + e.Request + "`"
		if s := find(first, e.Name); s != nil && s.Request != e.Request {
			req = fmt.Sprintf("%s: `%s`; %s: `%s`", first.Label, s.Request, last.Label, e.Request)
		}
		fmt.Fprintf(&b, "- %s: %s\n", e.Name, req)
	}
	fmt.Fprintf(&b, "\nTargets (p50 growth from %s to %s bookings):\n\n%s\n", first.Label, last.Label, strings.Join(verdicts, "\n"))
	fmt.Fprintf(&b, "\npgbench commands (%s):\n\n", last.Label)
	for _, e := range last.Endpoints {
		fmt.Fprintf(&b, "- `%s`\n", e.Pgbench.Command)
	}
	return b.String()
}

func joinRuns(runs []Results, f func(r *Results) string) string {
	var parts []string
	for i := range runs {
		parts = append(parts, f(&runs[i]))
	}
	return strings.Join(parts, " | ")
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// writeSection replaces the scale results section of the Markdown file at
// path, keeping everything outside the markers; without markers the section
// is appended.
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
	default:
		doc = append(append(bytes.TrimRight(old, "\n"), "\n\n"...), block+"\n"...)
	}
	return os.WriteFile(path, doc, 0o644)
}
