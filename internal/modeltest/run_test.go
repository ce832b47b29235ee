package modeltest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/bookingplatform/booking/internal/app"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

const secret = "whsec_model_test"

// start is the clock of every history: a Monday morning, far from any
// real "now", so the test is the same at any hour.
var start = time.Date(2030, 1, 7, 8, 0, 0, 0, time.UTC)

// slots are the times the customers compete for: few, to force contention.
var slots = []time.Time{
	time.Date(2030, 2, 4, 9, 0, 0, 0, time.UTC),
	time.Date(2030, 2, 4, 10, 0, 0, 0, time.UTC),
	time.Date(2030, 2, 4, 11, 0, 0, 0, time.UTC),
}

// step is one thing that happens in a history. Its fields are random picks
// resolved against the state when it runs, so any sub-list of a history is
// a history too (that is what shrinking needs).
type step struct {
	Kind string
	A, B int // picks
	Flag bool
}

func (s step) String() string {
	return fmt.Sprintf("{%q, %d, %d, %v}", s.Kind, s.A, s.B, s.Flag)
}

// Step kinds and their weights in a random history.
var kinds = []struct {
	name   string
	weight int
}{
	{"book", 8}, {"pay", 7}, {"pay_late", 3}, {"async", 3}, {"deliver", 20}, {"drop", 1}, {"return", 4},
	{"advance", 8}, {"dashboard_refund", 3}, {"dispute", 3}, {"close_dispute", 2}, {"cancel", 4}, {"accept", 4},
	{"sweep", 4}, {"refunds", 6}, {"stripe_down", 3}, {"outage", 1}, {"replay", 3},
	{"desk_venue", 3}, {"block", 2}, {"unblock", 2},
}

func randomHistory(r *rand.Rand, n int) []step {
	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	out := make([]step, n)
	for i := range out {
		w := r.IntN(total)
		for _, k := range kinds {
			if w < k.weight {
				out[i].Kind = k.name
				break
			}
			w -= k.weight
		}
		out[i].A, out[i].B, out[i].Flag = r.IntN(1000), r.IntN(1000), r.IntN(4) == 0
	}
	return out
}

// run is one history on a fresh database: the product, the world, the model.
type run struct {
	t         testing.TB
	ctx       context.Context
	db        *postgres.DB
	app       *app.App
	srv       *httptest.Server
	world     *world
	model     *model
	res       *booking.Resource
	clock     time.Time
	clkMu     sync.Mutex
	tag       string    // in every Stripe id of this history
	log       []string  // what happened, for the report
	delivered []*wEvent // events delivered, for replays
	dropped   map[string]bool
	staff     *booking.Staff // the staff member at the desk
	blocks    map[int]string // block id by slot
}

func (r *run) now() time.Time {
	r.clkMu.Lock()
	defer r.clkMu.Unlock()
	return r.clock
}

func newRun(t testing.TB, db *postgres.DB, tag string, listRefunds bool) *run {
	r := &run{t: t, ctx: context.Background(), db: db, clock: start, dropped: map[string]bool{}, tag: tag}
	r.world = newWorld(r.now, tag, listRefunds)
	r.model = newModel(start)
	r.res = pgtest.CreateResource(t, db, pgtest.ResourceOpts{Slug: "model-" + strconv.FormatInt(time.Now().UnixNano(), 36)})
	r.app = app.New(app.Options{DB: db, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: r.now,
		Payments: r.world, WebhookSecrets: []string{secret}, NoStaff: true})
	r.srv = httptest.NewServer(r.app.Server.Handler())
	st, err := db.CreateStaff(r.ctx, booking.NewStaff{Email: "desk-" + tag + "@example.com", Role: booking.RoleOps,
		PasswordHash: "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"})
	if err != nil {
		t.Fatalf("staff: %v", err)
	}
	r.staff, r.blocks = st, map[int]string{}
	return r
}

func (r *run) close() { r.srv.Close() }

// problem fails the history with a message about the state.
type problem struct{ msg string }

func (r *run) fail(format string, args ...any) {
	panic(problem{fmt.Sprintf(format, args...)})
}

func (r *run) note(format string, args ...any) {
	r.log = append(r.log, fmt.Sprintf(format, args...))
}

func pick(n, p int) int { return p % n }

