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
	feeds := map[string]bool{}
	if s.Calendars != nil {
		if feeds, err = s.Calendars.WithFeed(r.Context()); err != nil {
			return err
		}
	}
	out := make([]staffResource, len(items))
	for i, res := range items {
		out[i] = staffResource{Resource: res, CalendarFeed: feeds[res.ID]}
	}
	writeJSON(w, http.StatusOK, listAnswer[staffResource]{Items: out, Meta: listMeta{Count: len(out)}})
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
