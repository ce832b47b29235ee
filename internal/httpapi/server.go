// Package httpapi is the HTTP face of the product: the public booking API, the
// Stripe webhook, health checks and the staff API. Handlers return errors; one
// table maps error codes to statuses and one writer renders them.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"slices"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/payment"
)

// Pinger reports whether the database answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// WebhookVerifier checks a webhook signature and parses the event.
type WebhookVerifier interface {
	Verify(payload []byte, header string) (*booking.PaymentEvent, error)
}

// Server serves the HTTP API. Handlers call the services; they never reach
// a store.
type Server struct {
	Booker    *booking.Booker
	Fulfiller *booking.Fulfiller
	Catalog   *booking.Catalog
	// Overrides manages the date overrides of resources (staff_rules.go).
	Overrides *booking.Overrides
	DB        Pinger
	Verifier  WebhookVerifier
	Logger    *slog.Logger
	Metrics   *Metrics
	Version   string
	// Production turns on HSTS and turns off the demo pages.
	Production bool
	TrustProxy bool
	// WebhookFlood throttles badly signed webhook requests per client address.
	WebhookFlood *Limiter
	// MetricsToken, when set, opens GET /metrics on this listener to bearers.
	MetricsToken string
	// Pools serves the resource pools (pools.go); nil serves none.
	Pools *booking.Pools

	// The staff API is served only when Sessions, Auth, Accounts and Desk are set.
	Sessions *auth.Sessions
	Auth     *auth.Authenticator
	Accounts *auth.Accounts
	Desk     *booking.Desk
	// Messages shows the message queue to staff.
	Messages MessageDesk
	// Checker reports the money rules' violations (GET /admin/metrics).
	Checker *booking.Checker
	// APIKeys, when set, administers API keys and lets them authenticate
	// (Authorization: Bearer) on the staff routes; KeyLimiter limits each
	// key's requests (default 600 a minute).
	APIKeys    *auth.APIKeys
	KeyLimiter *Limiter
	// Exports streams the CSV exports.
	Exports *booking.Exporter
	// Webhooks manages the outgoing webhook endpoints (webhooks_out.go).
	Webhooks *booking.Webhooks
	// Calendars, when set, serves the calendar feeds (GET
	// /calendar/{resourceId}.ics) and makes their keys; FeedLimiter limits
	// the feeds per client address (default 60 a minute).
	Calendars   *booking.CalendarFeeds
	FeedLimiter *Limiter
	// Privacy exports and erases customer data (GDPR).
	Privacy *booking.Privacy
	// Planner serves the staff calendar, staff blocks and notes.
	Planner *booking.Planner

	// BookingLimiter, when set, limits slot holds (POST /api/bookings and
	// POST /create-checkout-session) per client address, so that one client
	// cannot hold every free slot without paying.
	BookingLimiter *Limiter
	// LoginLimiter throttles POST /auth/login per client address (default 5 a minute).
	LoginLimiter *Limiter
	// ReturnLimiter and ReturnSessionLimiter limit GET /checkout/return per
	// client address and per Checkout Session: each call may ask Stripe.
	ReturnLimiter        *Limiter
	ReturnSessionLimiter *Limiter

	// SelfService, when set, serves the customer's self-service routes
	// (cancel-quote, cancel, reschedule, calendar file, the manage page)
	// and the staff's reschedule; ManageLimiter limits the self-service
	// routes per client address (default 60 a minute); Calendar completes
	// the calendar files.
	SelfService   *booking.SelfService
	ManageLimiter *Limiter
	Calendar      CalendarOpts

	// Demo, in development without a Stripe account, serves the demo checkout
	// pages; never used in production.
	Demo *payment.Demo

	// registered holds the route patterns, in registration order, of the
	// last handler built by Handler.
	registered []string
	// htmlError renders an error as a page, for browsers that reach an
	// unknown address; set when the pages are served.
	htmlError func(http.ResponseWriter, *http.Request, error)
}

// handlerFunc is an HTTP handler that returns an error to be rendered.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts h: a returned error is written as the API's error body, and
// internal errors are logged with the request id.
func (s *Server) Handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.WriteError(w, r, err)
		}
	})
}

// WriteError renders err as {"error","message","requestId","fields"}.
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	id := RequestID(r.Context())
	status, body := errorResponse(err, id)
	if status >= 500 {
		s.Logger.ErrorContext(r.Context(), "request failed", "request_id", id, "code", body.Error, "err", err)
	}
	if status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "60")
	}
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status, body)
}

// Handler returns the complete HTTP handler with middleware.
func (s *Server) Handler() http.Handler {
	if s.Metrics == nil {
		s.Metrics = NewMetrics()
	}
	if s.WebhookFlood == nil {
		s.WebhookFlood = NewLimiter(60)
	}
	if s.ReturnLimiter == nil {
		s.ReturnLimiter = NewLimiter(60)
	}
	if s.ReturnSessionLimiter == nil {
		s.ReturnSessionLimiter = NewLimiter(20)
	}
	mux := newRouter()
	s.routes(mux)
	s.registered = mux.patterns
	cop := http.NewCrossOriginProtection()
	cop.AddInsecureBypassPattern("POST /webhook")
	cop.AddInsecureBypassPattern("POST /webhooks/stripe")
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.WriteError(w, r, booking.Errorf(booking.EForbidden, "Cross-origin requests are not allowed."))
	}))
	return s.observe(s.secureHeaders(bearerBypass(cop.Handler(mux), mux)))
}

// Routes returns the patterns ("METHOD /path") of every route the handler
// built by Handler serves, in registration order; nil before Handler is called.
func (s *Server) Routes() []string {
	return slices.Clone(s.registered)
}

// bearerBypass sends requests that carry an Authorization: Bearer header
// and no cookie straight to next, past the cross-origin protection: such a
// request carries no ambient credential a foreign page could borrow (a
// browser never adds a bearer token by itself), so it cannot be a forged
// request, and API clients need not fake browser headers.
func bearerBypass(protected, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth.HasBearer(r) && r.Header.Get("Cookie") == "" {
			next.ServeHTTP(w, r)
			return
		}
		protected.ServeHTTP(w, r)
	})
}
