package booking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ProviderRefund asks the payment provider to refund part or all of a payment.
type ProviderRefund struct {
	BookingID       string
	PaymentIntentID string
	Amount          int64
	Currency        string
	// IdempotencyKey makes a retried refund return the first one.
	IdempotencyKey string
}

// ErrRefused marks an error of the payment provider that answered and
// refused the request (as opposed to one that could not be reached, whose
// outcome is unknown): a refused refund is asked again under a new
// idempotency key, since the old one would replay the refusal.
var ErrRefused = errors.New("refused by the payment provider")

// Refunder refunds payments (Stripe, or demo payments).
type Refunder interface {
	// Refund refunds a payment; the same IdempotencyKey yields the same refund.
	Refund(ctx context.Context, req ProviderRefund) (*Refund, error)
}

// RefundClaim selects owed refund requests to make now. Each claimed
// request is leased until Now+Lease, so that replicas never make one at the
// same time (the idempotency key would make a second call harmless anyway).
type RefundClaim struct {
	Now   time.Time
	Lease time.Duration
	Limit int
	// BookingID, when set, claims that booking's owed requests whether or
	// not they are due, unless another replica holds their lease.
	BookingID string
}

// RefundStore is what making refunds needs from the database.
type RefundStore interface {
	// ClaimRefunds leases owed refund requests, each with what remains of
	// its payment and the payment's PaymentIntent.
	ClaimRefunds(ctx context.Context, c RefundClaim) ([]RefundRequest, error)
	BookingChanger
}

// BookingChanger locks a booking with its money, asks decide for a plan and
// applies it in one transaction, returning the booking's state afterwards.
// Errors: not_found, slot_unavailable (a plan that takes a slot held by
// another booking), those of decide, unavailable.
type BookingChanger interface {
	ChangeBooking(ctx context.Context, bookingID string, decide func(st *State) (Plan, error)) (*State, error)
}

// Refund retry schedule: the delay after the n-th failed attempt, and the
// number of failures after which the booking is flagged for review (M2).
// Attempts go on, every six hours at most, until the provider accepts or
// staff decide.
var refundBackoff = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour}

// RefundReviewAfter is how many failed attempts flag a booking for review.
const RefundReviewAfter = 5

// refundLease is how long a claimed refund request is left to one maker.
const refundLease = 2 * time.Minute

// refundCallTimeout bounds one call to the payment provider and its record.
const refundCallTimeout = 20 * time.Second

func backoff(attempts int) time.Duration {
	if attempts < 1 {
		attempts = 1
	}
	return refundBackoff[min(attempts, len(refundBackoff))-1]
}

// Refunds makes the refunds the product owes (SPEC §3.1 M2, M3): each
// through the payment provider with its request's idempotency key, for what
// remains of the payment, retried with backoff until the provider accepts.
type Refunds struct {
	Store    RefundStore
	Provider Refunder // nil: owed refunds wait
	Logger   *slog.Logger
	Now      func() time.Time
	kick     chan struct{}
}

// Kick wakes Run: a refund became owed. It never blocks.
func (q *Refunds) Kick() {
	if q == nil || q.kick == nil {
		return
	}
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// Run makes due refunds when kicked and every interval until ctx is done.
func (q *Refunds) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-q.kick:
		}
		if n, err := q.RunDue(ctx); err != nil && ctx.Err() == nil {
			q.Logger.WarnContext(ctx, "refunds: claim failed", "err", err)
		} else if n > 0 {
			q.Logger.InfoContext(ctx, "refunds made", "count", n)
		}
	}
}

// NewRefunds returns a refund maker whose Run can be kicked.
func NewRefunds(store RefundStore, provider Refunder, log *slog.Logger, now func() time.Time) *Refunds {
	return &Refunds{Store: store, Provider: provider, Logger: log, Now: now, kick: make(chan struct{}, 1)}
}

// RunDue makes every refund that is due, in batches, and returns how many
// the provider accepted. Errors: unavailable (claiming).
func (q *Refunds) RunDue(ctx context.Context) (int, error) {
	if q.Provider == nil {
		return 0, nil
	}
	made := 0
	for {
		reqs, err := q.Store.ClaimRefunds(ctx, RefundClaim{Now: q.Now(), Lease: refundLease, Limit: 20})
		if err != nil {
			return made, err
		}
		for _, r := range reqs {
			if q.make(ctx, r) == nil {
				made++
			}
		}
		if len(reqs) < 20 || ctx.Err() != nil {
			return made, ctx.Err()
		}
	}
}

