package booking

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
	"time"
)

// Customer self-service (docs/adr/0007): the holder of a booking's customer
// token may see what cancelling would refund, cancel, move the booking to
// another free slot of its resource at the same price, and download its
// calendar entry, within the resource's policy; staff may move a booking
// past the policy's cut-off. Every change is a Plan applied under the
// booking's lock, like every other change of a booking.

// CancelQuote is what cancelling a booking now would do, as the customer
// is shown it before confirming.
type CancelQuote struct {
	// Allowed says whether the customer may cancel the booking now.
	Allowed bool `json:"allowed"`
	// RefundAmount is what would be refunded, in minor units.
	RefundAmount int64 `json:"refundAmount"`
	// RetainedAmount is the late-cancellation fee the policy would keep.
	RetainedAmount int64  `json:"retainedAmount"`
	Currency       string `json:"currency"`
	// Reason says why, in a sentence for the customer.
	Reason string `json:"reason"`
	// FreeUntil is the last instant a cancellation refunds in full, for a
	// paid booking.
	FreeUntil *time.Time `json:"freeCancellationUntil,omitempty"`
}

// policyHours is n hours as a duration.
func policyHours(n int) time.Duration { return time.Duration(n) * time.Hour }

// openDispute reports whether a payment of the booking is disputed and the
// dispute still open: the provider refuses to refund it.
func (st *State) openDispute() bool {
	for _, d := range st.Disputes {
		if !d.Closed {
			return true
		}
	}
	return false
}

// refundBase is what a customer's cancellation can give back: what
// remains of each payment that no refund is owed for already (an extra
// payment being refunded automatically is not part of it), and what those
// payments were.
func refundBase(st *State) (base, paid int64) {
	for i := range st.Payments {
		p := &st.Payments[i]
		if st.owedFor(p.ID) != nil {
			continue
		}
		base += max(st.remaining(p), 0)
		paid += p.Amount
	}
	return min(base, max(st.Booking.Kept(), 0)), paid
}

// QuoteCancel says what cancelling the booking in st at now would do under
// resource r's policy:
//   - not after the start, and only a confirmed booking, or one not paid
//     yet (pending, awaiting payment: cancelled, nothing refunded);
//   - until CancelUntilHours before the start (that instant included): a
//     refund of everything kept;
//   - later: LateCancelRefundPercent of the amount paid, rounded down to
//     minor units (never more than is kept); the rest is retained as a fee.
func QuoteCancel(st *State, r *Resource, now time.Time) CancelQuote {
	b := &st.Booking
	q := CancelQuote{Currency: b.Currency}
	refuse := func(reason string) CancelQuote {
		q.Reason = reason
		return q
	}
	switch b.Status {
	case StatusCancelled, StatusRefunded:
		return refuse("This booking is cancelled already.")
	case StatusExpired, StatusPaymentFailed:
		return refuse("This booking was never paid and holds no time: there is nothing to cancel.")
	case StatusNeedsReview:
		return refuse("Our team is checking the payment of this booking: please contact us to cancel it.")
	}
	if !now.Before(b.StartsAt) {
		return refuse("This booking has started: it can no longer be cancelled online. Please contact us.")
	}
	if b.Status == StatusPending || b.Status == StatusAwaitingPayment {
		if b.AmountPaid > 0 {
			return refuse("The payment of this booking is being recorded: please try again in a minute.")
		}
		q.Allowed = true
		q.Reason = "Nothing has been paid for this booking: cancelling it releases the time and no payment is taken."
		return q
	}
	if st.openDispute() {
		return refuse("The payment of this booking is disputed with your bank: please contact us to cancel it.")
	}
	if st.paidOffline() {
		return refuse("This booking was paid at the venue: please contact us to cancel it and get your money back.")
	}
	base, paid := refundBase(st)
	cutoff := b.StartsAt.Add(-policyHours(r.CancelUntilHours))
	q.Allowed, q.FreeUntil = true, &cutoff
	if !now.After(cutoff) {
		q.RefundAmount = base
		q.Reason = "Free cancellation: everything you paid is refunded."
		if r.CancelUntilHours > 0 {
			q.Reason = fmt.Sprintf("Free cancellation until %s before the start: everything you paid is refunded.",
				hoursText(r.CancelUntilHours))
		}
		return q
	}
	pct := int64(max(min(r.LateCancelRefundPercent, 100), 0))
	q.RefundAmount = min(base, paid*pct/100)
	q.RetainedAmount = base - q.RefundAmount
	late := fmt.Sprintf("Free cancellation ended %s before the start", hoursText(r.CancelUntilHours))
	switch pct {
	case 0:
		q.Reason = late + ": under this booking's policy, nothing is refunded."
	case 100:
		q.Reason = late + ", but this booking's policy refunds everything you paid."
	default:
		q.Reason = fmt.Sprintf("%s: under this booking's policy, %d%% of the amount paid is refunded.", late, pct)
	}
	return q
}

