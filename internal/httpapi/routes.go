package httpapi

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bookingplatform/booking/internal/booking"
)

// router forwards registrations to a ServeMux and keeps their patterns in
// order, so that Server.Routes can list them; it serves requests through
// that mux.
type router struct {
	mux      *http.ServeMux
	patterns []string
}

func newRouter() *router { return &router{mux: http.NewServeMux()} }

// Handle registers h for pattern on the mux and records the pattern.
func (rt *router) Handle(pattern string, h http.Handler) {
	rt.mux.Handle(pattern, h)
	rt.patterns = append(rt.patterns, pattern)
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) { rt.mux.ServeHTTP(w, r) }

// routes registers every route of the public API and the webhook.
func (s *Server) routes(mux *router) {
	mux.Handle("GET /health", s.Handle(s.handleHealth))
	mux.Handle("GET /livez", s.Handle(s.handleLivez))
	mux.Handle("GET /openapi.json", openAPIHandler())

	mux.Handle("GET /api/resources", s.Handle(s.handleResourceList))
	mux.Handle("GET /api/resources/{id}/availability", s.Handle(s.handleAvailability))
	mux.Handle("GET /api/pools", s.Handle(s.handlePoolList))
	mux.Handle("GET /api/pools/{id}/availability", s.Handle(s.handlePoolAvailability))
	mux.Handle("POST /api/bookings", s.Handle(s.handleBookingCreate))
	mux.Handle("GET /api/bookings/{id}", s.Handle(s.handleBookingGet))
	s.manageRoutes(mux)
	mux.Handle("POST /create-checkout-session", s.Handle(s.handleCompatCheckout))
	mux.Handle("GET /checkout/return", s.Handle(s.handleCheckoutReturn))
	s.calendarRoutes(mux)

	mux.Handle("POST /webhook", http.HandlerFunc(s.handleWebhook))
	mux.Handle("POST /webhooks/stripe", http.HandlerFunc(s.handleWebhook))

	if s.MetricsToken != "" {
		mux.Handle("GET /metrics", s.requireBearer(s.MetricsToken, promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{})))
	}

	s.staffRoutes(mux)
	s.pageRoutes(mux)

	mux.Handle("/", s.Handle(func(w http.ResponseWriter, r *http.Request) error {
		err := booking.Errorf(booking.ENotFound, "No such route.")
		if s.htmlError != nil && r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html") {
			s.htmlError(w, r, booking.Errorf(booking.ENotFound, "There is no page at this address."))
			return nil
		}
		return err
	}))
}
