package httpapi

import (
	"context"
	"net/http"

	"github.com/bookingplatform/booking/internal/booking"
)

// MessageDesk is the staff's view of the messages (internal/jobs.Messages).
type MessageDesk interface {
	List(ctx context.Context, state, bookingID string, limit int) ([]booking.QueuedMessage, error)
	Sent(ctx context.Context, bookingID string) ([]booking.SentMessage, error)
	Retry(ctx context.Context, jobID string) (*booking.QueuedMessage, error)
}

// handleStaffMessages lists the message jobs that wait, failed (and are
// retried) or are dead (given up), newest first: ?state=queued|failed|dead.
func (s *Server) handleStaffMessages(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v := booking.ValidationError{}
	limit := parseLimit(q, v)
	if err := v.Err(); err != nil {
		return err
	}
	items, err := s.Messages.List(r.Context(), q.Get("state"), "", limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listAnswer[booking.QueuedMessage]{Items: items, Meta: listMeta{Count: len(items)}})
	return nil
}

// handleStaffMessageRetry sends a failed or dead message again.
func (s *Server) handleStaffMessageRetry(w http.ResponseWriter, r *http.Request) error {
	m, err := s.Messages.Retry(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	s.staffLog(r, "message.retry", "job_id", m.JobID, "booking_id", m.BookingID, "kind", m.Kind)
	writeJSON(w, http.StatusOK, map[string]any{"job": m})
	return nil
}

// handleStaffBookingMessages lists what was sent for a booking and what
// waits or failed.
func (s *Server) handleStaffBookingMessages(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	sent, err := s.Messages.Sent(r.Context(), id)
	if err != nil {
		return err
	}
	pending, err := s.Messages.List(r.Context(), "", id, 100)
	if err != nil {
		return err
	}
	if sent == nil {
		sent = []booking.SentMessage{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sent": sent, "pending": pending})
	return nil
}
