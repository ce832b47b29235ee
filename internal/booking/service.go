package booking

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"time"
)

// Store is the persistence the booking flows need. internal/postgres implements it.
type Store interface {
	ListResources(ctx context.Context, includeInactive bool) ([]Resource, error)
	FindResource(ctx context.Context, id string) (*Resource, error)
	DefaultResource(ctx context.Context) (*Resource, error)
	// BusyRanges lists ranges of active bookings of a resource overlapping
	// [from, to), treating pending holds that lapsed before now as free.
	BusyRanges(ctx context.Context, resourceID string, from, to, now time.Time) ([]Slot, error)
	// CreateHold releases lapsed holds overlapping the slot, then inserts a
	// pending booking, in one transaction. With an idempotency key it returns
	// the stored answer of an earlier request (Replay) instead.
	CreateHold(ctx context.Context, h NewHold) (*HoldResult, error)
	// AttachCheckout records the Checkout Session of a booking and, with a key,
	// the idempotent answer.
	AttachCheckout(ctx context.Context, bookingID, sessionID, url string, idemKey string, answer []byte) error
	// ReleaseHold cancels a pending booking whose checkout could not be created,
	// and forgets its idempotency key so the request can be retried.
	ReleaseHold(ctx context.Context, bookingID, idemKey string, cause Cause) error
	FindBookingByToken(ctx context.Context, id string, tokenHash []byte) (*Booking, error)
	FindBookingBySession(ctx context.Context, sessionID string) (*Booking, error)
	// ApplyEvent stores ev in the ledger and applies decide's plan to the
	// matched booking in one transaction. A known event id is a duplicate.
	ApplyEvent(ctx context.Context, ev *PaymentEvent, decide DecideFunc) (*EventResult, error)
	// RefundStore records the automatic refund of a late payment.
	RefundStore
}

// DecideFunc chooses the plan for an event on a locked booking.
type DecideFunc func(b *Booking, ev *PaymentEvent, paymentRecorded bool) Plan

// NewHold is a request to hold a slot.
type NewHold struct {
	Resource    *Resource
	Slot        Slot
	Customer    Customer
	HoldUntil   time.Time
	Reference   string
	TokenHash   []byte
	IdemKey     string
	RequestHash []byte
	Cause       Cause
}

// HoldResult is a new pending booking, or the replayed answer of an earlier
// request with the same idempotency key.
type HoldResult struct {
	Booking *Booking
	Replay  []byte
}

// EventResult is the outcome of processing one event.
type EventResult struct {
	Outcome   Outcome
	BookingID string
	Status    Status // booking status after the event, when matched
	Detail    string
	// UnmatchedMoney holds the stored payloads of refund and dispute events
	// of the PaymentIntent this event paid with that arrived before it.
	UnmatchedMoney [][]byte
}

// Payments is the payment provider edge (Stripe, or demo payments).
type Payments interface {
	// CreateCheckout creates the Checkout Session of a booking. It must be
	// idempotent per booking: a retry returns the same session.
	CreateCheckout(ctx context.Context, req CheckoutRequest) (*Checkout, error)
	// SessionEvent retrieves a Checkout Session and describes its state as a
	// synthetic event for fulfilment on the return page.
	SessionEvent(ctx context.Context, sessionID string) (*PaymentEvent, error)
}

// CheckoutRequest describes the Checkout Session for one booking.
type CheckoutRequest struct {
	BookingID    string
	Reference    string
	ResourceName string
	Amount       int64
	Currency     string
	Email        string
	ExpiresAt    time.Time
}

// Checkout is a created Checkout Session.
type Checkout struct {
	SessionID string
	URL       string
}

