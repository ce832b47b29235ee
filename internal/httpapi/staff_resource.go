package httpapi

import (
	"net/http"

	"github.com/bookingplatform/booking/internal/booking"
)

// handleStaffResources lists every resource, inactive ones included.
func (s *Server) handleStaffResources(w http.ResponseWriter, r *http.Request) error {
	items, err := s.Catalog.Resources(r.Context(), true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listAnswer[booking.Resource]{Items: items, Meta: listMeta{Count: len(items)}})
	return nil
}

func (s *Server) handleStaffResourceCreate(w http.ResponseWriter, r *http.Request) error {
	var p booking.ResourcePatch
	if err := decodeJSON(w, r, &p); err != nil {
		return err
	}
	res, err := s.Catalog.CreateResource(r.Context(), p)
	if err != nil {
		return err
	}
	s.staffLog(r, "resource.create", "resource_id", res.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"resource": res})
	return nil
}

func (s *Server) handleStaffResourceUpdate(w http.ResponseWriter, r *http.Request) error {
	var p booking.ResourcePatch
	if err := decodeJSON(w, r, &p); err != nil {
		return err
	}
	res, err := s.Catalog.UpdateResource(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	s.staffLog(r, "resource.update", "resource_id", res.ID)
	writeJSON(w, http.StatusOK, map[string]any{"resource": res})
	return nil
}
