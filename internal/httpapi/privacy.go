package httpapi

import (
	"net/http"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
)

// handleCustomerExport answers GET /api/admin/customers/export?email=…
// with everything held about the address. The address is never logged.
func (s *Server) handleCustomerExport(w http.ResponseWriter, r *http.Request) error {
	if s.Privacy == nil {
		return booking.Errorf(booking.ENotFound, "No such route.")
	}
	d, err := s.Privacy.Export(r.Context(), r.URL.Query().Get("email"))
	if err != nil {
		return err
	}
	s.staffLog(r, "customer.export", "email_hash", booking.EmailHash(d.Email)[:12])
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="customer-data.json"`)
	writeJSON(w, http.StatusOK, d)
	return nil
}

type eraseRequest struct {
	Email string `json:"email"`
}

// handleCustomerErase answers POST /api/admin/customers/erase {"email"}:
// the address's data replaced by tombstones; running it again changes
// nothing. Logged with the staff user and the counts, not the address.
func (s *Server) handleCustomerErase(w http.ResponseWriter, r *http.Request) error {
	if s.Privacy == nil {
		return booking.Errorf(booking.ENotFound, "No such route.")
	}
	var req eraseRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	e, err := s.Privacy.Erase(r.Context(), req.Email, auth.StaffFrom(r.Context()))
	if err != nil {
		return err
	}
	s.staffLog(r, "customer.erase", "tombstone", e.Tombstone, "bookings", e.Bookings, "messages", e.Messages,
		"tokens", e.Tokens, "events", e.Events)
	writeJSON(w, http.StatusOK, map[string]any{"erasure": e})
	return nil
}