// hoursText writes a number of hours for a sentence: "24 hours", "1 hour".
func hoursText(n int) string {
	if n == 1 {
		return "1 hour"
	}
	return fmt.Sprintf("%d hours", n)
}

// CustomerRefundKey is the idempotency key of the refund of payment
// paymentID a customer's cancellation owes (one per payment: a booking is
// cancelled once).
func CustomerRefundKey(paymentID int64) string {
	return fmt.Sprintf("customer-refund-%d", paymentID)
}

// DecideCustomerCancel decides a customer's cancellation, with the quote
// computed again under the lock. expected, when set, is the refund the
// customer confirmed: a different one (the cut-off passed meanwhile) is
// refused, so that nobody is refunded less than they agreed to.
//
// The booking becomes cancelled at once and frees its slot. A paid one
// owes the refund of the quote (made through the refund requests, like
// every refund) and keeps the fee as AmountRetained; it becomes refunded
// when the refund is made, and stays cancelled when nothing is to be
// refunded (a fee of 100%). Errors: conflict (not allowed now),
// quote_changed.
func DecideCustomerCancel(st *State, r *Resource, now time.Time, expected *int64, cause Cause) (Plan, error) {
	q := QuoteCancel(st, r, now)
	if !q.Allowed {
		return Plan{}, Errorf(EConflict, "%s", q.Reason)
	}
	if expected != nil && *expected != q.RefundAmount {
		return Plan{}, Errorf(EQuoteChanged,
			"The amount refunded on cancellation has changed since it was shown: review the new amount and confirm again.")
	}
	p := Plan{Detail: "cancelled by the customer", Move: &Move{To: StatusCancelled, Cause: cause}}
	if st.Booking.Status == StatusConfirmed {
		p.Retain = q.RetainedAmount
		p.Owe = customerRefunds(st, q.RefundAmount, now)
		if q.RefundAmount > 0 {
			p.Detail = "cancelled by the customer; refund requested"
		}
	}
	return *st.finish(&p, now), nil
}

// customerRefunds owes amount back from the payments of st that no refund
// is owed for yet, in order, each for at most what remains of it.
func customerRefunds(st *State, amount int64, now time.Time) []RefundRequest {
	var out []RefundRequest
	for i := range st.Payments {
		if amount <= 0 {
			break
		}
		p := &st.Payments[i]
		left := st.remaining(p)
		if left <= 0 || st.owedFor(p.ID) != nil {
			continue
		}
		a := min(left, amount)
		amount -= a
		out = append(out, RefundRequest{PaymentID: p.ID, Amount: a, Currency: p.Currency, Reason: RefundSourceCustomer,
			IdempotencyKey: CustomerRefundKey(p.ID), State: RequestOwed, NextAttemptAt: now, RequestedBy: "customer"})
	}
	return out
}

// RescheduleCheck says whether the booking in st may be moved at now under
// r's policy; override (staff) sets the cut-off aside. It returns the
// reason when not, as a sentence, and the note to audit when a rule was set
// aside.
func RescheduleCheck(st *State, r *Resource, now time.Time, override bool) (ok bool, reason, note string) {
	b := &st.Booking
	if b.Status != StatusConfirmed {
		return false, "Only a confirmed booking can be moved.", ""
	}
	if !now.Before(b.StartsAt) {
		return false, "This booking has started: it can no longer be moved.", ""
	}
	if cutoff := b.StartsAt.Add(-policyHours(r.RescheduleUntilHours)); now.After(cutoff) {
		if !override {
			return false, fmt.Sprintf("Bookings can be moved until %s before they start: please contact us.",
				hoursText(r.RescheduleUntilHours)), ""
		}
		note = "cut-off overridden"
	}
	if !r.Active {
		return false, "This resource no longer takes bookings: the booking cannot be moved.", ""
	}
	return true, "", note
}

