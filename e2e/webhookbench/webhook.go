package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/bookingplatform/booking/e2e/internal/bench"
)

// eventTemplate is a checkout.session.completed event as Stripe sends it
// (compact, about 1.5 KB): the fields the product reads plus the usual rest.
const eventTemplate = `{"id":"%[1]s","object":"event","api_version":"%[5]s","created":%[6]d,"data":{"object":{` +
	`"id":"%[2]s","object":"checkout.session","after_expiration":null,"allow_promotion_codes":null,` +
	`"amount_subtotal":%[7]d,"amount_total":%[7]d,"automatic_tax":{"enabled":false,"liability":null,"status":null},` +
	`"billing_address_collection":null,"cancel_url":"https://booking.example.com/cancel?booking=%[3]s",` +
	`"client_reference_id":"%[3]s","client_secret":null,"consent":null,"created":%[6]d,"currency":"%[8]s",` +
	`"custom_fields":[],"customer":null,"customer_creation":"if_required",` +
	`"customer_details":{"address":null,"email":"bench@example.com","name":"Bench Customer","phone":null,` +
	`"tax_exempt":"none","tax_ids":[]},"customer_email":"bench@example.com","expires_at":%[9]d,"invoice":null,` +
	`"livemode":false,"locale":null,"metadata":{"booking_id":"%[3]s","booking_reference":"BK-BENCH%[10]d"},` +
	`"mode":"payment","payment_intent":"%[4]s","payment_link":null,"payment_method_collection":"if_required",` +
	`"payment_method_types":["card"],"payment_status":"paid","phone_number_collection":{"enabled":false},` +
	`"recovered_from":null,"setup_intent":null,"shipping_address_collection":null,"shipping_cost":null,` +
	`"shipping_options":[],"status":"complete","submit_type":null,"subscription":null,` +
	`"success_url":"https://booking.example.com/checkout/return?session_id={CHECKOUT_SESSION_ID}",` +
	`"total_details":{"amount_discount":0,"amount_shipping":0,"amount_tax":0},"ui_mode":"hosted","url":null}},` +
	`"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"type":"checkout.session.completed"}`

// eventPayload is the paid checkout.session.completed event of one booking.
func eventPayload(eventID, sessionID, bookingID string, n int) []byte {
	now := time.Now().Unix()
	pi := "pi_" + strings.TrimPrefix(sessionID, "cs_")
	return fmt.Appendf(nil, eventTemplate, eventID, sessionID, bookingID, pi, stripe.APIVersion, now,
		benchAmount, benchCurrency, now+30*60, n)
}

type delivery struct {
	payload []byte
	header  string
}

// fireWebhooks delivers one signed event per session with c workers until
// every event is sent or d has elapsed, then fills r and returns the
// sessions whose events were sent.
func fireWebhooks(ctx context.Context, baseURL, secret string, sessions []string, c int, d time.Duration,
	serverPID int, r *WebhookResult,
) ([]string, error) {
	// Sign everything before the clock starts.
	ds := make([]delivery, len(sessions))
	for i, s := range sessions {
		p := eventPayload(fmt.Sprintf("evt_%s", strings.TrimPrefix(s, "cs_")), s, bookingID(s), i)
		sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: p, Secret: secret, Timestamp: time.Now()})
		ds[i] = delivery{payload: p, header: sp.Header}
	}
	tr := &http.Transport{MaxIdleConns: c, MaxIdleConnsPerHost: c, MaxConnsPerHost: c,
		IdleConnTimeout: time.Minute, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	endpoint := strings.TrimRight(baseURL, "/") + "/webhook"

	lat := make([]time.Duration, len(ds))
	sent := make([]bool, len(ds))
	var next atomic.Int64
	var mu sync.Mutex
	var errs int
	var firstErr string
	fail := func(msg string) {
		mu.Lock()
		errs++
		if firstErr == "" {
			firstErr = msg
		}
		mu.Unlock()
	}

	cpu0 := processTicks(serverPID)
	busy := startBusy()
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ds) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				status, outcome, err := deliver(ctx, client, endpoint, ds[i])
				lat[i] = time.Since(t0)
				sent[i] = true
				switch {
				case err != nil:
					fail(err.Error())
				case status != http.StatusOK || outcome != "processed":
					fail(fmt.Sprintf("event %d: status %d, outcome %q", i, status, outcome))
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	r.MachineBusy = busy.share()
	cpu := processTicks(serverPID) - cpu0
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	var got []time.Duration
	var sessionsSent []string
	for i := range ds {
		if sent[i] {
			got = append(got, lat[i])
			sessionsSent = append(sessionsSent, sessions[i])
		}
	}
	r.Sent, r.Errors, r.FirstError = len(got), errs, firstErr
	r.OK = r.Sent - errs
	r.Seconds = elapsed.Seconds()
	if r.Sent > 0 {
		r.PerSec = float64(r.Sent) / elapsed.Seconds()
		slices.Sort(got)
		var sum time.Duration
		for _, l := range got {
			sum += l
		}
		r.MeanMs = ms(sum / time.Duration(len(got)))
		r.P50Ms, r.P99Ms, r.MaxMs = ms(bench.Percentile(got, 0.50)), ms(bench.Percentile(got, 0.99)), ms(got[len(got)-1])
		if serverPID > 0 {
			r.ServerCPUUs = float64(cpu) * (1e6 / clockTick) / float64(r.Sent)
		}
	}
	return sessionsSent, nil
}

