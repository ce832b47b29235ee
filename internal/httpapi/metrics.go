package httpapi

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/bookingplatform/booking/internal/booking"
)

// Metrics holds the server's Prometheus collectors and the counters of
// GET /admin/metrics.
type Metrics struct {
	Registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	webhook     *prometheus.CounterVec
	transitions *prometheus.CounterVec

	violations *prometheus.GaugeVec
	money      *prometheus.GaugeVec
	lastCheck  atomic.Pointer[booking.Report]

	Received, Processed, Duplicates, Rejected, Errors, HTTP5xx atomic.Int64
	Started                                                    time.Time
}

// NewMetrics registers the collectors on a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Started:  time.Now(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "booking_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "booking_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		webhook: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "booking_webhook_events_total", Help: "Stripe webhook deliveries by outcome.",
		}, []string{"outcome"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "booking_status_transitions_total", Help: "Booking status changes caused by this process.",
		}, []string{"to"}),
		violations: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "booking_check_violations", Help: "Violations of the money rules found by the last check (SPEC 3.1 M5), by kind.",
		}, []string{"kind"}),
		money: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "booking_money", Help: "Money figures of the last check: needs_review bookings, refunds owed, refunds failing, oldest owed refund age (seconds).",
		}, []string{"figure"}),
	}
	m.Registry.MustRegister(m.requests, m.latency, m.webhook, m.transitions, m.violations, m.money,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) observeRequest(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
	if status >= 500 {
		m.HTTP5xx.Add(1)
	}
}

// webhookOutcome counts one webhook delivery by outcome.
func (m *Metrics) webhookOutcome(outcome string) {
	m.webhook.WithLabelValues(outcome).Inc()
	switch outcome {
	case "rejected":
		m.Rejected.Add(1)
		return
	case "error":
		m.Errors.Add(1)
		return
	case "duplicate":
		m.Duplicates.Add(1)
	default:
		m.Processed.Add(1)
	}
}

// Transition counts a booking status change.
func (m *Metrics) Transition(to string) { m.transitions.WithLabelValues(to).Inc() }

// SetCheck publishes the result of a check of the money rules.
func (m *Metrics) SetCheck(r *booking.Report) {
	for kind, n := range r.Counts() {
		m.violations.WithLabelValues(kind).Set(float64(n))
	}
	f := r.Figures
	m.money.WithLabelValues("needs_review").Set(float64(f.NeedsReview))
	m.money.WithLabelValues("refunds_owed").Set(float64(f.RefundsOwed))
	m.money.WithLabelValues("refunds_failing").Set(float64(f.RefundsFailing))
	m.money.WithLabelValues("oldest_owed_refund_seconds").Set(f.OldestOwedSeconds)
	m.lastCheck.Store(r)
}

// moneySnapshot is the money part of GET /admin/metrics.
type moneySnapshot struct {
	CheckedAt  *time.Time     `json:"checkedAt"`
	Violations map[string]int `json:"violations"`
	booking.MoneyFigures
}

// MoneySnapshot returns the figures of the last check (zero before one ran).
func (m *Metrics) MoneySnapshot() moneySnapshot {
	r := m.lastCheck.Load()
	if r == nil {
		return moneySnapshot{Violations: (&booking.Report{}).Counts()}
	}
	at := r.At
	return moneySnapshot{CheckedAt: &at, Violations: r.Counts(), MoneyFigures: r.Figures}
}
