package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

const replicaSecret = "whsec_replicas_test"

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

type replica struct {
	addr string
	cmd  *exec.Cmd
	logs string // file with the process's output
}

// startReplica starts `booking serve` on addr against databaseURL, with
// the extra environment variables given as KEY=value.
func startReplica(t *testing.T, bin, databaseURL, addr string, extra ...string) *replica {
	t.Helper()
	dir := t.TempDir()
	r := &replica{addr: addr, logs: filepath.Join(dir, "serve.log")}
	logf, err := os.Create(r.logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	stripeAPI := os.Getenv("STRIPE_MOCK_URL")
	if stripeAPI == "" {
		stripeAPI = "http://127.0.0.1:12111"
	}
	r.cmd = exec.Command(bin, "serve")
	r.cmd.Dir = dir
	r.cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"DATABASE_URL=" + databaseURL, "LISTEN_ADDR=" + addr, "APP_ENV=development", "APP_URL=http://" + addr,
		"STRIPE_SECRET_KEY=sk_test_123", "STRIPE_API_BASE=" + stripeAPI, "STRIPE_WEBHOOK_SECRET=" + replicaSecret,
		"LOG_LEVEL=warn", "SWEEP_INTERVAL=1s", "SHUTDOWN_GRACE=5s", "DB_MAX_CONNS=10",
	}
	r.cmd.Env = append(r.cmd.Env, extra...)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start replica: %v", err)
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop sends SIGTERM to the process by its PID and waits; it kills it when
// it does not stop in time.
func (r *replica) stop(t *testing.T) {
	if r.cmd.ProcessState != nil {
		return
	}
	_ = syscall.Kill(r.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("replica %s exited with %v", r.addr, err)
		}
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(r.cmd.Process.Pid, syscall.SIGKILL)
		t.Errorf("replica %s did not stop on SIGTERM; killed: %v", r.addr, <-done)
	}
}

func (r *replica) waitHealthy(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + r.addr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if r.cmd.ProcessState != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	logs, _ := os.ReadFile(r.logs)
	t.Fatalf("replica %s never became healthy; logs:\n%s", r.addr, logs)
}

// deliver signs payload now and posts it to the replica's webhook.
func (r *replica) deliver(payload []byte) (int, string, error) {
	sig := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: replicaSecret, Timestamp: time.Now()})
	req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/webhook", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", sig.Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var body struct {
		Outcome string `json:"outcome"`
	}
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &body)
	return resp.StatusCode, body.Outcome, nil
}

// Two `booking serve` processes on one database receive the same events,
// concurrently and split between them: every effect happens exactly once.
func TestReplicas(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "booking")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Run("on PostgreSQL", func(t *testing.T) {
		t.Parallel()
		url := pgtest.NewURL(t)
		replicaRace(t, bin, url, url)
	})
	// The usual topology when one machine is not enough: replicas behind a
	// PgBouncer in transaction pooling mode, migrations on PostgreSQL itself.
	t.Run("through PgBouncer in transaction pooling mode", func(t *testing.T) {
		t.Parallel()
		_, direct := pgtest.NewPooledDB(t, 2)
		pooled := pgtest.ThroughPgBouncer(t, direct)
		replicaRace(t, bin, direct, pooled, "DB_POOLER=pgbouncer", "DATABASE_DIRECT_URL="+direct)
	})
}

