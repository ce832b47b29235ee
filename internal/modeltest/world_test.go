package modeltest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/stripe/stripe-go/v85"

	"github.com/bookingplatform/booking/internal/booking"
)

// world is Stripe as the product sees it: Checkout Sessions, charges with
// their refunds and disputes, the events those raise (queued until the test
// delivers them), and the Refunds API with idempotency keys, refusals of
// over-refunds and outages. It is the product's payment provider in the
// model test, and it keeps the truth the product's records are checked
// against: no refund the product did not ask for, none above a payment.
type world struct {
	mu  sync.Mutex
	now func() time.Time

	tag       string               // in every id, so that histories can share a database
	sessions  map[string]*wSession // by session id
	byBooking map[string]*wSession
	charges   map[string]*wCharge // by PaymentIntent
	queue     []*wEvent           // raised, not delivered yet
	seq       int

	// listRefunds: charge.refunded payloads carry refunds.data (older API
	// versions); otherwise only amount_refunded, as today's.
	listRefunds bool
	// down makes refunds fail as if Stripe were unreachable.
	down bool

	calls   []refundCall           // every refund call, in order
	keys    map[string]*refundCall // idempotency key → first call
	expired map[string]bool        // sessions expired through the API
	bad     []string               // misuses of the API by the product
}

type wSession struct {
	id, bookingID string
	amount        int64
	currency      string
	expiresAt     time.Time
	status        string // open, complete, expired
	payStatus     string // unpaid, paid
	pi            string
	asyncPending  bool // completed unpaid, waiting for the async result
}

type wCharge struct {
	id, pi    string
	amount    int64
	currency  string
	refunds   []wRefund
	disputes  map[string]string // id → status
	disputeAt []string          // ids in creation order
}

type wRefund struct {
	id     string
	amount int64
}

// disputed reports whether the charge has a dispute that is open or lost:
// Stripe refuses to refund it.
func (c *wCharge) disputed() bool {
	for _, st := range c.disputes {
		if st != "won" {
			return true
		}
	}
	return false
}

func (c *wCharge) refunded() int64 {
	var n int64
	for _, r := range c.refunds {
		n += r.amount
	}
	return n
}

// wEvent is a raised event: its payload as Stripe sends it and what the
// reference model reads from it.
type wEvent struct {
	id      string
	typ     string
	payload []byte
	// The facts, for the model.
	session     string
	pi          string
	payStatus   string
	amount      int64
	currency    string
	cumulative  int64
	refunds     []wRefund // charge.refunded with the list
	dispute     string
	disputeStat string
}

// refundCall is one call of the product to the Refunds API, or (read) one
// read of a charge's refunded amount.
type refundCall struct {
	req      booking.ProviderRefund
	read     bool
	refunded int64 // what a read answered
	// dispute and disputeStat: the charge's dispute, as a read answered.
	dispute, disputeStat string
	disputeAmt           int64
	ok                   bool
	id                   string
	err                  string
	seen                 bool // processed by the model
}

func newWorld(now func() time.Time, tag string, listRefunds bool) *world {
	return &world{now: now, tag: tag, sessions: map[string]*wSession{}, byBooking: map[string]*wSession{},
		charges: map[string]*wCharge{}, keys: map[string]*refundCall{}, expired: map[string]bool{}, listRefunds: listRefunds}
}

func (w *world) next(prefix string) string {
	w.seq++
	return fmt.Sprintf("%s_%s_%06d", prefix, w.tag, w.seq)
}

// CreateCheckout opens a Checkout Session; one per booking (idempotent).
func (w *world) CreateCheckout(ctx context.Context, req booking.CheckoutRequest) (*booking.Checkout, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := w.byBooking[req.BookingID]; s != nil {
		return &booking.Checkout{SessionID: s.id, URL: "https://checkout.example/" + s.id}, nil
	}
	s := &wSession{id: w.next("cs_model"), bookingID: req.BookingID, amount: req.Amount, currency: req.Currency,
		expiresAt: req.ExpiresAt, status: "open", payStatus: "unpaid"}
	w.sessions[s.id], w.byBooking[req.BookingID] = s, s
	return &booking.Checkout{SessionID: s.id, URL: "https://checkout.example/" + s.id}, nil
}

// SessionEvent describes a finished session as the return page reads it.
func (w *world) SessionEvent(ctx context.Context, sessionID string) (*booking.PaymentEvent, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.sessions[sessionID]
	if s == nil {
		return nil, booking.Errorf(booking.EPaymentProvider, "No such checkout session.")
	}
	w.expireDue()
	ev := &booking.PaymentEvent{Source: booking.SourceReturn, SessionID: s.id, BookingRef: s.bookingID,
		PaymentStatus: s.payStatus, AmountTotal: s.paidAmount(), Currency: s.currency, PaymentIntentID: s.pi,
		Created: w.now(), Payload: []byte(`{}`)}
	switch s.status {
	case "complete":
		ev.Type = booking.EventCheckoutCompleted
	case "expired":
		ev.Type = booking.EventCheckoutExpired
	default:
		return nil, nil
	}
	ev.ID = fmt.Sprintf("return:%s:%s:%s", s.id, s.status, s.payStatus)
	return ev, nil
}