// Service holds the booking flows.
type Service struct {
	Store    Store
	Payments Payments
	Logger   *slog.Logger
	Hold     time.Duration
	Now      func() time.Time
	// Refunder refunds a late payment for a slot taken meanwhile; nil leaves
	// such bookings in needs_review for staff.
	Refunder Refunder
	// ParseStored parses a payload kept in the webhook ledger; with it, refund
	// and dispute events that arrived before their payment are applied as
	// soon as the payment is recorded.
	ParseStored func(payload []byte) (*PaymentEvent, error)
}

// CreateRequest is the body of POST /api/bookings.
type CreateRequest struct {
	ResourceID string    `json:"resourceId"`
	StartsAt   time.Time `json:"startsAt"`
	Customer   Customer  `json:"customer"`
}

// Created is the answer to a booking request.
type Created struct {
	Booking       *Booking `json:"booking"`
	CheckoutURL   string   `json:"checkoutUrl"`
	CustomerToken string   `json:"customerToken"`
}

// holdGrace is added to each hold so that the Checkout Session's expires_at,
// equal to the hold, is still at least the configured minutes after Stripe
// creates the session, whatever the network latency.
const holdGrace = 30 * time.Second

// CreateBooking validates a request, holds the slot and creates its Checkout
// Session. Errors: validation_failed, not_found (resource), slot_unavailable,
// idempotency_key_reused, idempotency_key_in_use, payment_provider_error, unavailable.
func (s *Service) CreateBooking(ctx context.Context, req CreateRequest, idemKey string, cause Cause) (*Created, []byte, error) {
	v := ValidationError{}
	req.ResourceID = strings.TrimSpace(req.ResourceID)
	if !IsUUID(req.ResourceID) {
		v.Add("resourceId", "Must be the id of a resource.")
	}
	if req.StartsAt.IsZero() {
		v.Add("startsAt", "Required, as an RFC 3339 timestamp.")
	}
	req.Customer.Validate(v, "customer.")
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	res, err := s.Store.FindResource(ctx, req.ResourceID)
	if err != nil {
		if ErrorCode(err) == ENotFound {
			return nil, nil, &Error{Code: EValidation, Message: "Some fields are invalid.", Fields: map[string]string{"resourceId": "No such resource."}}
		}
		return nil, nil, err
	}
	return s.book(ctx, res, req, idemKey, cause)
}

func (s *Service) book(ctx context.Context, res *Resource, req CreateRequest, idemKey string, cause Cause) (*Created, []byte, error) {
	v := ValidationError{}
	if !res.Active {
		v.Add("resourceId", "This resource cannot be booked.")
		return nil, nil, v.Err()
	}
	now := s.Now()
	slot, ok := res.SlotAt(req.StartsAt.UTC())
	switch {
	case !ok:
		v.Add("startsAt", "Not a slot of this resource: pick a start time from its availability.")
	case !slot.StartsAt.After(now):
		v.Add("startsAt", "Must be in the future.")
	}
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	token := randomToken(24)
	h := NewHold{
		Resource:  res,
		Slot:      slot,
		Customer:  req.Customer,
		HoldUntil: now.Add(s.Hold + holdGrace).Truncate(time.Second),
		Reference: newReference(),
		TokenHash: HashToken(token),
		IdemKey:   idemKey,
		Cause:     cause,
	}
	if idemKey != "" {
		canon, _ := json.Marshal(struct {
			R string    `json:"r"`
			S time.Time `json:"s"`
			C Customer  `json:"c"`
		}{res.ID, slot.StartsAt, req.Customer})
		sum := sha256.Sum256(canon)
		h.RequestHash = sum[:]
	}
	hr, err := s.Store.CreateHold(ctx, h)
	if err != nil {
		return nil, nil, err
	}
	if hr.Replay != nil {
		return nil, hr.Replay, nil
	}
	b := hr.Booking
	co, err := s.Payments.CreateCheckout(ctx, CheckoutRequest{
		BookingID: b.ID, Reference: b.Reference, ResourceName: res.Name,
		Amount: b.AmountTotal, Currency: b.Currency, Email: b.Customer.Email, ExpiresAt: b.HoldExpiresAt,
	})
	if err != nil {
		// Release the slot; the original error is what the client hears about.
		rctx := context.WithoutCancel(ctx)
		if rerr := s.Store.ReleaseHold(rctx, b.ID, idemKey, Cause{Kind: CauseSys, Ref: "checkout_failed"}); rerr != nil {
			s.Logger.ErrorContext(ctx, "release hold after checkout failure", "booking_id", b.ID, "err", rerr)
		}
		if ErrorCode(err) == EInternal {
			err = WrapError(EPaymentProvider, "The payment provider could not be reached. Please try again.", err)
		}
		return nil, nil, err
	}
	sid := co.SessionID
	b.StripeSessionID = &sid
	b.CheckoutURL = co.URL
	out := &Created{Booking: b, CheckoutURL: co.URL, CustomerToken: token}
	var answer []byte
	if idemKey != "" {
		answer, _ = json.Marshal(out)
	}
	if err := s.Store.AttachCheckout(context.WithoutCancel(ctx), b.ID, co.SessionID, co.URL, idemKey, answer); err != nil {
		return nil, nil, err
	}
	return out, nil, nil
}

