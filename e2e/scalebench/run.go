package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bookingplatform/booking/e2e/internal/bench"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/postgres"
)

// Results is what one run (one database size) measured.
type Results struct {
	Label       string     `json:"label"`
	Bookings    int        `json:"bookings"`
	Started     time.Time  `json:"started"`
	Seconds     int        `json:"seconds"`
	Rounds      int        `json:"rounds"`
	LoadSeconds float64    `json:"loadSeconds"`
	Machine     Machine    `json:"machine"`
	Data        Data       `json:"data"`
	RSSKB       int        `json:"rssKB,omitempty"`
	Endpoints   []Endpoint `json:"endpoints"`
}

// Data counts the rows of the run's database.
type Data struct {
	Bookings      int64  `json:"bookings"`
	Payments      int64  `json:"payments"`
	Refunds       int64  `json:"refunds"`
	LedgerRows    int64  `json:"ledgerRows"`
	AuditRows     int64  `json:"auditRows"`
	DatabaseBytes int64  `json:"databaseBytes"`
	Size          string `json:"size"`
}

// Endpoint is the HTTP and the pgbench measurement of one endpoint.
type Endpoint struct {
	Name        string  `json:"name"`
	Request     string  `json:"request"`
	Concurrency int     `json:"concurrency"`
	HTTP        Measure `json:"http"`
	Pgbench     Measure `json:"pgbench"`
}

// Measure is one phase: how many answers, how fast, how wrong.
type Measure struct {
	Count      int     `json:"count"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"firstError,omitempty"`
	Seconds    float64 `json:"seconds"`
	PerSec     float64 `json:"perSec"`
	P50Ms      float64 `json:"p50Ms"`
	P99Ms      float64 `json:"p99Ms"`
	Command    string  `json:"command,omitempty"`
}

// target describes an endpoint: its request, how many run at once, the
// status it must answer, and the pgbench script with the same SQL.
type target struct {
	name    string
	request string // shown in the report
	conc    int
	staff   bool
	status  int
	build   func(rng *mrand.Rand, n int64) (method, path string, body []byte, header http.Header)
	script  string
	defines []string
}

// fixtures are values of the loaded data the requests use.
type fixtures struct {
	bookings   int
	resources  []string
	midCreated booking.Cursor
	// busy is internal/bulk's busy resource (number 50) and busyFrom the
	// first UTC day of its full month.
	busy     string
	busyFrom time.Time
}

// size is one database and the server on it.
type size struct {
	label, dbURL, baseURL string
	bookings, serverPID   int
	loadSeconds           float64
}

// parseSize reads label,bookings,dbURL,baseURL,serverPID,loadSeconds.
func parseSize(v string) (size, error) {
	f := strings.Split(v, ",")
	if len(f) != 6 {
		return size{}, fmt.Errorf("-size %q: want label,bookings,dbURL,baseURL,serverPID,loadSeconds", v)
	}
	s := size{label: f[0], dbURL: f[2], baseURL: f[3]}
	var err1, err2, err3 error
	s.bookings, err1 = strconv.Atoi(f[1])
	s.serverPID, err2 = strconv.Atoi(f[4])
	s.loadSeconds, err3 = strconv.ParseFloat(f[5], 64)
	if err := errors.Join(err1, err2, err3); err != nil || s.bookings < 1 {
		return size{}, fmt.Errorf("-size %q: %v", v, err)
	}
	return s, nil
}

