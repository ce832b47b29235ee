package booking

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// EInvalidCredentials is the answer to a failed staff login, whatever the
// reason (unknown email, wrong password, inactive or locked account).
const EInvalidCredentials = "invalid_credentials"

// Role is what a staff member may do (SPEC §4 "Staff").
type Role string

// Staff roles.
const (
	RoleAdmin    Role = "ADMIN"
	RoleOps      Role = "OPS"
	RoleReadonly Role = "READONLY"
)

// Roles lists every role, most powerful first.
var Roles = []Role{RoleAdmin, RoleOps, RoleReadonly}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	return r == RoleAdmin || r == RoleOps || r == RoleReadonly
}

// Staff is a staff account. The password hash is never part of it.
type Staff struct {
	ID          string     `json:"id"`
	Email       string     `json:"email"`
	Role        Role       `json:"role"`
	Active      bool       `json:"active"`
	LockedUntil *time.Time `json:"lockedUntil"`
	LastLoginAt *time.Time `json:"lastLoginAt"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
}

// StaffCredentials is what a login checks: the account, its password hash and
// whether it is locked after too many failures.
type StaffCredentials struct {
	Staff        Staff
	PasswordHash string
	Locked       bool
}

// NewStaff is an account to create; PasswordHash is already hashed.
type NewStaff struct {
	Email        string
	Role         Role
	PasswordHash string
}

// StaffPatch changes an account; nil fields are left alone. A new password
// hash also clears the failure counter and any lock.
type StaffPatch struct {
	Role         *Role
	Active       *bool
	PasswordHash *string
}

// NormalizeEmail trims and lower-cases an email address for storage and lookup.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidateStaffEmail checks a normalised staff email address.
func ValidateStaffEmail(v ValidationError, field, email string) {
	switch {
	case email == "":
		v.Add(field, "Required.")
	case len(email) > 254:
		v.Add(field, "Must be at most 254 characters.")
	default:
		a, err := mail.ParseAddress(email)
		if err != nil || a.Address != email {
			v.Add(field, "Must be a valid email address.")
		}
	}
}

// Password length bounds for staff accounts.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// ValidatePassword checks a new staff password.
func ValidatePassword(v ValidationError, field, pw string) {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinPasswordLen:
		v.Add(field, "Must be at least 12 characters.")
	case len(pw) > MaxPasswordLen:
		v.Add(field, "Must be at most 256 bytes.")
	case strings.ContainsFunc(pw, isControl):
		v.Add(field, "Must not contain control characters.")
	}
}

// StaffBooking is a booking as staff see it: with the review reason and the
// amounts derived from the money rows.
type StaffBooking struct {
	Booking
	Review         string `json:"reviewReason,omitempty"`
	AmountPaid     int64  `json:"amountPaid"`
	AmountRefunded int64  `json:"amountRefunded"`
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

// BookingFilter selects bookings for staff. From and To bound startsAt
// ([From, To)); zero values are open. Lists are newest first.
type BookingFilter struct {
	Status Status
	From   time.Time
	To     time.Time
	Limit  int
	After  *Cursor
}

// LedgerEvent is one row of the webhook event ledger as staff see it.
type LedgerEvent struct {
	Seq         int64      `json:"-"`
	ID          string     `json:"id"`
	Type        string     `json:"type"`
	Outcome     string     `json:"outcome"`
	Detail      string     `json:"detail"`
	BookingID   *string    `json:"bookingId"`
	SessionID   *string    `json:"sessionId"`
	Source      string     `json:"source"`
	Livemode    bool       `json:"livemode"`
	ReplayCount int        `json:"replayCount"`
	CreatedAt   *time.Time `json:"createdAt"`
	ReceivedAt  time.Time  `json:"receivedAt"`
	ProcessedAt time.Time  `json:"processedAt"`
}

// EventFilter selects ledger rows, newest first.
type EventFilter struct {
	Type    string
	Outcome string
	Limit   int
	After   *Cursor
}

// StoredEvent is the raw payload of a ledger row, for replays.
type StoredEvent struct {
	ID      string
	Source  string
	Payload []byte
}

// RefundRequest asks the payment provider to refund a payment in full.
type RefundRequest struct {
	BookingID       string
	PaymentIntentID string
	Amount          int64
	Currency        string
	// IdempotencyKey makes a retried refund return the first one.
	IdempotencyKey string
}

// Refund is a refund made by the payment provider.
type Refund struct {
	ID       string
	Amount   int64
	Currency string
	Status   string
}

// Refunder refunds payments (Stripe, or demo payments).
type Refunder interface {
	// Refund refunds a payment; the same IdempotencyKey yields the same refund.
	Refund(ctx context.Context, req RefundRequest) (*Refund, error)
}

// RefundIdempotencyKey is the provider idempotency key of a booking's staff
// refund: however often staff retry, the payment is refunded once.
func RefundIdempotencyKey(bookingID string) string { return "refund-" + bookingID }

// CancelPlan is the first step of a staff cancellation: either the booking was
// cancelled (Refund nil), or it is confirmed and Refund says what to refund.
type CancelPlan struct {
	Booking *Booking
	Refund  *RefundRequest
}

// AdminStore is the persistence of the staff flows. internal/postgres implements it.
type AdminStore interface {
	ListBookings(ctx context.Context, f BookingFilter) ([]StaffBooking, error)
	ListPaymentEvents(ctx context.Context, f EventFilter) ([]LedgerEvent, error)
	FindPaymentEvent(ctx context.Context, eventID string) (*LedgerEvent, error)
	FindStoredEvent(ctx context.Context, eventID string) (*StoredEvent, error)
	// BeginCancel locks a booking and cancels it when pending or awaiting
	// payment; a confirmed booking is left as is and its payment returned for
	// refund. Errors: not_found, conflict.
	BeginCancel(ctx context.Context, bookingID string, cause Cause) (*CancelPlan, error)
	RefundStore
	FindBooking(ctx context.Context, id string) (*Booking, error)

	ListResources(ctx context.Context, includeInactive bool) ([]Resource, error)
	FindResource(ctx context.Context, id string) (*Resource, error)
	CreateResource(ctx context.Context, r *Resource, isDefault bool) (*Resource, error)
	UpdateResource(ctx context.Context, r *Resource) (*Resource, error)

	ListStaff(ctx context.Context) ([]Staff, error)
	FindStaff(ctx context.Context, id string) (*Staff, error)
	CreateStaff(ctx context.Context, s NewStaff) (*Staff, error)
	UpdateStaff(ctx context.Context, id string, p StaffPatch) (*Staff, error)
}

// Admin holds the staff flows.
type Admin struct {
	Store    AdminStore
	Refunder Refunder // nil: confirmed bookings cannot be refunded
	// Checkouts, when set, expires the Checkout Session of a booking staff
	// cancel before it is paid, so the customer can no longer pay it.
	Checkouts CheckoutExpirer
	Logger    *slog.Logger
}

// CheckoutExpirer expires an open Checkout Session.
type CheckoutExpirer interface {
	ExpireCheckout(ctx context.Context, sessionID string) error
}

// CancelBooking cancels a booking for a staff member: pending or awaiting
// payment → cancelled (slot freed); confirmed → refunded through a provider
// refund made with the booking's idempotency key, recorded as a refund row.
// Errors: not_found, conflict (any other state), payment_provider_error
// (the booking stays confirmed and the cancel can be retried), unavailable.
func (a *Admin) CancelBooking(ctx context.Context, bookingID string, by *Staff) (*Booking, error) {
	if !IsUUID(bookingID) {
		return nil, Errorf(ENotFound, "Booking not found.")
	}
	cause := Cause{Kind: CauseStaff, Ref: by.ID}
	plan, err := a.Store.BeginCancel(ctx, bookingID, cause)
	if err != nil {
		return nil, err
	}
	if plan.Refund == nil {
		a.expireCheckout(ctx, plan.Booking)
		return plan.Booking, nil
	}
	if a.Refunder == nil {
		return nil, Errorf(EPaymentProvider, "Refunds are not available: no payment provider is configured.")
	}
	r, err := a.Refunder.Refund(ctx, *plan.Refund)
	if err != nil {
		if ErrorCode(err) == EInternal {
			err = WrapError(EPaymentProvider, "The payment provider could not be reached. Please try again.", err)
		}
		return nil, err
	}
	// The money has moved: record it even if the client went away.
	rctx := context.WithoutCancel(ctx)
	if err := a.Store.RecordRefund(rctx, bookingID, *r, RefundSourceStaff, cause); err != nil {
		return nil, err
	}
	b, err := a.Store.FindBooking(rctx, bookingID)
	if err != nil {
		return nil, err
	}
	if a.Logger != nil {
		a.Logger.InfoContext(ctx, "booking refunded", "booking_id", bookingID, "refund_id", r.ID,
			"amount", r.Amount, "currency", r.Currency, "staff_id", by.ID)
	}
	return b, nil
}

// expireCheckout closes the Checkout Session of a booking cancelled before
// payment. It is best effort: a session that completed meanwhile (an
// asynchronous payment under way) cannot be expired, and a payment that
// still arrives puts the booking in needs_review, never back on the slot.
func (a *Admin) expireCheckout(ctx context.Context, b *Booking) {
	if a.Checkouts == nil || b == nil || b.StripeSessionID == nil {
		return
	}
	if err := a.Checkouts.ExpireCheckout(context.WithoutCancel(ctx), *b.StripeSessionID); err != nil && a.Logger != nil {
		a.Logger.WarnContext(ctx, "could not expire the checkout session of a cancelled booking",
			"booking_id", b.ID, "session_id", *b.StripeSessionID, "err", err)
	}
}

// ResourcePatch changes a resource; nil fields are left alone.
type ResourcePatch struct {
	Slug            *string     `json:"slug"`
	Name            *string     `json:"name"`
	Description     *string     `json:"description"`
	PriceAmount     *int64      `json:"priceAmount"`
	Currency        *string     `json:"currency"`
	DurationMinutes *int        `json:"durationMinutes"`
	Timezone        *string     `json:"timezone"`
	Active          *bool       `json:"active"`
	WeeklyHours     *[]OpenSpan `json:"weeklyHours"`
}

// Apply copies the set fields of p onto r.
func (p *ResourcePatch) Apply(r *Resource) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&r.Slug, p.Slug)
	set(&r.Name, p.Name)
	set(&r.Description, p.Description)
	set(&r.Currency, p.Currency)
	set(&r.Timezone, p.Timezone)
	if p.PriceAmount != nil {
		r.PriceAmount = *p.PriceAmount
	}
	if p.DurationMinutes != nil {
		r.DurationMinutes = *p.DurationMinutes
	}
	if p.Active != nil {
		r.Active = *p.Active
	}
	if p.WeeklyHours != nil {
		r.WeeklyHours = *p.WeeklyHours
	}
	if r.WeeklyHours == nil {
		r.WeeklyHours = []OpenSpan{}
	}
}

// slugTaken turns a unique-slug conflict into a field error.
func slugTaken(err error) error {
	if ErrorCode(err) == EConflict {
		return &Error{Code: EValidation, Message: "Some fields are invalid.", Fields: map[string]string{"slug": "Already in use."}, Err: err}
	}
	return err
}

// CreateResource validates and stores a new resource (active unless p says
// otherwise). Errors: validation_failed.
func (a *Admin) CreateResource(ctx context.Context, p ResourcePatch) (*Resource, error) {
	r := Resource{Active: true}
	p.Apply(&r)
	v := ValidationError{}
	r.Validate(v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	out, err := a.Store.CreateResource(ctx, &r, false)
	return out, slugTaken(err)
}

// UpdateResource applies p to resource id. Errors: not_found, validation_failed.
func (a *Admin) UpdateResource(ctx context.Context, id string, p ResourcePatch) (*Resource, error) {
	r, err := a.Store.FindResource(ctx, id)
	if err != nil {
		return nil, err
	}
	p.Apply(r)
	v := ValidationError{}
	r.Validate(v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	out, err := a.Store.UpdateResource(ctx, r)
	return out, slugTaken(err)
}
