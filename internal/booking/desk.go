package booking

import (
	"context"
	"log/slog"
	"time"
)

// DeskStore is what the staff desk reads and changes.
type DeskStore interface {
	ListBookings(ctx context.Context, f BookingFilter) ([]StaffBooking, error)
	// FindBookingDetail returns a booking with its money rows, audit trail
	// and ledger rows. Errors: not_found.
	FindBookingDetail(ctx context.Context, id string) (*BookingDetail, *State, error)
	ListPaymentEvents(ctx context.Context, f EventFilter) ([]LedgerEvent, error)
	BookingChanger
}

// CheckoutExpirer expires an open Checkout Session.
type CheckoutExpirer interface {
	ExpireCheckout(ctx context.Context, sessionID string) error
}

// Desk holds the staff flows on bookings: lists, the view of one booking,
// cancel and refund, and the review exits (SPEC §3.1 M4).
type Desk struct {
	Store   DeskStore
	Refunds *Refunds
	// Checkouts, when set, expires the Checkout Session of a booking staff
	// cancel before it is paid, so the customer can no longer pay it.
	Checkouts CheckoutExpirer
	Logger    *slog.Logger
	Now       func() time.Time
}

// Bookings returns one page of bookings: newest first, or in calendar
// order with a startsAt range (see BookingFilter). Errors: validation_failed.
func (d *Desk) Bookings(ctx context.Context, f BookingFilter) (*Page[StaffBooking], error) {
	v := ValidationError{}
	f.Validate(v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	limit := f.Limit
	f.Limit++
	items, err := d.Store.ListBookings(ctx, f)
	if err != nil {
		return nil, err
	}
	out := &Page[StaffBooking]{Items: items}
	if len(items) > limit {
		out.Items = items[:limit]
		last := out.Items[limit-1]
		out.NextCursor = f.CursorAfter(&last.Booking).Encode()
	}
	if out.Items == nil {
		out.Items = []StaffBooking{}
	}
	return out, nil
}

// Events returns one page of the webhook ledger, newest first.
// Errors: validation_failed.
func (d *Desk) Events(ctx context.Context, f EventFilter) (*Page[LedgerEvent], error) {
	v := ValidationError{}
	f.Validate(v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	limit := f.Limit
	f.Limit++
	items, err := d.Store.ListPaymentEvents(ctx, f)
	if err != nil {
		return nil, err
	}
	out := &Page[LedgerEvent]{Items: items}
	if len(items) > limit {
		out.Items = items[:limit]
		last := out.Items[limit-1]
		out.NextCursor = f.CursorAfter(&last).Encode()
	}
	if out.Items == nil {
		out.Items = []LedgerEvent{}
	}
	return out, nil
}

// Booking returns everything staff see about one booking, with the actions
// that apply to it now. Errors: not_found.
func (d *Desk) Booking(ctx context.Context, id string) (*BookingDetail, error) {
	if !IsUUID(id) {
		return nil, Errorf(ENotFound, "Booking not found.")
	}
	detail, st, err := d.Store.FindBookingDetail(ctx, id)
	if err != nil {
		return nil, err
	}
	detail.Actions = StaffActions(st)
	return detail, nil
}

// Cancel cancels a booking for a staff member, or refunds it:
//   - pending or awaiting payment → cancelled, its slot freed and its
//     Checkout Session expired where it still can be; a payment that still
//     arrives is refunded automatically (M2);
//   - confirmed, or under review, with money kept → a refund of what remains
//     of each payment, made now with an idempotency key per payment; the
//     booking becomes refunded (and frees its slot) once it is made (M3, M4);
//   - with a refund already owed → that refund is tried again now;
//   - cancelled by the customer late, with a fee retained → the fee is
//     given back (a refund of what remains), and the booking ends refunded.
//
// Errors: not_found, conflict (nothing to cancel or refund),
// payment_provider_error (the refund is owed and retried automatically),
// unavailable.
func (d *Desk) Cancel(ctx context.Context, id string, by *Staff) (*StaffBooking, error) {
	if !IsUUID(id) {
		return nil, Errorf(ENotFound, "Booking not found.")
	}
	cause := Cause{Kind: CauseStaff, Ref: by.ID}
	now := d.Now()
	st, err := d.Store.ChangeBooking(ctx, id, func(st *State) (Plan, error) { return DecideCancel(st, cause, now) })
	if err != nil {
		return nil, err
	}
	if st.Booking.Status == StatusCancelled && len(st.Payments) == 0 {
		expireCheckout(ctx, d.Checkouts, d.Logger, &st.Booking)
	}
	if len(st.Owed) > 0 {
		if err := d.Refunds.RunBooking(ctx, id); err != nil {
			return nil, WrapError(EPaymentProvider,
				"The payment provider did not accept the refund now. It is owed and retried automatically.", err)
		}
		if _, st, err = d.Store.FindBookingDetail(context.WithoutCancel(ctx), id); err != nil {
			return nil, err
		}
	}
	v := st.View()
	return &v, nil
}

// Accept resolves a booking under review by keeping its payment: it
// becomes confirmed, holding its slot (taking it back if it is free), and
// any refund owed for it is no longer made (M4).
// Errors: not_found, conflict (not under review, or nothing kept),
// slot_unavailable (another booking holds the slot), unavailable.
func (d *Desk) Accept(ctx context.Context, id string, by *Staff) (*StaffBooking, error) {
	if !IsUUID(id) {
		return nil, Errorf(ENotFound, "Booking not found.")
	}
	cause := Cause{Kind: CauseStaff, Ref: by.ID}
	now := d.Now()
	st, err := d.Store.ChangeBooking(ctx, id, func(st *State) (Plan, error) { return DecideAccept(st, cause, now) })
	if err != nil {
		if ErrorCode(err) == ESlotUnavailable {
			return nil, WrapError(ESlotUnavailable, "Another booking holds this slot now: refund this booking instead.", err)
		}
		return nil, err
	}
	v := st.View()
	return &v, nil
}

// expireCheckout closes the Checkout Session of a booking cancelled before
// payment, through ex when there is one. It is best effort: a session that
// completed meanwhile cannot be expired, and a payment that still arrives
// is refunded (M2).
func expireCheckout(ctx context.Context, ex CheckoutExpirer, log *slog.Logger, b *Booking) {
	if ex == nil || b.StripeSessionID == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := ex.ExpireCheckout(ctx, *b.StripeSessionID); err != nil {
		log.WarnContext(ctx, "could not expire the checkout session of a cancelled booking",
			"booking_id", b.ID, "session_id", *b.StripeSessionID, "err", err)
	}
}

// DecideCancel decides a staff cancellation (see Desk.Cancel).
func DecideCancel(st *State, by Cause, now time.Time) (Plan, error) {
	b := &st.Booking
	switch b.Status {
	case StatusPending, StatusAwaitingPayment:
		p := Plan{Detail: "cancelled", Move: &Move{To: StatusCancelled, Cause: by}}
		return *st.finish(&p, now), nil
	case StatusConfirmed, StatusNeedsReview:
		p := Plan{Detail: "refund requested"}
		p.Owe = refundsOfRemaining(st, RefundSourceStaff, by.Ref, now)
		p.Refunds = offlineRefunds(st, by.Ref)
		if len(p.Owe) == 0 && b.Kept()-sumRefunds(p.Refunds) <= 0 && len(st.Owed) == 0 {
			// Nothing is kept, or what was paid at the venue is handed back
			// now: no money remains to return.
			to := StatusCancelled
			if b.AmountPaid > 0 {
				to = StatusRefunded
			}
			p.Move, p.Detail = &Move{To: to, Cause: by}, "nothing to refund"
			if len(p.Refunds) > 0 {
				p.Detail = "refunded at the venue"
			}
		}
		return *st.finish(&p, now), nil
	}
	if len(st.Owed) > 0 {
		// A refund is owed already: the caller makes it now.
		return Plan{Detail: "refund owed"}, nil
	}
	if b.Kept() > 0 {
		// Money kept for a booking that will not happen, and no refund owed
		// for it (a refund staff accepted and then changed their mind about):
		// owe what remains.
		p := Plan{Detail: "refund requested", Owe: refundsOfRemaining(st, RefundSourceStaff, by.Ref, now),
			Refunds: offlineRefunds(st, by.Ref)}
		if len(p.Owe) == 0 && b.Kept()-sumRefunds(p.Refunds) <= 0 && b.Status == StatusCancelled && b.AmountPaid > 0 {
			p.Move = &Move{To: StatusRefunded, Cause: by}
		}
		return *st.finish(&p, now), nil
	}
	if b.AmountRetained > 0 {
		// The fee a late cancellation by the customer retained: staff give
		// it back, with whatever else remains of the payments.
		p := Plan{Detail: "fee refund requested", Retain: -b.AmountRetained,
			Owe: refundsOfRemaining(st, RefundSourceStaff, by.Ref, now), Refunds: offlineRefunds(st, by.Ref)}
		return *st.finish(&p, now), nil
	}
	if b.Status == StatusRefunded {
		return Plan{}, Errorf(EConflict, "This booking is refunded already.")
	}
	return Plan{}, Errorf(EConflict, "A booking in status %s cannot be cancelled.", b.Status)
}

// refundsOfRemaining owes back what remains of each payment of st that has
// no refund owed yet. Payments taken at the venue are not refunded through
// Stripe: see offlineRefunds.
func refundsOfRemaining(st *State, reason, by string, now time.Time) []RefundRequest {
	var out []RefundRequest
	for i := range st.Payments {
		p := &st.Payments[i]
		left := st.remaining(p)
		if left <= 0 || st.owedFor(p.ID) != nil || p.Offline() {
			continue
		}
		out = append(out, RefundRequest{PaymentID: p.ID, Amount: left, Currency: p.Currency, Reason: reason,
			IdempotencyKey: StaffRefundKey(p.ID), State: RequestOwed, NextAttemptAt: now, RequestedBy: by})
	}
	return out
}

// DecideAccept decides the accept exit of a review (see Desk.Accept).
func DecideAccept(st *State, by Cause, now time.Time) (Plan, error) {
	b := &st.Booking
	if b.Status != StatusNeedsReview {
		return Plan{}, Errorf(EConflict, "Only a booking that needs review can be accepted; this one is %s.", b.Status)
	}
	if b.Kept() <= 0 {
		return Plan{}, Errorf(EConflict, "No payment is kept for this booking: refund or cancel it instead.")
	}
	p := Plan{Detail: "payment accepted", Move: &Move{To: StatusConfirmed, Cause: by}}
	for _, r := range st.Owed {
		p.Requests = append(p.Requests, RequestUpdate{ID: r.ID, State: RequestCancelled})
	}
	return *st.finish(&p, now), nil
}

// offlineRefunds hands back what remains of each payment taken at the
// venue, recorded now by the staff user by (M2: a booking that will not
// happen keeps none of it; M3: never more than the payment, which the
// refunds_within_payment trigger checks again).
func offlineRefunds(st *State, by string) []Refund {
	var out []Refund
	for i := range st.Payments {
		p := &st.Payments[i]
		if !p.Offline() {
			continue
		}
		if left := st.remaining(p); left > 0 {
			out = append(out, Refund{PaymentID: p.ID, Amount: left, Currency: p.Currency, Source: RefundSourceStaff,
				Method: PaymentOffline, RecordedBy: by})
		}
	}
	return out
}

func sumRefunds(rs []Refund) int64 {
	var n int64
	for _, r := range rs {
		n += r.Amount
	}
	return n
}

// paidOffline reports whether any payment of st was taken at the venue.
func (st *State) paidOffline() bool {
	for i := range st.Payments {
		if st.Payments[i].Offline() {
			return true
		}
	}
	return false
}