// paidAmount is what the session's payment brought: the amount asked, or
// the tampered amount the test set.
func (s *wSession) paidAmount() int64 { return s.amount }

// ExpireCheckout expires an open session (a staff cancellation does).
func (w *world) ExpireCheckout(ctx context.Context, sessionID string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.sessions[sessionID]
	if s == nil || s.status != "open" {
		return booking.Errorf(booking.EPaymentProvider, "Only an open session can be expired.")
	}
	s.status = "expired"
	w.expired[sessionID] = true
	w.raiseSession(booking.EventCheckoutExpired, s)
	return nil
}

// Refund is the Refunds API: one result per idempotency key (the same key
// with other parameters is an error), no refund above what remains of the
// charge, and none while Stripe is down.
func (w *world) Refund(ctx context.Context, req booking.ProviderRefund) (*booking.Refund, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	call := refundCall{req: req}
	defer func() { w.calls = append(w.calls, call) }()
	if w.down {
		call.err = "unreachable"
		return nil, errors.New("post /v1/refunds: dial tcp: connection refused")
	}
	if first := w.keys[req.IdempotencyKey]; first != nil {
		if first.req != req {
			w.bad = append(w.bad, fmt.Sprintf("idempotency key %s reused with other parameters: %+v then %+v", req.IdempotencyKey, first.req, req))
			call.err = "idempotency_error"
			return nil, booking.Errorf(booking.EPaymentProvider, "Keys for idempotent requests can only be used with the same parameters.")
		}
		call.ok, call.id, call.err = first.ok, first.id, first.err
		if !first.ok {
			return nil, booking.WrapError(booking.EPaymentProvider, "Refused.", fmt.Errorf("%w: %s", booking.ErrRefused, first.err))
		}
		return &booking.Refund{ID: first.id, Amount: req.Amount, Currency: req.Currency, Status: "succeeded"}, nil
	}
	defer func() { c := call; w.keys[req.IdempotencyKey] = &c }()
	ch := w.charges[req.PaymentIntentID]
	switch {
	case ch == nil:
		call.err = "no such payment_intent"
	case req.Amount <= 0 || req.Amount > ch.amount-ch.refunded():
		call.err = "charge_already_refunded"
	case req.Currency != ch.currency:
		call.err = "currency mismatch"
	case ch.disputed():
		call.err = "charge_disputed"
	}
	if call.err != "" {
		return nil, booking.WrapError(booking.EPaymentProvider, "Refused.", fmt.Errorf("%w: %s", booking.ErrRefused, call.err))
	}
	r := wRefund{id: w.next("re_model"), amount: req.Amount}
	ch.refunds = append(ch.refunds, r)
	call.ok, call.id = true, r.id
	w.raiseRefunded(ch)
	return &booking.Refund{ID: r.id, Amount: r.amount, Currency: ch.currency, Status: "succeeded"}, nil
}

// Charge answers what Stripe refunded of a PaymentIntent's charge, and
// its dispute.
func (w *world) Charge(ctx context.Context, pi string) (*booking.ChargeState, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	call := refundCall{read: true, req: booking.ProviderRefund{PaymentIntentID: pi}}
	defer func() { w.calls = append(w.calls, call) }()
	ch := w.charges[pi]
	switch {
	case w.down:
		call.err = "unreachable"
		return nil, errors.New("get /v1/payment_intents: dial tcp: connection refused")
	case ch == nil:
		call.err = "no such payment_intent"
		return nil, booking.Errorf(booking.EPaymentProvider, "No such payment intent.")
	}
	call.ok, call.refunded = true, ch.refunded()
	cs := &booking.ChargeState{ChargeID: ch.id, Amount: ch.amount, AmountRefunded: ch.refunded(), Currency: ch.currency}
	if n := len(ch.disputeAt); n > 0 {
		id := ch.disputeAt[n-1]
		cs.Dispute = &booking.ChargeDispute{ID: id, Amount: ch.amount, Currency: ch.currency, Reason: "fraudulent",
			Status: ch.disputes[id]}
		call.dispute, call.disputeStat, call.disputeAmt = id, ch.disputes[id], ch.amount
	}
	return cs, nil
}

// expireDue expires the open sessions whose time is up, as Stripe does.
func (w *world) expireDue() {
	for _, s := range w.sessions {
		if s.status == "open" && !w.now().Before(s.expiresAt) {
			s.status = "expired"
			w.raiseSession(booking.EventCheckoutExpired, s)
		}
	}
}

