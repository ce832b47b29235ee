package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
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
		{"GET", "/api/admin/bookings", all, (*Server).handleStaffBookings},
		{"GET", "/reservations", all, (*Server).handleStaffBookings},
		{"GET", "/api/admin/bookings/{id}", all, (*Server).handleStaffBooking},
		{"POST", "/api/admin/bookings/{id}/cancel", ops, (*Server).handleStaffCancel},
		{"POST", "/api/admin/bookings/{id}/accept", ops, (*Server).handleStaffAccept},
		{"POST", "/api/admin/bookings/{id}/reschedule", ops, (*Server).handleStaffReschedule},
		{"GET", "/api/admin/payment-events", all, (*Server).handleStaffEvents},
		{"GET", "/payments", all, (*Server).handleStaffEvents},
		{"POST", "/api/admin/payment-events/{id}/replay", ops, (*Server).handleStaffReplay},
		{"GET", "/api/admin/resources", all, (*Server).handleStaffResources},
		{"POST", "/api/admin/resources", admin, (*Server).handleStaffResourceCreate},
		{"PATCH", "/api/admin/resources/{id}", admin, (*Server).handleStaffResourceUpdate},
		{"POST", "/api/admin/resources/{id}/overrides", admin, (*Server).handleStaffOverrideCreate},
		{"DELETE", "/api/admin/resources/{id}/overrides/{overrideId}", admin, (*Server).handleStaffOverrideDelete},
		{"GET", "/api/admin/pools", admin, (*Server).handleStaffPools},
		{"POST", "/api/admin/pools", admin, (*Server).handleStaffPoolCreate},
		{"PATCH", "/api/admin/pools/{id}", admin, (*Server).handleStaffPoolUpdate},
		{"GET", "/api/admin/users", admin, (*Server).handleStaffUsers},
		{"GET", "/api/admin/users/{id}", admin, (*Server).handleStaffUser},
		{"POST", "/api/admin/users", admin, (*Server).handleStaffUserCreate},
		{"PATCH", "/api/admin/users/{id}", admin, (*Server).handleStaffUserUpdate},
		{"GET", "/admin/metrics", ops, (*Server).handleStaffMetrics},
		{"GET", "/api/admin/messages", all, (*Server).handleStaffMessages},
		{"POST", "/api/admin/messages/{id}/retry", ops, (*Server).handleStaffMessageRetry},
		{"GET", "/api/admin/bookings/{id}/messages", all, (*Server).handleStaffBookingMessages},
		{"GET", "/api/admin/api-keys", admin, (*Server).handleAPIKeys},
		{"POST", "/api/admin/api-keys", admin, (*Server).handleAPIKeyCreate},
		{"DELETE", "/api/admin/api-keys/{id}", admin, (*Server).handleAPIKeyRevoke},
		{"GET", "/api/admin/exports/bookings.csv", ops, (*Server).handleExportBookings},
		{"GET", "/api/admin/exports/money.csv", ops, (*Server).handleExportMoney},
		{"GET", "/api/admin/webhook-endpoints", admin, (*Server).handleWebhookEndpoints},
		{"POST", "/api/admin/webhook-endpoints", admin, (*Server).handleWebhookEndpointCreate},
		{"PATCH", "/api/admin/webhook-endpoints/{id}", admin, (*Server).handleWebhookEndpointUpdate},
		{"GET", "/api/admin/webhook-endpoints/{id}/deliveries", admin, (*Server).handleWebhookDeliveries},
		{"POST", "/api/admin/webhook-endpoints/{id}/test", admin, (*Server).handleWebhookEndpointTest},
		{"POST", "/api/admin/webhook-deliveries/{id}/retry", admin, (*Server).handleWebhookDeliveryRetry},
		{"POST", "/api/admin/resources/{id}/calendar-key", admin, (*Server).handleCalendarKey},
		{"GET", "/api/admin/customers/export", admin, (*Server).handleCustomerExport},
		{"POST", "/api/admin/customers/erase", admin, (*Server).handleCustomerErase},
		{"POST", "/api/admin/desk/bookings", ops, (*Server).handleDeskBooking},
		{"GET", "/api/admin/resources/{id}/schedule", all, (*Server).handleSchedule},
		{"POST", "/api/admin/resources/{id}/blocks", ops, (*Server).handleBlockCreate},
		{"DELETE", "/api/admin/resources/{id}/blocks/{blockId}", ops, (*Server).handleBlockDelete},
		{"GET", "/api/admin/bookings/{id}/notes", all, (*Server).handleNotes},
		{"POST", "/api/admin/bookings/{id}/notes", ops, (*Server).handleNoteCreate},
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

func pageAnswer[T any](p *booking.Page[T]) listAnswer[T] {
	return listAnswer[T]{Items: p.Items, Meta: listMeta{Count: len(p.Items), NextCursor: p.NextCursor}}
}

func parseLimit(q url.Values, v booking.ValidationError) int {
	s := q.Get("limit")
	if s == "" {
		return booking.DefaultPageSize
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		v.Add("limit", "Must be a whole number from 1 to 200.")
		return booking.DefaultPageSize
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

// staffLog logs a staff action with who did it.
func (s *Server) staffLog(r *http.Request, action string, attrs ...any) {
	ctx := r.Context()
	st := auth.StaffFrom(ctx)
	base := []any{"request_id", RequestID(ctx), "staff_id", st.ID, "action", action}
	s.Logger.InfoContext(ctx, "staff action", append(base, attrs...)...)
}
