package main

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/config"
	"github.com/bookingplatform/booking/internal/pgtest"
)

// The release build, as the Dockerfile runs it:
//
//	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o /out/booking ./cmd/booking
//
// TestDockerfileBuildFlags keeps the two in step.
var releaseEnv = []string{"CGO_ENABLED=0"}

const releasePackage = "./cmd/booking"

func releaseFlags(version string) []string {
	return []string{"-trimpath", "-ldflags", "-s -w -X main.version=" + version}
}

// moduleRoot is the directory holding go.mod (tests run in cmd/booking).
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	return root
}

// buildRelease builds the binary exactly as the Dockerfile does, with
// VERSION=test, into a temporary directory.
func buildRelease(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go toolchain: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "booking")
	args := append([]string{"build"}, releaseFlags("test")...)
	args = append(args, "-o", bin, releasePackage)
	cmd := exec.CommandContext(t.Context(), gobin, args...)
	cmd.Dir = moduleRoot(t)
	cmd.Env = append(os.Environ(), releaseEnv...)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("release build took %s", time.Since(start).Round(time.Millisecond))
	return bin
}

// syncBuffer is a bytes.Buffer safe for a process writing while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// result is a finished run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// runBinary runs bin with exactly env (nothing inherited, so a developer's
// Stripe keys or .env cannot leak in) in an empty directory.
func runBinary(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Env = append([]string{}, env...) // never nil: nil would inherit the test's environment
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	default:
		t.Fatalf("run %s: %v", strings.Join(args, " "), err)
	}
	return res
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(port)
}

