// Package bench holds what the benchmark tools (e2e/webhookbench,
// e2e/scalebench) share: the machine they ran on, pgbench's latency logs
// and percentiles.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/bookingplatform/booking/internal/postgres"
)

// Machine describes where a run happened.
type Machine struct {
	CPUs     int    `json:"cpus"`
	Model    string `json:"model"`
	MemTotal string `json:"memTotal"`
	Postgres string `json:"postgres"`
	Go       string `json:"go"`
	Kernel   string `json:"kernel"`
	Load     string `json:"load,omitempty"`
}

// MachineInfo reads the machine's CPUs, memory, kernel and load, and the
// version of the PostgreSQL behind db.
func MachineInfo(ctx context.Context, db *postgres.DB) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				m.MemTotal = fmt.Sprintf("%.1f GiB", kb/1024/1024)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.Load = strings.Join(f[:3], " ")
		}
	}
	_ = db.Pool.QueryRow(ctx, "SELECT current_setting('server_version')").Scan(&m.Postgres)
	return m
}

// PgbenchLatencies reads pgbench's per-transaction logs (-l, files pgb.*
// in dir): the third field of each line is the latency in microseconds.
func PgbenchLatencies(dir string) ([]int64, error) {
	files, err := filepath.Glob(filepath.Join(dir, "pgb.*"))
	if err != nil {
		return nil, err
	}
	var lat []int64
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 3 {
				continue
			}
			if us, err := strconv.ParseInt(fields[2], 10, 64); err == nil {
				lat = append(lat, us)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return lat, nil
}

// LastLines returns the last n lines of s joined by " | ", for an error.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// Percentile returns the nearest-rank percentile of sorted values.
func Percentile[T any](sorted []T, p float64) T {
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
