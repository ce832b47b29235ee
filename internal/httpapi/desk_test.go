package httpapi_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/pgtest"
)

type deskAnswer struct {
	Booking     booking.Booking `json:"booking"`
	CheckoutURL string          `json:"checkoutUrl"`
}

// deskBody is bookingBody for the desk, paid as pay.
func deskBody(resourceID string, at time.Time, pay string) map[string]any {
	b := bookingBody(resourceID, at)
	b["payment"] = pay
	return b
}

// noViolations fails t when the full check of the money rules finds any.
func (tb *testBundle) noViolations(t *testing.T) {
	t.Helper()
	rep, err := tb.app.Checker.Check(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range rep.Violations {
		t.Errorf("booking check: %s", v)
	}
}

// A booking paid at the venue is confirmed at once with an offline
// payment recorded by the staff user, sets the customers' notice aside,
// is refunded at the venue (never through Stripe), and the books balance.
func TestDeskPaidAtVenue(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	ops, opsAcct := staffLogin(t, tb, booking.RoleOps)
	admin, _ := staffLogin(t, tb, booking.RoleAdmin)
	// Customers must book 60 days ahead: the desk books a week ahead anyway.
	if resp := admin.do(t, http.MethodPatch, "/api/admin/resources/"+tb.resource.ID,
		map[string]any{"minNoticeMinutes": 60 * 24 * 60}, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("patch: %d", resp.StatusCode)
	}
	at := pgtest.TestDay(time.UTC).Add(10 * time.Hour)
	var e apiError
	resp := sendJSON(t, http.DefaultClient, http.MethodPost, tb.srv.URL+"/api/bookings", bookingBody(tb.resource.ID, at), nil, &e)
	checkAPIError(t, resp, e, 422, "validation_failed")

	body := deskBody(tb.resource.ID, at, "venue")
	body["note"] = "Pays cash, regular."
	var got deskAnswer
	if resp := ops.do(t, http.MethodPost, "/api/admin/desk/bookings", body, nil, &got); resp.StatusCode != 201 {
		t.Fatalf("desk booking: %d", resp.StatusCode)
	}
	b := got.Booking
	if b.Status != booking.StatusConfirmed || got.CheckoutURL != "" || b.StripeSessionID != nil {
		t.Fatalf("desk booking %+v, checkout %q", b, got.CheckoutURL)
	}
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM payments WHERE booking_id = $1 AND method = 'offline'
		AND recorded_by = $2 AND amount = $3 AND stripe_session_id IS NULL AND stripe_event_id IS NULL`,
		b.ID, opsAcct.ID, b.AmountTotal); n != 1 {
		t.Fatalf("offline payments: %d, want 1", n)
	}
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM bookings WHERE id = $1 AND amount_paid = amount_total AND holds_slot`, b.ID); n != 1 {
		t.Fatal("the booking does not carry its payment or hold its slot")
	}
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM booking_notes WHERE booking_id = $1 AND author_id = $2`, b.ID, opsAcct.ID); n != 1 {
		t.Fatalf("notes: %d, want 1", n)
	}
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM river_job WHERE kind = 'change_messages' AND args->>'booking_id' = $1
		AND args->>'message' = 'confirmation'`, b.ID); n != 1 {
		t.Fatalf("confirmation messages queued: %d, want 1", n)
	}
	tb.noViolations(t)

	// The staff view shows the payment as offline.
	var detail struct {
		Payments []booking.Payment `json:"payments"`
		Actions  []string          `json:"actions"`
	}
	ops.do(t, http.MethodGet, "/api/admin/bookings/"+b.ID, nil, nil, &detail)
	if len(detail.Payments) != 1 || detail.Payments[0].Method != booking.PaymentOffline || detail.Payments[0].RecordedBy != opsAcct.ID {
		t.Fatalf("payments in the staff view: %+v", detail.Payments)
	}

	// The same slot is taken.
	resp = ops.do(t, http.MethodPost, "/api/admin/desk/bookings", deskBody(tb.resource.ID, at, "venue"), nil, &e)
	checkAPIError(t, resp, e, 409, "slot_unavailable")

	// A refund is handed back at the venue: recorded at once, nothing owed
	// to Stripe.
	var cancelled adminBookingAnswer
	if resp := ops.do(t, http.MethodPost, "/api/admin/bookings/"+b.ID+"/cancel", nil, nil, &cancelled); resp.StatusCode != 200 ||
		cancelled.Booking.Status != booking.StatusRefunded {
		t.Fatalf("cancel: %d %s", resp.StatusCode, cancelled.Booking.Status)
	}
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM refunds WHERE booking_id = $1 AND method = 'offline'
		AND recorded_by = $2 AND amount = $3 AND stripe_refund_id IS NULL`, b.ID, opsAcct.ID, b.AmountTotal); n != 1 {
		t.Fatalf("offline refunds: %d, want 1", n)
	}
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM refund_requests WHERE booking_id = $1`, b.ID); n != 0 {
		t.Fatalf("refund requests to Stripe: %d, want 0", n)
	}
	tb.noViolations(t)

	// The database refuses a Stripe refund of an offline payment.
	_, err := tb.db.Pool.Exec(context.Background(), `INSERT INTO refunds (booking_id, payment_id, stripe_refund_id, amount, currency, source)
		SELECT booking_id, id, 're_wrong', 1, currency, 'staff' FROM payments WHERE booking_id = $1`, b.ID)
	if err == nil || !strings.Contains(err.Error(), "does not match its payment") {
		t.Fatalf("a Stripe refund of an offline payment was accepted: %v", err)
	}
}

