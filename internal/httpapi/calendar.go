package httpapi

import (
	"net/http"
	"strings"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/notify"
)

// calendarRoutes registers the public calendar feeds.
func (s *Server) calendarRoutes(mux *router) {
	if s.Calendars == nil {
		return
	}
	if s.FeedLimiter == nil {
		s.FeedLimiter = NewLimiter(60)
	}
	mux.Handle("GET /calendar/{file}", s.Handle(s.handleCalendarFeed))
}

// handleCalendarFeed serves GET /calendar/{resourceId}.ics?key=…: the
// resource's bookings as a published calendar. Any mismatch (no such
// resource, no feed, wrong key, no ".ics") is 404, the same answer.
func (s *Server) handleCalendarFeed(w http.ResponseWriter, r *http.Request) error {
	if err := allow(w, s.FeedLimiter, s.clientAddr(r), "Too many requests from this address. Please wait and try again."); err != nil {
		return err
	}
	id, ok := strings.CutSuffix(r.PathValue("file"), ".ics")
	if !ok {
		return booking.Errorf(booking.ENotFound, "Calendar not found.")
	}
	res, items, from, to, err := s.Calendars.Feed(r.Context(), id, r.URL.Query().Get("key"))
	if err != nil {
		return err
	}
	events := make([]notify.FeedEvent, len(items))
	for i, b := range items {
		events[i] = notify.FeedEvent{ID: b.ID, Reference: b.Reference,
			Customer: strings.TrimSpace(b.FirstName + " " + b.LastName), StartsAt: b.StartsAt, EndsAt: b.EndsAt,
			Sequence: b.Sequence, Cancelled: b.Cancelled(), Updated: b.UpdatedAt}
	}
	body, err := notify.Feed(events, notify.FeedOpts{Name: res.Name, Timezone: res.Timezone, Location: res.Location,
		AppURL: s.Calendar.AppURL, From: from, To: to, Stamp: s.Calendars.Now()})
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/calendar; charset=utf-8")
	h.Set("Cache-Control", "private, no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

// calendarKeyAnswer is the answer of POST /api/admin/resources/{id}/calendar-key.
type calendarKeyAnswer struct {
	ResourceID string `json:"resourceId"`
	Key        string `json:"key"`
	URL        string `json:"url"`
}

// handleCalendarKey makes a new feed key for the resource (the old one
// stops working) and shows it, once, with the feed URL.
func (s *Server) handleCalendarKey(w http.ResponseWriter, r *http.Request) error {
	if s.Calendars == nil {
		return booking.Errorf(booking.ENotFound, "No such route.")
	}
	id := r.PathValue("id")
	key, err := s.Calendars.NewKey(r.Context(), id, auth.StaffFrom(r.Context()))
	if err != nil {
		return err
	}
	s.staffLog(r, "resource.calendar_key", "resource_id", id)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, calendarKeyAnswer{ResourceID: id, Key: key,
		URL: strings.TrimRight(s.Calendar.AppURL, "/") + "/calendar/" + id + ".ics?key=" + key})
	return nil
}

// staffResource is a resource in the staff view: whether it has a
// calendar feed.
type staffResource struct {
	booking.Resource
	CalendarFeed bool `json:"calendarFeed"`
}
