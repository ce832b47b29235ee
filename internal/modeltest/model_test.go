package modeltest

import (
	"time"

	"github.com/bookingplatform/booking/internal/booking"
)

// The reference model: the rules of SPEC §3 and §3.1 written again, small
// and plain, over what the product has been told (delivered events, staff
// actions, the refunds Stripe answered). The test compares the product with
// it after every step.

const (
	price        = 5000
	reviewAfter  = booking.RefundReviewAfter
	holdDuration = 30*time.Minute + 30*time.Second // the hold and its grace
)

type mPayment struct {
	session, pi string
	amount      int64
	currency    string
	refunded    int64
	withdrawn   int64 // taken back by a lost dispute
	offline     bool  // taken at the venue: refunded there, never through Stripe
}

func (p *mPayment) remaining() int64 { return p.amount - p.refunded - p.withdrawn }

type mBooking struct {
	id, session string
	slot        int
	status      booking.Status
	holds       bool
	holdUntil   time.Time
	paid        int64
	refunded    int64
	withdrawn   int64
	payments    map[string]*mPayment // by session
	refundIDs   map[string]bool
	disputes    map[string]string   // id → status
	disputesOf  map[string][]string // PaymentIntent → dispute ids
	owed        map[string]bool     // by PaymentIntent: a refund of what remains is owed
	attempts    map[string]int      // by PaymentIntent: failed attempts of the owed refund
	venue       bool                // booked at the front desk, paid at the venue
}

func (b *mBooking) kept() int64 { return b.paid - b.refunded - b.withdrawn }

type model struct {
	now      time.Time
	bookings []*mBooking
	bySess   map[string]*mBooking
	byPI     map[string]*mBooking
	seen     map[string]bool      // event ids the ledger holds
	waiting  map[string][]*wEvent // money events waiting for their payment, by PaymentIntent
	waitSeen map[string]bool      // ids of those events
	blocked  map[int]bool         // slots staff blocked
}

func newModel(now time.Time) *model {
	return &model{now: now, bySess: map[string]*mBooking{}, byPI: map[string]*mBooking{}, seen: map[string]bool{},
		waiting: map[string][]*wEvent{}, waitSeen: map[string]bool{}, blocked: map[int]bool{}}
}

// holder returns the booking that holds slot, if any, other than except.
func (m *model) holder(slot int, except *mBooking) *mBooking {
	for _, b := range m.bookings {
		if b != except && b.slot == slot && b.holds {
			return b
		}
	}
	return nil
}

// releaseLapsed expires the pending holds of slot that lapsed.
func (m *model) releaseLapsed(slot int) {
	for _, b := range m.bookings {
		if b.slot == slot && b.status == booking.StatusPending && !b.holdUntil.After(m.now) {
			b.status, b.holds = booking.StatusExpired, false
		}
	}
}

// book: a customer asks for slot; false when it is taken or blocked.
func (m *model) book(slot int) bool {
	m.releaseLapsed(slot)
	return m.takeable(slot, nil)
}

// takeable: no booking but except holds slot, and staff did not block it.
func (m *model) takeable(slot int, except *mBooking) bool {
	return m.holder(slot, except) == nil && !m.blocked[slot]
}

// addVenue records a booking made at the desk and paid at the venue.
func (m *model) addVenue(id string, slot int) *mBooking {
	b := m.addBooking(id, "venue-"+id, slot)
	b.venue = true
	b.status, b.holds, b.paid = booking.StatusConfirmed, true, price
	b.payments[b.session] = &mPayment{session: b.session, amount: price, currency: "eur", offline: true}
	return b
}

// block: staff block slot; the error code the product must answer.
func (m *model) block(slot int) string {
	m.releaseLapsed(slot)
	switch {
	case m.holder(slot, nil) != nil:
		return booking.ESlotUnavailable
	case m.blocked[slot]:
		return booking.EConflict
	}
	m.blocked[slot] = true
	return ""
}

func (m *model) addBooking(id, session string, slot int) *mBooking {
	b := &mBooking{id: id, session: session, slot: slot, status: booking.StatusPending, holds: true,
		holdUntil: m.now.Add(holdDuration).Truncate(time.Second), payments: map[string]*mPayment{},
		refundIDs: map[string]bool{}, disputes: map[string]string{}, disputesOf: map[string][]string{}, owed: map[string]bool{}, attempts: map[string]int{}}
	m.bookings = append(m.bookings, b)
	m.bySess[session] = b
	return b
}

func (m *model) setStatus(b *mBooking, s booking.Status) {
	b.status = s
	if s != booking.StatusNeedsReview {
		b.holds = s.HoldsSlot()
	}
}