// A payment link holds the slot for the link's life and queues the
// message that carries it, in the transaction of the hold.
func TestDeskPaymentLink(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	ops, _ := staffLogin(t, tb, booking.RoleOps)
	at := pgtest.TestDay(time.UTC).Add(11 * time.Hour)
	body := deskBody(tb.resource.ID, at, "link")
	body["linkHours"] = 2
	before := time.Now()
	var got deskAnswer
	if resp := ops.do(t, http.MethodPost, "/api/admin/desk/bookings", body, nil, &got); resp.StatusCode != 201 {
		t.Fatalf("desk booking: %d", resp.StatusCode)
	}
	b := got.Booking
	if b.Status != booking.StatusPending || got.CheckoutURL == "" || b.StripeSessionID == nil {
		t.Fatalf("link booking %+v, checkout %q", b, got.CheckoutURL)
	}
	if life := b.HoldExpiresAt.Sub(before); life < 119*time.Minute || life > 121*time.Minute {
		t.Fatalf("hold lasts %s, want the link's 2 hours", life)
	}
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM river_job WHERE kind = 'change_messages' AND args->>'booking_id' = $1
		AND args->>'message' = 'payment_link'`, b.ID); n != 1 {
		t.Fatalf("payment link messages queued: %d, want 1", n)
	}

	var e apiError
	for name, c := range map[string]struct {
		body  map[string]any
		field string
	}{
		"too long":   {map[string]any{"linkHours": 25}, "linkHours"},
		"venue+link": {map[string]any{"payment": "venue", "linkHours": 3}, "linkHours"},
		"no payment": {map[string]any{"payment": "card"}, "payment"},
	} {
		req := deskBody(tb.resource.ID, at.Add(time.Hour), "link")
		for k, v := range c.body {
			req[k] = v
		}
		resp := ops.do(t, http.MethodPost, "/api/admin/desk/bookings", req, nil, &e)
		checkAPIError(t, resp, e, 422, "validation_failed")
		if e.Fields[c.field] == "" {
			t.Errorf("%s: fields %v lack %s", name, e.Fields, c.field)
		}
	}
}

// Blocks: refused over a booking, bookings refused in them, their slots
// gone from availability, and given back when deleted.
func TestBlocks(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	ops, _ := staffLogin(t, tb, booking.RoleOps)
	day := pgtest.TestDay(time.UTC)
	b := tb.book(t, tb.resource.ID, day.Add(9*time.Hour)).Booking

	var e apiError
	resp := ops.do(t, http.MethodPost, "/api/admin/resources/"+tb.resource.ID+"/blocks",
		map[string]any{"startsAt": day.Add(8 * time.Hour), "endsAt": day.Add(12 * time.Hour)}, nil, &e)
	checkAPIError(t, resp, e, 409, "slot_unavailable")
	if !strings.Contains(e.Message, b.Reference) {
		t.Errorf("message %q does not name booking %s", e.Message, b.Reference)
	}

	var blk struct {
		Block booking.Block `json:"block"`
	}
	if resp := ops.do(t, http.MethodPost, "/api/admin/resources/"+tb.resource.ID+"/blocks",
		map[string]any{"startsAt": day.Add(12 * time.Hour), "endsAt": day.Add(15 * time.Hour), "reason": "Floor repair"}, nil, &blk); resp.StatusCode != 201 {
		t.Fatalf("block: %d", resp.StatusCode)
	}
	resp = ops.do(t, http.MethodPost, "/api/admin/resources/"+tb.resource.ID+"/blocks",
		map[string]any{"startsAt": day.Add(14 * time.Hour), "endsAt": day.Add(16 * time.Hour)}, nil, &e)
	checkAPIError(t, resp, e, 409, "conflict")

	slots := tb.availabilityOf(t, tb.resource.ID, day.Format(time.DateOnly))
	for _, h := range []int{12, 13, 14} {
		if hasSlotAt(slots, day.Add(time.Duration(h)*time.Hour)) {
			t.Errorf("%02d:00 is offered inside the block", h)
		}
	}
	if !hasSlotAt(slots, day.Add(15*time.Hour)) {
		t.Error("15:00, after the block, is not offered")
	}
	resp = sendJSON(t, http.DefaultClient, http.MethodPost, tb.srv.URL+"/api/bookings", bookingBody(tb.resource.ID, day.Add(13*time.Hour)), nil, &e)
	checkAPIError(t, resp, e, 409, "slot_unavailable")
	resp = ops.do(t, http.MethodPost, "/api/admin/desk/bookings", deskBody(tb.resource.ID, day.Add(13*time.Hour), "venue"), nil, &e)
	checkAPIError(t, resp, e, 409, "slot_unavailable")

	// A confirmed booking cannot be moved into the block either.
	moved := staffConfirmedBooking(t, tb, "pi_block_move")
	resp = ops.do(t, http.MethodPost, "/api/admin/bookings/"+moved.ID+"/reschedule",
		map[string]any{"startsAt": day.Add(13 * time.Hour).Format(time.RFC3339), "override": true}, nil, &e)
	checkAPIError(t, resp, e, 409, "slot_unavailable")

	// The staff calendar shows both.
	var sched booking.Schedule
	ops.do(t, http.MethodGet, "/api/admin/resources/"+tb.resource.ID+"/schedule?from="+day.Format(time.DateOnly)+"&days=1", nil, nil, &sched)
	if !slices.ContainsFunc(sched.Bookings, func(x booking.ScheduleEntry) bool { return x.ID == b.ID }) ||
		len(sched.Blocks) != 1 || sched.Blocks[0].Reason != "Floor repair" {
		t.Fatalf("schedule %+v", sched)
	}

	if resp := ops.do(t, http.MethodDelete, "/api/admin/resources/"+tb.resource.ID+"/blocks/"+blk.Block.ID, nil, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if !hasSlotAt(tb.availabilityOf(t, tb.resource.ID, day.Format(time.DateOnly)), day.Add(13*time.Hour)) {
		t.Error("13:00 is not offered once the block is gone")
	}
}

// TestBlockRace: bookings and blocks of the same hours, all at once, on
// two servers of one database. Every hour ends with a booking or a block
// or neither, never both; nobody gets a 5xx.
func TestBlockRace(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{db: whSmallPoolDB(t)})
	other := staffSetup(t, staffOpts{db: tb.db})
	_, acct := staffLogin(t, tb, booking.RoleOps)
	servers := []*testBundle{tb, other}
	const rounds, hours, bookers = 4, 6, 24
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	blocked := 0
	start := make(chan struct{}) // everyone starts at once
	for r := range rounds {
		day := pgtest.TestDay(time.UTC).AddDate(0, 0, 7*r)
		for i := range bookers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				srv := servers[i%2]
				at := day.Add(time.Duration(9+i%hours) * time.Hour)
				raw := fmt.Appendf(nil, `{"resourceId":%q,"startsAt":%q,"customer":{"firstName":"A","lastName":"B","email":"a@example.com"}}`,
					tb.resource.ID, at.Format(time.RFC3339))
				res, err := srv.rawDo(http.MethodPost, "/api/bookings", raw, nil)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					codes[-1]++
					return
				}
				codes[res.status]++
			}()
		}
		for h := range hours {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				// A block is a direct call, a booking an HTTP request: give
				// the requests a head start of up to 1.5 s, so that both win hours.
				time.Sleep(time.Duration(rand.IntN(1500)) * time.Millisecond)
				at := day.Add(time.Duration(9+h) * time.Hour)
				_, err := servers[h%2].api.Planner.AddBlock(context.Background(), tb.resource.ID,
					booking.BlockRequest{StartsAt: at, EndsAt: at.Add(time.Hour)}, &acct.Staff)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					blocked++
				case booking.ErrorCode(err) != booking.ESlotUnavailable:
					t.Errorf("block: %v", err)
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	onlyCreatedOrTaken(t, codes, rounds*bookers)
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM bookings b JOIN resource_blocks k ON k.resource_id = b.resource_id
		AND k.period && coalesce(b.blocked, tstzrange(b.starts_at, b.ends_at, '[)')) WHERE b.holds_slot`); n != 0 {
		t.Fatalf("%d bookings hold time inside a block", n)
	}
	held := pgtest.Count(t, tb.db, `SELECT count(*) FROM bookings WHERE resource_id = $1 AND holds_slot`, tb.resource.ID)
	if held+blocked != rounds*hours {
		t.Errorf("%d hours booked and %d blocked, want every one of %d hours taken once", held, blocked, rounds*hours)
	}
	t.Logf("answers %v; %d hours booked, %d blocked", codes, held, blocked)
}

