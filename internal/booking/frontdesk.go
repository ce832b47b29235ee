package booking

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// The front desk: bookings staff make for a phone or walk-in customer,
// paid at the venue or through a payment link sent by email (docs/adr/0011).

// Ways a desk booking is paid.
const (
	// DeskPayVenue: the customer pays at the venue; the booking is
	// confirmed at once with an offline payment recorded by the staff user.
	DeskPayVenue = "venue"
	// DeskPayLink: a Checkout Session whose link is emailed to the
	// customer; the slot is held for the link's life.
	DeskPayLink = "link"
)

// MaxLinkHours is the longest life of a payment link: Stripe expires a
// Checkout Session at most 24 hours after it is made.
const MaxLinkHours = 24

// DeskRequest is the body of POST /api/admin/desk/bookings.
type DeskRequest struct {
	ResourceID string    `json:"resourceId"`
	StartsAt   time.Time `json:"startsAt"`
	Quantity   int       `json:"quantity"`
	Customer   Customer  `json:"customer"`
	// Payment is DeskPayVenue or DeskPayLink.
	Payment string `json:"payment"`
	// LinkHours is how long a payment link can be paid (1–24, default 24).
	LinkHours int `json:"linkHours"`
	// Note is kept on the booking for staff (optional).
	Note string `json:"note"`
}

// VenueStore records a booking paid at the venue.
type VenueStore interface {
	// CreatePaidHold inserts hold h (releasing lapsed holds in its way),
	// then applies decide's plan to it (the offline payment and the move
	// to confirmed) and stores seal(booking) as its key's answer, all in
	// one transaction. Errors: slot_unavailable.
	CreatePaidHold(ctx context.Context, h NewHold, decide func(*State) (Plan, error), seal func(*Booking) []byte) (*Booking, error)
}

// BookAtDesk books a slot for a customer on behalf of staff member by:
// paid at the venue (confirmed now) or through an emailed payment link.
// The customers' rules of notice and horizon are set aside (staff book a
// walk-in that starts now); the slot rules (opening hours, closed days,
// capacity, buffers, blocks) hold as for anyone. Errors: as CreateBooking.
func (s *Booker) BookAtDesk(ctx context.Context, req DeskRequest, idemKey string, by *Staff) (*Created, []byte, error) {
	v := ValidationError{}
	req.ResourceID = strings.TrimSpace(req.ResourceID)
	if !IsUUID(req.ResourceID) {
		v.Add("resourceId", "Must be the id of a resource.")
	}
	if req.StartsAt.IsZero() {
		v.Add("startsAt", "Required, as an RFC 3339 timestamp.")
	}
	req.Customer.Validate(v, "customer.")
	o := bookOpts{staff: true}
	switch req.Payment {
	case DeskPayVenue:
		o.venue = true
		if req.LinkHours != 0 {
			v.Add("linkHours", "Only for a payment link.")
		}
	case DeskPayLink:
		switch {
		case req.LinkHours == 0:
			req.LinkHours = MaxLinkHours
		case req.LinkHours < 1 || req.LinkHours > MaxLinkHours:
			v.Add("linkHours", "Must be between 1 and 24 hours.")
		}
		// The session's expires_at is the hold's end plus its grace: within
		// Stripe's 24 hours.
		o.hold = time.Duration(req.LinkHours)*time.Hour - 2*holdGrace
	default:
		v.Add("payment", `Must be "venue" (paid at the venue) or "link" (a payment link sent by email).`)
	}
	req.Note = strings.TrimSpace(req.Note)
	if len([]rune(req.Note)) > MaxNoteLength {
		v.Add("note", "Must be at most 2000 characters.")
	}
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	if s.Venue == nil && o.venue {
		return nil, nil, Errorf(EConflict, "Bookings paid at the venue are not available here.")
	}
	res, err := s.Store.FindResource(ctx, req.ResourceID)
	if err != nil {
		if ErrorCode(err) == ENotFound {
			return nil, nil, &Error{Code: EValidation, Message: "Some fields are invalid.", Fields: map[string]string{"resourceId": "No such resource."}}
		}
		return nil, nil, err
	}
	o.note, o.by = req.Note, by.ID
	if req.Payment == DeskPayLink {
		o.linkNotice = true
	}
	cause := Cause{Kind: CauseStaff, Ref: by.ID}
	return s.book(ctx, target{members: []*Resource{res}},
		CreateRequest{ResourceID: res.ID, StartsAt: req.StartsAt, Customer: req.Customer, Quantity: req.Quantity},
		idemKey, cause, o)
}

// bookAtVenue records hold h as paid at the venue.
func (s *Booker) bookAtVenue(ctx context.Context, h NewHold, token, idemKey string, by Cause, forget func()) (*Created, []byte, error) {
	var out *Created
	seal := func(b *Booking) []byte {
		out = &Created{Booking: b, CustomerToken: token}
		if idemKey == "" {
			return nil
		}
		answer, _ := json.Marshal(out)
		return sealAnswer(idemKey, answer)
	}
	b, err := s.Venue.CreatePaidHold(context.WithoutCancel(ctx), h,
		func(st *State) (Plan, error) { return DecidePaidAtVenue(st, by, h.Now) }, seal)
	if err != nil {
		forget()
		return nil, nil, err
	}
	out.Booking = b
	return out, nil, nil
}

// DecidePaidAtVenue confirms a hold made at the desk with the offline
// payment of its price, recorded by the staff user of cause by.
func DecidePaidAtVenue(st *State, by Cause, now time.Time) (Plan, error) {
	b := &st.Booking
	if b.Status != StatusPending || b.AmountPaid != 0 {
		return Plan{}, Errorf(EConflict, "Only a new hold can be paid at the venue; this booking is %s.", b.Status)
	}
	p := Plan{
		Detail:  "paid at the venue",
		Payment: &Payment{Amount: b.AmountTotal, Currency: b.Currency, Method: PaymentOffline, RecordedBy: by.Ref},
		Move:    &Move{To: StatusConfirmed, Cause: by},
	}
	return *st.finish(&p, now), nil
}