// CompatRequest is the body of the reference backend's POST /create-checkout-session.
type CompatRequest struct {
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Email     string `json:"email"`
	Date      string `json:"date"`
	Time      string `json:"time"`
}

// CreateCompat books the default resource at a local date and time.
func (s *Service) CreateCompat(ctx context.Context, req CompatRequest, idemKey string, cause Cause) (*Created, []byte, error) {
	v := ValidationError{}
	c := Customer{FirstName: req.FirstName, LastName: req.LastName, Email: req.Email}
	c.Validate(v, "")
	if _, _, _, err := ParseDate(req.Date); err != nil {
		v.Add("date", "Must be a date as YYYY-MM-DD.")
	}
	if _, err := parseClock(req.Time); err != nil || len(req.Time) != 5 {
		v.Add("time", "Must be a time as HH:MM.")
	}
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	res, err := s.Store.DefaultResource(ctx)
	if err != nil {
		return nil, nil, err
	}
	t, err := res.LocalTime(req.Date, req.Time)
	if err != nil {
		v.Add("time", "This local time does not exist on that day.")
		return nil, nil, v.Err()
	}
	return s.book(ctx, res, CreateRequest{ResourceID: res.ID, StartsAt: t, Customer: c}, idemKey, cause)
}

// Availability lists the free slots of a resource on a local date.
type Availability struct {
	ResourceID string `json:"resourceId"`
	Date       string `json:"date"`
	Timezone   string `json:"timezone"`
	Slots      []Slot `json:"slots"`
}

// Availability returns the free future slots of resource id on date
// (YYYY-MM-DD in the resource's time zone). Errors: not_found, validation_failed.
func (s *Service) Availability(ctx context.Context, id, date string) (*Availability, error) {
	y, mo, d, err := ParseDate(date)
	if err != nil {
		return nil, &Error{Code: EValidation, Message: "Some fields are invalid.", Fields: map[string]string{"date": "Must be a date as YYYY-MM-DD."}}
	}
	if !IsUUID(id) {
		return nil, Errorf(ENotFound, "Resource not found.")
	}
	res, err := s.Store.FindResource(ctx, id)
	if err != nil {
		return nil, err
	}
	if !res.Active {
		return nil, Errorf(ENotFound, "Resource not found.")
	}
	all, err := res.SlotsOn(y, mo, d)
	if err != nil {
		return nil, err
	}
	out := &Availability{ResourceID: res.ID, Date: date, Timezone: res.Timezone, Slots: []Slot{}}
	if len(all) == 0 {
		return out, nil
	}
	now := s.Now()
	busy, err := s.Store.BusyRanges(ctx, res.ID, all[0].StartsAt, all[len(all)-1].EndsAt, now)
	if err != nil {
		return nil, err
	}
	for _, sl := range all {
		if !sl.StartsAt.After(now) {
			continue
		}
		free := true
		for _, b := range busy {
			if sl.StartsAt.Before(b.EndsAt) && b.StartsAt.Before(sl.EndsAt) {
				free = false
				break
			}
		}
		if free {
			out.Slots = append(out.Slots, sl)
		}
	}
	return out, nil
}