// RunBooking makes the owed refunds of one booking now and returns the
// first error of the provider. Errors: payment_provider_error, unavailable.
func (q *Refunds) RunBooking(ctx context.Context, bookingID string) error {
	if q.Provider == nil {
		return Errorf(EPaymentProvider, "Refunds are not available: no payment provider is configured.")
	}
	reqs, err := q.Store.ClaimRefunds(ctx, RefundClaim{Now: q.Now(), Lease: refundLease, Limit: 10, BookingID: bookingID})
	if err != nil {
		return err
	}
	var first error
	for _, r := range reqs {
		if err := q.make(ctx, r); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// make makes one claimed refund request and records what happened. The
// money may move at the provider whatever happens to the caller, so the
// call and its record run on a context of their own.
func (q *Refunds) make(ctx context.Context, req RefundRequest) error {
	log := q.Logger.With("booking_id", req.BookingID, "refund_request", req.ID, "payment_id", req.PaymentID)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refundCallTimeout)
	defer cancel()
	made, callErr := q.call(ctx, req)
	if callErr != nil {
		// Refused, maybe because the payment was refunded in part or in full
		// elsewhere and its event has not arrived: learn what the provider
		// refunded so far, and ask again for what truly remains.
		if left, refundable, ok := q.learn(ctx, req, log); ok {
			req.Remaining, req.Refundable = left, refundable
			made, callErr = q.call(ctx, req)
		}
	}
	now := q.Now()
	_, err := q.Store.ChangeBooking(ctx, req.BookingID, func(st *State) (Plan, error) {
		return DecideRefundMade(st, req, made, callErr, now), nil
	})
	switch {
	case err != nil && made != nil:
		log.ErrorContext(ctx, "refund made but not recorded; it is recorded from its charge.refunded event, or on the next attempt (same idempotency key)",
			"refund_id", made.ID, "err", err)
		return err
	case err != nil:
		log.ErrorContext(ctx, "refund attempt not recorded", "err", err)
		return err
	case callErr != nil:
		log.WarnContext(ctx, "refund attempt failed; will retry", "attempt", req.Attempts+1, "err", callErr)
		return callErr
	case made != nil:
		log.InfoContext(ctx, "refund made", "refund_id", made.ID, "amount", made.Amount, "currency", made.Currency, "reason", req.Reason)
	}
	return nil
}

// call asks the provider to refund what the request asks of its payment
// (nothing when nothing is left to ask).
func (q *Refunds) call(ctx context.Context, req RefundRequest) (*Refund, error) {
	amount := req.asked()
	if amount <= 0 {
		return nil, nil
	}
	made, err := q.Provider.Refund(ctx, ProviderRefund{
		BookingID: req.BookingID, PaymentIntentID: req.PaymentIntentID, Amount: amount, Currency: req.Currency,
		IdempotencyKey: refundCallKey(req),
	})
	if err != nil && ErrorCode(err) == EInternal {
		err = WrapError(EPaymentProvider, "The payment provider did not accept the refund.", err)
	}
	return made, err
}

// learn reads from the provider what it refunded of the request's payment,
// and how its dispute ended, and records what the product did not know yet
// (as the charge.refunded or charge.dispute.closed event it missed would).
// It returns what remains of the payment afterwards and what the booking
// may still give back, and whether anything was learnt.
func (q *Refunds) learn(ctx context.Context, req RefundRequest, log *slog.Logger) (int64, int64, bool) {
	reader, ok := q.Provider.(ChargeReader)
	if !ok || req.PaymentIntentID == "" {
		return 0, 0, false
	}
	cs, err := reader.Charge(ctx, req.PaymentIntentID)
	if err != nil {
		log.WarnContext(ctx, "could not read the charge of a refused refund", "err", err)
		return 0, 0, false
	}
	learnt := false
	now := q.Now()
	st, err := q.Store.ChangeBooking(ctx, req.BookingID, func(st *State) (Plan, error) {
		p := DecideChargeState(st, req.PaymentID, cs, now)
		learnt = len(p.Refunds) > 0 || p.Closure != nil
		return p, nil
	})
	if err != nil {
		log.ErrorContext(ctx, "could not record the refunds read from the provider", "err", err)
		return 0, 0, false
	}
	if !learnt {
		return 0, 0, false
	}
	for i := range st.Payments {
		if st.Payments[i].ID == req.PaymentID {
			left := st.remaining(&st.Payments[i])
			log.InfoContext(ctx, "refunds or dispute learnt from the provider", "amount_refunded", cs.AmountRefunded,
				"remaining", left)
			return left, st.Booking.Kept(), true
		}
	}
	return 0, 0, false
}

// ChargeReader reads a payment's charge from the provider: what it
// refunded so far and its dispute, whatever events the product received.
type ChargeReader interface {
	Charge(ctx context.Context, paymentIntentID string) (*ChargeState, error)
}

// ChargeState is a charge as the provider sees it now.
type ChargeState struct {
	ChargeID       string
	Amount         int64
	AmountRefunded int64
	Currency       string
	// Dispute is the charge's dispute, if it has one.
	Dispute *ChargeDispute
}

// ChargeDispute is a charge's dispute as the payment provider reports it.
type ChargeDispute struct {
	ID       string
	Amount   int64
	Currency string
	Reason   string
	Status   string // needs_response, under_review, won, lost, warning_closed, …
}

// closed reports whether the dispute has ended.
func (d *ChargeDispute) closed() bool {
	switch d.Status {
	case "won", "lost", "warning_closed":
		return true
	}
	return false
}

// DecideChargeState records, against payment paymentID, the refunds the
// provider reports that the product did not know of: the difference between
// its cumulative refunded amount and the refunds recorded, under the id a
// charge.refunded event without its list would give them, so that the
// event, when it arrives, adds nothing. A payment refunded in full settles
// its owed refund, and a booking with everything refunded becomes refunded.
func DecideChargeState(st *State, paymentID int64, cs *ChargeState, now time.Time) Plan {
	var pay *Payment
	for i := range st.Payments {
		if st.Payments[i].ID == paymentID {
			pay = &st.Payments[i]
		}
	}
	if pay == nil || !strings.EqualFold(cs.Currency, pay.Currency) {
		return Plan{}
	}
	// A dispute the provider reports closed that the product still holds
	// open (or never heard of): its close event was lost. Recorded as that
	// event would be; a lost one withdraws the money, which settles what
	// is owed of it.
	var p Plan
	if d := cs.Dispute; d != nil && d.closed() && !st.disputeClosed(d.ID) {
		ev := &PaymentEvent{ID: fmt.Sprintf("%s:%s", d.ID, d.Status), Type: EventDisputeClosed,
			PaymentIntentID: pay.PaymentIntentID,
			Money: MoneyFacts{ChargeID: cs.ChargeID, DisputeID: d.ID, DisputeAmount: d.Amount, DisputeReason: d.Reason,
				DisputeStatus: d.Status, Currency: d.Currency}}
		p = decideDispute(st, ev)
		p.Detail = "read from the payment provider: " + p.Detail
	}
	// What the provider refunded is recorded up to the payment, whatever a
	// lost dispute took back (see decideRefunded).
	delta := min(cs.AmountRefunded-st.refunded(pay.ID), pay.Amount-st.refunded(pay.ID))
	left := st.remaining(pay)
	if p.Closure != nil {
		left -= p.Closure.Withdrawn
	}
	if delta <= 0 {
		if p.Outcome == "" {
			return Plan{}
		}
		return *st.finish(&p, now)
	}
	p.Outcome = OutcomeProcessed
	p.Detail = joinDetail(p.Detail, "refunds read from the payment provider")
	p.Refunds = append(p.Refunds, Refund{ID: fmt.Sprintf("%s:refunded:%d", cs.ChargeID, cs.AmountRefunded), PaymentID: pay.ID,
		Amount: delta, Currency: pay.Currency, Source: RefundSourceProvider})
	if left <= delta {
		if r := st.owedFor(pay.ID); r != nil && !slices.ContainsFunc(p.Requests, func(u RequestUpdate) bool { return u.ID == r.ID }) {
			p.Requests = append(p.Requests, RequestUpdate{ID: r.ID, State: RequestDone})
		}
	}
	b := &st.Booking
	if b.settledBy(b.AmountRefunded+delta) && b.Status != StatusRefunded {
		p.Move = &Move{To: StatusRefunded, Cause: Cause{Kind: CauseSys, Ref: "provider_refunds"}}
	}
	return *st.finish(&p, now)
}

// refundCallKey is the provider idempotency key of one call: the request's
// key and the amount asked, so that a retry after an unknown outcome asks for
// the same refund, a request made smaller by a refund recorded meanwhile asks
// for a new one, and one asked again after a refusal is a new request.
func refundCallKey(req RefundRequest) string {
	key := req.IdempotencyKey + "-" + strconv.FormatInt(req.asked(), 10)
	if req.Refusals > 0 {
		key += "-r" + strconv.Itoa(req.Refusals)
	}
	return key
}

// DecideRefundMade records the result of one attempt at an owed refund:
// the refund the provider made (recorded once, never above what remains of
// the payment), or the failure, retried later with backoff; after
// RefundReviewAfter failures the booking is flagged for review, keeping its
// slot if it held one. A full refund of what was paid makes the booking
// refunded and frees its slot (M3).
func DecideRefundMade(st *State, req RefundRequest, made *Refund, callErr error, now time.Time) Plan {
	b := &st.Booking
	var owed *RefundRequest
	for i := range st.Owed {
		if st.Owed[i].ID == req.ID {
			owed = &st.Owed[i]
		}
	}
	p := Plan{Outcome: OutcomeProcessed}
	cause := requestCause(req)
	if made == nil && callErr == nil {
		// Nothing remained of the payment: covered by refunds recorded meanwhile.
		if owed != nil {
			p.Requests = append(p.Requests, RequestUpdate{ID: req.ID, State: RequestDone})
		}
		p.Detail = "nothing left to refund"
		return *st.finish(&p, now)
	}
	if callErr != nil {
		if owed == nil {
			p.Detail = "refund no longer owed"
			return *st.finish(&p, now)
		}
		attempts := owed.Attempts + 1
		msg := safeMessage(callErr)
		p.Outcome, p.Detail = OutcomeNeedsReview, "refund attempt failed: "+msg
		refusals := owed.Refusals
		if errors.Is(callErr, ErrRefused) {
			refusals++ // the next attempt asks anew
		}
		p.Requests = append(p.Requests, RequestUpdate{ID: req.ID, State: RequestOwed, Attempts: attempts, Refusals: refusals,
			NextAttemptAt: now.Add(backoff(attempts)), LastError: msg})
		// Stripe refuses to refund a disputed charge: staff decide at once.
		disputed := false
		for _, d := range st.Disputes {
			disputed = disputed || (d.PaymentID == req.PaymentID && d.Status != "won")
		}
		if (attempts >= RefundReviewAfter || disputed) && b.Status != StatusNeedsReview && b.Status != StatusRefunded {
			reason := ReasonRefundFailing + ": " + msg
			if disputed {
				reason = ReasonRefundFailing + " (the payment is disputed): " + msg
			}
			p.Move = &Move{To: StatusNeedsReview, HoldsSlot: b.HoldsSlot, Reason: reason, Cause: cause}
		}
		return *st.finish(&p, now)
	}
	known := false
	for _, r := range st.Refunds {
		known = known || r.ID == made.ID
	}
	var pay *Payment
	for i := range st.Payments {
		if st.Payments[i].ID == req.PaymentID {
			pay = &st.Payments[i]
		}
	}
	var added int64
	if !known && pay != nil && made.Amount > 0 && made.Amount <= st.remaining(pay) {
		p.Refunds = []Refund{{ID: made.ID, PaymentID: pay.ID, Amount: made.Amount, Currency: pay.Currency, Source: req.Reason}}
		added = made.Amount
	}
	// else: the refund was recorded already, or its charge.refunded event
	// recorded the same money under the charge's cumulative id.
	if owed != nil {
		p.Requests = append(p.Requests, RequestUpdate{ID: req.ID, State: RequestDone, StripeRefundID: made.ID})
	}
	if b.settledBy(b.AmountRefunded+added) && b.Status != StatusRefunded {
		p.Move = &Move{To: StatusRefunded, Cause: cause}
	}
	p.Detail = "refunded " + formatMoney(made.Amount, made.Currency)
	return *st.finish(&p, now)
}

// requestCause is who a refund request acts for, for the audit trail.
func requestCause(req RefundRequest) Cause {
	switch {
	case req.Reason == RefundSourceStaff && req.RequestedBy != "":
		return Cause{Kind: CauseStaff, Ref: req.RequestedBy}
	case req.Reason == RefundSourceCustomer:
		return Cause{Kind: CauseAPI, Ref: "customer"}
	}
	return Cause{Kind: CauseSys, Ref: "auto_refund"}
}

// safeMessage is an error's client-safe message, for staff views: the
// message of a booking error, with its cause when the payment provider gave
// one, cut to a readable length.
func safeMessage(err error) string {
	msg := err.Error()
	var e *Error
	if errors.As(err, &e) {
		msg = e.Message
		if e.Err != nil {
			msg += " (" + e.Err.Error() + ")"
		}
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg
}
