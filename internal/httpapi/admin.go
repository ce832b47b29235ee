package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/payment"
)

// StaffRoute is one route of the staff API and the roles allowed on it.
type StaffRoute struct {
	Method string
	Path   string
	Roles  []booking.Role
	handle func(s *Server, w http.ResponseWriter, r *http.Request) error
}

// StaffRoutes lists every session route of the staff API with its roles: the
// one role matrix of the product, rendered in docs/ROUTES.md. A request
// without a session is answered 401 unauthenticated, one with another role
// 403 forbidden.
func StaffRoutes() []StaffRoute {
	all := []booking.Role{booking.RoleAdmin, booking.RoleOps, booking.RoleReadonly}
	ops := []booking.Role{booking.RoleAdmin, booking.RoleOps}
	admin := []booking.Role{booking.RoleAdmin}
	return []StaffRoute{
		{"GET", "/auth/me", all, (*Server).handleMe},
		{"POST", "/auth/logout", all, (*Server).handleLogout},
		{"GET", "/api/admin/bookings", all, (*Server).handleAdminBookings},
		{"GET", "/reservations", all, (*Server).handleAdminBookings},
		{"POST", "/api/admin/bookings/{id}/cancel", ops, (*Server).handleAdminCancel},
		{"GET", "/api/admin/payment-events", all, (*Server).handleAdminEvents},
		{"GET", "/payments", all, (*Server).handleAdminEvents},
		{"POST", "/api/admin/payment-events/{id}/replay", ops, (*Server).handleAdminReplay},
		{"GET", "/api/admin/resources", all, (*Server).handleAdminResources},
		{"POST", "/api/admin/resources", admin, (*Server).handleAdminResourceCreate},
		{"PATCH", "/api/admin/resources/{id}", admin, (*Server).handleAdminResourceUpdate},
		{"GET", "/api/admin/users", admin, (*Server).handleAdminUsers},
		{"GET", "/api/admin/users/{id}", admin, (*Server).handleAdminUser},
		{"POST", "/api/admin/users", admin, (*Server).handleAdminUserCreate},
		{"PATCH", "/api/admin/users/{id}", admin, (*Server).handleAdminUserUpdate},
		{"GET", "/admin/metrics", ops, (*Server).handleAdminMetrics},
	}
}

// listMeta is the meta object of staff lists; NextCursor is set when more
// items follow.
type listMeta struct {
	Count      int    `json:"count"`
	NextCursor string `json:"nextCursor,omitempty"`
}

type listAnswer[T any] struct {
	Items []T      `json:"items"`
	Meta  listMeta `json:"meta"`
}

// Page sizes of staff lists.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

func parseLimit(q url.Values, v booking.ValidationError) int {
	s := q.Get("limit")
	if s == "" {
		return defaultPageSize
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxPageSize {
		v.Add("limit", "Must be a whole number from 1 to 200.")
	}
	return n
}

func parseCursor(q url.Values, v booking.ValidationError) *booking.Cursor {
	s := q.Get("cursor")
	if s == "" {
		return nil
	}
	c, err := booking.DecodeCursor(s)
	if err != nil {
		v.Add("cursor", "Not a cursor of this list.")
		return nil
	}
	return c
}

// parseBound reads a from/to bound: an RFC 3339 timestamp, or a date
// (YYYY-MM-DD, UTC) meaning its start for from and its end for to.
func parseBound(q url.Values, field string, v booking.ValidationError) time.Time {
	s := q.Get(field)
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC()
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		if field == "to" {
			d = d.AddDate(0, 0, 1)
		}
		return d
	}
	v.Add(field, "Must be a date (YYYY-MM-DD) or an RFC 3339 timestamp.")
	return time.Time{}
}

// handleAdminBookings lists bookings newest first, filtered by status and by
// a startsAt range, one keyset page at a time.
func (s *Server) handleAdminBookings(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v := booking.ValidationError{}
	f := booking.BookingFilter{Status: booking.Status(q.Get("status")), Limit: parseLimit(q, v), After: parseCursor(q, v)}
	if f.Status != "" && !f.Status.Valid() {
		v.Add("status", "Not a booking status.")
	}
	f.From, f.To = parseBound(q, "from", v), parseBound(q, "to", v)
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		v.Add("to", "Must be after from.")
	}
	if f.After != nil && !booking.IsUUID(f.After.ID) {
		v.Add("cursor", "Not a cursor of this list.")
	}
	if err := v.Err(); err != nil {
		return err
	}
	limit := f.Limit
	f.Limit++
	items, err := s.Admin.Store.ListBookings(r.Context(), f)
	if err != nil {
		return err
	}
	out := listAnswer[booking.StaffBooking]{Items: items}
	if len(items) > limit {
		out.Items = items[:limit]
		last := out.Items[limit-1]
		out.Meta.NextCursor = booking.Cursor{At: last.CreatedAt, ID: last.ID}.Encode()
	}
	if out.Items == nil {
		out.Items = []booking.StaffBooking{}
	}
	out.Meta.Count = len(out.Items)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleAdminEvents lists the webhook event ledger newest first, filtered by