// replicaRace runs two replicas on databaseURL (serveURL for the servers,
// with the extra environment) and races deliveries between them.
func replicaRace(t *testing.T, bin, databaseURL, serveURL string, extra ...string) {
	db, err := postgres.Open(context.Background(), databaseURL, postgres.PoolOpts{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)

	replicas := []*replica{startReplica(t, bin, serveURL, freeAddr(t), extra...), startReplica(t, bin, serveURL, freeAddr(t), extra...)}
	for _, r := range replicas {
		r.waitHealthy(t)
	}

	res := pgtest.CreateResource(t, db, pgtest.ResourceOpts{})
	const sessions = 40
	var bookings []*booking.Booking
	for range sessions {
		bookings = append(bookings, pgtest.CreateBooking(t, db, res, pgtest.BookingOpts{}))
	}
	var lapsed []*booking.Booking
	for range 5 {
		lapsed = append(lapsed, pgtest.CreateBooking(t, db, res, pgtest.BookingOpts{HoldUntil: time.Now().Add(-time.Second)}))
	}

	event := func(id string, b *booking.Booking) []byte {
		p, _ := json.Marshal(map[string]any{
			"id": id, "object": "event", "type": booking.EventCheckoutCompleted, "api_version": stripe.APIVersion,
			"created": time.Now().Unix(), "livemode": false, "pending_webhooks": 1,
			"data": map[string]any{"object": map[string]any{
				"id": *b.StripeSessionID, "object": "checkout.session", "client_reference_id": b.ID,
				"payment_status": "paid", "status": "complete", "amount_total": b.AmountTotal, "currency": b.Currency,
				"payment_intent": "pi_" + b.ID,
			}},
		})
		return p
	}
	type delivery struct {
		to      *replica
		payload []byte
	}
	var deliveries []delivery
	for i, b := range bookings {
		a := event(fmt.Sprintf("evt_rep_%02d_a", i), b)
		// The same event to both replicas, and a second Event object for the
		// same session to one of them.
		deliveries = append(deliveries, delivery{replicas[0], a}, delivery{replicas[1], a},
			delivery{replicas[i%2], event(fmt.Sprintf("evt_rep_%02d_b", i), b)})
	}
	var mu sync.Mutex
	outcomes := map[string]int{}
	var wg sync.WaitGroup
	for _, d := range deliveries {
		wg.Go(func() {
			status, outcome, err := d.to.deliver(d.payload)
			if err != nil || status != http.StatusOK {
				t.Errorf("deliver to %s: %d %v", d.to.addr, status, err)
				return
			}
			mu.Lock()
			outcomes[outcome]++
			mu.Unlock()
		})
	}
	wg.Wait()

	if outcomes["processed"] != sessions || outcomes["duplicate"] != 2*sessions {
		t.Errorf("outcomes %v, want %d processed and %d duplicate", outcomes, sessions, 2*sessions)
	}
	if n := pgtest.Count(t, db, `SELECT count(*) FROM webhook_events`); n != 2*sessions {
		t.Errorf("ledger rows %d, want %d (one per event id)", n, 2*sessions)
	}
	if n := pgtest.Count(t, db, `SELECT count(*) FROM payments`); n != sessions {
		t.Errorf("payments %d, want %d", n, sessions)
	}
	for _, b := range bookings {
		if n := pgtest.Count(t, db, `SELECT count(*) FROM payments WHERE stripe_session_id = $1`, *b.StripeSessionID); n != 1 {
			t.Errorf("session %s: %d payments", *b.StripeSessionID, n)
		}
		if n := pgtest.Count(t, db, `SELECT count(*) FROM booking_audit WHERE booking_id = $1 AND to_status = 'confirmed'`, b.ID); n != 1 {
			t.Errorf("booking %s: %d audit rows to confirmed", b.ID, n)
		}
	}

	// Both replicas sweep every second; each lapsed hold expires once.
	deadline := time.Now().Add(20 * time.Second)
	for pgtest.Count(t, db, `SELECT count(*) FROM bookings WHERE status = 'pending'`) > 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // one more sweep round on each replica
	for _, b := range lapsed {
		if n := pgtest.Count(t, db, `SELECT count(*) FROM booking_audit WHERE booking_id = $1 AND to_status = 'expired' AND cause_ref = 'hold_sweep'`, b.ID); n != 1 {
			t.Errorf("lapsed hold %s: %d audit rows to expired, want 1", b.ID, n)
		}
	}

	for _, r := range replicas {
		r.stop(t)
	}
	if t.Failed() {
		for _, r := range replicas {
			logs, _ := os.ReadFile(r.logs)
			t.Logf("replica %s logs:\n%s", r.addr, logs)
		}
	}
}