// GetBooking returns a booking to the holder of its customer token.
// Errors: not_found (unknown id or wrong token).
func (s *Service) GetBooking(ctx context.Context, id, token string) (*Booking, error) {
	if !IsUUID(id) || token == "" || len(token) > 100 {
		return nil, Errorf(ENotFound, "Booking not found.")
	}
	return s.Store.FindBookingByToken(ctx, id, HashToken(token))
}

// HandleEvent processes a verified payment event exactly once.
func (s *Service) HandleEvent(ctx context.Context, ev *PaymentEvent) (*EventResult, error) {
	var plan Plan // the plan of the committed attempt
	res, err := s.Store.ApplyEvent(ctx, ev, func(b *Booking, ev *PaymentEvent, paid bool) Plan {
		plan = Decide(b, ev, paid)
		return plan
	})
	if err != nil {
		return nil, err
	}
	s.Logger.InfoContext(ctx, "stripe event",
		"event_id", ev.ID, "event_type", ev.Type, "session_id", ev.SessionID,
		"booking_id", res.BookingID, "outcome", res.Outcome, "source", ev.Source)
	if plan.AutoRefund && res.Status == StatusNeedsReview && res.BookingID != "" {
		// A network call: only now that the event's transaction committed.
		s.autoRefund(ctx, ev, res)
	}
	s.applyEarlyMoneyEvents(ctx, ev, res)
	return res, nil
}

// applyEarlyMoneyEvents replays, through the same idempotent path, the
// refund and dispute events that arrived before the payment ev recorded and
// were stored as unmatched. The payment is committed whatever happens here;
// a failure is logged and the event stays replayable by hand.
func (s *Service) applyEarlyMoneyEvents(ctx context.Context, ev *PaymentEvent, res *EventResult) {
	if s.ParseStored == nil {
		return
	}
	for _, payload := range res.UnmatchedMoney {
		early, err := s.ParseStored(payload)
		if err == nil {
			early.Source = "replay"
			_, err = s.HandleEvent(ctx, early)
		}
		if err != nil {
			s.Logger.ErrorContext(ctx, "could not apply an event that arrived before its payment; replay it",
				"payment_event_id", ev.ID, "payment_intent", ev.PaymentIntentID, "err", err)
		}
	}
}

// ReturnFromCheckout retrieves a Checkout Session and applies the same
// fulfilment as its webhook, then returns the booking.
func (s *Service) ReturnFromCheckout(ctx context.Context, sessionID string) (*Booking, error) {
	if sessionID == "" || len(sessionID) > 255 {
		return nil, &Error{Code: EValidation, Message: "Some fields are invalid.", Fields: map[string]string{"session_id": "Required."}}
	}
	b, err := s.Store.FindBookingBySession(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	if b.Status == StatusPending || b.Status == StatusAwaitingPayment || b.Status == StatusExpired {
		ev, err := s.Payments.SessionEvent(ctx, sessionID)
		if err != nil {
			return nil, err
		}
		if ev != nil {
			if _, err := s.HandleEvent(ctx, ev); err != nil {
				return nil, err
			}
			return s.Store.FindBookingBySession(ctx, sessionID)
		}
	}
	return b, nil
}

// HashToken hashes a customer token for storage and lookup.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Crockford-style alphabet without look-alikes.
const refAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

func newReference() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = refAlphabet[int(b[i])%len(refAlphabet)]
	}
	return "BK-" + string(b)
}

// IsUUID reports whether s is a canonical textual UUID.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
				return false
			}
		}
	}
	return true
}
