package booking

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"time"
)

// HoldStore is what holding a slot needs from the database.
type HoldStore interface {
	FindResource(ctx context.Context, id string) (*Resource, error)
	DefaultResource(ctx context.Context) (*Resource, error)
	// BusyRanges lists the bookings of a resource that hold time
	// overlapping [from, to) (their blocked ranges, buffers included),
	// treating pending holds that lapsed before now as free.
	BusyRanges(ctx context.Context, resourceID string, from, to, now time.Time) ([]Busy, error)
	// ClaimKey claims an Idempotency-Key for a new request, or returns the
	// sealed answer of the earlier request that used it. A claim without
	// an answer lapses after a while (idemClaimLease), so a request that
	// died half-way does not keep its key busy for ever.
	// Errors: idempotency_key_reused, idempotency_key_in_use.
	ClaimKey(ctx context.Context, keyHash, requestHash []byte, now time.Time) (replay []byte, err error)
	// ForgetKey releases a claimed key whose request failed before it had
	// an answer, so it can be retried at once.
	ForgetKey(ctx context.Context, keyHash []byte) error
	// CreateHold releases lapsed holds overlapping the slot, then inserts
	// the pending booking with its Checkout Session and, with a key, stores
	// seal(booking) as the key's answer, in one transaction.
	// Errors: slot_unavailable.
	CreateHold(ctx context.Context, h NewHold, seal func(*Booking) []byte) (*Booking, error)
	// FindBookingWithToken returns a booking and the hash of its customer
	// token. Errors: not_found.
	FindBookingWithToken(ctx context.Context, id string) (*Booking, []byte, error)
	// ManageTokenValid reports whether a token sent in a message (its
	// hash) opens booking id.
	ManageTokenValid(ctx context.Context, id string, hash []byte) (bool, error)
}

// CheckoutCreator creates Checkout Sessions (Stripe, or demo payments).
type CheckoutCreator interface {
	// CreateCheckout creates the Checkout Session of a booking. It must be
	// idempotent per booking: a retry returns the same session.
	CreateCheckout(ctx context.Context, req CheckoutRequest) (*Checkout, error)
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
	// CancelKey goes with the booking id into the session's cancel_url: it
	// lets the abandoned-checkout page release this booking's hold
	// (CheckoutCancelKey).
	CancelKey string
}

// Checkout is a created Checkout Session.
type Checkout struct {
	SessionID string
	URL       string
}

// NewHold is a pending booking to insert, with its Checkout Session.
type NewHold struct {
	ID       string
	Resource *Resource
	Slot     Slot
	// Blocked is the range the booking keeps from others: the slot with
	// the resource's buffers, fixed for the booking's life.
	Blocked Slot
	// Quantity is the number of places taken; Shared says they are places
	// of a resource with capacity (counted per slot, not by the no-overlap
	// rule). Amount is the price of the places.
	Quantity  int
	Shared    bool
	Amount    int64
	Customer  Customer
	Now       time.Time
	HoldUntil time.Time
	Reference string
	TokenHash []byte
	// KeyHash identifies the request's Idempotency-Key, if any.
	KeyHash     []byte
	Cause       Cause
	SessionID   string
	CheckoutURL string
	// Notices are queued in the hold's transaction (a payment link).
	Notices []Notice
	// Note, when set, is written on the booking by staff user NoteBy.
	Note, NoteBy string
}

// Booker holds the customer's booking flows: availability, holding a slot
// and creating its Checkout Session, and reading a booking with its token.
type Booker struct {
	Store     HoldStore
	Checkouts CheckoutCreator
	// Expirer expires a Checkout Session whose booking could not be
	// inserted; nil when sessions cannot be paid without their booking
	// (demo payments).
	Expirer CheckoutExpirer
	Logger  *slog.Logger
	Hold    time.Duration
	Now     func() time.Time
	// Pools, when set, lets a booking name a pool (poolId) instead of a
	// resource.
	Pools PoolStore
	// Venue, when set, records bookings paid at the venue (BookAtDesk).
	Venue VenueStore
}

