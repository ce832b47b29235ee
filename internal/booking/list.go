package booking

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// StaffBooking is a booking as staff see it: with its review reason, its
// money and its dispute.
type StaffBooking struct {
	Booking
	Review         string `json:"reviewReason,omitempty"`
	HoldsSlot      bool   `json:"holdsSlot"`
	AmountPaid     int64  `json:"amountPaid"`
	AmountRefunded int64  `json:"amountRefunded"`
	// AmountWithdrawn is what lost disputes took back.
	AmountWithdrawn int64 `json:"amountWithdrawn"`
	// AmountRetained is the late-cancellation fee kept under the
	// resource's policy when the customer cancelled.
	AmountRetained int64    `json:"amountRetained"`
	Dispute        *Dispute `json:"dispute"`
	// RefundOwed is what the product still has to refund (M2).
	RefundOwed int64 `json:"refundOwed"`
}

// StaffView returns the staff view of b; dispute and owed come from its money rows.
func StaffView(b *Booking, dispute *Dispute, owed int64) StaffBooking {
	return StaffBooking{Booking: *b, Review: b.ReviewReason, HoldsSlot: b.HoldsSlot, AmountPaid: b.AmountPaid,
		AmountRefunded: b.AmountRefunded, AmountWithdrawn: b.AmountWithdrawn, AmountRetained: b.AmountRetained,
		Dispute: dispute, RefundOwed: owed}
}

// View is the staff view of the booking in st.
func (st *State) View() StaffBooking {
	var owed int64
	for _, r := range st.Owed {
		for i := range st.Payments {
			if st.Payments[i].ID == r.PaymentID {
				owed += max(min(st.remaining(&st.Payments[i]), r.Amount), 0)
			}
		}
	}
	return StaffView(&st.Booking, LatestDispute(st.Disputes), owed)
}

// LatestDispute returns the most recent of a booking's disputes, or nil.
func LatestDispute(ds []Dispute) *Dispute {
	if len(ds) == 0 {
		return nil
	}
	d := ds[len(ds)-1]
	return &d
}

