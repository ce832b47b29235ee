package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
)

// The staff desk: bookings for phone and walk-in customers, staff blocks,
// notes and the staff calendar of a resource.

// deskAnswer is the answer to a desk booking: the customer token is not
// given to staff (the customer gets their own links by email).
type deskAnswer struct {
	Booking     *booking.Booking `json:"booking"`
	CheckoutURL string           `json:"checkoutUrl,omitempty"`
}

// handleDeskBooking books a slot for a customer: paid at the venue or
// through a payment link sent by email.
func (s *Server) handleDeskBooking(w http.ResponseWriter, r *http.Request) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req booking.DeskRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	by := auth.StaffFrom(r.Context())
	out, replay, err := s.Booker.BookAtDesk(r.Context(), req, key, by)
	if err != nil {
		return err
	}
	if replay != nil {
		var again booking.Created
		if err := json.Unmarshal(replay, &again); err != nil {
			return err
		}
		out = &again
		w.Header().Set("Idempotent-Replayed", "true")
	} else {
		s.Metrics.Transition(string(out.Booking.Status))
		s.staffLog(r, "desk.booking", "booking_id", out.Booking.ID, "payment", req.Payment)
	}
	writeJSON(w, http.StatusCreated, deskAnswer{Booking: out.Booking, CheckoutURL: out.CheckoutURL})
	return nil
}

// handleSchedule answers the staff calendar of a resource.
func (s *Server) handleSchedule(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	days := 0
	if d := q.Get("days"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil {
			return &booking.Error{Code: booking.EValidation, Message: "Some fields are invalid.",
				Fields: map[string]string{"days": "Must be a whole number from 1 to 31."}}
		}
		days = n
	}
	out, err := s.Planner.Schedule(r.Context(), r.PathValue("id"), q.Get("from"), days)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleBlockCreate keeps a range of a resource's time from bookings.
func (s *Server) handleBlockCreate(w http.ResponseWriter, r *http.Request) error {
	var req booking.BlockRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	out, err := s.Planner.AddBlock(r.Context(), r.PathValue("id"), req, auth.StaffFrom(r.Context()))
	if err != nil {
		return err
	}
	s.staffLog(r, "resource.block.create", "resource_id", out.ResourceID, "block_id", out.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"block": out})
	return nil
}

// handleBlockDelete gives a block's time back.
func (s *Server) handleBlockDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.Planner.DeleteBlock(r.Context(), r.PathValue("id"), r.PathValue("blockId")); err != nil {
		return err
	}
	s.staffLog(r, "resource.block.delete", "resource_id", r.PathValue("id"), "block_id", r.PathValue("blockId"))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleNotes lists the notes of a booking.
func (s *Server) handleNotes(w http.ResponseWriter, r *http.Request) error {
	out, err := s.Planner.Notes(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

// handleNoteCreate writes a note on a booking.
func (s *Server) handleNoteCreate(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Body string `json:"body"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	out, err := s.Planner.AddNote(r.Context(), r.PathValue("id"), req.Body, auth.StaffFrom(r.Context()))
	if err != nil {
		return err
	}
	s.staffLog(r, "booking.note", "booking_id", out.BookingID, "note_id", out.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"note": out})
	return nil
}
