package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
)

func (s *Server) handleLivez(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.DB.Ping(ctx); err != nil {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "db": "down"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) handleResourceList(w http.ResponseWriter, r *http.Request) error {
	items, err := s.Catalog.Resources(r.Context(), false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) handleAvailability(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if q.Has("from") || q.Has("to") {
		if q.Has("date") {
			return &booking.Error{Code: booking.EValidation, Message: "Some fields are invalid.",
				Fields: map[string]string{"date": "Give either date, or from and to."}}
		}
		m, err := s.Booker.MonthAvailability(r.Context(), r.PathValue("id"), q.Get("from"), q.Get("to"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, m)
		return nil
	}
	a, err := s.Booker.Availability(r.Context(), r.PathValue("id"), q.Get("date"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

// bookingRequest is the wire form of POST /api/bookings; startsAt is parsed
// during validation so a bad timestamp is reported on its field.
type bookingRequest struct {
	ResourceID string           `json:"resourceId"`
	StartsAt   string           `json:"startsAt"`
	Customer   booking.Customer `json:"customer"`
	Quantity   int              `json:"quantity"`
	PoolID     string           `json:"poolId"`
}

// DecodeBookingRequest decodes and checks the body of POST /api/bookings.
func DecodeBookingRequest(w http.ResponseWriter, r *http.Request) (booking.CreateRequest, error) {
	var in bookingRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return booking.CreateRequest{}, err
	}
	req := booking.CreateRequest{ResourceID: in.ResourceID, Customer: in.Customer, Quantity: in.Quantity, PoolID: in.PoolID}
	if in.StartsAt != "" {
		t, err := time.Parse(time.RFC3339, in.StartsAt)
		if err != nil {
			v := booking.ValidationError{}
			v.Add("startsAt", "Must be an RFC 3339 timestamp, like 2030-01-31T09:00:00Z.")
			in.Customer.Validate(v, "customer.")
			if in.PoolID == "" && !booking.IsUUID(strings.TrimSpace(in.ResourceID)) {
				v.Add("resourceId", "Must be the id of a resource (or give poolId).")
			}
			return req, v.Err()
		}
		req.StartsAt = t
	}
	return req, nil
}

func idempotencyKey(r *http.Request) (string, error) {
	k := r.Header.Get("Idempotency-Key")
	if k == "" {
		return "", nil
	}
	if len(k) > 255 || strings.ContainsFunc(k, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		return "", &booking.Error{Code: booking.EValidation, Message: "Some fields are invalid.",
			Fields: map[string]string{"Idempotency-Key": "Must be 1-255 visible ASCII characters."}}
	}
	return k, nil
}

// allow applies limiter l to key, answering rate_limited with Retry-After.
func allow(w http.ResponseWriter, l *Limiter, key, msg string) error {
	if l == nil {
		return nil
	}
	if ok, wait := l.Allow(key); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		return booking.Errorf(booking.ERateLimited, "%s", msg)
	}
	return nil
}

// allowBooking applies BookingLimiter to the client of r.
func (s *Server) allowBooking(w http.ResponseWriter, r *http.Request) error {
	return allow(w, s.BookingLimiter, s.clientAddr(r), "Too many bookings from this address. Please wait and try again.")
}

func apiCause(r *http.Request) booking.Cause {
	return booking.Cause{Kind: booking.CauseAPI, Ref: RequestID(r.Context())}
}

func (s *Server) handleBookingCreate(w http.ResponseWriter, r *http.Request) error {
	if err := s.allowBooking(w, r); err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	req, err := DecodeBookingRequest(w, r)
	if err != nil {
		return err
	}
	out, replay, err := s.Booker.CreateBooking(r.Context(), req, key, apiCause(r))
	if err != nil {
		return err
	}
	s.Metrics.Transition(string(booking.StatusPending))
	if replay != nil {
		w.Header().Set("Idempotent-Replayed", "true")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(replay)
		return nil
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) handleBookingGet(w http.ResponseWriter, r *http.Request) error {
	b, err := s.Booker.GetBooking(r.Context(), r.PathValue("id"), r.URL.Query().Get("token"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"booking": b})
	return nil
}

func (s *Server) handleCompatCheckout(w http.ResponseWriter, r *http.Request) error {
	if err := s.allowBooking(w, r); err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req booking.CompatRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	out, replay, err := s.Booker.CreateCompat(r.Context(), req, key, apiCause(r))
	if err != nil {
		return err
	}
	if replay != nil {
		var prev booking.Created
		if err := json.Unmarshal(replay, &prev); err != nil {
			return err
		}
		out = &prev
	}
	sid := ""
	if out.Booking.StripeSessionID != nil {
		sid = *out.Booking.StripeSessionID
	}
	writeJSON(w, http.StatusOK, map[string]string{"url": out.CheckoutURL, "stripeSessionId": sid, "bookingId": out.Booking.ID})
	return nil
}

// returnTimeout bounds the Stripe look-up of the return page: the customer
// is waiting, and the webhook confirms the booking anyway.
const returnTimeout = 5 * time.Second

// handleCheckoutReturn applies fulfilment on return from Checkout. A browser
// is then sent to the success page (which polls this route for JSON); an API
// client gets the status as JSON. Each call may ask Stripe, so calls are
// limited per client address and per Checkout Session.
func (s *Server) handleCheckoutReturn(w http.ResponseWriter, r *http.Request) error {
	sid := r.URL.Query().Get("session_id")
	html := wantsHTML(r)
	if err := allow(w, s.ReturnLimiter, s.clientAddr(r), "Too many requests from this address. Please wait and try again."); err != nil {
		if html {
			http.Redirect(w, r, successPath(sid), http.StatusSeeOther)
			return nil
		}
		return err
	}
	if err := allow(w, s.ReturnSessionLimiter, sid, "Too many requests for this checkout. Please wait and try again."); err != nil {
		if html {
			http.Redirect(w, r, successPath(sid), http.StatusSeeOther)
			return nil
		}
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), returnTimeout)
	defer cancel()
	b, err := s.Fulfiller.ReturnFromCheckout(ctx, sid)
	if html {
		// The page shows whatever state the booking is in; a failure here
		// only delays confirmation to the webhook.
		if err != nil && booking.ErrorCode(err) != booking.ENotFound && booking.ErrorCode(err) != booking.EValidation {
			s.Logger.WarnContext(r.Context(), "fulfilment on return failed", "request_id", RequestID(r.Context()),
				"session_id", sid, "err", err)
		}
		http.Redirect(w, r, successPath(sid), http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"bookingId": b.ID, "reference": b.Reference, "status": b.Status})
	return nil
}

// requireBearer opens next only to requests with the bearer token.
func (s *Server) requireBearer(token string, next http.Handler) http.Handler {
	return s.Handle(func(w http.ResponseWriter, r *http.Request) error {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			return booking.Errorf(booking.EUnauthenticated, "A valid bearer token is required.")
		}
		next.ServeHTTP(w, r)
		return nil
	})
}
