package httpapi

import (
	"net/http"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
)

// handleStaffEvents lists the webhook event ledger newest first, filtered by
// type, outcome and a receivedAt range, one keyset page at a time.
func (s *Server) handleStaffEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v := booking.ValidationError{}
	f := booking.EventFilter{Type: q.Get("type"), Outcome: q.Get("outcome"), Limit: parseLimit(q, v), After: parseCursor(q, v)}
	f.From, f.To = parseBound(q, "from", v), parseBound(q, "to", v)
	if err := v.Err(); err != nil {
		return err
	}
	page, err := s.Desk.Events(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageAnswer(page))
	return nil
}

// handleStaffReplay re-runs a stored event through the same idempotent path
// as the webhook; the replay is recorded beside the ledger row, whose
// original outcome stays.
func (s *Server) handleStaffReplay(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	by := auth.StaffFrom(r.Context())
	res, le, err := s.Fulfiller.Replay(r.Context(), id, booking.Cause{Kind: booking.CauseStaff, Ref: by.ID})
	if err != nil {
		return err
	}
	s.staffLog(r, "payment_event.replay", "event_id", id, "outcome", res.Outcome, "booking_id", res.BookingID)
	writeJSON(w, http.StatusOK, map[string]any{"outcome": res.Outcome, "event": le})
	return nil
}