// type and outcome, one keyset page at a time.
func (s *Server) handleAdminEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v := booking.ValidationError{}
	f := booking.EventFilter{Type: q.Get("type"), Outcome: q.Get("outcome"), Limit: parseLimit(q, v), After: parseCursor(q, v)}
	if len(f.Type) > 100 {
		v.Add("type", "Must be at most 100 characters.")
	}
	if len(f.Outcome) > 100 {
		v.Add("outcome", "Must be at most 100 characters.")
	}
	if f.After != nil {
		if _, err := strconv.ParseInt(f.After.ID, 10, 64); err != nil {
			v.Add("cursor", "Not a cursor of this list.")
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	limit := f.Limit
	f.Limit++
	items, err := s.Admin.Store.ListPaymentEvents(r.Context(), f)
	if err != nil {
		return err
	}
	out := listAnswer[booking.LedgerEvent]{Items: items}
	if len(items) > limit {
		out.Items = items[:limit]
		last := out.Items[limit-1]
		out.Meta.NextCursor = booking.Cursor{At: last.ReceivedAt, ID: strconv.FormatInt(last.Seq, 10)}.Encode()
	}
	if out.Items == nil {
		out.Items = []booking.LedgerEvent{}
	}
	out.Meta.Count = len(out.Items)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// staffLog logs a staff action with who did it.
func (s *Server) staffLog(r *http.Request, action string, attrs ...any) {
	ctx := r.Context()
	st := auth.StaffFrom(ctx)
	base := []any{"request_id", RequestID(ctx), "staff_id", st.ID, "action", action}
	s.Logger.InfoContext(ctx, "staff action", append(base, attrs...)...)
}

// handleAdminCancel cancels a pending booking, or refunds a confirmed one.
func (s *Server) handleAdminCancel(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	b, err := s.Admin.CancelBooking(r.Context(), id, auth.StaffFrom(r.Context()))
	if err != nil {
		return err
	}
	s.Metrics.Transition(string(b.Status))
	s.staffLog(r, "booking.cancel", "booking_id", b.ID, "status", b.Status)
	writeJSON(w, http.StatusOK, map[string]any{"booking": b})
	return nil
}

// handleAdminReplay re-runs a stored event through the same idempotent path
// as the webhook: the ledger row is locked, the plan decided again, and its
// outcome and replay count updated.
func (s *Server) handleAdminReplay(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	se, err := s.Admin.Store.FindStoredEvent(ctx, id)
	if err != nil {
		return err
	}
	ev, err := payment.ParseStored(se.Payload)
	if err != nil || ev.ID != se.ID {
		return booking.WrapError(booking.EConflict, "This ledger entry does not hold a Stripe event that can be replayed.", err)
	}
	ev.Source = "replay"
	res, err := s.Service.HandleEvent(ctx, ev)
	if err != nil {
		return err
	}
	le, err := s.Admin.Store.FindPaymentEvent(ctx, id)
	if err != nil {
		return err
	}
	s.staffLog(r, "payment_event.replay", "event_id", id, "outcome", res.Outcome, "booking_id", res.BookingID)
	writeJSON(w, http.StatusOK, map[string]any{"outcome": res.Outcome, "event": le})
	return nil
}

// handleAdminResources lists every resource, inactive ones included.
func (s *Server) handleAdminResources(w http.ResponseWriter, r *http.Request) error {
	items, err := s.Admin.Store.ListResources(r.Context(), true)
	if err != nil {
		return err
	}
	if items == nil {
		items = []booking.Resource{}
	}
	writeJSON(w, http.StatusOK, listAnswer[booking.Resource]{Items: items, Meta: listMeta{Count: len(items)}})
	return nil
}

func (s *Server) handleAdminResourceCreate(w http.ResponseWriter, r *http.Request) error {
	var p booking.ResourcePatch
	if err := decodeJSON(w, r, &p); err != nil {
		return err
	}
	res, err := s.Admin.CreateResource(r.Context(), p)
	if err != nil {
		return err
	}
	s.staffLog(r, "resource.create", "resource_id", res.ID)
	writeJSON(w, http.StatusCreated, map[string]any{"resource": res})
	return nil
}

func (s *Server) handleAdminResourceUpdate(w http.ResponseWriter, r *http.Request) error {
	var p booking.ResourcePatch
	if err := decodeJSON(w, r, &p); err != nil {
		return err
	}
	res, err := s.Admin.UpdateResource(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	s.staffLog(r, "resource.update", "resource_id", res.ID)
	writeJSON(w, http.StatusOK, map[string]any{"resource": res})
	return nil
}

func (s *Server) handleAdminUsers(w http.ResponseWriter, r *http.Request) error {
	items, err := s.Admin.Store.ListStaff(r.Context())
	if err != nil {
		return err
	}
	if items == nil {
		items = []booking.Staff{}
	}
	writeJSON(w, http.StatusOK, listAnswer[booking.Staff]{Items: items, Meta: listMeta{Count: len(items)}})
	return nil
}

func (s *Server) handleAdminUser(w http.ResponseWriter, r *http.Request) error {
	st, err := s.Admin.Store.FindStaff(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": st})
	return nil
}

type userCreateRequest struct {
	Email    string       `json:"email"`
	Role     booking.Role `json:"role"`
	Password *string      `json:"password"`
}

// handleAdminUserCreate creates an account. Without a password in the body
// one is generated and returned, once, in the answer.
func (s *Server) handleAdminUserCreate(w http.ResponseWriter, r *http.Request) error {
	var in userCreateRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	v := booking.ValidationError{}
	email := booking.NormalizeEmail(in.Email)
	booking.ValidateStaffEmail(v, "email", email)
	if !in.Role.Valid() {
		v.Add("role", "Must be ADMIN, OPS or READONLY.")
	}
	var password, generated string
	if in.Password != nil {
		password = *in.Password
		booking.ValidatePassword(v, "password", password)
	} else {
		generated = auth.GeneratePassword()
		password = generated
	}
	if err := v.Err(); err != nil {
		return err
	}
	hash, err := s.Auth.Hash(password)
	if err != nil {
		return err
	}
	st, err := s.Admin.Store.CreateStaff(r.Context(), booking.NewStaff{Email: email, Role: in.Role, PasswordHash: hash})
	if err != nil {
		return err
	}
	s.staffLog(r, "user.create", "user_id", st.ID, "role", st.Role)
	out := map[string]any{"user": st}
	if generated != "" {
		out["password"] = generated
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

type userUpdateRequest struct {
	Role     *booking.Role `json:"role"`
	Active   *bool         `json:"active"`
	Password *string       `json:"password"`
}

// handleAdminUserUpdate changes an account's role, active flag or password.
// Deactivating an account or setting its password ends its sessions (other
// than the caller's own).
func (s *Server) handleAdminUserUpdate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var in userUpdateRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	id := r.PathValue("id")
	me := auth.StaffFrom(ctx)
	if id == me.ID && ((in.Role != nil && *in.Role != me.Role) || (in.Active != nil && !*in.Active)) {
		return booking.Errorf(booking.EConflict, "You cannot change the role of, or deactivate, your own account.")
	}
	v := booking.ValidationError{}
	if in.Role != nil && !in.Role.Valid() {
		v.Add("role", "Must be ADMIN, OPS or READONLY.")
	}
	if in.Password != nil {
		booking.ValidatePassword(v, "password", *in.Password)
	}
	if err := v.Err(); err != nil {
		return err
	}
	p := booking.StaffPatch{Role: in.Role, Active: in.Active}
	if in.Password != nil {
		hash, err := s.Auth.Hash(*in.Password)
		if err != nil {
			return err
		}
		p.PasswordHash = &hash
	}
	st, err := s.Admin.Store.UpdateStaff(ctx, id, p)
	if err != nil {
		return err
	}
	ended := 0
	if !st.Active || in.Password != nil {
		if ended, err = auth.EndSessionsOf(ctx, s.Sessions, st.ID, s.Sessions.Token(ctx)); err != nil {
			return err
		}
	}
	s.staffLog(r, "user.update", "user_id", st.ID, "role", st.Role, "active", st.Active,
		"password_changed", in.Password != nil, "sessions_ended", ended)
	writeJSON(w, http.StatusOK, map[string]any{"user": st})
	return nil
}

type webhookCounters struct {
	Received   int64 `json:"received"`
	Processed  int64 `json:"processed"`
	Duplicates int64 `json:"duplicates"`
	Rejected   int64 `json:"rejected"`
	Errors     int64 `json:"errors"`
}

type runtimeCounters struct {
	UptimeSeconds int64  `json:"uptimeSeconds"`
	Version       string `json:"version"`
	HTTP5xx       int64  `json:"http5xx"`
}

// handleAdminMetrics reports this process's webhook and runtime counters.
func (s *Server) handleAdminMetrics(w http.ResponseWriter, r *http.Request) error {
	m := s.Metrics
	writeJSON(w, http.StatusOK, map[string]any{
		"webhook": webhookCounters{Received: m.Received.Load(), Processed: m.Processed.Load(),
			Duplicates: m.Duplicates.Load(), Rejected: m.Rejected.Load(), Errors: m.Errors.Load()},
		"runtime": runtimeCounters{UptimeSeconds: int64(time.Since(m.Started).Seconds()), Version: s.Version,
			HTTP5xx: m.HTTP5xx.Load()},
	})
	return nil
}