// deliver applies an event the product received (webhook, return page,
// replay). replay: applied again, whether or not it was seen.
func (m *model) deliver(ev *wEvent, replay bool) {
	if m.seen[ev.id] && !replay {
		return
	}
	m.seen[ev.id] = true
	switch ev.typ {
	case booking.EventCheckoutCompleted, booking.EventCheckoutAsyncSucceeded:
		b := m.bySess[ev.session]
		if b == nil {
			return
		}
		if ev.payStatus == "paid" {
			m.paid(b, ev)
		} else if b.status == booking.StatusPending {
			m.setStatus(b, booking.StatusAwaitingPayment)
		}
	case booking.EventCheckoutAsyncFailed:
		if b := m.bySess[ev.session]; b != nil && (b.status == booking.StatusPending || b.status == booking.StatusAwaitingPayment) {
			m.setStatus(b, booking.StatusPaymentFailed)
		}
	case booking.EventCheckoutExpired:
		if b := m.bySess[ev.session]; b != nil && b.status == booking.StatusPending {
			m.setStatus(b, booking.StatusExpired)
		}
	case booking.EventChargeRefunded, booking.EventDisputeCreated, booking.EventDisputeClosed:
		b := m.byPI[ev.pi]
		if b == nil {
			if !m.waitSeen[ev.id] {
				m.waitSeen[ev.id] = true
				m.waiting[ev.pi] = append(m.waiting[ev.pi], ev)
			}
			return
		}
		m.money(b, ev)
	}
}

// paid: money arrived through the booking's session.
func (m *model) paid(b *mBooking, ev *wEvent) {
	if b.payments[ev.session] != nil {
		return
	}
	p := &mPayment{session: ev.session, pi: ev.pi, amount: ev.amount, currency: ev.currency}
	b.payments[ev.session] = p
	b.paid += ev.amount
	m.byPI[ev.pi] = b
	mismatch := ev.amount != price || ev.currency != "eur"
	take := func() {
		if mismatch {
			b.status, b.holds = booking.StatusNeedsReview, true
		} else {
			m.setStatus(b, booking.StatusConfirmed)
		}
	}
	switch b.status {
	case booking.StatusPending, booking.StatusAwaitingPayment:
		take()
	case booking.StatusExpired:
		m.releaseLapsed(b.slot)
		if m.takeable(b.slot, b) {
			take()
		} else {
			b.owed[p.pi] = true
		}
	case booking.StatusNeedsReview:
		if !b.holds {
			b.owed[p.pi] = true
		}
	default: // confirmed (paid twice), cancelled, payment_failed, refunded
		b.owed[p.pi] = true
	}
	// Refund and dispute events that arrived first are applied now.
	for _, w := range m.waiting[ev.pi] {
		m.money(b, w)
	}
	delete(m.waiting, ev.pi)
}

func (m *model) payment(b *mBooking, pi string) *mPayment {
	for _, p := range b.payments {
		if p.pi == pi {
			return p
		}
	}
	return nil
}

// money applies a refund or dispute event to the booking its charge paid.
func (m *model) money(b *mBooking, ev *wEvent) {
	p := m.payment(b, ev.pi)
	switch ev.typ {
	case booking.EventDisputeCreated:
		if _, ok := b.disputes[ev.dispute]; !ok {
			b.disputes[ev.dispute] = ev.disputeStat
			b.disputesOf[ev.pi] = append(b.disputesOf[ev.pi], ev.dispute)
		}
		return
	case booking.EventDisputeClosed:
		m.disputeClosed(b, p, ev.dispute, ev.disputeStat, ev.amount)
		return
	}
	// Stripe's refunds are recorded up to the payment, whatever a lost
	// dispute took back meanwhile, and never beyond the charge's
	// cumulative refunded amount (the product's decideRefunded).
	var add int64
	unrefunded := min(p.amount-p.refunded, ev.cumulative-p.refunded)
	if ev.refunds != nil {
		left := unrefunded
		for _, r := range ev.refunds {
			if b.refundIDs[r.id] || r.amount > left {
				continue
			}
			b.refundIDs[r.id] = true
			left -= r.amount
			add += r.amount
		}
	} else if d := unrefunded; d > 0 {
		add = d
	}
	m.refund(b, p, add)
}

// disputeClosed records how dispute id of payment p ended, unless known: a
// lost one takes the money back, which settles a refund owed of it, and
// the booking then ends as that refund would have left it.
func (m *model) disputeClosed(b *mBooking, p *mPayment, id, status string, amount int64) {
	if st, ok := b.disputes[id]; ok && st != "needs_response" {
		return // closed already
	} else if !ok {
		b.disputesOf[p.pi] = append(b.disputesOf[p.pi], id)
	}
	b.disputes[id] = status
	if status != "lost" {
		return
	}
	w := max(min(amount, p.remaining()), 0)
	p.withdrawn += w
	b.withdrawn += w
	if p.remaining() > 0 {
		return
	}
	owed := b.owed[p.pi]
	delete(b.owed, p.pi)
	delete(b.attempts, p.pi)
	if owed && b.paid > 0 && b.refunded+b.withdrawn >= b.paid && b.status != booking.StatusRefunded {
		m.setStatus(b, booking.StatusRefunded)
	}
}

