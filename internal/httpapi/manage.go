package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/notify"
	"github.com/bookingplatform/booking/internal/web"
)

// The customer's self-service routes (docs/adr/0007): each takes the
// booking's customer token as ?token=, like GET /api/bookings/{id}; an
// unknown booking and a wrong token get the same 404. They are limited per
// client address (ManageLimiter).

// CalendarOpts are what calendar files need beyond the booking.
type CalendarOpts struct {
	// AppURL is the public base URL: the manage link in the file, and the
	// host of its UID (the same UID as the files sent by email).
	AppURL string
	// Organizer is the ORGANIZER address (MAIL_FROM); empty means
	// "Bookings <bookings@host of AppURL>".
	Organizer string
}

// manageRoutes registers the self-service API.
func (s *Server) manageRoutes(mux *router) {
	if s.SelfService == nil {
		return
	}
	if s.ManageLimiter == nil {
		s.ManageLimiter = NewLimiter(60)
	}
	mux.Handle("GET /api/bookings/{id}/cancel-quote", s.Handle(s.handleCancelQuote))
	mux.Handle("POST /api/bookings/{id}/cancel", s.Handle(s.handleCustomerCancel))
	mux.Handle("POST /api/bookings/{id}/reschedule", s.Handle(s.handleCustomerReschedule))
	mux.Handle("GET /api/bookings/{id}/calendar.ics", s.Handle(s.handleCalendar))
}

// allowManage applies ManageLimiter to the client of r.
func (s *Server) allowManage(w http.ResponseWriter, r *http.Request) error {
	return allow(w, s.ManageLimiter, s.clientAddr(r), "Too many requests from this address. Please wait and try again.")
}

func (s *Server) handleCancelQuote(w http.ResponseWriter, r *http.Request) error {
	if err := s.allowManage(w, r); err != nil {
		return err
	}
	q, err := s.SelfService.Quote(r.Context(), r.PathValue("id"), r.URL.Query().Get("token"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, q)
	return nil
}

// cancelRequest is the optional body of POST /api/bookings/{id}/cancel.
type cancelRequest struct {
	// ExpectedRefundAmount is the refund the customer was shown and
	// confirms; a different one is refused (409 quote_changed).
	ExpectedRefundAmount *int64 `json:"expectedRefundAmount"`
}

func (s *Server) handleCustomerCancel(w http.ResponseWriter, r *http.Request) error {
	if err := s.allowManage(w, r); err != nil {
		return err
	}
	var in cancelRequest
	if err := decodeOptionalJSON(w, r, &in); err != nil {
		return err
	}
	if in.ExpectedRefundAmount != nil && *in.ExpectedRefundAmount < 0 {
		return &booking.Error{Code: booking.EValidation, Message: "Some fields are invalid.",
			Fields: map[string]string{"expectedRefundAmount": "Must be an amount in minor units, 0 or more."}}
	}
	out, err := s.SelfService.Cancel(r.Context(), r.PathValue("id"), r.URL.Query().Get("token"), in.ExpectedRefundAmount, apiCause(r))
	if err != nil {
		return err
	}
	s.Metrics.Transition(string(out.Booking.Status))
	writeJSON(w, http.StatusOK, out)
	return nil
}

// rescheduleRequest is the body of the reschedule routes; override is for
// staff only.
type rescheduleRequest struct {
	StartsAt string `json:"startsAt"`
	Override bool   `json:"override"`
}

// decodeReschedule reads a reschedule body; staff may set override.
func decodeReschedule(w http.ResponseWriter, r *http.Request, staff bool) (time.Time, bool, error) {
	var in rescheduleRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return time.Time{}, false, err
	}
	v := booking.ValidationError{}
	if in.Override && !staff {
		v.Add("override", "Only staff may override the policy.")
	}
	t, err := time.Parse(time.RFC3339, in.StartsAt)
	if err != nil {
		v.Add("startsAt", "Required, as an RFC 3339 timestamp like 2030-01-31T09:00:00Z.")
	}
	return t, in.Override, v.Err()
}

func (s *Server) handleCustomerReschedule(w http.ResponseWriter, r *http.Request) error {
	if err := s.allowManage(w, r); err != nil {
		return err
	}
	start, _, err := decodeReschedule(w, r, false)
	if err != nil {
		return err
	}
	b, err := s.SelfService.Reschedule(r.Context(), r.PathValue("id"), r.URL.Query().Get("token"), start, apiCause(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"booking": b})
	return nil
}