// CreateRequest is the body of POST /api/bookings.
type CreateRequest struct {
	ResourceID string    `json:"resourceId"`
	StartsAt   time.Time `json:"startsAt"`
	Customer   Customer  `json:"customer"`
	// Quantity is the number of places to book (default 1); more than one
	// only on a resource with capacity.
	Quantity int `json:"quantity"`
	// PoolID books any free member of a pool instead of ResourceID (or
	// the member named by ResourceID).
	PoolID string `json:"poolId,omitempty"`
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

// CreateBooking validates a request, holds the slot and creates its
// Checkout Session. With an idempotency key, a repeated request returns the
// first answer (replay, as JSON) instead. Errors: validation_failed,
// slot_unavailable, idempotency_key_reused, idempotency_key_in_use,
// payment_provider_error, unavailable.
func (s *Booker) CreateBooking(ctx context.Context, req CreateRequest, idemKey string, cause Cause) (*Created, []byte, error) {
	v := ValidationError{}
	req.ResourceID = strings.TrimSpace(req.ResourceID)
	req.PoolID = strings.TrimSpace(req.PoolID)
	switch {
	case req.PoolID != "" && !IsUUID(req.PoolID):
		v.Add("poolId", "Must be the id of a pool.")
	case req.PoolID != "" && req.ResourceID != "" && !IsUUID(req.ResourceID):
		v.Add("resourceId", "Must be the id of a member of the pool, or left out.")
	case req.PoolID == "" && !IsUUID(req.ResourceID):
		v.Add("resourceId", "Must be the id of a resource (or give poolId).")
	}
	if req.StartsAt.IsZero() {
		v.Add("startsAt", "Required, as an RFC 3339 timestamp.")
	}
	req.Customer.Validate(v, "customer.")
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	if req.PoolID != "" {
		return s.bookPool(ctx, req, idemKey, cause)
	}
	res, err := s.Store.FindResource(ctx, req.ResourceID)
	if err != nil {
		if ErrorCode(err) == ENotFound {
			return nil, nil, &Error{Code: EValidation, Message: "Some fields are invalid.", Fields: map[string]string{"resourceId": "No such resource."}}
		}
		return nil, nil, err
	}
	return s.book(ctx, target{members: []*Resource{res}}, req, idemKey, cause, bookOpts{})
}

// target is what a booking request books: one resource, or any free
// member of a pool (members in the pool's order).
type target struct {
	pool    *Pool
	members []*Resource
}

// bookPool books any free member of pool req.PoolID, or the member named
// by req.ResourceID.
func (s *Booker) bookPool(ctx context.Context, req CreateRequest, idemKey string, cause Cause) (*Created, []byte, error) {
	invalid := func(field, msg string) error {
		return &Error{Code: EValidation, Message: "Some fields are invalid.", Fields: map[string]string{field: msg}}
	}
	if s.Pools == nil {
		return nil, nil, invalid("poolId", "No such pool.")
	}
	p, err := s.Pools.FindPool(ctx, req.PoolID)
	if err != nil {
		if ErrorCode(err) == ENotFound {
			return nil, nil, invalid("poolId", "No such pool.")
		}
		return nil, nil, err
	}
	ids := p.ResourceIDs
	if req.ResourceID != "" {
		ids = nil
		for _, id := range p.ResourceIDs {
			if strings.EqualFold(id, req.ResourceID) {
				ids = []string{id}
			}
		}
		if ids == nil {
			return nil, nil, invalid("resourceId", "Not a member of this pool.")
		}
	}
	ms, err := members(ctx, s.Store, ids)
	if err != nil {
		return nil, nil, err
	}
	return s.book(ctx, target{pool: p, members: ms}, req, idemKey, cause, bookOpts{})
}

// bookOpts are what a booking made at the staff desk changes (desk.go).
type bookOpts struct {
	// staff: the booking rules for customers (minimum notice, horizon) are
	// set aside; a slot that has started but not ended can be booked.
	staff bool
	// hold replaces the hold's length (a payment link's life).
	hold time.Duration
	// venue: no Checkout Session; the booking is paid at the venue, in
	// the transaction that inserts it.
	venue bool
	// linkNotice: the payment link goes out by email, queued in the hold's
	// transaction.
	linkNotice bool
	// note is written on the booking by staff user by, in the same
	// transaction.
	note, by string
}

func (s *Booker) book(ctx context.Context, tg target, req CreateRequest, idemKey string, cause Cause, o bookOpts) (*Created, []byte, error) {
	v := ValidationError{}
	field := "resourceId"
	if tg.pool != nil && req.ResourceID == "" {
		field = "poolId"
	}
	cands := bookableMembers(tg.members)
	if len(cands) == 0 {
		v.Add(field, "This resource cannot be booked.")
		return nil, nil, v.Err()
	}
	now := s.Now()
	// The members at which the start is a bookable slot; they share a
	// duration, so the slot is the same at each.
	var slot Slot
	var at []*Resource
	why := ""
	for _, r := range cands {
		sl, ok := r.SlotAt(req.StartsAt.UTC())
		if !ok {
			continue
		}
		if w := r.Bookable(sl, now); w != "" && (!o.staff || !sl.EndsAt.After(now)) {
			why = w
			continue
		}
		slot, at = sl, append(at, r)
	}
	switch {
	case len(at) > 0:
	case why != "":
		v.Add("startsAt", why)
	default:
		v.Add("startsAt", "Not a slot of this resource: pick a start time from its availability.")
	}
	res := cands[0]
	if len(at) > 0 {
		res = at[0]
	}
	qty, amount := res.checkQuantity(v, req.Quantity)
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	token := randomToken(24)
	tokenHash := HashToken(token)
	hold := s.Hold
	if o.hold > 0 {
		hold = o.hold
	}
	h := NewHold{
		ID:        newID(),
		Resource:  res,
		Slot:      slot,
		Blocked:   res.Blocked(slot),
		Quantity:  qty,
		Shared:    res.Capacity > 1,
		Amount:    amount,
		Customer:  req.Customer,
		Now:       now,
		HoldUntil: now.Add(hold + holdGrace).Truncate(time.Second),
		Note:      o.note,
		NoteBy:    o.by,
		Reference: newReference(),
		TokenHash: tokenHash,
		Cause:     cause,
	}
	if o.linkNotice {
		h.Notices = []Notice{{BookingID: h.ID, Kind: NoticePaymentLink}}
	}
	// Whatever happens to the caller from here on, a claimed key is
	// answered or released.
	wctx := context.WithoutCancel(ctx)
	forget := func() {}
	if idemKey != "" {
		canonQ := struct {
			R string    `json:"r"`
			S time.Time `json:"s"`
			C Customer  `json:"c"`
			Q int       `json:"q,omitempty"` // 1 is left out: keys made before quantities still match
			P string    `json:"p,omitempty"` // the pool, when one was asked for
			M string    `json:"m,omitempty"` // how a desk booking is paid
			H int       `json:"h,omitempty"` // a payment link's life, in minutes
			N string    `json:"n,omitempty"` // a desk booking's note
		}{res.ID, slot.StartsAt, req.Customer, 0, "", "", int(o.hold / time.Minute), o.note}
		switch {
		case o.venue:
			canonQ.M = "venue"
		case o.staff:
			canonQ.M = "link"
		}
		if qty > 1 {
			canonQ.Q = qty
		}
		if tg.pool != nil {
			canonQ.P = tg.pool.ID
			if req.ResourceID == "" {
				canonQ.R = ""
			}
		}
		canon, _ := json.Marshal(canonQ)
		sum := sha256.Sum256(canon)
		h.KeyHash = IdempotencyKeyHash(idemKey)
		replay, err := s.Store.ClaimKey(ctx, h.KeyHash, sum[:], now)
		if err != nil {
			return nil, nil, err
		}
		if replay != nil {
			answer, err := openAnswer(idemKey, replay)
			if err != nil {
				return nil, nil, err
			}
			return nil, answer, nil
		}
		forget = func() {
			if err := s.Store.ForgetKey(wctx, h.KeyHash); err != nil {
				s.Logger.ErrorContext(ctx, "release idempotency key", "booking_id", h.ID, "err", err)
			}
		}
	}
	// A slot that is plainly taken is refused before a Checkout Session is
	// made for it; a race for the last one is settled by the insert. Of a
	// pool, the members that look free are tried in a random order, so
	// that concurrent customers spread over them instead of queueing on
	// the first.
	holds := make([]NewHold, 0, len(at))
	var taken error
	for _, r := range at {
		blocked := r.Blocked(slot)
		busy, err := s.Store.BusyRanges(ctx, r.ID, blocked.StartsAt, blocked.EndsAt, now)
		if err == nil {
			err = r.placesFor(slot, busy, qty)
		}
		if ErrorCode(err) == ESlotUnavailable {
			taken = err
			continue
		}
		if err != nil {
			forget()
			return nil, nil, err
		}
		m := h
		m.Resource, m.Blocked, m.Shared = r, blocked, r.Capacity > 1
		holds = append(holds, m)
	}
	if len(holds) == 0 {
		forget()
		return nil, nil, taken
	}
	mrand.Shuffle(len(holds), func(i, j int) { holds[i], holds[j] = holds[j], holds[i] })
	if o.venue {
		return s.bookAtVenue(ctx, holds[0], token, idemKey, cause, forget)
	}
	// The Checkout Session first, then the booking with it in one insert:
	// the booking row is written once, and a customer can only ever reach
	// a session whose booking exists. A pool's member is chosen after the
	// session, inside the hold transaction, so the session names the pool
	// (its members share price, currency and duration).
	name := res.Name
	if tg.pool != nil && req.ResourceID == "" {
		name = tg.pool.Name
	}
	co, err := s.Checkouts.CreateCheckout(ctx, CheckoutRequest{
		BookingID: h.ID, Reference: h.Reference, ResourceName: name,
		Amount: amount, Currency: res.Currency, Email: req.Customer.Email, ExpiresAt: h.HoldUntil,
		CancelKey: CheckoutCancelKey(tokenHash),
	})
	if err != nil {
		forget()
		if ErrorCode(err) == EInternal {
			err = WrapError(EPaymentProvider, "The payment provider could not be reached. Please try again.", err)
		}
		return nil, nil, err
	}
	for i := range holds {
		holds[i].SessionID, holds[i].CheckoutURL = co.SessionID, co.URL
	}
	var out *Created
	seal := func(b *Booking) []byte {
		out = &Created{Booking: b, CheckoutURL: co.URL, CustomerToken: token}
		if idemKey == "" {
			return nil
		}
		answer, _ := json.Marshal(out)
		return sealAnswer(idemKey, answer)
	}
	var b *Booking
	if tg.pool == nil {
		b, err = s.Store.CreateHold(wctx, holds[0], seal)
	} else {
		b, err = s.Pools.CreateHoldAny(wctx, holds, seal)
	}
	if err != nil {
		// Nobody saw this session; make sure nobody can pay it.
		s.expire(wctx, co.SessionID)
		forget()
		return nil, nil, err
	}
	out.Booking = b
	return out, nil, nil
}

// expire expires a Checkout Session whose booking was never recorded. A
// failure is logged: the session lapses on its own at the hold's end, and
// its URL was never given to anyone.
func (s *Booker) expire(ctx context.Context, sessionID string) {
	if s.Expirer == nil {
		return
	}
	if err := s.Expirer.ExpireCheckout(ctx, sessionID); err != nil {
		s.Logger.WarnContext(ctx, "expire unused checkout session", "session_id", sessionID, "err", err)
	}
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
// Errors: as CreateBooking, and not_found when no resource is open.
func (s *Booker) CreateCompat(ctx context.Context, req CompatRequest, idemKey string, cause Cause) (*Created, []byte, error) {
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
	return s.book(ctx, target{members: []*Resource{res}}, CreateRequest{ResourceID: res.ID, StartsAt: t, Customer: c}, idemKey, cause, bookOpts{})
}

// Availability lists the free slots of a resource on a local date.
type Availability struct {
	ResourceID string          `json:"resourceId"`
	Date       string          `json:"date"`
	Timezone   string          `json:"timezone"`
	Capacity   int             `json:"capacity"`
	Closed     bool            `json:"closed"`
	Slots      []AvailableSlot `json:"slots"`
}

// Availability returns the free slots of resource id on date (YYYY-MM-DD in
// the resource's time zone) that can be booked now: in the future, after
// the minimum notice, within the horizon, with places left.
// Errors: not_found, validation_failed.
func (s *Booker) Availability(ctx context.Context, id, date string) (*Availability, error) {
	y, mo, d, err := ParseDate(date)
	if err != nil {
		return nil, &Error{Code: EValidation, Message: "Some fields are invalid.", Fields: map[string]string{"date": "Must be a date as YYYY-MM-DD."}}
	}
	res, err := s.activeResource(ctx, id)
	if err != nil {
		return nil, err
	}
	all, err := res.SlotsOn(y, mo, d)
	if err != nil {
		return nil, err
	}
	o := res.OverrideOn(y, mo, d)
	out := &Availability{ResourceID: res.ID, Date: date, Timezone: res.Timezone, Capacity: max(res.Capacity, 1),
		Closed: o != nil && o.Closed, Slots: []AvailableSlot{}}
	if len(all) == 0 {
		return out, nil
	}
	now := s.Now()
	span := res.Blocked(Slot{StartsAt: all[0].StartsAt, EndsAt: all[len(all)-1].EndsAt})
	busy, err := s.Store.BusyRanges(ctx, res.ID, span.StartsAt, span.EndsAt, now)
	if err != nil {
		return nil, err
	}
	out.Slots = res.freeSlots(all, busy, now)
	return out, nil
}

// GetBooking returns a booking to the holder of its customer token (the
// hash compared in constant time) or of a token sent in one of its
// messages. Errors: not_found (unknown id or wrong
// token, the same answer).
func (s *Booker) GetBooking(ctx context.Context, id, token string) (*Booking, error) {
	notFound := Errorf(ENotFound, "Booking not found.")
	if !IsUUID(id) || token == "" || len(token) > 100 {
		return nil, notFound
	}
	b, hash, err := s.Store.FindBookingWithToken(ctx, id)
	if err != nil {
		if ErrorCode(err) == ENotFound {
			return nil, notFound
		}
		return nil, err
	}
	if subtle.ConstantTimeCompare(hash, HashToken(token)) != 1 {
		// The link in a message carries a token of its own.
		ok, err := s.Store.ManageTokenValid(ctx, id, HashToken(token))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, notFound
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

// newID returns a random (version 4) UUID in canonical form.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexdigits[c>>4], hexdigits[c&0x0f])
	}
	return string(out)
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

// activeResource returns resource id when it can be booked.
// Errors: not_found (unknown or inactive, the same answer), unavailable.
func (s *Booker) activeResource(ctx context.Context, id string) (*Resource, error) {
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
	return res, nil
}
