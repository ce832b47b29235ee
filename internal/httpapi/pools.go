package httpapi

import (
	"net/http"

	"github.com/bookingplatform/booking/internal/booking"
)

// poolsOff answers the pool routes of a server wired without pools.
func (s *Server) poolsOff() error {
	if s.Pools == nil {
		return booking.Errorf(booking.ENotFound, "No such route.")
	}
	return nil
}

// handlePoolList lists the pools customers can book (GET /api/pools).
func (s *Server) handlePoolList(w http.ResponseWriter, r *http.Request) error {
	if err := s.poolsOff(); err != nil {
		return err
	}
	items, err := s.Pools.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// handlePoolAvailability answers the union of a pool's free slots on a date.
func (s *Server) handlePoolAvailability(w http.ResponseWriter, r *http.Request) error {
	if err := s.poolsOff(); err != nil {
		return err
	}
	a, err := s.Pools.Availability(r.Context(), r.PathValue("id"), r.URL.Query().Get("date"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

// handleStaffPools lists the pools (ADMIN).
func (s *Server) handleStaffPools(w http.ResponseWriter, r *http.Request) error {
	return s.handlePoolList(w, r)
}

// handleStaffPoolCreate creates a pool over resources that share their
// terms.
func (s *Server) handleStaffPoolCreate(w http.ResponseWriter, r *http.Request) error {
	if err := s.poolsOff(); err != nil {
		return err
	}
	var in booking.PoolPatch
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	p, err := s.Pools.Create(r.Context(), in)
	if err != nil {
		return err
	}
	s.staffLog(r, "pool.create", "pool_id", p.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"pool": p})
	return nil
}

// handleStaffPoolUpdate changes a pool's name, slug or members.
func (s *Server) handleStaffPoolUpdate(w http.ResponseWriter, r *http.Request) error {
	if err := s.poolsOff(); err != nil {
		return err
	}
	var in booking.PoolPatch
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	p, err := s.Pools.Update(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	s.staffLog(r, "pool.update", "pool_id", p.ID)
	writeJSON(w, http.StatusOK, map[string]any{"pool": p})
	return nil
}
