package httpapi

import (
	"net/http"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
)

// handleStaffBookings lists bookings filtered by status, resource, customer
// email and a startsAt range, one keyset page at a time: newest first, or in
// calendar order with a range.
func (s *Server) handleStaffBookings(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v := booking.ValidationError{}
	f := booking.BookingFilter{Status: booking.Status(q.Get("status")), ResourceID: q.Get("resourceId"),
		Email: q.Get("email"), Limit: parseLimit(q, v), After: parseCursor(q, v)}
	f.From, f.To = parseBound(q, "from", v), parseBound(q, "to", v)
	if err := v.Err(); err != nil {
		return err
	}
	page, err := s.Desk.Bookings(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageAnswer(page))
	return nil
}

// handleStaffBooking shows one booking with its payments, refunds, dispute,
// refund requests, audit trail and ledger rows.
func (s *Server) handleStaffBooking(w http.ResponseWriter, r *http.Request) error {
	d, err := s.Desk.Booking(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// handleStaffCancel cancels a booking before payment, or refunds a paid one.
func (s *Server) handleStaffCancel(w http.ResponseWriter, r *http.Request) error {
	b, err := s.Desk.Cancel(r.Context(), r.PathValue("id"), auth.StaffFrom(r.Context()))
	if err != nil {
		return err
	}
	s.Metrics.Transition(string(b.Status))
	s.staffLog(r, "booking.cancel", "booking_id", b.ID, "status", b.Status)
	writeJSON(w, http.StatusOK, map[string]any{"booking": b})
	return nil
}

// handleStaffAccept resolves a booking under review by keeping its payment.
func (s *Server) handleStaffAccept(w http.ResponseWriter, r *http.Request) error {
	b, err := s.Desk.Accept(r.Context(), r.PathValue("id"), auth.StaffFrom(r.Context()))
	if err != nil {
		return err
	}
	s.Metrics.Transition(string(b.Status))
	s.staffLog(r, "booking.accept", "booking_id", b.ID, "status", b.Status)
	writeJSON(w, http.StatusOK, map[string]any{"booking": b})
	return nil
}