// cmdRun measures every endpoint on every size. The sizes are measured in
// turn for each endpoint (HTTP on each, then pgbench on each), so that a
// change in the machine's load during the run hits all sizes alike.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sizes []size
	fs.Func("size", "label,bookings,dbURL,baseURL,serverPID,loadSeconds of a loaded database and its server (repeat; smallest first)",
		func(v string) error {
			s, err := parseSize(v)
			sizes = append(sizes, s)
			return err
		})
	email := fs.String("email", "", "staff account to log in with, on every server (required)")
	password := fs.String("password", "", "its password (required)")
	seconds := fs.Int("seconds", 5, "length of each timed phase")
	rounds := fs.Int("rounds", 3, "phases per endpoint and size, the sizes in turn (latencies are pooled)")
	warmup := fs.Int("warmup", 2, "seconds of unmeasured requests before each HTTP phase")
	only := fs.String("only", "", "comma-separated endpoint names to run (default: all)")
	scripts := fs.String("scripts", "bench", "directory of the pgbench scripts")
	pgbenchBin := fs.String("pgbench", "pgbench", "pgbench binary")
	outDir := fs.String("out-dir", "", "write the results of each size as <label>.json in this directory (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(sizes) == 0 || *email == "" || *password == "" || *outDir == "" {
		fs.Usage()
		return errors.New("-size, -email, -password and -out-dir are required")
	}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "==> "+format+"\n", args...) }

	type state struct {
		size
		db      *postgres.DB
		res     Results
		staff   *http.Client
		targets []target
	}
	var all []*state
	now := time.Now().UTC()
	for _, sz := range sizes {
		db, err := postgres.Open(ctx, withAppName(sz.dbURL, "scalebench"), postgres.PoolOpts{MaxConns: 2})
		if err != nil {
			return err
		}
		defer db.Close()
		st := &state{size: sz, db: db, res: Results{Label: sz.label, Bookings: sz.bookings, Started: now,
			Seconds: *seconds, Rounds: *rounds, LoadSeconds: sz.loadSeconds, Machine: machineInfo(ctx, db)}}
		if st.res.Data, err = dataOf(ctx, db); err != nil {
			return err
		}
		fx, err := loadFixtures(ctx, db, sz.bookings)
		if err != nil {
			return err
		}
		st.targets = targets(fx, now)
		if st.staff, err = login(ctx, sz.baseURL, *email, *password); err != nil {
			return err
		}
		all = append(all, st)
	}
	public := &http.Client{Timeout: 30 * time.Second}
	for i := range all[0].targets {
		name := all[0].targets[i].name
		if *only != "" && !slices.Contains(strings.Split(*only, ","), name) {
			continue
		}
		httpS, pgbS := make([]sample, len(all)), make([]sample, len(all))
		for r := range *rounds {
			// Sizes in turn, the other way round every other round.
			order := make([]int, len(all))
			for j := range order {
				order[j] = j
				if r%2 == 1 {
					order[j] = len(all) - 1 - j
				}
			}
			for _, j := range order {
				st := all[j]
				t := st.targets[i]
				hc := public
				if t.staff {
					hc = st.staff
				}
				if r == 0 && *warmup > 0 {
					var discard sample
					fire(ctx, hc, st.baseURL, t, time.Duration(*warmup)*time.Second, 1_000_000, &discard)
				}
				fire(ctx, hc, st.baseURL, t, time.Duration(*seconds)*time.Second, uint64(r), &httpS[j])
			}
			for _, j := range order {
				st := all[j]
				t := st.targets[i]
				runPgbench(ctx, *pgbenchBin, filepath.Join(*scripts, t.script), st.dbURL, t.conc, *seconds, r, t.defines, &pgbS[j])
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		for j, st := range all {
			t := st.targets[i]
			ep := Endpoint{Name: t.name, Request: t.request, Concurrency: t.conc, HTTP: httpS[j].measure(),
				Pgbench: pgbS[j].measure()}
			logf("%s %s (c=%d): HTTP %.0f/s, p50 %.2f ms, p99 %.2f ms%s; pgbench %.0f TPS, p50 %.2f ms, p99 %.2f ms%s",
				st.label, t.name, t.conc, ep.HTTP.PerSec, ep.HTTP.P50Ms, ep.HTTP.P99Ms, suffix(ep.HTTP.FirstError),
				ep.Pgbench.PerSec, ep.Pgbench.P50Ms, ep.Pgbench.P99Ms, suffix(ep.Pgbench.FirstError))
			st.res.Endpoints = append(st.res.Endpoints, ep)
		}
	}
	var wrong []string
	for _, st := range all {
		st.res.RSSKB = peakRSS(st.serverPID)
		b, err := json.MarshalIndent(st.res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*outDir, st.label+".json"), b, 0o644); err != nil {
			return err
		}
		for _, ep := range st.res.Endpoints {
			if ep.HTTP.Errors > 0 || ep.Pgbench.Errors > 0 || ep.HTTP.Count == 0 || ep.Pgbench.Count == 0 {
				wrong = append(wrong, fmt.Sprintf("%s %s: HTTP %d errors (%s); pgbench %d errors (%s)", st.label, ep.Name,
					ep.HTTP.Errors, ep.HTTP.FirstError, ep.Pgbench.Errors, ep.Pgbench.FirstError))
			}
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("wrong answers:\n%s", strings.Join(wrong, "\n"))
	}
	return nil
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return " — ERROR: " + s
}

// bulkID is the id internal/bulk gives thing number i ("booking", "resource").
func bulkID(thing string, i int64) string {
	h := md5.Sum(fmt.Appendf(nil, "bulk-%s-%d", thing, i))
	s := hex.EncodeToString(h[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

func loadFixtures(ctx context.Context, db *postgres.DB, n int) (*fixtures, error) {
	fx := &fixtures{bookings: n}
	for i := range int64(50) {
		fx.resources = append(fx.resources, bulkID("resource", i))
	}
	// The middle of the newest-first list: a deep cursor.
	err := db.Pool.QueryRow(ctx, `SELECT created_at, id::text FROM bookings ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1`,
		n/2).Scan(&fx.midCreated.At, &fx.midCreated.ID)
	if err != nil {
		return nil, fmt.Errorf("middle of the list: %w", err)
	}
	fx.midCreated.Shape = booking.ShapeBookings
	fx.busy = bulkID("resource", 50)
	err = db.Pool.QueryRow(ctx, `SELECT min(date_trunc('day', starts_at, 'UTC')) FROM bookings WHERE resource_id = $1`,
		fx.busy).Scan(&fx.busyFrom)
	if err != nil {
		return nil, fmt.Errorf("the busy resource's month: %w", err)
	}
	return fx, nil
}

// targets are the endpoints measured, in order; the creation last, so
// that the bookings it adds do not change the data the reads see. Random
// choices (a
// resource, a day, a status, a customer, a booking) are drawn per request,
// the same way in the HTTP phase and in its pgbench script.
func targets(fx *fixtures, now time.Time) []target {
	today := now.Truncate(24 * time.Hour)
	customers := max(fx.bookings/4, 1)
	get := func(path string) (string, string, []byte, http.Header) { return http.MethodGet, path, nil, nil }
	// Fresh slots for the HTTP creates from 400 days ahead (beyond the
	// loaded data), for pgbench's from 800 days ahead.
	httpT0 := now.Truncate(time.Hour).AddDate(0, 0, 400)
	pgbT0 := now.Truncate(time.Hour).AddDate(0, 0, 800)
	var created atomic.Int64
	cursor := fx.midCreated.Encode()
	month := func(resource string, from time.Time) (string, string, []byte, http.Header) {
		return get("/api/resources/" + resource + "/availability?from=" + from.Format(time.DateOnly) +
			"&to=" + from.AddDate(0, 0, 30).Format(time.DateOnly))
	}
	busyDay := int(fx.busyFrom.Sub(today) / (24 * time.Hour)) // days from today to the busy month
	common := []string{"confirmed", "expired", "refunded"}
	rare := []string{"needs_review", "awaiting_payment"}
	// A window of days ending 30 to 700 days ago; pageDays holds about 60
	// bookings at this size (a full page, like one day at a million).
	pageDays := max(1, (60*1095+fx.bookings-1)/fx.bookings)
	pastWindow := func(name string, days int, what string) target {
		return target{name: name, request: "GET /api/admin/bookings?from=D&to=E (" + what + ")", conc: 4, staff: true,
			status: 200, script: "scale_list_range.sql", defines: []string{fmt.Sprintf("days=%d", days)},
			build: func(rng *mrand.Rand, _ int64) (string, string, []byte, http.Header) {
				end := today.AddDate(0, 0, -(30 + rng.IntN(671)))
				from := end.AddDate(0, 0, -(days - 1)).Format(time.DateOnly)
				return get("/api/admin/bookings?from=" + from + "&to=" + end.Format(time.DateOnly))
			}}
	}
	// A resource's newest bookings, a page of limit; resourcePage is what
	// each of the 50 resources holds at a thousand bookings.
	const resourcePage = 20
	byResource := func(name string, limit int, what string) target {
		q := ""
		if limit != booking.DefaultPageSize {
			q = "&limit=" + strconv.Itoa(limit)
		}
		return target{name: name, request: "GET /api/admin/bookings?resourceId=R" + q + what, conc: 4, staff: true,
			status: 200, script: "scale_list_resource.sql", defines: []string{fmt.Sprintf("rows=%d", limit+1)},
			build: func(rng *mrand.Rand, _ int64) (string, string, []byte, http.Header) {
				return get("/api/admin/bookings?resourceId=" + fx.resources[rng.IntN(50)] + q)
			}}
	}
	return []target{
		{name: "availability", request: "GET /api/resources/{id}/availability?date=D (a day of the next year)", conc: 16,
			status: 200, script: "scale_availability.sql",
			build: func(rng *mrand.Rand, _ int64) (string, string, []byte, http.Header) {
				day := today.AddDate(0, 0, 1+rng.IntN(365)).Format(time.DateOnly)
				return get("/api/resources/" + fx.resources[rng.IntN(50)] + "/availability?date=" + day)
			}},
		{name: "month", request: "GET /api/resources/{id}/availability?from=D&to=D+30 (a month of the next year)", conc: 16,
			status: 200, script: "scale_month.sql", defines: []string{"rfirst=0", "rlast=49", "dfirst=1", "dlast=335"},
			build: func(rng *mrand.Rand, _ int64) (string, string, []byte, http.Header) {
				return month(fx.resources[rng.IntN(50)], today.AddDate(0, 0, 1+rng.IntN(335)))
			}},
		{name: "month full", request: "GET /api/resources/{id}/availability?from=D&to=D+30 (the busy resource's month, 415 of 720 hours booked at both sizes)",
			conc: 16, status: 200, script: "scale_month.sql",
			defines: []string{"rfirst=50", "rlast=50", fmt.Sprintf("dfirst=%d", busyDay), fmt.Sprintf("dlast=%d", busyDay)},
			build: func(*mrand.Rand, int64) (string, string, []byte, http.Header) {
				return month(fx.busy, today.AddDate(0, 0, busyDay))
			}},
		{name: "list", request: "GET /api/admin/bookings (first page)", conc: 4, staff: true, status: 200,
			script: "scale_list.sql",
			build: func(*mrand.Rand, int64) (string, string, []byte, http.Header) {
				return get("/api/admin/bookings")
			}},
		{name: "list status", request: "GET /api/admin/bookings?status=S (confirmed, expired or refunded)", conc: 4,
			staff: true, status: 200, script: "scale_list_status.sql",
			build: func(rng *mrand.Rand, _ int64) (string, string, []byte, http.Header) {
				return get("/api/admin/bookings?status=" + common[rng.IntN(len(common))])
			}},
		{name: "list rare status", request: "GET /api/admin/bookings?status=S (needs_review or awaiting_payment)", conc: 4,
			staff: true, status: 200, script: "scale_list_rare.sql",
			build: func(rng *mrand.Rand, _ int64) (string, string, []byte, http.Header) {
				return get("/api/admin/bookings?status=" + rare[rng.IntN(len(rare))])
			}},
		{name: "list cursor", request: "GET /api/admin/bookings?cursor=C (the middle of the list)", conc: 4, staff: true,
			status: 200, script: "scale_list_cursor.sql",
			defines: []string{"cat=" + fx.midCreated.At.Format(time.RFC3339Nano), "cid=" + fx.midCreated.ID},
			build: func(*mrand.Rand, int64) (string, string, []byte, http.Header) {
				return get("/api/admin/bookings?cursor=" + url.QueryEscape(cursor))
			}},
		pastWindow("list range", 1, "a past day"),
		pastWindow("list range page", pageDays, fmt.Sprintf("a past window of %d days, about 60 bookings", pageDays)),
		byResource("list resource", booking.DefaultPageSize, ""),
		byResource("list resource page", resourcePage, fmt.Sprintf(" (pages of %d: every resource holds a full page at both sizes)", resourcePage)),
		{name: "list email", request: "GET /api/admin/bookings?email=E (a customer)", conc: 4, staff: true,
			status: 200, script: "scale_list_email.sql", defines: []string{fmt.Sprintf("customers=%d", customers)},
			build: func(rng *mrand.Rand, _ int64) (string, string, []byte, http.Header) {
				return get(fmt.Sprintf("/api/admin/bookings?email=customer%d%%40example.com", rng.IntN(customers)))
			}},
		{name: "detail", request: "GET /api/admin/bookings/{id} (a booking)", conc: 4, staff: true, status: 200,
			script: "scale_detail.sql", defines: []string{fmt.Sprintf("bookings=%d", fx.bookings)},
			build: func(rng *mrand.Rand, _ int64) (string, string, []byte, http.Header) {
				return get("/api/admin/bookings/" + bulkID("booking", rng.Int64N(int64(fx.bookings))))
			}},
		{name: "ledger", request: "GET /api/admin/payment-events (first page)", conc: 4, staff: true, status: 200,
			script: "scale_ledger.sql",
			build: func(*mrand.Rand, int64) (string, string, []byte, http.Header) {
				return get("/api/admin/payment-events")
			}},
		{name: "create", request: "POST /api/bookings (a free slot, Idempotency-Key); pgbench: one insert of a pending booking", conc: 32, status: 201,
			script:  "scale_create.sql",
			defines: []string{"k=0", "clients=32", "t0=" + pgbT0.Format(time.RFC3339)},
			build: func(rng *mrand.Rand, _ int64) (string, string, []byte, http.Header) {
				k := created.Add(1) - 1
				body, _ := json.Marshal(map[string]any{
					"resourceId": fx.resources[k%50],
					"startsAt":   httpT0.Add(time.Duration(k/50) * time.Hour).Format(time.RFC3339),
					"customer": map[string]string{"firstName": "Bench", "lastName": "Customer",
						"email": fmt.Sprintf("bench%d@example.com", k)},
				})
				return http.MethodPost, "/api/bookings", body, http.Header{"Content-Type": {"application/json"},
					"Idempotency-Key": {randomKey()}}
			}},
	}
}

func randomKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// login signs in as a staff member and returns a client carrying the session.
func login(ctx context.Context, baseURL, email, password string) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/auth/login", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("login: status %d: %s", resp.StatusCode, raw)
	}
	return c, nil
}

// sample gathers one side (HTTP or pgbench) of an endpoint on one size,
// over the rounds of a run.
type sample struct {
	lat     []time.Duration
	seconds float64
	errors  int
	first   string
	command string
}

func (s *sample) fail(msg string) {
	s.errors++
	if s.first == "" {
		s.first = msg
	}
}

// measure summarises the sample.
func (s *sample) measure() Measure {
	lat := slices.Clone(s.lat)
	slices.Sort(lat)
	m := Measure{Count: len(lat), Errors: s.errors, FirstError: s.first, Seconds: s.seconds, Command: s.command}
	if len(lat) > 0 && s.seconds > 0 {
		m.PerSec = float64(len(lat)) / s.seconds
		m.P50Ms, m.P99Ms = ms(bench.Percentile(lat, 0.50)), ms(bench.Percentile(lat, 0.99))
	}
	return m
}

// fire sends t's requests from t.conc keep-alive workers for d and adds
// them to smp.
func fire(ctx context.Context, base *http.Client, baseURL string, t target, d time.Duration, seed uint64, smp *sample) {
	tr := &http.Transport{MaxIdleConns: t.conc, MaxIdleConnsPerHost: t.conc, MaxConnsPerHost: t.conc,
		IdleConnTimeout: time.Minute, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Jar: base.Jar, Timeout: 30 * time.Second}
	var mu sync.Mutex
	start := time.Now()
	deadline := start.Add(d)
	var seq atomic.Int64
	var wg sync.WaitGroup
	for w := range t.conc {
		rng := mrand.New(mrand.NewPCG(seed+uint64(w), uint64(start.UnixNano())))
		wg.Go(func() {
			var mine []time.Duration
			for ctx.Err() == nil && time.Now().Before(deadline) {
				method, path, body, header := t.build(rng, seq.Add(1))
				t0 := time.Now()
				status, snippet, err := send(ctx, client, method, baseURL+path, body, header)
				mine = append(mine, time.Since(t0))
				if err != nil || status != t.status {
					mu.Lock()
					smp.fail(fmt.Sprintf("%s %s: status %d %v %.200s", method, path, status, err, snippet))
					mu.Unlock()
				}
			}
			mu.Lock()
			smp.lat = append(smp.lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	smp.seconds += time.Since(start).Seconds()
}

func send(ctx context.Context, c *http.Client, method, u string, body []byte, header http.Header) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

func dataOf(ctx context.Context, db *postgres.DB) (Data, error) {
	var d Data
	err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM bookings), (SELECT count(*) FROM payments),
    (SELECT count(*) FROM refunds), (SELECT count(*) FROM webhook_events), (SELECT count(*) FROM booking_audit),
    pg_database_size(current_database()), pg_size_pretty(pg_database_size(current_database()))`).
		Scan(&d.Bookings, &d.Payments, &d.Refunds, &d.LedgerRows, &d.AuditRows, &d.DatabaseBytes, &d.Size)
	return d, err
}

// peakRSS returns the VmHWM of process pid in kB, or 0.
func peakRSS(pid int) int {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb
		}
	}
	return 0
}