// pay completes an open session: paid at once, or a delayed method.
func (w *world) pay(s *wSession, async bool, amount int64) bool {
	w.expireDue()
	if s.status != "open" {
		return false
	}
	s.status, s.amount = "complete", amount
	s.pi = "pi_" + s.id
	if async {
		s.asyncPending = true
		w.raiseSession(booking.EventCheckoutCompleted, s)
		return true
	}
	s.payStatus = "paid"
	w.charges[s.pi] = &wCharge{id: "ch_" + s.id, pi: s.pi, amount: amount, currency: s.currency, disputes: map[string]string{}}
	w.raiseSession(booking.EventCheckoutCompleted, s)
	return true
}

// asyncResult ends a delayed payment.
func (w *world) asyncResult(s *wSession, ok bool) bool {
	if !s.asyncPending {
		return false
	}
	s.asyncPending = false
	if !ok {
		w.raiseSession(booking.EventCheckoutAsyncFailed, s)
		return true
	}
	s.payStatus = "paid"
	w.charges[s.pi] = &wCharge{id: "ch_" + s.id, pi: s.pi, amount: s.amount, currency: s.currency, disputes: map[string]string{}}
	w.raiseSession(booking.EventCheckoutAsyncSucceeded, s)
	return true
}

// dashboardRefund refunds part or all of a charge from the Stripe Dashboard,
// which Stripe refuses, as through the API, while a dispute is open or once
// it is lost.
func (w *world) dashboardRefund(ch *wCharge, full bool) bool {
	left := ch.amount - ch.refunded()
	if left <= 0 || ch.disputed() {
		return false
	}
	amount := left
	if !full && left > 1000 {
		amount = 1000
	}
	ch.refunds = append(ch.refunds, wRefund{id: w.next("re_dash"), amount: amount})
	w.raiseRefunded(ch)
	return true
}

func (w *world) dispute(ch *wCharge) bool {
	if len(ch.disputeAt) > 0 {
		return false
	}
	id := w.next("dp_model")
	ch.disputes[id] = "needs_response"
	ch.disputeAt = append(ch.disputeAt, id)
	w.raiseDispute(booking.EventDisputeCreated, ch, id)
	return true
}

func (w *world) closeDispute(ch *wCharge, won bool) bool {
	if len(ch.disputeAt) == 0 {
		return false
	}
	id := ch.disputeAt[len(ch.disputeAt)-1]
	if st := ch.disputes[id]; st == "won" || st == "lost" {
		return false
	}
	ch.disputes[id] = map[bool]string{true: "won", false: "lost"}[won]
	w.raiseDispute(booking.EventDisputeClosed, ch, id)
	return true
}

func (w *world) envelope(id, typ string, object map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": id, "object": "event", "type": typ, "api_version": stripe.APIVersion, "created": w.now().Unix(),
		"livemode": false, "pending_webhooks": 1, "data": map[string]any{"object": object},
	})
	return b
}

func (w *world) raiseSession(typ string, s *wSession) {
	id := w.next("evt_cs")
	var pi any
	if s.pi != "" {
		pi = s.pi
	}
	payload := w.envelope(id, typ, map[string]any{
		"id": s.id, "object": "checkout.session", "client_reference_id": s.bookingID,
		"metadata": map[string]string{"booking_id": s.bookingID}, "payment_status": s.payStatus, "status": s.status,
		"amount_total": s.amount, "currency": s.currency, "mode": "payment", "payment_intent": pi,
	})
	w.queue = append(w.queue, &wEvent{id: id, typ: typ, payload: payload, session: s.id, pi: s.pi,
		payStatus: s.payStatus, amount: s.amount, currency: s.currency})
}

func (w *world) raiseRefunded(ch *wCharge) {
	id := w.next("evt_ch")
	obj := map[string]any{"id": ch.id, "object": "charge", "amount": ch.amount, "amount_refunded": ch.refunded(),
		"currency": ch.currency, "payment_intent": ch.pi, "refunded": ch.refunded() >= ch.amount}
	ev := &wEvent{id: id, typ: booking.EventChargeRefunded, pi: ch.pi, cumulative: ch.refunded(), currency: ch.currency}
	if w.listRefunds {
		var data []map[string]any
		for _, r := range ch.refunds {
			data = append(data, map[string]any{"id": r.id, "object": "refund", "amount": r.amount, "currency": ch.currency, "status": "succeeded"})
			ev.refunds = append(ev.refunds, r)
		}
		obj["refunds"] = map[string]any{"object": "list", "data": data}
	}
	ev.payload = w.envelope(id, booking.EventChargeRefunded, obj)
	w.queue = append(w.queue, ev)
}

func (w *world) raiseDispute(typ string, ch *wCharge, disputeID string) {
	id := w.next("evt_dp")
	st := ch.disputes[disputeID]
	payload := w.envelope(id, typ, map[string]any{"id": disputeID, "object": "dispute", "amount": ch.amount,
		"currency": ch.currency, "reason": "fraudulent", "charge": ch.id, "payment_intent": ch.pi, "status": st})
	w.queue = append(w.queue, &wEvent{id: id, typ: typ, payload: payload, pi: ch.pi, amount: ch.amount,
		currency: ch.currency, dispute: disputeID, disputeStat: st})
}
