package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/pgtest"
)

// listAll follows nextCursor from path and returns every item id, failing
// when a page is not 200 or the walk does not end.
func listAll[T any](t *testing.T, c *staffClient, path string, id func(T) string) []string {
	t.Helper()
	var ids []string
	next := path
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatalf("%s: too many pages", path)
		}
		var page adminList[T]
		if resp := c.do(t, http.MethodGet, next, nil, nil, &page); resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", next, resp.StatusCode)
		}
		for _, it := range page.Items {
			ids = append(ids, id(it))
		}
		if page.Meta.NextCursor == "" {
			return ids
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		next = path + sep + "cursor=" + url.QueryEscape(page.Meta.NextCursor)
	}
}

func bookingID(b booking.Booking) string { return b.ID }

func TestStaffBookingListFilters(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	c, _ := staffLogin(t, tb, booking.RoleReadonly)
	ctx := context.Background()
	other := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{})

	// Five bookings on two resources, created in this order, starting in
	// another order; two of them for one customer, written in mixed case.
	base := time.Now().UTC().Truncate(time.Hour).AddDate(0, 2, 0)
	type spec struct {
		resource *booking.Resource
		hours    int
		status   booking.Status
		email    string
	}
	specs := []spec{
		{tb.resource, 30, booking.StatusPending, "grace@example.com"},
		{other, 10, booking.StatusPending, "Grace.Hopper@Example.com"},
		{tb.resource, 20, booking.StatusConfirmed, "ada@example.com"},
		{other, 40, booking.StatusPending, "grace.hopper@example.com"},
		{tb.resource, 0, booking.StatusPending, "ada@example.com"},
	}
	var made []*booking.Booking
	for i, s := range specs {
		b := pgtest.CreateBooking(t, tb.db, s.resource, pgtest.BookingOpts{StartsAt: base.Add(time.Duration(s.hours) * time.Hour), Status: s.status})
		// Distinct creation times, one minute apart, in the order above.
		if _, err := tb.db.Pool.Exec(ctx, `UPDATE bookings SET customer_email = $2, created_at = $3 WHERE id = $1`,
			b.ID, s.email, base.AddDate(0, -1, 0).Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
		made = append(made, b)
	}
	ids := func(idx ...int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, made[i].ID)
		}
		return out
	}

	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"newest first", "", ids(4, 3, 2, 1, 0)},
		{"a resource", "resourceId=" + other.ID, ids(3, 1)},
		{"a resource and a status", "resourceId=" + tb.resource.ID + "&status=pending", ids(4, 0)},
		{"a customer, whatever the case", "email=" + url.QueryEscape("GRACE.HOPPER@example.com"), ids(3, 1)},
		{"a customer and a status", "email=ada@example.com&status=confirmed", ids(2)},
		{"a customer and a resource", "email=ada@example.com&resourceId=" + tb.resource.ID, ids(4, 2)},
		{"an unknown customer", "email=nobody@example.com", nil},
		{"a range, in calendar order", "from=" + base.Format(time.RFC3339) + "&to=" + base.Add(41*time.Hour).Format(time.RFC3339),
			ids(4, 1, 2, 0, 3)},
		{"a range without its start", "to=" + base.Add(25*time.Hour).Format(time.RFC3339), ids(4, 1, 2)},
		{"a range and a status", "status=pending&from=" + base.Add(5*time.Hour).Format(time.RFC3339), ids(1, 0, 3)},
		{"a range and a resource", "resourceId=" + tb.resource.ID + "&from=" + base.Format(time.RFC3339), ids(4, 2, 0)},
		{"a range, a resource and a status", "resourceId=" + other.ID + "&status=pending&from=" + base.Format(time.RFC3339), ids(1, 3)},
		{"a range and a customer", "email=grace.hopper@example.com&from=" + base.Format(time.RFC3339), ids(1, 3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One page, then pages of two through the cursor.
			path := "/api/admin/bookings?" + tc.query
			if got := listAll(t, c, path, bookingID); !slices.Equal(got, tc.want) {
				t.Errorf("one page: %v, want %v", got, tc.want)
			}
			paged := "/api/admin/bookings?limit=2"
			if tc.query != "" {
				paged += "&" + tc.query
			}
			if got := listAll(t, c, paged, bookingID); !slices.Equal(got, tc.want) {
				t.Errorf("pages of two: %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("a cursor of another list is refused", func(t *testing.T) {
		var first adminList[booking.Booking]
		c.do(t, http.MethodGet, "/api/admin/bookings?limit=1", nil, nil, &first)
		if first.Meta.NextCursor == "" {
			t.Fatal("no cursor")
		}
		for _, q := range []string{"status=pending", "from=2000-01-01", "resourceId=" + other.ID, "email=ada@example.com"} {
			var e apiError
			resp := c.do(t, http.MethodGet, "/api/admin/bookings?"+q+"&cursor="+url.QueryEscape(first.Meta.NextCursor), nil, nil, &e)
			staffCheckError(t, q, resp, e, 422, "validation_failed")
			if e.Fields["cursor"] == "" {
				t.Errorf("%s: fields %v lack cursor", q, e.Fields)
			}
		}
		// The same list with another value of the same filter keeps the cursor.
		var st adminList[booking.Booking]
		c.do(t, http.MethodGet, "/api/admin/bookings?status=pending&limit=1", nil, nil, &st)
		resp := c.do(t, http.MethodGet, "/api/admin/bookings?status=confirmed&cursor="+url.QueryEscape(st.Meta.NextCursor), nil, nil, nil)
		if resp.StatusCode != 200 {
			t.Errorf("a status cursor with another status: %d", resp.StatusCode)
		}
	})

	t.Run("bad filters", func(t *testing.T) {
		for _, tc := range []struct{ query, field string }{
			{"resourceId=room-1", "resourceId"},
			{"email=nobody", "email"},
			{"email=" + strings.Repeat("a", 250) + "%40example.com", "email"},
			{"from=2030-01-02&to=2030-01-01&status=pending", "to"},
		} {
			var e apiError
			resp := c.do(t, http.MethodGet, "/api/admin/bookings?"+tc.query, nil, nil, &e)
			staffCheckError(t, tc.query, resp, e, 422, "validation_failed")
			if e.Fields[tc.field] == "" {
				t.Errorf("%s: fields %v lack %s", tc.query, e.Fields, tc.field)
			}
		}
	})
}

func TestStaffEventListFilters(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	c, _ := staffLogin(t, tb, booking.RoleReadonly)
	ctx := context.Background()
	b := createTestBooking(t, tb)
	// Four events received a day apart, newest last.
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -10)
	evs := []sessionEvent{
		{ID: "evt_range_1", Type: booking.EventCheckoutExpired, SessionID: "cs_test_unknown_1", BookingID: b.ID},
		paidEvent("evt_range_2", b),
		{ID: "evt_range_3", Type: booking.EventCheckoutExpired, SessionID: "cs_test_unknown_3", BookingID: b.ID},
		{ID: "evt_range_4", Type: booking.EventCheckoutExpired, SessionID: "cs_test_unknown_4", BookingID: b.ID},
	}
	for i, ev := range evs {
		if r := tb.deliverEvent(t, ev); r.status != 200 {
			t.Fatalf("deliver %s: %+v", ev.ID, r)
		}
		if _, err := tb.db.Pool.Exec(ctx, `UPDATE webhook_events SET received_at = $2 WHERE stripe_event_id = $1`,
			ev.ID, day.AddDate(0, 0, i).Add(12*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	id := func(e booking.LedgerEvent) string { return e.ID }
	d := func(i int) string { return day.AddDate(0, 0, i).Format(time.DateOnly) }
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"all", "", []string{"evt_range_4", "evt_range_3", "evt_range_2", "evt_range_1"}},
		{"from a day", "from=" + d(1), []string{"evt_range_4", "evt_range_3", "evt_range_2"}},
		{"to a day (included)", "to=" + d(1), []string{"evt_range_2", "evt_range_1"}},
		{"a range", "from=" + d(1) + "&to=" + d(2), []string{"evt_range_3", "evt_range_2"}},
		{"a range and an outcome", "outcome=unmatched&from=" + d(1), []string{"evt_range_4", "evt_range_3"}},
		{"a range and a type", "type=checkout.session.completed&to=" + d(3), []string{"evt_range_2"}},
		{"a range, a type and an outcome", "type=checkout.session.expired&outcome=unmatched&to=" + d(2),
			[]string{"evt_range_3", "evt_range_1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/api/admin/payment-events?limit=1"
			if tc.query != "" {
				path += "&" + tc.query
			}
			if got := listAll(t, c, path, id); !slices.Equal(got, tc.want) {
				t.Errorf("pages of one: %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("bad filters and foreign cursors", func(t *testing.T) {
		var typed adminList[booking.LedgerEvent]
		c.do(t, http.MethodGet, "/api/admin/payment-events?type=checkout.session.expired&limit=1", nil, nil, &typed)
		var bookings adminList[booking.Booking]
		c.do(t, http.MethodGet, "/api/admin/bookings?limit=1", nil, nil, &bookings)
		for _, tc := range []struct{ query, field string }{
			{"from=yesterday", "from"},
			{"to=2030-13-01", "to"},
			{"from=2030-01-02&to=2030-01-01", "to"},
			{"cursor=" + url.QueryEscape(typed.Meta.NextCursor), "cursor"},
			{"outcome=unmatched&cursor=" + url.QueryEscape(typed.Meta.NextCursor), "cursor"},
		} {
			var e apiError
			resp := c.do(t, http.MethodGet, "/api/admin/payment-events?"+tc.query, nil, nil, &e)
			staffCheckError(t, tc.query, resp, e, 422, "validation_failed")
			if e.Fields[tc.field] == "" {
				t.Errorf("%s: fields %v lack %s", tc.query, e.Fields, tc.field)
			}
		}
		// A bookings cursor is not a ledger cursor.
		if bookings.Meta.NextCursor != "" {
			var e apiError
			resp := c.do(t, http.MethodGet, "/api/admin/payment-events?cursor="+url.QueryEscape(bookings.Meta.NextCursor), nil, nil, &e)
			staffCheckError(t, "bookings cursor", resp, e, 422, "validation_failed")
		}
	})
}