// refund records add refunded on payment p, with its consequences.
func (m *model) refund(b *mBooking, p *mPayment, add int64) {
	p.refunded += add
	b.refunded += add
	if p.remaining() <= 0 {
		delete(b.owed, p.pi)
		delete(b.attempts, p.pi)
	}
	if b.paid > 0 && b.refunded >= b.paid && b.status != booking.StatusRefunded {
		m.setStatus(b, booking.StatusRefunded)
	}
}

// refundCall applies a call the product made to the Refunds API. It
// returns a problem when the product should not have made it. A refused
// call that the product follows with a read that teaches it refunds made
// elsewhere is not a failed attempt: it asks again at once.
func (m *model) refundCall(c refundCall, next *refundCall) string {
	b := m.byPI[c.req.PaymentIntentID]
	if b == nil {
		return "refund of an unknown payment intent " + c.req.PaymentIntentID
	}
	p := m.payment(b, c.req.PaymentIntentID)
	if !b.owed[p.pi] {
		return "refund call for " + p.pi + " while none is owed"
	}
	if c.read {
		// The product learns how the dispute ended and the refunds Stripe
		// made, when it had not heard of them.
		if c.ok && teaches(b, p, &c) && c.disputeStat != "needs_response" && c.dispute != "" {
			m.disputeClosed(b, p, c.dispute, c.disputeStat, c.disputeAmt)
		}
		if c.ok && c.refunded > p.refunded {
			m.refund(b, p, min(c.refunded-p.refunded, p.amount-p.refunded))
		}
		return ""
	}
	if c.req.Amount != p.remaining() {
		return "refund call for " + p.pi + " not of what remains"
	}
	if !c.ok {
		if next != nil && next.read && next.ok && next.req.PaymentIntentID == p.pi && teaches(b, p, next) {
			return ""
		}
		b.attempts[p.pi]++
		disputed := false
		for _, st := range b.disputesOf[p.pi] {
			disputed = disputed || b.disputes[st] != "won"
		}
		if (b.attempts[p.pi] >= reviewAfter || disputed) && b.status != booking.StatusNeedsReview && b.status != booking.StatusRefunded {
			b.status = booking.StatusNeedsReview // keeps holds
		}
		return ""
	}
	b.refundIDs[c.id] = true
	m.refund(b, p, c.req.Amount)
	return ""
}

// teaches reports whether a read of payment p's charge tells the product
// something it did not know: refunds made elsewhere, or how a dispute ended.
func teaches(b *mBooking, p *mPayment, c *refundCall) bool {
	if c.refunded > p.refunded {
		return true
	}
	if c.dispute == "" || c.disputeStat == "needs_response" {
		return false
	}
	st, ok := b.disputes[c.dispute]
	return !ok || st == "needs_response"
}

// staffCancel returns the error code the product must answer ("" for
// success) and changes the model; refunds owed are then made by the
// product and applied through refundCall.
func (m *model) staffCancel(b *mBooking) string {
	switch b.status {
	case booking.StatusPending, booking.StatusAwaitingPayment:
		m.setStatus(b, booking.StatusCancelled)
		return ""
	case booking.StatusConfirmed, booking.StatusNeedsReview:
		owes := len(b.owed) > 0
		for _, p := range b.payments {
			if p.offline { // handed back at the venue, now
				b.refunded += p.remaining()
				p.refunded += p.remaining()
				continue
			}
			if p.remaining() > 0 {
				b.owed[p.pi], owes = true, true
			}
		}
		if !owes && b.kept() <= 0 {
			if b.paid > 0 {
				m.setStatus(b, booking.StatusRefunded)
			} else {
				m.setStatus(b, booking.StatusCancelled)
			}
		}
		return ""
	}
	if len(b.owed) > 0 {
		return ""
	}
	if b.kept() > 0 {
		for _, p := range b.payments {
			if p.remaining() > 0 {
				b.owed[p.pi] = true
			}
		}
		return ""
	}
	return booking.EConflict
}

// staffAccept returns the error code the product must answer.
func (m *model) staffAccept(b *mBooking) string {
	if b.status != booking.StatusNeedsReview || b.kept() <= 0 {
		return booking.EConflict
	}
	if !b.holds {
		m.releaseLapsed(b.slot)
		if !m.takeable(b.slot, b) {
			return booking.ESlotUnavailable
		}
	}
	m.setStatus(b, booking.StatusConfirmed)
	b.owed, b.attempts = map[string]bool{}, map[string]int{}
	return ""
}

// sweep expires the pending holds that lapsed.
func (m *model) sweep() {
	for _, b := range m.bookings {
		if b.status == booking.StatusPending && !b.holdUntil.After(m.now) {
			m.setStatus(b, booking.StatusExpired)
		}
	}
}
