package main

import (
	"strings"
	"testing"
)

// A level adds its rounds up: counts and time summed, throughput over the
// whole time, means weighted by count, percentiles the median of the
// rounds', the first error kept, and each round's ratio listed.
func TestLevelAddsUpItsRounds(t *testing.T) {
	round := func(sent int, secs, p99, tps float64, verify string) Level {
		return Level{Concurrency: 32,
			Webhook: WebhookResult{Sent: sent, OK: sent, Seconds: secs, PerSec: float64(sent) / secs, MeanMs: p99 / 2,
				P50Ms: p99 / 4, P99Ms: p99, MaxMs: p99 * 2, ServerCPUUs: 500, VerifyError: verify},
			Pgbench: PgbenchResult{Transactions: int(tps * secs), TPS: tps, AvgMs: 10, P99Ms: 30, Command: "same"},
			Minimal: PgbenchResult{Transactions: int(2 * tps * secs), TPS: 2 * tps, AvgMs: 5, P99Ms: p99 / 2, Command: "min"},
		}
	}
	l := Level{Concurrency: 32, Rounds: []Level{
		round(1000, 5, 90, 400, ""),
		round(3000, 5, 30, 1000, "round 2 wrong"),
		round(2000, 5, 60, 500, ""),
	}}
	l.addUp()
	if l.Webhook.Sent != 6000 || l.Webhook.Seconds != 15 || l.Webhook.PerSec != 400 {
		t.Errorf("webhook %d events in %.0f s = %.0f/s, want 6000 in 15 s = 400/s", l.Webhook.Sent, l.Webhook.Seconds,
			l.Webhook.PerSec)
	}
	if l.Webhook.P99Ms != 60 || l.Webhook.MaxMs != 180 {
		t.Errorf("p99 %.0f (want the median 60), max %.0f (want 180)", l.Webhook.P99Ms, l.Webhook.MaxMs)
	}
	if want := (1000*45.0 + 3000*15 + 2000*30) / 6000; l.Webhook.MeanMs != want {
		t.Errorf("mean %.2f, want %.2f (weighted by events)", l.Webhook.MeanMs, want)
	}
	if l.Webhook.VerifyError != "round 2 wrong" || l.Valid() {
		t.Errorf("a wrong round must make the level invalid: %q, valid %v", l.Webhook.VerifyError, l.Valid())
	}
	if l.Pgbench.TPS < 633.33 || l.Pgbench.TPS > 633.34 {
		t.Errorf("same-SQL TPS %.2f, want the mean 633.33", l.Pgbench.TPS)
	}
	if l.Minimal.Transactions != 19000 || l.Minimal.P99Ms != 30 || l.Minimal.Command != "min" {
		t.Errorf("minimal %+v", l.Minimal)
	}
	if got := l.roundRatios(); got != "25%, 30%, 40%" {
		t.Errorf("round ratios %q", got)
	}
	if r := ratio(&l, &l.Minimal); r < 0.315 || r > 0.316 {
		t.Errorf("level ratio %.3f, want 400/1266.7", r)
	}
	if median([]float64{3, 1, 2, 4}) != 2.5 || median(nil) != 0 || !strings.Contains(phasesText(&Results{Rounds: 3, RoundSeconds: 5}), "3 rounds of 5 s") {
		t.Error("median or phase text")
	}
}
