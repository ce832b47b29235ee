package booking

import (
	"encoding/base64"
	"encoding/json"
	"time"
)

// StaffBooking is a booking as staff see it: with its review reason, its
// money and its dispute.
type StaffBooking struct {
	Booking
	Review         string   `json:"reviewReason,omitempty"`
	HoldsSlot      bool     `json:"holdsSlot"`
	AmountPaid     int64    `json:"amountPaid"`
	AmountRefunded int64    `json:"amountRefunded"`
	Dispute        *Dispute `json:"dispute"`
	// RefundOwed is what the product still has to refund (M2).
	RefundOwed int64 `json:"refundOwed"`
}

// StaffView returns the staff view of b; dispute and owed come from its money rows.
func StaffView(b *Booking, dispute *Dispute, owed int64) StaffBooking {
	return StaffBooking{Booking: *b, Review: b.ReviewReason, HoldsSlot: b.HoldsSlot, AmountPaid: b.AmountPaid,
		AmountRefunded: b.AmountRefunded, Dispute: dispute, RefundOwed: owed}
}

// View is the staff view of the booking in st.
func (st *State) View() StaffBooking {
	var owed int64
	for _, r := range st.Owed {
		owed += r.Amount
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
	From      *Status   `json:"from"`
	To        Status    `json:"to"`
	Cause     string    `json:"cause"`
	CauseRef  string    `json:"causeRef"`
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
	if len(st.Owed) > 0 && !b.Status.HoldsSlot() && b.Status != StatusNeedsReview {
		out = append(out, "retry_refund")
	}
	return out
}

// Cursor is a keyset position in a list ordered by (At, ID) descending.
type Cursor struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

// Encode returns the opaque text form of c.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses the text form of a cursor. Errors: validation_failed.
func DecodeCursor(s string) (*Cursor, error) {
	bad := &Error{Code: EValidation, Message: "Some fields are invalid.", Fields: map[string]string{"cursor": "Not a cursor of this list."}}
	if len(s) > 200 {
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

// BookingFilter selects bookings for staff. From and To bound startsAt
// ([From, To)); zero values are open. Lists are newest first.
type BookingFilter struct {
	Status Status
	From   time.Time
	To     time.Time
	Limit  int
	After  *Cursor
}

// Validate checks f, reporting problems in v.
func (f *BookingFilter) Validate(v ValidationError) {
	if f.Status != "" && !f.Status.Valid() {
		v.Add("status", "Not a booking status.")
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		v.Add("to", "Must be after from.")
	}
	if f.After != nil && !IsUUID(f.After.ID) {
		v.Add("cursor", "Not a cursor of this list.")
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

// EventFilter selects ledger rows, newest first.
type EventFilter struct {
	Type    string
	Outcome string
	Limit   int
	After   *Cursor
}

// Validate checks f, reporting problems in v.
func (f *EventFilter) Validate(v ValidationError) {
	if len(f.Type) > 100 {
		v.Add("type", "Must be at most 100 characters.")
	}
	if len(f.Outcome) > 100 {
		v.Add("outcome", "Must be at most 100 characters.")
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
