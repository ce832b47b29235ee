package main

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bookingplatform/booking/internal/postgres"
)

var (
	rePgbenchTx     = regexp.MustCompile(`number of transactions actually processed: (\d+)`)
	rePgbenchFailed = regexp.MustCompile(`number of failed transactions: (\d+)`)
)

// runPgbench runs script with c clients for the given seconds (round r is
// passed as -D round=r) and adds its transactions to smp. A run refused
// for want of connections (the server is shared) is tried again.
func runPgbench(ctx context.Context, bin, script, dbURL string, c, seconds, r int, defines []string, smp *sample) {
	dir, err := os.MkdirTemp("", "scalebench-pgbench-")
	if err != nil {
		smp.fail(err.Error())
		return
	}
	defer os.RemoveAll(dir)
	cs := strconv.Itoa(c)
	args := []string{"-n", "-M", "prepared", "-c", cs, "-j", cs, "-T", strconv.Itoa(seconds), "-f", script,
		"-D", "round=" + strconv.Itoa(r)}
	for _, d := range defines {
		args = append(args, "-D", d)
	}
	args = append(args, "-l", "--log-prefix="+filepath.Join(dir, "pgb"))
	shown := slices.Clone(args)
	shown[len(shown)-1] = "--log-prefix=<tmp>/pgb"
	dbName := "<db>"
	if u, err := url.Parse(dbURL); err == nil {
		dbName = strings.TrimPrefix(u.Path, "/")
	}
	smp.command = "pgbench " + strings.Join(shown, " ") + " " + dbName
	var text string
	for attempt := 0; ; attempt++ {
		out, err := exec.CommandContext(ctx, bin, append(args, withAppName(dbURL, "pgbench"))...).CombinedOutput()
		text = string(out)
		if strings.Contains(text, "too many clients") && attempt < 20 && ctx.Err() == nil {
			time.Sleep(3 * time.Second)
			continue
		}
		count, failed := 0, 0
		if mm := rePgbenchTx.FindStringSubmatch(text); mm != nil {
			count, _ = strconv.Atoi(mm[1])
		}
		if mm := rePgbenchFailed.FindStringSubmatch(text); mm != nil {
			failed, _ = strconv.Atoi(mm[1])
		}
		if err != nil || count == 0 || failed > 0 || strings.Contains(text, "aborted") {
			smp.fail(fmt.Sprintf("pgbench failed (%v): %s", err, lastLines(text, 6)))
			return
		}
		break
	}
	lat, err := pgbenchLatencies(dir)
	if err != nil {
		smp.fail(err.Error())
		return
	}
	for _, us := range lat {
		smp.lat = append(smp.lat, time.Duration(us)*time.Microsecond)
	}
	smp.seconds += float64(seconds)
}

// pgbenchLatencies reads the per-transaction logs: the third field of each
// line is the latency in microseconds.
func pgbenchLatencies(dir string) ([]int64, error) {
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

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// Machine describes where the run happened.
type Machine struct {
	CPUs     int    `json:"cpus"`
	Model    string `json:"model"`
	MemTotal string `json:"memTotal"`
	Postgres string `json:"postgres"`
	Go       string `json:"go"`
	Kernel   string `json:"kernel"`
	Load     string `json:"load"`
}

func machineInfo(ctx context.Context, db *postgres.DB) Machine {
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
		m.Load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	_ = db.Pool.QueryRow(ctx, "SELECT current_setting('server_version')").Scan(&m.Postgres)
	return m
}
