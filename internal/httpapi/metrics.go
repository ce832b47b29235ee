package httpapi

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds the server's Prometheus collectors and the counters of
// GET /admin/metrics.
type Metrics struct {
	Registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	webhook     *prometheus.CounterVec
	transitions *prometheus.CounterVec

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
	}
	m.Registry.MustRegister(m.requests, m.latency, m.webhook, m.transitions,
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