// deliver posts one event and returns the status and the answer's outcome.
func deliver(ctx context.Context, client *http.Client, endpoint string, d delivery) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(d.payload))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	req.Header.Set("Stripe-Signature", d.header)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", err
	}
	var ans struct {
		Received bool   `json:"received"`
		Outcome  string `json:"outcome"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || !ans.Received {
		return resp.StatusCode, "", fmt.Errorf("status %d, unexpected body %.200q", resp.StatusCode, body)
	}
	return resp.StatusCode, ans.Outcome, nil
}

// OpenLoopResult is the latency of events offered at a steady rate,
// whatever the server's pace: each event's latency counts from when it was
// due, so time spent waiting behind a slow one is in the figures.
type OpenLoopResult struct {
	Rate        float64 `json:"rate"`   // offered events/s
	Sent        int     `json:"sent"`   // every event, the warm-up's too
	WarmUp      int     `json:"warmUp"` // events of the warm-up, not in the latencies
	OK          int     `json:"ok"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"firstError,omitempty"`
	Seconds     float64 `json:"seconds"`
	P50Ms       float64 `json:"p50Ms"`
	P99Ms       float64 `json:"p99Ms"`
	MaxMs       float64 `json:"maxMs"`
	VerifyError string  `json:"verifyError,omitempty"`
}

// Valid reports whether every event was answered and applied correctly.
func (r *OpenLoopResult) Valid() bool { return r.Errors == 0 && r.VerifyError == "" && r.Sent > 0 }

// openLoopWarmUp is how long the open-loop run goes before its latencies
// count.
const openLoopWarmUp = 2 * time.Second

// maxInFlight bounds the requests of the open-loop run; one that finds
// them all busy waits, and its latency still counts from when it was due.
const maxInFlight = 256

// fireOpenLoop delivers one signed event per session at rate events/s until
// every event is sent or d has elapsed, fills r and returns the sessions
// whose events were sent.
func fireOpenLoop(ctx context.Context, baseURL, secret string, sessions []string, rate float64, d time.Duration,
	r *OpenLoopResult,
) ([]string, error) {
	ds := make([]delivery, len(sessions))
	for i, s := range sessions {
		p := eventPayload(fmt.Sprintf("evt_%s", strings.TrimPrefix(s, "cs_")), s, bookingID(s), i)
		sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: p, Secret: secret, Timestamp: time.Now()})
		ds[i] = delivery{payload: p, header: sp.Header}
	}
	tr := &http.Transport{MaxIdleConns: maxInFlight, MaxIdleConnsPerHost: maxInFlight, MaxConnsPerHost: maxInFlight,
		IdleConnTimeout: time.Minute, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	endpoint := strings.TrimRight(baseURL, "/") + "/webhook"

	lat := make([]time.Duration, len(ds))
	var mu sync.Mutex
	var errs int
	var firstErr string
	slots := make(chan struct{}, maxInFlight)
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	counted := start.Add(openLoopWarmUp) // latencies of events due from here count
	deadline := counted.Add(d)
	var wg sync.WaitGroup
	n := 0
	for ; n < len(ds); n++ {
		due := start.Add(time.Duration(n) * interval)
		if !due.Before(deadline) || ctx.Err() != nil {
			break
		}
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		i := n
		wg.Go(func() {
			defer func() { <-slots }()
			status, outcome, err := deliver(ctx, client, endpoint, ds[i])
			lat[i] = time.Since(due)
			if err == nil && (status != http.StatusOK || outcome != "processed") {
				err = fmt.Errorf("event %d: status %d, outcome %q", i, status, outcome)
			}
			if err != nil {
				mu.Lock()
				errs++
				if firstErr == "" {
					firstErr = err.Error()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	warm := 0 // the events due before counted
	for warm < n && start.Add(time.Duration(warm)*interval).Before(counted) {
		warm++
	}
	got := slices.Clone(lat[warm:n])
	r.Sent, r.Errors, r.FirstError, r.OK = n, errs, firstErr, n-errs
	r.WarmUp, r.Seconds = warm, time.Since(counted).Seconds()
	if len(got) > 0 {
		slices.Sort(got)
		r.P50Ms, r.P99Ms, r.MaxMs = ms(bench.Percentile(got, 0.50)), ms(bench.Percentile(got, 0.99)), ms(got[len(got)-1])
	}
	return sessions[:n], nil
}