// Notes are written by OPS and read by every role, oldest first.
func TestNotes(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	ops, opsAcct := staffLogin(t, tb, booking.RoleOps)
	ro, _ := staffLogin(t, tb, booking.RoleReadonly)
	b := createTestBooking(t, tb)
	for _, text := range []string{"Called: arrives late.", "Needs a wheelchair ramp."} {
		if resp := ops.do(t, http.MethodPost, "/api/admin/bookings/"+b.ID+"/notes", map[string]any{"body": text}, nil, nil); resp.StatusCode != 201 {
			t.Fatalf("note: %d", resp.StatusCode)
		}
	}
	var list struct {
		Items []booking.Note `json:"items"`
	}
	ro.do(t, http.MethodGet, "/api/admin/bookings/"+b.ID+"/notes", nil, nil, &list)
	if len(list.Items) != 2 || list.Items[0].Body != "Called: arrives late." || list.Items[1].Author != opsAcct.Email {
		t.Fatalf("notes %+v", list.Items)
	}
	var e apiError
	resp := ops.do(t, http.MethodPost, "/api/admin/bookings/"+b.ID+"/notes", map[string]any{"body": strings.Repeat("x", 2001)}, nil, &e)
	checkAPIError(t, resp, e, 422, "validation_failed")
}

