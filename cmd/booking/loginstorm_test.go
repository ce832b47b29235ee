package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

// Login storm: argon2id takes 64 MiB per hash (auth.DefaultParams), so the
// server hashes at most GOMAXPROCS passwords at once and sets a soft memory
// limit with room for them (defaultMemoryLimit); the other logins wait
// up to 2 s for a slot and are then refused 503 with Retry-After
// (auth.Hasher). The test runs the release binary with GOMAXPROCS=2 — the
// benchmark machine's CPUs, and what keeps the figure the same on any
// machine: the bound is GOMAXPROCS × 64 MiB plus the rest of the process —
// fires 60 logins at once from 60 client addresses (TRUST_PROXY, so the
// per-address limit does not refuse them first), half for an existing
// account with a wrong password, half for unknown emails, and reads the
// server's peak RSS (VmHWM). See docs/BENCHMARKS.md.
const (
	stormLogins   = 60
	stormMaxProcs = 2
	stormMaxRSSMB = 400
)

func TestLoginStormBoundedMemory(t *testing.T) {
	t.Parallel()
	bin := buildRelease(t)
	dbURL := pgtest.NewURL(t)
	port := freePort(t)
	base := "http://127.0.0.1:" + port
	env := []string{
		"DATABASE_URL=" + dbURL, "LISTEN_ADDR=127.0.0.1:" + port, "APP_ENV=development", "LOG_LEVEL=info",
		"TRUST_PROXY=true", "SHUTDOWN_GRACE=5s", "GOMAXPROCS=" + strconv.Itoa(stormMaxProcs),
	}
	if res := runBinary(t, bin, env, "migrate"); res.code != 0 {
		t.Fatalf("migrate: exit %d: %s", res.code, res.stderr)
	}

	// The existing account, with a production-strength hash (64 MiB).
	ctx := context.Background()
	db, err := postgres.Open(ctx, dbURL, postgres.PoolOpts{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := auth.HashPassword("the right password, not sent", nil)
	if err != nil {
		t.Fatal(err)
	}
	const account = "storm@example.com"
	if _, err := db.CreateStaff(ctx, booking.NewStaff{Email: account, Role: booking.RoleReadonly, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	cmd.Dir = t.TempDir()
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			t.Logf("server stopped: %v", <-exited)
		}
	})
	waitLive(t, base+"/livez", exited, &stderr)
	before := vmHWM(t, cmd.Process.Pid)
	// Without GOMEMLIMIT in its environment the server sets its own soft
	// limit (defaultMemoryLimit): what keeps the peak from depending on
	// when the collector happens to run.
	if got, want := listeningField(t, &stdout, "memory_limit_mib"), float64(defaultMemoryLimit(stormMaxProcs)>>20); got != want {
		t.Errorf("memory_limit_mib = %v in the listening line, want %v", got, want)
	}

	type answer struct {
		status     int
		retryAfter string
		err        error
	}
	answers := make([]answer, stormLogins)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxConnsPerHost: stormLogins,
		MaxIdleConnsPerHost: stormLogins}}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range stormLogins {
		email := account
		if i%2 == 1 {
			email = fmt.Sprintf("nobody-%d@example.com", i)
		}
		body, _ := json.Marshal(map[string]string{"email": email, "password": fmt.Sprintf("wrong password %d", i)})
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, base+"/auth/login", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
			<-start
			resp, err := client.Do(req)
			if err != nil {
				answers[i] = answer{err: err}
				return
			}
			resp.Body.Close()
			answers[i] = answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)
	peak := vmHWM(t, cmd.Process.Pid)

	count := map[int]int{}
	for i, a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("login %d: %v", i, a.err)
		case !slices.Contains([]int{http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusServiceUnavailable}, a.status):
			t.Errorf("login %d: status %d, want 401, 429 or 503", i, a.status)
		case a.status == http.StatusServiceUnavailable && a.retryAfter == "":
			t.Errorf("login %d: 503 without Retry-After", i)
		}
		count[a.status]++
	}
	t.Logf("%d concurrent logins in %s: %d × 401, %d × 429, %d × 503; server peak RSS (VmHWM) %.1f MiB (%.1f MiB before), GOMAXPROCS=%d",
		stormLogins, took.Round(time.Millisecond), count[401], count[429], count[503], float64(peak)/1024,
		float64(before)/1024, stormMaxProcs)
	if count[http.StatusUnauthorized] == 0 {
		t.Errorf("no login was answered 401: the hashing slots never served anyone")
	}
	if peak > stormMaxRSSMB*1024 {
		t.Errorf("server peak RSS %.1f MiB, above %d MB", float64(peak)/1024, stormMaxRSSMB)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve still running 20 s after SIGTERM")
	}
	if s := stderr.String(); strings.Contains(s, "panic") || strings.Contains(s, "goroutine ") {
		t.Errorf("stderr has a Go stack trace:\n%s", s)
	}
}

// waitLive polls url until it answers 200, failing when the server exits or
// 30 s pass.
func waitLive(t *testing.T, url string, exited <-chan error, stderr *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("serve exited before it was live: %v\nstderr:\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not live after 30 s\nstderr:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// vmHWM returns the peak resident set size of process pid, in kB.
func vmHWM(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the server's status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb
		}
	}
	t.Fatal("no VmHWM in /proc/<pid>/status")
	return 0
}

// listeningField returns a number field of the server's "listening" log line.
func listeningField(t *testing.T, stdout *syncBuffer, field string) float64 {
	t.Helper()
	// The server may answer /livez a moment before it logs the line.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for line := range strings.Lines(stdout.String()) {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "listening" {
				continue
			}
			v, ok := rec[field].(float64)
			if !ok {
				t.Fatalf("listening line has no number %q: %s", field, line)
			}
			return v
		}
	}
	t.Fatalf("no listening line in stdout:\n%s", stdout.String())
	return 0
}
