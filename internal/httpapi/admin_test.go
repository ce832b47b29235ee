package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/app"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/payment"
	"github.com/bookingplatform/booking/internal/pgtest"
)

type adminBookingAnswer struct {
	Booking booking.Booking `json:"booking"`
}

type adminList[T any] struct {
	Items []T `json:"items"`
	Meta  struct {
		Count      int    `json:"count"`
		NextCursor string `json:"nextCursor"`
	} `json:"meta"`
}

func TestAdminCancel(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	ops, opsAcct := staffLogin(t, tb, booking.RoleOps)
	cancel := func(t *testing.T, id string, out any) *http.Response {
		t.Helper()
		return ops.do(t, http.MethodPost, "/api/admin/bookings/"+id+"/cancel", nil, nil, out)
	}

	t.Run("confirmed booking is refunded through stripe-mock once", func(t *testing.T) {
		b := staffConfirmedBooking(t, tb, "pi_cancel_1")
		var got adminBookingAnswer
		if resp := cancel(t, b.ID, &got); resp.StatusCode != 200 || got.Booking.Status != booking.StatusRefunded {
			t.Fatalf("cancel: %d %s", resp.StatusCode, got.Booking.Status)
		}
		if s := tb.status(t, b.ID); s != booking.StatusRefunded {
			t.Fatalf("stored status %s", s)
		}
		if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM refunds WHERE booking_id = $1 AND source = 'staff' AND stripe_refund_id LIKE 're_%' AND amount = $2`,
			b.ID, b.AmountTotal); n != 1 {
			t.Fatalf("refund rows: %d, want 1", n)
		}
		if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM booking_audit WHERE booking_id = $1 AND from_status = 'confirmed' AND to_status = 'refunded' AND cause = 'staff' AND cause_ref = $2`,
			b.ID, opsAcct.ID); n != 1 {
			t.Fatalf("audit rows: %d, want 1", n)
		}
		// A repeated cancel changes nothing and refunds nothing more.
		var e apiError
		staffCheckError(t, "repeat", cancel(t, b.ID, &e), e, 409, "conflict")
		if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM refunds WHERE booking_id = $1`, b.ID); n != 1 {
			t.Fatalf("refund rows after a repeat: %d, want 1", n)
		}
		var list adminList[map[string]any]
		ops.do(t, http.MethodGet, "/api/admin/bookings?status=refunded", nil, nil, &list)
		if len(list.Items) != 1 || list.Items[0]["amountRefunded"] != float64(b.AmountTotal) || list.Items[0]["amountPaid"] != float64(b.AmountTotal) {
			t.Fatalf("refunded list %+v", list.Items)
		}
	})

	t.Run("pending booking is cancelled and its slot freed", func(t *testing.T) {
		b := createTestBooking(t, tb)
		var got adminBookingAnswer
		if resp := cancel(t, b.ID, &got); resp.StatusCode != 200 || got.Booking.Status != booking.StatusCancelled {
			t.Fatalf("cancel: %d %s", resp.StatusCode, got.Booking.Status)
		}
		if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM booking_audit WHERE booking_id = $1 AND to_status = 'cancelled' AND cause = 'staff' AND cause_ref = $2`, b.ID, opsAcct.ID); n != 1 {
			t.Fatalf("audit rows: %d", n)
		}
		// The same slot can be held again (the exclusion constraint would refuse it otherwise).
		again := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{StartsAt: b.StartsAt})
		if again.Status != booking.StatusPending {
			t.Fatalf("rebooked status %s", again.Status)
		}
		var e apiError
		staffCheckError(t, "cancel a cancelled booking", cancel(t, b.ID, &e), e, 409, "conflict")
	})

	t.Run("awaiting payment is cancelled", func(t *testing.T) {
		b := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{Status: booking.StatusAwaitingPayment})
		if resp := cancel(t, b.ID, nil); resp.StatusCode != 200 || tb.status(t, b.ID) != booking.StatusCancelled {
			t.Fatalf("cancel: %d", resp.StatusCode)
		}
	})

	t.Run("other states, unknown ids and bookings without money", func(t *testing.T) {
		for _, st := range []booking.Status{booking.StatusExpired, booking.StatusPaymentFailed} {
			b := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{Status: st})
			var e apiError
			staffCheckError(t, string(st), cancel(t, b.ID, &e), e, 409, "conflict")
			if got := tb.status(t, b.ID); got != st {
				t.Fatalf("status changed to %s", got)
			}
		}
		// Nothing is kept for these: they are cancelled with nothing to refund.
		for _, st := range []booking.Status{booking.StatusConfirmed, booking.StatusNeedsReview} {
			b := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{Status: st})
			var got adminBookingAnswer
			if resp := cancel(t, b.ID, &got); resp.StatusCode != 200 || got.Booking.Status != booking.StatusCancelled {
				t.Fatalf("%s without money: %d %s, want 200 cancelled", st, resp.StatusCode, got.Booking.Status)
			}
		}
		var e apiError
		for _, id := range []string{"00000000-0000-4000-8000-000000000000", "not-a-uuid"} {
			e = apiError{}
			staffCheckError(t, id, cancel(t, id, &e), e, 404, "not_found")
		}
	})
}