// A desk booking retried with its Idempotency-Key books once; the same key
// with another payment is refused.
func TestDeskIdempotency(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	ops, _ := staffLogin(t, tb, booking.RoleOps)
	at := pgtest.TestDay(time.UTC).Add(15 * time.Hour)
	key := http.Header{"Idempotency-Key": {"desk-" + at.Format("150405")}}
	var first, again deskAnswer
	if resp := ops.do(t, http.MethodPost, "/api/admin/desk/bookings", deskBody(tb.resource.ID, at, "venue"), key, &first); resp.StatusCode != 201 {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	resp := ops.do(t, http.MethodPost, "/api/admin/desk/bookings", deskBody(tb.resource.ID, at, "venue"), key, &again)
	if resp.StatusCode != 201 || resp.Header.Get("Idempotent-Replayed") != "true" || again.Booking.ID != first.Booking.ID {
		t.Fatalf("retry: %d %q %s, want the first booking %s", resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), again.Booking.ID, first.Booking.ID)
	}
	var e apiError
	resp = ops.do(t, http.MethodPost, "/api/admin/desk/bookings", deskBody(tb.resource.ID, at, "link"), key, &e)
	checkAPIError(t, resp, e, 422, "idempotency_key_reused")
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM payments WHERE booking_id = $1`, first.Booking.ID); n != 1 {
		t.Fatalf("payments: %d, want 1", n)
	}
}

// TestBlockRaceOnClass: on a 10-place class, 30 bookings of one slot and a
// block of it, all at once, for several slots: each slot ends with places
// sold or a block, never both, and never more than its 10 places.
func TestBlockRaceOnClass(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{db: whSmallPoolDB(t)})
	_, acct := staffLogin(t, tb, booking.RoleOps)
	class := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{Slug: "class-block", Capacity: 10})
	day := pgtest.TestDay(time.UTC)
	const slotsN, bookers = 4, 30
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	start := make(chan struct{})
	for s := range slotsN {
		at := day.Add(time.Duration(9+s) * time.Hour)
		raw := fmt.Appendf(nil, `{"resourceId":%q,"startsAt":%q,"customer":{"firstName":"A","lastName":"B","email":"a@example.com"}}`,
			class.ID, at.Format(time.RFC3339))
		for range bookers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res, err := tb.rawDo(http.MethodPost, "/api/bookings", raw, nil)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					codes[-1]++
					return
				}
				codes[res.status]++
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			time.Sleep(time.Duration(rand.IntN(600)) * time.Millisecond)
			_, err := tb.api.Planner.AddBlock(context.Background(), class.ID, booking.BlockRequest{StartsAt: at, EndsAt: at.Add(time.Hour)}, &acct.Staff)
			if err != nil && booking.ErrorCode(err) != booking.ESlotUnavailable {
				t.Errorf("block: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	onlyCreatedOrTaken(t, codes, slotsN*bookers)
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM bookings b JOIN resource_blocks k ON k.resource_id = b.resource_id
		AND k.period && tstzrange(b.starts_at, b.ends_at, '[)') WHERE b.holds_slot AND b.resource_id = $1`, class.ID); n != 0 {
		t.Fatalf("%d places held inside a block", n)
	}
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM (SELECT starts_at FROM bookings WHERE resource_id = $1 AND holds_slot
		GROUP BY starts_at HAVING sum(quantity) > 10) x`, class.ID); n != 0 {
		t.Fatalf("%d slots sold beyond their 10 places", n)
	}
	sold := pgtest.Count(t, tb.db, `SELECT count(*) FROM bookings WHERE resource_id = $1 AND holds_slot`, class.ID)
	blocked := pgtest.Count(t, tb.db, `SELECT count(*) FROM resource_blocks WHERE resource_id = $1`, class.ID)
	t.Logf("answers %v; %d places sold, %d slots blocked", codes, sold, blocked)
}

// onlyCreatedOrTaken fails unless every one of the sent requests was
// answered 201 or 409 (codes counts answers by status, -1 for no answer).
func onlyCreatedOrTaken(t *testing.T, codes map[int]int, sent int) {
	t.Helper()
	if codes[-1] > 0 || codes[500] > 0 || codes[503] > 0 || codes[201]+codes[409] != sent {
		t.Errorf("answers %v, want only 201 and 409", codes)
	}
}