// exec runs one step against the product and the model.
func (r *run) exec(s step) {
	w, m := r.world, r.model
	switch s.Kind {
	case "book":
		slot := pick(len(slots), s.A)
		if !slots[slot].After(r.now()) {
			return // in the past: nobody can book it any more
		}
		free := m.book(slot)
		body, _ := json.Marshal(map[string]any{"resourceId": r.res.ID, "startsAt": slots[slot].Format(time.RFC3339),
			"customer": map[string]string{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"}})
		status, raw := r.do(http.MethodPost, "/api/bookings", body, nil)
		switch {
		case free && status == http.StatusCreated:
			var c struct {
				Booking struct {
					ID              string `json:"id"`
					StripeSessionID string `json:"stripeSessionId"`
				} `json:"booking"`
			}
			if err := json.Unmarshal(raw, &c); err != nil {
				r.fail("book: decode %s: %v", raw, err)
			}
			b := m.addBooking(c.Booking.ID, c.Booking.StripeSessionID, slot)
			r.note("book slot %d → booking #%d", slot, len(m.bookings)-1)
			_ = b
		case !free && status == http.StatusConflict:
			r.note("book slot %d → taken", slot)
		default:
			r.fail("book slot %d: status %d (%s), model says free=%v", slot, status, raw, free)
		}
	case "pay", "pay_late":
		b := r.booking(s.A)
		if b == nil || b.venue {
			return
		}
		if s.Kind == "pay_late" && r.now().Before(b.holdUntil.Add(-time.Minute)) {
			// The customer pays in the last minute of the hold: the event
			// may well arrive after the hold lapsed.
			r.setClock(b.holdUntil.Add(-time.Minute))
		}
		amount := int64(price)
		if s.B%10 == 0 {
			amount = price - 1000 // a tampered amount: the money does not match
		}
		w.mu.Lock()
		ok := w.pay(w.sessions[b.session], s.Flag, amount)
		w.mu.Unlock()
		r.note("pay booking #%d (async %v, amount %d): %v", r.index(b), s.Flag, amount, ok)
	case "async":
		b := r.booking(s.A)
		if b == nil || b.venue {
			return
		}
		w.mu.Lock()
		ok := w.asyncResult(w.sessions[b.session], s.B%3 != 0)
		w.mu.Unlock()
		r.note("async result of booking #%d (success %v): %v", r.index(b), s.B%3 != 0, ok)
	case "deliver", "drop":
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.mu.Unlock()
			return
		}
		i := pick(len(w.queue), s.A)
		ev := w.queue[i]
		again := s.Kind == "deliver" && s.B%5 == 0 // delivered again later, too
		if !again {
			w.queue = slices.Delete(w.queue, i, i+1)
		}
		w.mu.Unlock()
		if s.Kind == "drop" {
			if !again {
				r.dropped[ev.pi] = true
			}
			r.note("drop %s %s", ev.typ, ev.id)
			return
		}
		r.note("deliver %s %s (twice at once %v, again later %v)", ev.typ, ev.id, s.Flag, again)
		r.deliver(ev, s.Flag)
	case "return":
		b := r.booking(s.A)
		if b == nil || b.venue {
			return
		}
		r.returnPage(b)
	case "advance":
		d := time.Duration(1+s.A%45) * time.Minute
		r.setClock(r.now().Add(d))
		r.note("advance %s → %s", d, r.now().Format(time.RFC3339))
	case "outage":
		// Stripe refuses refunds for a day while the server keeps retrying.
		w.mu.Lock()
		w.down = true
		w.mu.Unlock()
		for range 6 {
			r.setClock(r.now().Add(4 * time.Hour))
			if _, err := r.app.Refunds.RunDue(r.ctx); err != nil {
				r.fail("refunds: %v", err)
			}
			r.refundCalls()
		}
		w.mu.Lock()
		w.down = false
		w.mu.Unlock()
		r.note("a day of refund outage → %s", r.now().Format(time.RFC3339))
	case "dashboard_refund", "dispute", "close_dispute":
		b := r.booking(s.A)
		if b == nil {
			return
		}
		w.mu.Lock()
		ch := w.charges["pi_"+b.session]
		ok := false
		if ch != nil {
			switch s.Kind {
			case "dashboard_refund":
				ok = w.dashboardRefund(ch, s.Flag)
			case "dispute":
				ok = w.dispute(ch)
			default:
				ok = w.closeDispute(ch, s.Flag)
			}
		}
		w.mu.Unlock()
		r.note("%s on booking #%d (flag %v): %v", s.Kind, r.index(b), s.Flag, ok)
	case "cancel":
		b := r.booking(s.A)
		if b == nil {
			return
		}
		want := m.staffCancel(b)
		_, err := r.app.Desk.Cancel(r.ctx, b.id, r.staff)
		got := booking.ErrorCode(err)
		if err == nil {
			got = ""
		}
		r.note("staff cancel booking #%d: %q (model %q)", r.index(b), got, want)
		r.refundCalls()
		if got != want && (want != "" || got != booking.EPaymentProvider) {
			r.fail("staff cancel of booking #%d: %v, model says %q", r.index(b), err, want)
		}
	case "accept":
		b := r.booking(s.A)
		if b == nil {
			return
		}
		want := m.staffAccept(b)
		_, err := r.app.Desk.Accept(r.ctx, b.id, &booking.Staff{ID: "staff-model"})
		got := ""
		if err != nil {
			got = booking.ErrorCode(err)
		}
		r.note("staff accept booking #%d: %q (model %q)", r.index(b), got, want)
		if got != want {
			r.fail("staff accept of booking #%d: %v, model says %q", r.index(b), err, want)
		}
	case "sweep":
		m.sweep()
		if _, err := r.app.Sweeper.SweepHolds(r.ctx); err != nil {
			r.fail("sweep: %v", err)
		}
		r.note("sweep")
	case "refunds":
		if _, err := r.app.Refunds.RunDue(r.ctx); err != nil {
			r.fail("refunds: %v", err)
		}
		r.note("run due refunds")
		r.refundCalls()
	case "stripe_down":
		w.mu.Lock()
		w.down = s.Flag
		w.mu.Unlock()
		r.note("stripe refunds down: %v", s.Flag)
	case "desk_venue":
		slot := pick(len(slots), s.A)
		if !slots[slot].After(r.now()) {
			return
		}
		free := m.book(slot)
		c, _, err := r.app.Booker.BookAtDesk(r.ctx, booking.DeskRequest{ResourceID: r.res.ID, StartsAt: slots[slot],
			Payment: booking.DeskPayVenue, Customer: booking.Customer{FirstName: "Walk", LastName: "In", Email: "walk.in@example.com"}},
			"", r.staff)
		switch {
		case free && err == nil:
			m.addVenue(c.Booking.ID, slot)
			r.note("desk books slot %d, paid at the venue → booking #%d", slot, len(m.bookings)-1)
		case !free && booking.ErrorCode(err) == booking.ESlotUnavailable:
			r.note("desk books slot %d → taken", slot)
		default:
			r.fail("desk booking of slot %d: %v, model says free=%v", slot, err, free)
		}
	case "block", "unblock":
		slot := pick(len(slots), s.A)
		if !slots[slot].After(r.now()) {
			return
		}
		if s.Kind == "unblock" {
			id, ok := r.blocks[slot]
			if !ok {
				return
			}
			if err := r.app.Server.Planner.DeleteBlock(r.ctx, r.res.ID, id); err != nil {
				r.fail("unblock slot %d: %v", slot, err)
			}
			delete(r.blocks, slot)
			m.blocked[slot] = false
			r.note("unblock slot %d", slot)
			return
		}
		want := m.block(slot)
		k, err := r.app.Server.Planner.AddBlock(r.ctx, r.res.ID, booking.BlockRequest{StartsAt: slots[slot],
			EndsAt: slots[slot].Add(time.Hour), Reason: "model"}, r.staff)
		got := ""
		if err != nil {
			got = booking.ErrorCode(err)
		} else {
			r.blocks[slot] = k.ID
		}
		r.note("block slot %d: %q (model %q)", slot, got, want)
		if got != want {
			r.fail("block of slot %d: %v, model says %q", slot, err, want)
		}
	case "replay":
		ids := r.ledgerIDs()
		if len(ids) == 0 {
			return
		}
		id := ids[pick(len(ids), s.A)]
		ev := r.eventByID(id)
		if _, _, err := r.app.Fulfiller.Replay(r.ctx, id, booking.Cause{Kind: booking.CauseStaff, Ref: "staff-model"}); err != nil {
			r.fail("replay %s: %v", id, err)
		}
		if ev != nil {
			m.deliver(ev, true)
		}
		r.note("replay %s", id)
		r.refundCalls()
	}
}

// setClock moves the clock of the product, the world and the model;
// sessions whose time is up expire.
func (r *run) setClock(t time.Time) {
	r.clkMu.Lock()
	r.clock = t
	r.clkMu.Unlock()
	r.model.now = t
	r.world.mu.Lock()
	r.world.expireDue()
	r.world.mu.Unlock()
}

func (r *run) index(b *mBooking) int { return slices.Index(r.model.bookings, b) }

// booking picks a booking of the model, or nil when there is none.
func (r *run) booking(p int) *mBooking {
	if len(r.model.bookings) == 0 {
		return nil
	}
	return r.model.bookings[pick(len(r.model.bookings), p)]
}

func (r *run) eventByID(id string) *wEvent {
	for _, ev := range r.delivered {
		if ev.id == id {
			return ev
		}
	}
	return nil
}

// deliver posts a signed event to the webhook, twice at once when asked.
func (r *run) deliver(ev *wEvent, twice bool) {
	n := 1
	if twice {
		n = 2
	}
	var wg sync.WaitGroup
	statuses := make([]int, n)
	bodies := make([][]byte, n)
	for i := range n {
		wg.Go(func() {
			sig := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: ev.payload, Secret: secret, Timestamp: time.Now()})
			statuses[i], bodies[i] = r.do(http.MethodPost, "/webhook", ev.payload, http.Header{"Stripe-Signature": {sig.Header}})
		})
	}
	wg.Wait()
	for i := range n {
		if statuses[i] != http.StatusOK {
			r.fail("deliver %s: status %d %s", ev.id, statuses[i], bodies[i])
		}
	}
	r.delivered = append(r.delivered, ev)
	r.model.deliver(ev, false)
	r.refundCalls()
}