// handleStaffReschedule moves a booking on the customer's behalf; with
// "override" the policy's cut-off is set aside (audited with the staff
// member).
func (s *Server) handleStaffReschedule(w http.ResponseWriter, r *http.Request) error {
	if s.SelfService == nil {
		return booking.Errorf(booking.EUnavailable, "Rescheduling is not available.")
	}
	start, override, err := decodeReschedule(w, r, true)
	if err != nil {
		return err
	}
	b, err := s.SelfService.StaffReschedule(r.Context(), r.PathValue("id"), start, override, auth.StaffFrom(r.Context()))
	if err != nil {
		return err
	}
	s.staffLog(r, "booking.reschedule", "booking_id", b.ID, "starts_at", b.StartsAt, "override", override)
	writeJSON(w, http.StatusOK, map[string]any{"booking": b})
	return nil
}

// handleCalendar answers the booking's calendar file (RFC 5545): an
// invitation at its sequence while it is confirmed, a cancellation at the
// next sequence once it was cancelled or refunded; 409 for a booking that
// was never confirmed.
func (s *Server) handleCalendar(w http.ResponseWriter, r *http.Request) error {
	if err := s.allowManage(w, r); err != nil {
		return err
	}
	id, token := r.PathValue("id"), r.URL.Query().Get("token")
	b, res, err := s.SelfService.Calendar(r.Context(), id, token)
	if err != nil {
		return err
	}
	cancel, seq, ok := booking.CalendarMethod(b)
	if !ok {
		return booking.Errorf(booking.EConflict, "This booking is not confirmed: it has no calendar entry.")
	}
	method := notify.MethodRequest
	if cancel {
		method = notify.MethodCancel
	}
	ics, err := notify.ICS(notify.Booking{
		ID: b.ID, Reference: b.Reference, Status: string(b.Status), ResourceName: res.Name, Location: res.Location,
		Timezone: res.Timezone, StartsAt: b.StartsAt, EndsAt: b.EndsAt, AmountTotal: b.AmountTotal,
		AmountPaid: b.AmountPaid, AmountRefunded: b.AmountRefunded, Currency: b.Currency,
		FirstName: b.Customer.FirstName, LastName: b.Customer.LastName, Email: b.Customer.Email,
		ManageURL: s.manageURL(b.ID, token), Sequence: seq,
	}, method, notify.ICSOpts{Organizer: s.organizer(), Stamp: s.SelfService.Now()})
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/calendar; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="booking-`+safeFileName(b.Reference)+`.ics"`)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(ics)
	return nil
}

// manageURL is the customer's page of booking id, with token.
func (s *Server) manageURL(id, token string) string {
	base := strings.TrimRight(s.Calendar.AppURL, "/")
	if base == "" {
		return ""
	}
	return base + "/manage/" + url.PathEscape(id) + "?token=" + url.QueryEscape(token)
}

// organizer is the ORGANIZER of calendar files.
func (s *Server) organizer() string {
	if s.Calendar.Organizer != "" {
		return s.Calendar.Organizer
	}
	host := "localhost"
	if u, err := url.Parse(s.Calendar.AppURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	if _, err := mail.ParseAddress("bookings@" + host); err != nil {
		host = "localhost"
	}
	return "Bookings <bookings@" + host + ">"
}

// safeFileName keeps letters, digits and dashes of s.
func safeFileName(s string) string {
	return strings.Map(func(c rune) rune {
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' {
			return c
		}
		return -1
	}, s)
}

// decodeOptionalJSON is decodeJSON for a body that may be left out (or
// empty): then dst keeps its zero value.
func decodeOptionalJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, apiBodyLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return decodeError(err)
		}
		return booking.WrapError(booking.EInvalidJSON, "The body could not be read.", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return decodeJSON(w, r, dst)
}

// managePage is what the customer's booking page shows.
type managePage struct {
	bookingView
	ID, ResourceID, Timezone, Location string
	// Date is the booking's local date (YYYY-MM-DD), where the picker opens.
	Date string
	// Paid is the amount paid as text, "" when nothing was.
	Paid string
	// Quote is the cancellation quote; Refund and Fee its amounts as text.
	Quote       booking.CancelQuote
	Refund, Fee string
	FreeUntil   string
	// CanReschedule says whether the booking may be moved now, and
	// RescheduleReason why not; RescheduleUntil is the last time it may.
	CanReschedule    bool
	RescheduleReason string
	RescheduleUntil  string
	// CalendarURL downloads the booking's calendar file, when it has one.
	CalendarURL string
}

// handleManage is the customer's page of a booking, opened from the link
// in their messages: the booking in its resource's time zone, what
// cancelling refunds, a cancel button, a picker of free slots to move to
// and the calendar file. manage.js calls the API above.
func (p *pages) handleManage(w http.ResponseWriter, r *http.Request) error {
	if p.s.SelfService == nil {
		return booking.Errorf(booking.ENotFound, "There is no page at this address.")
	}
	if err := p.s.allowManage(w, r); err != nil {
		return err
	}
	id, token := r.PathValue("id"), r.URL.Query().Get("token")
	v, err := p.s.SelfService.View(r.Context(), id, token)
	if err != nil {
		return err
	}
	b, res := v.Booking, v.Resource
	loc, lerr := booking.LoadZone(res.Timezone)
	if lerr != nil {
		loc = time.UTC
	}
	d := managePage{
		bookingView: p.viewBooking(r, "", b), ID: b.ID, ResourceID: res.ID, Timezone: res.Timezone,
		Location: res.Location, Date: b.StartsAt.In(loc).Format(time.DateOnly), Quote: v.Quote,
		Refund: web.Money(v.Quote.RefundAmount, v.Quote.Currency), Fee: web.Money(v.Quote.RetainedAmount, v.Quote.Currency),
		CanReschedule: v.CanReschedule, RescheduleReason: v.RescheduleReason,
		RescheduleUntil: whenIn(v.RescheduleUntil, loc),
	}
	if b.AmountPaid > 0 {
		d.Paid = web.Money(b.AmountPaid, b.Currency)
	}
	if v.Quote.FreeUntil != nil {
		d.FreeUntil = whenIn(*v.Quote.FreeUntil, loc)
	}
	if _, _, ok := booking.CalendarMethod(b); ok {
		d.CalendarURL = "/api/bookings/" + url.PathEscape(b.ID) + "/calendar.ics?token=" + url.QueryEscape(token)
	}
	return p.render(w, http.StatusOK, "manage", web.Page{Title: "Your booking",
		Scripts: []string{"common.js", "manage.js"}, Data: d})
}

// whenIn writes t in loc for a sentence: "Monday 3 March 2031, 09:00".
func whenIn(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("Monday 2 January 2006, 15:04")
}

// handleCancel is the page Stripe's cancel_url leads to when the customer
// leaves the checkout. With the booking's key (booking.CheckoutCancelKey),
// a booking still pending is cancelled at once and its Checkout Session
// expired, so its slot is free now rather than when the hold lapses.
func (p *pages) handleCancel(w http.ResponseWriter, r *http.Request) error {
	d := cancelPage{HoldMinutes: p.holdMinutes()}
	q := r.URL.Query()
	if id, key := q.Get("booking"), q.Get("key"); id != "" && key != "" && p.s.SelfService != nil {
		b, err := p.s.SelfService.AbandonCheckout(r.Context(), id, key)
		switch {
		case err == nil:
			d.Released = !b.Status.HoldsSlot() && b.AmountPaid == 0
			d.Paid = b.AmountPaid > 0 || b.Status == booking.StatusAwaitingPayment
		case booking.ErrorCode(err) != booking.ENotFound:
			// The hold lapses by itself: the page says so.
			p.s.Logger.WarnContext(r.Context(), "abandoned checkout: hold not released", "request_id", RequestID(r.Context()),
				"booking_id", id, "err", err)
		}
	}
	return p.render(w, http.StatusOK, "cancel", web.Page{Title: "Payment cancelled", Data: d})
}

// cancelPage is what the abandoned-checkout page says.
type cancelPage struct {
	HoldMinutes int
	// Released: the hold was released now. Paid: the booking was paid (or
	// its payment is on its way) after all, so nothing was cancelled.
	Released, Paid bool
}
