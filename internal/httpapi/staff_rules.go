package httpapi

import (
	"net/http"

	"github.com/bookingplatform/booking/internal/booking"
)

// handleStaffOverrideCreate adds a closed day or special hours for a date
// range of a resource.
func (s *Server) handleStaffOverrideCreate(w http.ResponseWriter, r *http.Request) error {
	var o booking.DateOverride
	if err := decodeJSON(w, r, &o); err != nil {
		return err
	}
	out, err := s.Overrides.Create(r.Context(), r.PathValue("id"), o)
	if err != nil {
		return err
	}
	s.staffLog(r, "resource.override.create", "resource_id", r.PathValue("id"), "override_id", out.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"override": out})
	return nil
}

// handleStaffOverrideDelete removes a date override.
func (s *Server) handleStaffOverrideDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.Overrides.Delete(r.Context(), r.PathValue("id"), r.PathValue("overrideId")); err != nil {
		return err
	}
	s.staffLog(r, "resource.override.delete", "resource_id", r.PathValue("id"), "override_id", r.PathValue("overrideId"))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