// returnPage calls the return page for b's session, as the customer's
// browser does after Checkout.
func (r *run) returnPage(b *mBooking) {
	m := r.model
	status, raw := r.do(http.MethodGet, "/checkout/return?session_id="+url.QueryEscape(b.session), nil, http.Header{"Accept": {"application/json"}})
	if status != http.StatusOK {
		r.fail("return page of booking #%d: status %d %s", r.index(b), status, raw)
	}
	if b.status != booking.StatusPending && b.status != booking.StatusAwaitingPayment && b.status != booking.StatusExpired {
		r.note("return page of booking #%d: nothing to do", r.index(b))
		return
	}
	w := r.world
	w.mu.Lock()
	s := w.sessions[b.session]
	ev := &wEvent{session: s.id, pi: s.pi, payStatus: s.payStatus, amount: s.amount, currency: s.currency}
	switch s.status {
	case "complete":
		ev.typ = booking.EventCheckoutCompleted
	case "expired":
		ev.typ = booking.EventCheckoutExpired
	}
	ev.id = fmt.Sprintf("return:%s:%s:%s", s.id, s.status, s.payStatus)
	w.mu.Unlock()
	r.note("return page of booking #%d (session %s)", r.index(b), ev.id)
	if ev.typ != "" {
		m.deliver(ev, false)
		r.refundCalls()
	}
}