// DecideReschedule decides moving the booking in st to the slot of r that
// starts at startsAt: a free slot on the resource's grid, in the future,
// at the price paid, within the policy (RescheduleCheck). The plan changes
// the same booking's times in one update under the no-overlap constraint
// (slot_unavailable when it is taken: the booking keeps its slot) and
// raises its calendar sequence; its payment is kept. Errors: conflict (not
// allowed now), price_changed, validation_failed (not a slot, in the past,
// the current one).
func DecideReschedule(st *State, r *Resource, startsAt, now time.Time, by Cause, override bool) (Plan, error) {
	b := &st.Booking
	if r.ID != b.ResourceID {
		return Plan{}, fmt.Errorf("reschedule booking %s: resource %s is not its own", b.ID, r.ID)
	}
	ok, reason, note := RescheduleCheck(st, r, now, override)
	if !ok {
		return Plan{}, Errorf(EConflict, "%s", reason)
	}
	if r.PriceAmount != b.AmountTotal || r.Currency != b.Currency {
		return Plan{}, Errorf(EPriceChanged,
			"The price of this resource has changed since the booking was made, so it cannot be moved online: please contact us.")
	}
	v := ValidationError{}
	slot, onGrid := r.SlotAt(startsAt.UTC())
	switch {
	case startsAt.IsZero():
		v.Add("startsAt", "Required, as an RFC 3339 timestamp.")
	case !onGrid:
		v.Add("startsAt", "Not a slot of this resource: pick a start time from its availability.")
	case !slot.StartsAt.After(now):
		v.Add("startsAt", "Must be in the future.")
	case slot.StartsAt.Equal(b.StartsAt):
		v.Add("startsAt", "This is the booking's time already.")
	}
	if err := v.Err(); err != nil {
		return Plan{}, err
	}
	p := Plan{Detail: "rescheduled", Reschedule: &Reschedule{StartsAt: slot.StartsAt, EndsAt: slot.EndsAt, Cause: by,
		Note: note, ReleaseLapsed: now}}
	return *st.finish(&p, now), nil
}