func TestAdminCancelProviderDown(t *testing.T) {
	t.Parallel()
	down := payment.NewStripe(payment.StripeOpts{SecretKey: "sk_test_123", APIBase: "http://127.0.0.1:1", Timeout: 2 * time.Second})
	tb := staffSetup(t, staffOpts{refunder: down})
	admin, _ := staffLogin(t, tb, booking.RoleAdmin)
	b := staffConfirmedBooking(t, tb, "pi_down_1")
	var e apiError
	resp := admin.do(t, http.MethodPost, "/api/admin/bookings/"+b.ID+"/cancel", nil, nil, &e)
	staffCheckError(t, "provider down", resp, e, 502, "payment_provider_error")
	if s := tb.status(t, b.ID); s != booking.StatusConfirmed {
		t.Fatalf("status %s, want confirmed (retryable)", s)
	}
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM refunds`); n != 0 {
		t.Fatalf("refund rows %d", n)
	}
}

func TestAdminBookingList(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	c, _ := staffLogin(t, tb, booking.RoleReadonly)
	var ids []string
	for i := 0; i < 7; i++ {
		ids = append(ids, createTestBooking(t, tb).ID)
	}
	slices.Reverse(ids) // newest first
	confirmed := staffConfirmedBooking(t, tb, "pi_list_1")

	t.Run("keyset pages cover every booking once, newest first", func(t *testing.T) {
		var got []string
		path := "/api/admin/bookings?status=pending&limit=3"
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("too many pages")
			}
			var page adminList[booking.Booking]
			if resp := c.do(t, http.MethodGet, path, nil, nil, &page); resp.StatusCode != 200 {
				t.Fatalf("page %d: %d", pages, resp.StatusCode)
			}
			if page.Meta.Count != len(page.Items) {
				t.Fatalf("meta.count %d for %d items", page.Meta.Count, len(page.Items))
			}
			for _, b := range page.Items {
				got = append(got, b.ID)
			}
			if page.Meta.NextCursor == "" {
				break
			}
			path = "/api/admin/bookings?status=pending&limit=3&cursor=" + page.Meta.NextCursor
		}
		if !slices.Equal(got, ids) {
			t.Fatalf("ids %v, want %v", got, ids)
		}
	})

	t.Run("alias, filters and shape", func(t *testing.T) {
		var all adminList[json.RawMessage]
		resp := c.do(t, http.MethodGet, "/reservations", nil, nil, &all)
		if resp.StatusCode != 200 || all.Meta.Count != 8 || all.Meta.NextCursor != "" {
			t.Fatalf("alias: %d count %d", resp.StatusCode, all.Meta.Count)
		}
		var item map[string]any
		if err := json.Unmarshal(all.Items[0], &item); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"id", "reference", "status", "startsAt", "customer", "amountPaid", "amountRefunded"} {
			if _, ok := item[k]; !ok {
				t.Fatalf("item %v lacks %s", item, k)
			}
		}
		var conf adminList[booking.Booking]
		c.do(t, http.MethodGet, "/api/admin/bookings?status=confirmed", nil, nil, &conf)
		if len(conf.Items) != 1 || conf.Items[0].ID != confirmed.ID {
			t.Fatalf("status filter: %+v", conf.Items)
		}
		day := confirmed.StartsAt.Format(time.DateOnly)
		var ranged adminList[booking.Booking]
		c.do(t, http.MethodGet, "/api/admin/bookings?from="+day+"&to="+day, nil, nil, &ranged)
		for _, b := range ranged.Items {
			if b.StartsAt.Format(time.DateOnly) != day {
				t.Fatalf("range filter let through %s", b.StartsAt)
			}
		}
		if !slices.ContainsFunc(ranged.Items, func(b booking.Booking) bool { return b.ID == confirmed.ID }) {
			t.Fatal("range filter dropped the booking of that day")
		}
		var none adminList[booking.Booking]
		c.do(t, http.MethodGet, "/api/admin/bookings?to=2000-01-01T00:00:00Z", nil, nil, &none)
		if none.Items == nil || len(none.Items) != 0 {
			t.Fatalf("empty list: %+v", none)
		}
	})

	t.Run("bad parameters", func(t *testing.T) {
		for _, tc := range []struct{ query, field string }{
			{"status=paid", "status"},
			{"limit=0", "limit"},
			{"limit=201", "limit"},
			{"limit=x", "limit"},
			{"cursor=!!!", "cursor"},
			{"cursor=eyJ0IjoiMjAyMC0wMS0wMVQwMDowMDowMFoiLCJpIjoiNDIifQ", "cursor"}, // an events cursor
			{"from=yesterday", "from"},
			{"from=2030-01-02&to=2030-01-01", "to"},
		} {
			var e apiError
			resp := c.do(t, http.MethodGet, "/api/admin/bookings?"+tc.query, nil, nil, &e)
			staffCheckError(t, tc.query, resp, e, 422, "validation_failed")
			if e.Fields[tc.field] == "" {
				t.Fatalf("%s: fields %v lack %s", tc.query, e.Fields, tc.field)
			}
		}
	})
}

func TestAdminPaymentEvents(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	c, _ := staffLogin(t, tb, booking.RoleOps)
	b := createTestBooking(t, tb)
	for _, ev := range []sessionEvent{
		paidEvent("evt_list_1", b),
		{ID: "evt_list_2", Type: booking.EventCheckoutExpired, SessionID: "cs_test_unknown", BookingID: b.ID},
		{ID: "evt_list_3", Type: booking.EventCheckoutExpired, SessionID: *b.StripeSessionID, BookingID: b.ID},
	} {
		if r := tb.deliverEvent(t, ev); r.status != 200 {
			t.Fatalf("deliver %s: %+v", ev.ID, r)
		}
	}

	t.Run("list, filters, alias and pages", func(t *testing.T) {
		var all adminList[booking.LedgerEvent]
		c.do(t, http.MethodGet, "/api/admin/payment-events", nil, nil, &all)
		if all.Meta.Count != 3 || all.Items[0].ID != "evt_list_3" || all.Items[2].ID != "evt_list_1" {
			t.Fatalf("events %+v", all.Items)
		}
		if e := all.Items[2]; e.Outcome != "processed" || e.BookingID == nil || *e.BookingID != b.ID || e.Source != "webhook" || e.ReplayCount != 0 {
			t.Fatalf("first event %+v", e)
		}
		var unmatched adminList[booking.LedgerEvent]
		c.do(t, http.MethodGet, "/payments?outcome=unmatched", nil, nil, &unmatched)
		if len(unmatched.Items) != 1 || unmatched.Items[0].ID != "evt_list_2" {
			t.Fatalf("outcome filter %+v", unmatched.Items)
		}
		var typed adminList[booking.LedgerEvent]
		c.do(t, http.MethodGet, "/api/admin/payment-events?type=checkout.session.completed", nil, nil, &typed)
		if len(typed.Items) != 1 || typed.Items[0].ID != "evt_list_1" {
			t.Fatalf("type filter %+v", typed.Items)
		}
		var p1, p2 adminList[booking.LedgerEvent]
		c.do(t, http.MethodGet, "/api/admin/payment-events?limit=2", nil, nil, &p1)
		c.do(t, http.MethodGet, "/api/admin/payment-events?limit=2&cursor="+p1.Meta.NextCursor, nil, nil, &p2)
		if len(p1.Items) != 2 || p1.Meta.NextCursor == "" || len(p2.Items) != 1 || p2.Items[0].ID != "evt_list_1" || p2.Meta.NextCursor != "" {
			t.Fatalf("pages %+v / %+v", p1, p2)
		}
	})

	t.Run("replay re-runs the stored event idempotently", func(t *testing.T) {
		var got struct {
			Outcome string              `json:"outcome"`
			Event   booking.LedgerEvent `json:"event"`
		}
		for i := 1; i <= 2; i++ {
			resp := c.do(t, http.MethodPost, "/api/admin/payment-events/evt_list_1/replay", nil, nil, &got)
			if resp.StatusCode != 200 || got.Outcome != "duplicate" || got.Event.ReplayCount != i || got.Event.ID != "evt_list_1" {
				t.Fatalf("replay %d: %d %+v", i, resp.StatusCode, got)
			}
		}
		if s := tb.status(t, b.ID); s != booking.StatusConfirmed {
			t.Fatalf("status %s", s)
		}
		if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM payments WHERE booking_id = $1`, b.ID); n != 1 {
			t.Fatalf("payments %d", n)
		}
		if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM webhook_events`); n != 3 {
			t.Fatalf("ledger rows %d", n)
		}
		var e apiError
		staffCheckError(t, "unknown event", c.do(t, http.MethodPost, "/api/admin/payment-events/evt_nope/replay", nil, nil, &e), e, 404, "not_found")
	})

	t.Run("replay applies an event whose effect is missing", func(t *testing.T) {
		// An event recorded as unmatched before its booking had the session id.
		other := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{SessionID: "cs_test_late"})
		if _, err := tb.db.Pool.Exec(context.Background(), `UPDATE bookings SET stripe_session_id = NULL WHERE id = $1`, other.ID); err != nil {
			t.Fatal(err)
		}
		ev := sessionEvent{ID: "evt_late_1", Type: booking.EventCheckoutCompleted, SessionID: "cs_test_late",
			BookingID: "", Amount: other.AmountTotal, Currency: other.Currency}
		if r := tb.deliverEvent(t, ev); r.Outcome != "unmatched" {
			t.Fatalf("first delivery %+v", r)
		}
		if _, err := tb.db.Pool.Exec(context.Background(), `UPDATE bookings SET stripe_session_id = 'cs_test_late' WHERE id = $1`, other.ID); err != nil {
			t.Fatal(err)
		}
		var got struct {
			Outcome string `json:"outcome"`
		}
		if resp := c.do(t, http.MethodPost, "/api/admin/payment-events/evt_late_1/replay", nil, nil, &got); resp.StatusCode != 200 || got.Outcome != "processed" {
			t.Fatalf("replay: %d %+v", resp.StatusCode, got)
		}
		if s := tb.status(t, other.ID); s != booking.StatusConfirmed {
			t.Fatalf("status %s after replay", s)
		}
	})
}

func TestAdminResourcesAndUsers(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	admin, adminAcct := staffLogin(t, tb, booking.RoleAdmin)

	t.Run("resources", func(t *testing.T) {
		body := map[string]any{"slug": "tennis-court", "name": "Tennis court", "priceAmount": 2000, "currency": "EUR",
			"durationMinutes": 60, "timezone": "Europe/Paris", "weeklyHours": []map[string]any{{"weekday": 6, "start": "08:00", "end": "20:00"}}}
		var created struct {
			Resource booking.Resource `json:"resource"`
		}
		if resp := admin.do(t, http.MethodPost, "/api/admin/resources", body, nil, &created); resp.StatusCode != 201 {
			t.Fatalf("create: %d", resp.StatusCode)
		}
		r := created.Resource
		if r.ID == "" || !r.Active || r.Currency != "eur" || len(r.WeeklyHours) != 1 {
			t.Fatalf("created %+v", r)
		}
		var e apiError
		staffCheckError(t, "slug taken", admin.do(t, http.MethodPost, "/api/admin/resources", body, nil, &e), e, 422, "validation_failed")
		if e.Fields["slug"] == "" {
			t.Fatalf("fields %v", e.Fields)
		}
		var patched struct {
			Resource booking.Resource `json:"resource"`
		}
		if resp := admin.do(t, http.MethodPatch, "/api/admin/resources/"+r.ID, map[string]any{"active": false, "priceAmount": 2500}, nil, &patched); resp.StatusCode != 200 {
			t.Fatalf("patch: %d", resp.StatusCode)
		}
		if p := patched.Resource; p.Active || p.PriceAmount != 2500 || p.Name != "Tennis court" {
			t.Fatalf("patched %+v", p)
		}
		var public struct {
			Items []booking.Resource `json:"items"`
		}
		tb.doJSON(t, http.MethodGet, "/api/resources", nil, nil, &public)
		if slices.ContainsFunc(public.Items, func(x booking.Resource) bool { return x.ID == r.ID }) {
			t.Fatal("an inactive resource is listed publicly")
		}
		var all adminList[booking.Resource]
		admin.do(t, http.MethodGet, "/api/admin/resources", nil, nil, &all)
		if !slices.ContainsFunc(all.Items, func(x booking.Resource) bool { return x.ID == r.ID && !x.Active }) {
			t.Fatal("the staff list lacks the inactive resource")
		}
		for _, tc := range []struct {
			body  any
			field string
		}{
			{map[string]any{"priceAmount": -1}, "priceAmount"},
			{map[string]any{"timezone": "Mars/Olympus"}, "timezone"},
			{map[string]any{"slug": "Bad Slug"}, "slug"},
		} {
			e = apiError{}
			staffCheckError(t, tc.field, admin.do(t, http.MethodPatch, "/api/admin/resources/"+r.ID, tc.body, nil, &e), e, 422, "validation_failed")
			if e.Fields[tc.field] == "" {
				t.Fatalf("fields %v lack %s", e.Fields, tc.field)
			}
		}
		e = apiError{}
		staffCheckError(t, "unknown field", admin.do(t, http.MethodPatch, "/api/admin/resources/"+r.ID, map[string]any{"id": "x"}, nil, &e), e, 400, "invalid_json")
		e = apiError{}
		staffCheckError(t, "unknown resource", admin.do(t, http.MethodPatch, "/api/admin/resources/00000000-0000-4000-8000-000000000000", map[string]any{}, nil, &e), e, 404, "not_found")
	})

	t.Run("users", func(t *testing.T) {
		var created struct {
			User     booking.Staff `json:"user"`
			Password string        `json:"password"`
		}
		resp := admin.do(t, http.MethodPost, "/api/admin/users", map[string]any{"email": "New.Person@Example.com", "role": "OPS"}, nil, &created)
		if resp.StatusCode != 201 || created.User.Email != "new.person@example.com" || created.User.Role != booking.RoleOps || !created.User.Active || len(created.Password) < 20 {
			t.Fatalf("create: %d %+v", resp.StatusCode, created)
		}
		newcomer := staffAccount{Staff: created.User, password: created.Password}
		nc := staffLoginAs(t, tb, newcomer)

		var e apiError
		staffCheckError(t, "email taken", admin.do(t, http.MethodPost, "/api/admin/users", map[string]any{"email": "new.person@example.com", "role": "OPS"}, nil, &e), e, 422, "validation_failed")
		e = apiError{}
		staffCheckError(t, "bad values", admin.do(t, http.MethodPost, "/api/admin/users", map[string]any{"email": "x", "role": "ROOT", "password": "short"}, nil, &e), e, 422, "validation_failed")
		if len(e.Fields) != 3 {
			t.Fatalf("fields %v", e.Fields)
		}
		var withPassword struct {
			Password *string `json:"password"`
		}
		admin.do(t, http.MethodPost, "/api/admin/users", map[string]any{"email": "chosen@example.com", "role": "READONLY", "password": "a chosen passphrase"}, nil, &withPassword)
		if withPassword.Password != nil {
			t.Fatal("a chosen password was echoed")
		}
		if resp := newStaffClient(tb).login(t, "chosen@example.com", "a chosen passphrase", nil); resp.StatusCode != 200 {
			t.Fatalf("login with the chosen password: %d", resp.StatusCode)
		}

		// Setting a password ends the account's sessions and unlocks it.
		if _, err := tb.db.Pool.Exec(context.Background(), `UPDATE staff_users SET locked_until = now() + interval '1 hour' WHERE id = $1`, newcomer.ID); err != nil {
			t.Fatal(err)
		}
		if resp := admin.do(t, http.MethodPatch, "/api/admin/users/"+newcomer.ID, map[string]any{"password": "another passphrase"}, nil, nil); resp.StatusCode != 200 {
			t.Fatalf("set password: %d", resp.StatusCode)
		}
		e = apiError{}
		staffCheckError(t, "session after a password change", nc.do(t, http.MethodGet, "/auth/me", nil, nil, &e), e, 401, "unauthenticated")
		if resp := newStaffClient(tb).login(t, newcomer.Email, "another passphrase", nil); resp.StatusCode != 200 {
			t.Fatalf("login with the new password: %d", resp.StatusCode)
		}

		// An admin cannot lock themselves out, but may change their own password.
		for _, body := range []map[string]any{{"active": false}, {"role": "READONLY"}} {
			e = apiError{}
			staffCheckError(t, "self", admin.do(t, http.MethodPatch, "/api/admin/users/"+adminAcct.ID, body, nil, &e), e, 409, "conflict")
		}
		if resp := admin.do(t, http.MethodPatch, "/api/admin/users/"+adminAcct.ID, map[string]any{"password": "my new passphrase"}, nil, nil); resp.StatusCode != 200 {
			t.Fatalf("own password: %d", resp.StatusCode)
		}
		if resp := admin.do(t, http.MethodGet, "/auth/me", nil, nil, nil); resp.StatusCode != 200 {
			t.Fatalf("own session ended by an own password change: %d", resp.StatusCode)
		}

		var list adminList[map[string]any]
		admin.do(t, http.MethodGet, "/api/admin/users", nil, nil, &list)
		if list.Meta.Count != 3 {
			t.Fatalf("users %d", list.Meta.Count)
		}
		for _, u := range list.Items {
			for k := range u {
				if strings.Contains(strings.ToLower(k), "password") || strings.Contains(strings.ToLower(k), "hash") {
					t.Fatalf("user item exposes %s", k)
				}
			}
		}
		var one struct {
			User booking.Staff `json:"user"`
		}
		if resp := admin.do(t, http.MethodGet, "/api/admin/users/"+newcomer.ID, nil, nil, &one); resp.StatusCode != 200 || one.User.LockedUntil != nil {
			t.Fatalf("get user: %d %+v", resp.StatusCode, one.User)
		}
		e = apiError{}
		staffCheckError(t, "unknown user", admin.do(t, http.MethodGet, "/api/admin/users/00000000-0000-4000-8000-000000000000", nil, nil, &e), e, 404, "not_found")
	})
}

func TestAdminMetrics(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	c, _ := staffLogin(t, tb, booking.RoleOps)
	b := createTestBooking(t, tb)
	tb.deliverEvent(t, paidEvent("evt_metrics_1", b))
	tb.deliverEvent(t, paidEvent("evt_metrics_1", b))
	tb.deliver(t, []byte(`{}`), "t=1,v1=bad")
	// A booking under review: the money check counts it.
	review := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{Status: booking.StatusConfirmed, PaymentIntent: "pi_metrics_review"})
	if _, err := tb.db.Pool.Exec(context.Background(), `UPDATE bookings SET status = 'needs_review' WHERE id = $1`, review.ID); err != nil {
		t.Fatal(err)
	}
	// The server's background work checks the money rules when it starts.
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); tb.app.Run(ctx, app.Background{}) }()
	var raw map[string]map[string]any
	for deadline := time.Now().Add(10 * time.Second); ; {
		if resp := c.do(t, http.MethodGet, "/admin/metrics", nil, nil, &raw); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if raw["money"]["checkedAt"] != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	<-done
	wh, rt, money := raw["webhook"], raw["runtime"], raw["money"]
	if len(raw) != 3 || len(wh) != 5 || len(rt) != 3 {
		t.Fatalf("shape %v", raw)
	}
	if money["checkedAt"] == nil || money["needsReview"] != float64(1) || money["refundsOwed"] != float64(0) {
		t.Fatalf("money %v", money)
	}
	if v, _ := money["violations"].(map[string]any); len(v) != len(booking.ViolationKinds) || v[booking.ViolationKeptWithoutSlot] != float64(0) {
		t.Fatalf("violations %v", money["violations"])
	}
	if wh["received"] != float64(3) || wh["processed"] != float64(1) || wh["duplicates"] != float64(1) || wh["rejected"] != float64(1) || wh["errors"] != float64(0) {
		t.Fatalf("webhook counters %v", wh)
	}
	if rt["version"] != "test" || rt["http5xx"] != float64(0) {
		t.Fatalf("runtime %v", rt)
	}
	if _, ok := rt["uptimeSeconds"].(float64); !ok {
		t.Fatalf("uptimeSeconds %v", rt["uptimeSeconds"])
	}

	req, _ := http.NewRequest(http.MethodGet, tb.srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+staffMetricsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	for _, name := range []string{"booking_db_pool_total_conns", "booking_db_pool_idle_conns", "booking_db_pool_acquired_conns",
		"booking_db_pool_max_conns 40", "booking_db_pool_acquires_total", `booking_check_violations{kind="money_kept_without_slot"} 0`,
		`booking_money{figure="needs_review"} 1`} {
		if !strings.Contains(string(text), name) {
			t.Fatalf("/metrics lacks %s", name)
		}
	}
}

// expireRecorder records the sessions expired, and passes the call on.
type expireRecorder struct {
	next booking.CheckoutExpirer
	mu   sync.Mutex
	ids  []string
}

func (e *expireRecorder) ExpireCheckout(ctx context.Context, id string) error {
	e.mu.Lock()
	e.ids = append(e.ids, id)
	e.mu.Unlock()
	return e.next.ExpireCheckout(ctx, id)
}

// Cancelling a booking before payment closes its Checkout Session, so the
// customer can no longer pay for a slot that was given up.
func TestAdminCancelExpiresCheckout(t *testing.T) {
	t.Parallel()
	rec := &expireRecorder{next: payment.NewStripe(payment.StripeOpts{SecretKey: "sk_test_123", APIBase: stripeMockURL(), Timeout: 5 * time.Second})}
	tb := staffSetup(t, staffOpts{checkouts: rec})
	ops, _ := staffLogin(t, tb, booking.RoleOps)
	b := createTestBooking(t, tb)
	if resp := ops.do(t, http.MethodPost, "/api/admin/bookings/"+b.ID+"/cancel", nil, nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.ids) != 1 || rec.ids[0] != *b.StripeSessionID {
		t.Fatalf("expired sessions %v, want [%s]", rec.ids, *b.StripeSessionID)
	}
	if strings.Contains(tb.logs.String(), "could not expire") {
		t.Fatalf("expiring against stripe-mock failed: %s", tb.logs.String())
	}
}