// AuditEntry is one row of a booking's audit trail.
type AuditEntry struct {
	From     *Status `json:"from"`
	To       Status  `json:"to"`
	Cause    string  `json:"cause"`
	CauseRef string  `json:"causeRef"`
	// Detail describes a change that is not one of status, such as a
	// move to another slot ("rescheduled from … to …").
	Detail    string    `json:"detail,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// BookingDetail is everything staff see about one booking.
type BookingDetail struct {
	Booking        StaffBooking    `json:"booking"`
	Payments       []Payment       `json:"payments"`
	Refunds        []Refund        `json:"refunds"`
	Disputes       []Dispute       `json:"disputes"`
	RefundRequests []RefundRequest `json:"refundRequests"`
	Audit          []AuditEntry    `json:"audit"`
	Events         []LedgerEvent   `json:"events"`
	// Actions lists what staff may do now: "cancel", "refund", "accept".
	Actions []string `json:"actions"`
}

// StaffActions lists the staff actions that apply to the booking in st.
func StaffActions(st *State) []string {
	b := &st.Booking
	out := []string{}
	switch b.Status {
	case StatusPending, StatusAwaitingPayment:
		out = append(out, "cancel")
	case StatusConfirmed, StatusNeedsReview:
		if b.Kept() > 0 {
			out = append(out, "refund")
		} else {
			out = append(out, "cancel")
		}
	}
	if b.Status == StatusNeedsReview && b.Kept() > 0 {
		out = append(out, "accept")
	}
	if b.AmountRetained > 0 && !b.HoldsSlot && len(st.Owed) == 0 && !slices.Contains(out, "refund") {
		// The late-cancellation fee can be given back (see DecideCancel).
		out = append(out, "refund")
	}
	if len(st.Owed) > 0 && !b.Status.HoldsSlot() && b.Status != StatusNeedsReview {
		out = append(out, "retry_refund")
	}
	return out
}

// Cursor is a keyset position in a list: the (At, ID) of the last item of
// a page, in the list's order, and the shape of the list it came from (a
// cursor is only valid for that shape, whose order it follows).
type Cursor struct {
	Shape string    `json:"s"`
	At    time.Time `json:"t"`
	ID    string    `json:"i"`
}

// Encode returns the opaque text form of c.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses the text form of a cursor. Errors: validation_failed.
func DecodeCursor(s string) (*Cursor, error) {
	bad := &Error{Code: EValidation, Message: "Some fields are invalid.", Fields: map[string]string{"cursor": "Not a cursor of this list."}}
	if len(s) > 300 {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil || c.At.IsZero() || c.ID == "" {
		return nil, bad
	}
	return &c, nil
}

// Page sizes of staff lists.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// BookingFilter selects bookings for staff: by status, resource, customer
// email (case-insensitive, exact) and a startsAt range [From, To); zero
// values are open. Without a range the list is newest first (createdAt,
// id); with a range it is in calendar order (startsAt, id), so that a day
// or a week reads like a diary and pages through it in order.
type BookingFilter struct {
	Status     Status
	ResourceID string
	Email      string
	From       time.Time
	To         time.Time
	Limit      int
	After      *Cursor
}

// Shapes of the booking list. Each has one statement in the store, read
// from the index that serves it in its order (migration 00006): the
// filters named lead the index, the order follows. With an email, the
// customer's bookings are read and the status and resource filters applied
// to them, in the list's order.
const (
	ShapeBookings                    = "bookings"                       // newest first
	ShapeBookingsStatus              = "bookings.status"                // a status, newest first
	ShapeBookingsResource            = "bookings.resource"              // a resource, newest first
	ShapeBookingsResourceStatus      = "bookings.resource.status"       // a resource and a status, newest first
	ShapeBookingsRange               = "bookings.range"                 // a startsAt range, by startsAt
	ShapeBookingsStatusRange         = "bookings.status.range"          // a status in a range, by startsAt
	ShapeBookingsResourceRange       = "bookings.resource.range"        // a resource in a range, by startsAt
	ShapeBookingsResourceStatusRange = "bookings.resource.status.range" // both in a range, by startsAt
	ShapeBookingsEmail               = "bookings.email"                 // a customer, newest first
	ShapeBookingsEmailRange          = "bookings.email.range"           // a customer in a range, by startsAt
)

// BookingShapes lists every shape of the booking list.
var BookingShapes = []string{ShapeBookings, ShapeBookingsStatus, ShapeBookingsResource, ShapeBookingsResourceStatus,
	ShapeBookingsRange, ShapeBookingsStatusRange, ShapeBookingsResourceRange, ShapeBookingsResourceStatusRange,
	ShapeBookingsEmail, ShapeBookingsEmailRange}

// ByStart reports whether f lists in calendar order (startsAt, id), which
// it does when a startsAt range is given; otherwise newest first
// (createdAt, id).
func (f *BookingFilter) ByStart() bool { return !f.From.IsZero() || !f.To.IsZero() }

// Shape returns the shape of the list f selects.
func (f *BookingFilter) Shape() string {
	s := "bookings"
	switch {
	case f.Email != "":
		s += ".email"
	default:
		if f.ResourceID != "" {
			s += ".resource"
		}
		if f.Status != "" {
			s += ".status"
		}
	}
	if f.ByStart() {
		s += ".range"
	}
	return s
}

// CursorAfter is the cursor of the page that follows b in the list f selects.
func (f *BookingFilter) CursorAfter(b *Booking) Cursor {
	at := b.CreatedAt
	if f.ByStart() {
		at = b.StartsAt
	}
	return Cursor{Shape: f.Shape(), At: at, ID: b.ID}
}

// Validate checks f, reporting problems in v. It trims the email.
func (f *BookingFilter) Validate(v ValidationError) {
	if f.Status != "" && !f.Status.Valid() {
		v.Add("status", "Not a booking status.")
	}
	if f.ResourceID != "" && !IsUUID(f.ResourceID) {
		v.Add("resourceId", "Must be the id of a resource.")
	}
	f.Email = strings.TrimSpace(f.Email)
	switch {
	case len(f.Email) > 254:
		v.Add("email", "Must be at most 254 characters.")
	case f.Email != "" && (!strings.Contains(f.Email, "@") || strings.ContainsFunc(f.Email, isControl)):
		v.Add("email", "Must be an email address.")
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		v.Add("to", "Must be after from.")
	}
	if f.After != nil && (f.After.Shape != f.Shape() || !IsUUID(f.After.ID)) {
		v.Add("cursor", "Not a cursor of this list: pass the nextCursor of a page with the same filters.")
	}
	checkLimit(v, f.Limit)
}

func checkLimit(v ValidationError, n int) {
	if n < 1 || n > MaxPageSize {
		v.Add("limit", "Must be a whole number from 1 to 200.")
	}
}

// LedgerEvent is one row of the webhook event ledger as staff see it. The
// row is written once, when the event arrives; replays are listed beside it.
type LedgerEvent struct {
	ID          string        `json:"id"`
	Type        string        `json:"type"`
	Outcome     string        `json:"outcome"`
	Detail      string        `json:"detail"`
	BookingID   *string       `json:"bookingId"`
	SessionID   *string       `json:"sessionId"`
	Source      string        `json:"source"`
	Livemode    bool          `json:"livemode"`
	ReplayCount int           `json:"replayCount"`
	Replays     []EventReplay `json:"replays,omitempty"`
	CreatedAt   *time.Time    `json:"createdAt"`
	ReceivedAt  time.Time     `json:"receivedAt"`
	ProcessedAt time.Time     `json:"processedAt"`
}

// EventReplay is a later run of a stored event: a replay by staff, or a
// refund or dispute event applied when its payment arrived.
type EventReplay struct {
	Source    string    `json:"source"`
	Outcome   string    `json:"outcome"`
	Detail    string    `json:"detail"`
	BookingID *string   `json:"bookingId"`
	CauseRef  string    `json:"causeRef,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// EventFilter selects ledger rows by type, outcome and a receivedAt range
// [From, To) (zero values are open), newest first (receivedAt, event id).
type EventFilter struct {
	Type    string
	Outcome string
	From    time.Time
	To      time.Time
	Limit   int
	After   *Cursor
}

// Shapes of the ledger list, each with its statement and index in the
// store; a range bounds the same index scan.
const (
	ShapeEvents            = "events"
	ShapeEventsType        = "events.type"
	ShapeEventsOutcome     = "events.outcome"
	ShapeEventsTypeOutcome = "events.type.outcome"
)

// EventShapes lists every shape of the ledger list.
var EventShapes = []string{ShapeEvents, ShapeEventsType, ShapeEventsOutcome, ShapeEventsTypeOutcome}

// Shape returns the shape of the list f selects.
func (f *EventFilter) Shape() string {
	s := "events"
	if f.Type != "" {
		s += ".type"
	}
	if f.Outcome != "" {
		s += ".outcome"
	}
	return s
}

// CursorAfter is the cursor of the page that follows e in the list f selects.
func (f *EventFilter) CursorAfter(e *LedgerEvent) Cursor {
	return Cursor{Shape: f.Shape(), At: e.ReceivedAt, ID: e.ID}
}

// Validate checks f, reporting problems in v.
func (f *EventFilter) Validate(v ValidationError) {
	if len(f.Type) > 100 {
		v.Add("type", "Must be at most 100 characters.")
	}
	if len(f.Outcome) > 100 {
		v.Add("outcome", "Must be at most 100 characters.")
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		v.Add("to", "Must be after from.")
	}
	if f.After != nil && (f.After.Shape != f.Shape() || len(f.After.ID) > 255) {
		v.Add("cursor", "Not a cursor of this list: pass the nextCursor of a page with the same filters.")
	}
	checkLimit(v, f.Limit)
}

// StoredEvent is the raw payload of a ledger row, for replays.
type StoredEvent struct {
	ID      string
	Source  string
	Payload []byte
}

// Page is one keyset page of a staff list.
type Page[T any] struct {
	Items      []T
	NextCursor string
}