// CheckoutCancelKey is the key of a booking's abandoned-checkout link (the
// Checkout Session's cancel_url): derived from the hash of its customer
// token, which only the database holds, so that the link cancels that
// booking's hold and nothing else, and the customer token itself never
// goes to the payment provider.
func CheckoutCancelKey(tokenHash []byte) string {
	m := hmac.New(sha256.New, tokenHash)
	m.Write([]byte("checkout-cancel"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// CalendarMethod says which calendar file a booking gets: an invitation
// (REQUEST) at its sequence while it is confirmed, a cancellation (CANCEL)
// at the next sequence once a confirmed booking was cancelled or refunded;
// ok is false for a booking that was never confirmed (nothing to put in a
// calendar).
func CalendarMethod(b *Booking) (cancel bool, sequence int, ok bool) {
	switch {
	case b.Status == StatusConfirmed:
		return false, b.Sequence, true
	case (b.Status == StatusCancelled || b.Status == StatusRefunded) && b.AmountPaid > 0:
		return true, b.Sequence + 1, true
	}
	return false, 0, false
}

// tokenStore finds a booking with what opens it: its customer token, or a
// token sent in one of its messages.
type tokenStore interface {
	// FindBookingWithToken returns a booking and the hash of its customer
	// token. Errors: not_found.
	FindBookingWithToken(ctx context.Context, id string) (*Booking, []byte, error)
	// ManageTokenValid reports whether a token sent in a message (its
	// hash) opens booking id.
	ManageTokenValid(ctx context.Context, id string, hash []byte) (bool, error)
}

// SelfServiceStore is what the self-service flows need from the database.
type SelfServiceStore interface {
	tokenStore
	FindResource(ctx context.Context, id string) (*Resource, error)
	// FindState returns a booking with its money, not locked. Errors: not_found.
	FindState(ctx context.Context, id string) (*State, error)
	BookingChanger
}

// SelfService holds the flows of the customer's own booking page and their
// staff counterpart (rescheduling on the customer's behalf).
type SelfService struct {
	Store   SelfServiceStore
	Refunds *Refunds
	// Checkouts, when set, expires the Checkout Session of a booking
	// cancelled before it was paid.
	Checkouts CheckoutExpirer
	Logger    *slog.Logger
	Now       func() time.Time
}

// ManageView is what the customer's booking page shows.
type ManageView struct {
	Booking  *Booking
	Resource *Resource
	Quote    CancelQuote
	// CanReschedule says whether the booking may be moved now, and
	// RescheduleReason why not.
	CanReschedule    bool
	RescheduleReason string
	// RescheduleUntil is the last instant the booking may be moved.
	RescheduleUntil time.Time
}

// notFound is the one answer to an unknown booking and a wrong token.
func notFound() *Error { return Errorf(ENotFound, "Booking not found.") }

// bookingWithToken returns booking id to the holder of its customer token
// (compared in constant time) or of a token sent in one of its messages,
// as Booker.GetBooking does. Errors: not_found (unknown id or wrong token,
// the same answer).
func bookingWithToken(ctx context.Context, store tokenStore, id, token string) (*Booking, error) {
	if !IsUUID(id) || token == "" || len(token) > 100 {
		return nil, notFound()
	}
	b, hash, err := store.FindBookingWithToken(ctx, id)
	if err != nil {
		if ErrorCode(err) == ENotFound {
			return nil, notFound()
		}
		return nil, err
	}
	if subtle.ConstantTimeCompare(hash, HashToken(token)) != 1 {
		ok, err := store.ManageTokenValid(ctx, id, HashToken(token))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, notFound()
		}
	}
	return b, nil
}

// open returns the booking of a token with its resource.
func (s *SelfService) open(ctx context.Context, id, token string) (*Booking, *Resource, error) {
	b, err := bookingWithToken(ctx, s.Store, id, token)
	if err != nil {
		return nil, nil, err
	}
	r, err := s.Store.FindResource(ctx, b.ResourceID)
	if err != nil {
		return nil, nil, err
	}
	return b, r, nil
}

// View returns what the customer's booking page shows: the booking, its
// resource, the cancellation quote and whether it may be moved.
// Errors: not_found.
func (s *SelfService) View(ctx context.Context, id, token string) (*ManageView, error) {
	_, r, err := s.open(ctx, id, token)
	if err != nil {
		return nil, err
	}
	st, err := s.Store.FindState(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	ok, reason, _ := RescheduleCheck(st, r, now, false)
	if ok && (r.PriceAmount != st.Booking.AmountTotal || r.Currency != st.Booking.Currency) {
		ok, reason = false, "The price of this resource has changed since the booking was made, so it cannot be moved online: please contact us."
	}
	return &ManageView{Booking: &st.Booking, Resource: r, Quote: QuoteCancel(st, r, now), CanReschedule: ok,
		RescheduleReason: reason, RescheduleUntil: st.Booking.StartsAt.Add(-policyHours(r.RescheduleUntilHours))}, nil
}

// Quote returns what cancelling the booking now would refund.
// Errors: not_found.
func (s *SelfService) Quote(ctx context.Context, id, token string) (*CancelQuote, error) {
	v, err := s.View(ctx, id, token)
	if err != nil {
		return nil, err
	}
	return &v.Quote, nil
}

// Cancelled is the answer to a customer's cancellation.
type Cancelled struct {
	Booking *Booking `json:"booking"`
	// RefundAmount is what is refunded; RefundPending says the refund is
	// owed and retried automatically (the payment provider did not take it
	// now).
	RefundAmount   int64  `json:"refundAmount"`
	RetainedAmount int64  `json:"retainedAmount"`
	Currency       string `json:"currency"`
	RefundPending  bool   `json:"refundPending"`
}

// Cancel cancels a booking for the holder of its token (DecideCustomerCancel):
// its slot is free at once; an unpaid one's Checkout Session is expired
// where it still can be; a paid one's refund is made now through the
// refund requests, or, if the payment provider does not take it now, owed
// and retried automatically (the cancellation stands either way).
// Errors: not_found, conflict, quote_changed, unavailable.
func (s *SelfService) Cancel(ctx context.Context, id, token string, expected *int64, cause Cause) (*Cancelled, error) {
	_, r, err := s.open(ctx, id, token)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	var q CancelQuote
	st, err := s.Store.ChangeBooking(ctx, id, func(st *State) (Plan, error) {
		q = QuoteCancel(st, r, now)
		return DecideCustomerCancel(st, r, now, expected, cause)
	})
	if err != nil {
		return nil, err
	}
	if len(st.Payments) == 0 {
		expireCheckout(ctx, s.Checkouts, s.Logger, &st.Booking)
	}
	out := &Cancelled{RefundAmount: q.RefundAmount, RetainedAmount: q.RetainedAmount, Currency: q.Currency}
	if len(st.Owed) > 0 && s.Refunds != nil {
		if err := s.Refunds.RunBooking(ctx, id); err != nil {
			s.Logger.WarnContext(ctx, "customer cancellation: refund not made now; owed and retried automatically",
				"booking_id", id, "err", err)
		}
		if st, err = s.Store.FindState(context.WithoutCancel(ctx), id); err != nil {
			return nil, err
		}
	}
	out.RefundPending = len(st.Owed) > 0
	out.Booking = &st.Booking
	return out, nil
}

// Reschedule moves a booking for the holder of its token
// (DecideReschedule). Errors: not_found, conflict, price_changed,
// validation_failed, slot_unavailable (the slot was just taken: the
// booking keeps its own), unavailable.
func (s *SelfService) Reschedule(ctx context.Context, id, token string, startsAt time.Time, cause Cause) (*Booking, error) {
	_, r, err := s.open(ctx, id, token)
	if err != nil {
		return nil, err
	}
	st, err := s.reschedule(ctx, id, r, startsAt, cause, false)
	if err != nil {
		return nil, err
	}
	return &st.Booking, nil
}

// StaffReschedule moves a booking for a staff member, with the customer's
// rules; override sets the policy's cut-off aside (audited with the staff
// member). Errors: as Reschedule.
func (s *SelfService) StaffReschedule(ctx context.Context, id string, startsAt time.Time, override bool, by *Staff) (*StaffBooking, error) {
	cur, err := s.Store.FindState(ctx, id)
	if err != nil {
		return nil, err
	}
	r, err := s.Store.FindResource(ctx, cur.Booking.ResourceID)
	if err != nil {
		return nil, err
	}
	st, err := s.reschedule(ctx, id, r, startsAt, Cause{Kind: CauseStaff, Ref: by.ID}, override)
	if err != nil {
		return nil, err
	}
	v := st.View()
	return &v, nil
}

func (s *SelfService) reschedule(ctx context.Context, id string, r *Resource, startsAt time.Time, cause Cause, override bool) (*State, error) {
	now := s.Now()
	st, err := s.Store.ChangeBooking(ctx, id, func(st *State) (Plan, error) {
		return DecideReschedule(st, r, startsAt, now, cause, override)
	})
	if ErrorCode(err) == ESlotUnavailable {
		return nil, WrapError(ESlotUnavailable, "This time was just taken: your booking keeps its time. Please pick another.", err)
	}
	return st, err
}

// Calendar returns a booking and its resource for its calendar file, to
// the holder of its token (see CalendarMethod). Errors: not_found.
func (s *SelfService) Calendar(ctx context.Context, id, token string) (*Booking, *Resource, error) {
	return s.open(ctx, id, token)
}

// AbandonCheckout cancels the hold of a booking whose customer left the
// checkout (the Checkout Session's cancel_url, with the booking's
// CheckoutCancelKey), so that its slot is free at once rather than when
// the hold lapses, and expires its Checkout Session (best effort: a
// payment that still arrives is refunded, M2). A booking that is no
// longer pending is left as it is. It returns the booking.
// Errors: not_found (unknown booking or wrong key).
func (s *SelfService) AbandonCheckout(ctx context.Context, id, key string) (*Booking, error) {
	if !IsUUID(id) || key == "" || len(key) > 100 {
		return nil, notFound()
	}
	b, hash, err := s.Store.FindBookingWithToken(ctx, id)
	if err != nil {
		if ErrorCode(err) == ENotFound {
			return nil, notFound()
		}
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(key), []byte(CheckoutCancelKey(hash))) != 1 {
		return nil, notFound()
	}
	if b.Status != StatusPending {
		return b, nil
	}
	now := s.Now()
	cause := Cause{Kind: CauseAPI, Ref: "checkout_abandoned"}
	st, err := s.Store.ChangeBooking(ctx, id, func(st *State) (Plan, error) {
		if st.Booking.Status != StatusPending || st.Booking.AmountPaid > 0 {
			return Plan{}, nil
		}
		p := Plan{Detail: "checkout abandoned", Move: &Move{To: StatusCancelled, Cause: cause}}
		return *st.finish(&p, now), nil
	})
	if err != nil {
		return nil, err
	}
	if st.Booking.Status == StatusCancelled && len(st.Payments) == 0 {
		expireCheckout(ctx, s.Checkouts, s.Logger, &st.Booking)
	}
	return &st.Booking, nil
}