// refundCalls applies to the model the refund calls the product made since
// the last look, and fails on any it should not have made.
func (r *run) refundCalls() {
	w := r.world
	w.mu.Lock()
	var calls []refundCall
	for i := range w.calls {
		if !w.calls[i].seen {
			w.calls[i].seen = true
			calls = append(calls, w.calls[i])
		}
	}
	bad := slices.Clone(w.bad)
	w.mu.Unlock()
	for _, b := range bad {
		r.fail("misuse of the Refunds API: %s", b)
	}
	for i, c := range calls {
		var next *refundCall
		if i+1 < len(calls) {
			next = &calls[i+1]
		}
		if msg := r.model.refundCall(c, next); msg != "" {
			r.fail("%s", msg)
		}
		r.note("  refund call %s %d (key %s): ok=%v %s", c.req.PaymentIntentID, c.req.Amount, c.req.IdempotencyKey, c.ok, c.err)
	}
}

func (r *run) do(method, path string, body []byte, h http.Header) (int, []byte) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, r.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		r.fail("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func (r *run) ledgerIDs() []string {
	rows, err := r.db.Pool.Query(r.ctx, `SELECT stripe_event_id FROM webhook_events
WHERE stripe_event_id NOT LIKE 'return:%' AND strpos(stripe_event_id, $1) > 0 ORDER BY received_at, stripe_event_id`, "_"+r.tag+"_")
	if err != nil {
		r.fail("ledger: %v", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			r.fail("ledger: %v", err)
		}
		ids = append(ids, id)
	}
	return ids
}