func TestReleaseBinary(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	bin := buildRelease(t)

	t.Run("is static, stripped and path-free", func(t *testing.T) {
		t.Parallel()
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("program header %v: the binary is dynamically linked", p.Type)
			}
		}
		if f.Section(".interp") != nil || f.Section(".dynamic") != nil {
			t.Error("the binary has an .interp or .dynamic section")
		}
		if f.Section(".symtab") != nil {
			t.Error("the binary has a symbol table: -s was not applied")
		}

		info, err := buildinfo.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if info.Path != "github.com/bookingplatform/booking/cmd/booking" {
			t.Errorf("main package %q", info.Path)
		}
		// With -trimpath the toolchain does not record -ldflags (they may hold
		// paths); -s shows as the missing symbol table, -X in `booking version`.
		want := map[string]string{"CGO_ENABLED": "0", "-trimpath": "true"}
		for _, s := range info.Settings {
			if w, ok := want[s.Key]; ok {
				if s.Value != w {
					t.Errorf("build setting %s = %q, want %q", s.Key, s.Value, w)
				}
				delete(want, s.Key)
			}
		}
		for k := range want {
			t.Errorf("build setting %s missing", k)
		}

		data, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(root)) {
			t.Errorf("the binary contains the build directory %s: -trimpath was not applied", root)
		}
	})

	t.Run("prints its version", func(t *testing.T) {
		t.Parallel()
		res := runBinary(t, bin, nil, "version")
		if res.code != 0 || res.stdout != "booking test\n" {
			t.Errorf("booking version: exit %d, stdout %q, stderr %q; want exit 0 and %q", res.code, res.stdout, res.stderr, "booking test\n")
		}
	})

	t.Run("serves, passes its health check and stops cleanly on SIGTERM", func(t *testing.T) {
		t.Parallel()
		dbURL := pgtest.NewURL(t)
		port := freePort(t)
		healthURL := "http://127.0.0.1:" + port + "/health"
		env := []string{
			"DATABASE_URL=" + dbURL, "PORT=" + port, "LISTEN_ADDR=127.0.0.1:" + port,
			"APP_ENV=development", "SHUTDOWN_GRACE=5s", "LOG_LEVEL=info",
		}
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
		// Registered after NewURL, so it runs before the database is dropped.
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				_ = cmd.Process.Kill()
				t.Logf("server stopped: %v", <-exited)
			}
		})

		deadline := time.Now().Add(30 * time.Second)
		for {
			res := runBinary(t, bin, nil, "healthcheck", "--url", healthURL)
			if res.code == 0 {
				if res.stdout != "ok\n" {
					t.Errorf("healthcheck stdout %q, want %q", res.stdout, "ok\n")
				}
				break
			}
			select {
			case err := <-exited:
				t.Fatalf("serve exited before it was healthy: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("not healthy after 30s: last healthcheck exit %d: %s\nserve stdout:\n%s", res.code, res.stderr, stdout.String())
			}
			time.Sleep(100 * time.Millisecond)
		}

		// The image's HEALTHCHECK runs `booking healthcheck` with only PORT set.
		if res := runBinary(t, bin, []string{"PORT=" + port}, "healthcheck"); res.code != 0 {
			t.Errorf("healthcheck with PORT=%s: exit %d, stderr %q", port, res.code, res.stderr)
		}

		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("serve after SIGTERM: %v, want exit status 0\nstderr:\n%s", err, stderr.String())
			}
		case <-time.After(5*time.Second + 10*time.Second):
			t.Fatalf("serve still running 10s after its 5s shutdown grace\nstdout:\n%s", stdout.String())
		}

		// Logs are one JSON object per line, and shutdown is logged.
		var msgs []string
		sc := bufio.NewScanner(strings.NewReader(stdout.String()))
		for sc.Scan() {
			var line struct {
				Time  string `json:"time"`
				Level string `json:"level"`
				Msg   string `json:"msg"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.Time == "" || line.Level == "" || line.Msg == "" {
				t.Errorf("log line is not a JSON record with time, level and msg: %q", sc.Text())
				continue
			}
			msgs = append(msgs, line.Msg)
		}
		for _, want := range []string{"listening", "shutting down", "stopped"} {
			if !slices.Contains(msgs, want) {
				t.Errorf("no %q log record; got %q", want, msgs)
			}
		}
		if s := stderr.String(); strings.Contains(s, "goroutine") || strings.Contains(s, "panic") {
			t.Errorf("stderr has a Go stack trace:\n%s", s)
		}

		// Once it has stopped, the health check fails.
		if res := runBinary(t, bin, nil, "healthcheck", "--url", healthURL); res.code == 0 {
			t.Errorf("healthcheck after shutdown: exit 0, want non-zero")
		}
	})

	t.Run("healthcheck fails when nothing listens", func(t *testing.T) {
		t.Parallel()
		port := freePort(t)
		for _, tc := range []struct {
			name string
			env  []string
			args []string
		}{
			{"with --url", nil, []string{"healthcheck", "--url", "http://127.0.0.1:" + port + "/health"}},
			{"with PORT", []string{"PORT=" + port}, []string{"healthcheck"}},
		} {
			res := runBinary(t, bin, tc.env, tc.args...)
			if res.code != 1 {
				t.Errorf("%s: exit %d, want 1 (stdout %q, stderr %q)", tc.name, res.code, res.stdout, res.stderr)
			}
			if !strings.HasPrefix(res.stderr, "booking: health check: ") {
				t.Errorf("%s: stderr %q, want a health check error", tc.name, res.stderr)
			}
		}
	})

	t.Run("invalid configuration stops serve with one line per problem", func(t *testing.T) {
		t.Parallel()
		problem := regexp.MustCompile(`^[A-Z][A-Z0-9_]*: \S.*$`)
		for _, tc := range []struct {
			name string
			env  []string
			want []string // variables that must each be named on exactly one line
		}{
			{
				name: "malformed values",
				env:  []string{"PORT=abc", "HOLD_MINUTES=5", "APP_ENV=staging"},
				want: []string{"PORT", "HOLD_MINUTES", "APP_ENV"},
			},
			{
				name: "production without Stripe keys or https",
				env:  []string{"APP_ENV=production", "APP_URL=http://booking.example.com"},
				want: []string{"STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "APP_URL"},
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				// A database that would refuse connections: configuration is
				// checked before anything is dialled.
				env := append([]string{"DATABASE_URL=postgres://booking@127.0.0.1:1/booking?sslmode=disable"}, tc.env...)
				res := runBinary(t, bin, env, "serve")
				if res.code != 1 {
					t.Errorf("exit %d, want 1", res.code)
				}
				if res.stdout != "" {
					t.Errorf("stdout %q, want nothing", res.stdout)
				}
				if strings.Contains(res.stderr, "goroutine") || strings.Contains(res.stderr, "panic") {
					t.Fatalf("stderr has a Go stack trace:\n%s", res.stderr)
				}
				lines := strings.Split(strings.TrimRight(res.stderr, "\n"), "\n")
				if lines[0] != "booking: invalid configuration:" {
					t.Fatalf("first line %q, want %q; stderr:\n%s", lines[0], "booking: invalid configuration:", res.stderr)
				}
				count := map[string]int{}
				for _, l := range lines[1:] {
					if !problem.MatchString(l) {
						t.Errorf("line %q is not \"VARIABLE: problem\"", l)
						continue
					}
					name, _, _ := strings.Cut(l, ":")
					count[name]++
				}
				for _, v := range tc.want {
					if count[v] != 1 {
						t.Errorf("%s named on %d lines, want 1; stderr:\n%s", v, count[v], res.stderr)
					}
				}
			})
		}
	})
}

// TestDockerfileBuildFlags checks that the Dockerfile builds the binary with
// the same environment, flags and package as TestReleaseBinary.
func TestDockerfileBuildFlags(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(moduleRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var builds [][]string
	for _, instr := range dockerInstructions(string(data)) {
		keyword, rest, _ := strings.Cut(instr, " ")
		if !strings.EqualFold(keyword, "RUN") {
			continue
		}
		for _, cmd := range strings.Split(rest, "&&") {
			words := shellWords(cmd)
			if i := slices.Index(words, "go"); i >= 0 && i+1 < len(words) && words[i+1] == "build" {
				builds = append(builds, words)
			}
		}
	}
	if len(builds) != 1 {
		t.Fatalf("found %d `go build` commands in the Dockerfile, want 1: %q", len(builds), builds)
	}
	words := builds[0]
	goAt := slices.Index(words, "go")
	var env []string
	for _, w := range words[:goAt] {
		if strings.Contains(w, "=") && !strings.HasPrefix(w, "--") {
			env = append(env, w)
		}
	}
	if !slices.Equal(env, releaseEnv) {
		t.Errorf("Dockerfile build environment %q, test uses %q", env, releaseEnv)
	}
	args := words[goAt+2:]
	o := slices.Index(args, "-o")
	if o < 0 || o+1 >= len(args) {
		t.Fatalf("no -o in the Dockerfile build: %q", args)
	}
	if want := releaseFlags("$VERSION"); !slices.Equal(args[:o], want) {
		t.Errorf("Dockerfile build flags %q, test uses %q", args[:o], want)
	}
	if rest := args[o+2:]; !slices.Equal(rest, []string{releasePackage}) {
		t.Errorf("Dockerfile builds %q, test builds %q", rest, releasePackage)
	}
}

// dockerInstructions returns a Dockerfile's instructions, continuation lines
// joined and comments dropped.
func dockerInstructions(src string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		out = append(out, strings.TrimSpace(cur.String()))
		cur.Reset()
	}
	return out
}

// shellWords splits a command into words the way a POSIX shell would for
// the simple commands of a Dockerfile: blanks separate, quotes group.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestEnvExampleListsEveryVariable keeps .env.example in step with
// config.Vars: every variable is listed (set or commented out), and nothing
// else is, apart from the compose stack's own variables.
func TestEnvExampleListsEveryVariable(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(moduleRoot(t), ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	composeOnly := []string{"POSTGRES_PASSWORD", "VERSION"}
	assignment := regexp.MustCompile(`^#?\s*([A-Z][A-Z0-9_]*)=`)
	listed := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if m := assignment.FindStringSubmatch(line); m != nil {
			listed[m[1]] = true
		}
	}
	known := map[string]bool{}
	for _, v := range config.Vars {
		known[v.Name] = true
		if !listed[v.Name] {
			t.Errorf(".env.example does not list %s (%s)", v.Name, v.Help)
		}
	}
	for name := range listed {
		if !known[name] && !slices.Contains(composeOnly, name) {
			t.Errorf(".env.example lists %s, which config.Vars does not know", name)
		}
	}
}
