package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"github.com/bookingplatform/booking/internal/app"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/notify"
	"github.com/bookingplatform/booking/internal/pgtest"
)

func feedSetup(t *testing.T) *testBundle {
	t.Helper()
	return setup(t, setupOpts{configure: func(opts *app.Options) {
		opts.NoStaff = false
		opts.LoginPerMinute, opts.HashParams = 10000, staffParams
		opts.AppURL = manageAppURL
	}})
}

func getFeed(t *testing.T, tb *testBundle, path string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(tb.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func TestCalendarFeed(t *testing.T) {
	t.Parallel()
	tb := feedSetup(t)
	admin, _ := staffLogin(t, tb, booking.RoleAdmin)
	ops, _ := staffLogin(t, tb, booking.RoleOps)
	confirmed := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{Status: booking.StatusConfirmed, PaymentIntent: "pi_feed"})
	refunded := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{Status: booking.StatusConfirmed, PaymentIntent: "pi_feed_r"})
	if _, err := tb.db.Pool.Exec(t.Context(), `UPDATE bookings SET status = 'refunded', holds_slot = false, amount_refunded = amount_paid
		WHERE id = $1`, refunded.ID); err != nil {
		t.Log("refund by hand refused, the feed is checked without it:", err)
		refunded = nil
	}
	pending := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{})
	far := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{Status: booking.StatusConfirmed, PaymentIntent: "pi_far",
		StartsAt: time.Now().UTC().Truncate(time.Hour).AddDate(2, 0, 0)})
	path := "/calendar/" + tb.resource.ID + ".ics"

	if code, _ := getFeed(t, tb, path+"?key=nothing"); code != http.StatusNotFound {
		t.Fatalf("no feed yet: %d", code)
	}
	var ans struct {
		Key string `json:"key"`
		URL string `json:"url"`
	}
	if resp := ops.do(t, "POST", "/api/admin/resources/"+tb.resource.ID+"/calendar-key", nil, nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("OPS made a key: %d", resp.StatusCode)
	}
	if resp := admin.do(t, "POST", "/api/admin/resources/"+tb.resource.ID+"/calendar-key", nil, nil, &ans); resp.StatusCode != http.StatusCreated || ans.Key == "" ||
		ans.URL != manageAppURL+path+"?key="+ans.Key {
		t.Fatalf("new key: %d %+v", resp.StatusCode, ans)
	}
	var list struct {
		Items []struct {
			ID           string `json:"id"`
			CalendarFeed bool   `json:"calendarFeed"`
		} `json:"items"`
	}
	admin.do(t, "GET", "/api/admin/resources", nil, nil, &list)
	for _, r := range list.Items {
		if r.ID == tb.resource.ID && !r.CalendarFeed {
			t.Errorf("resource view: no feed shown")
		}
	}

	code, body := getFeed(t, tb, path+"?key="+ans.Key)
	if code != http.StatusOK {
		t.Fatalf("feed: %d %s", code, body)
	}
	cal, err := ical.NewDecoder(bytes.NewReader(body)).Decode()
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	byUID := map[string]*ical.Event{}
	for _, e := range cal.Events() {
		byUID[e.Props.Get(ical.PropUID).Value] = &e
	}
	uid := func(b *booking.Booking) string { return notify.EventUID(b.ID, manageAppURL+"/manage/"+b.ID) }
	if e := byUID[uid(confirmed)]; e == nil || e.Props.Get(ical.PropStatus).Value != "CONFIRMED" {
		t.Errorf("confirmed booking: %v", e)
	}
	if refunded != nil {
		if e := byUID[uid(refunded)]; e == nil || e.Props.Get(ical.PropStatus).Value != "CANCELLED" {
			t.Errorf("refunded booking: %v", e)
		}
	}
	if byUID[uid(pending)] != nil || byUID[uid(far)] != nil {
		t.Errorf("feed holds a hold or a booking past its period")
	}
	if !strings.Contains(string(body), "BEGIN:VTIMEZONE") {
		t.Error("no VTIMEZONE")
	}

	t.Run("a new key invalidates the old one", func(t *testing.T) {
		old := ans.Key
		admin.do(t, "POST", "/api/admin/resources/"+tb.resource.ID+"/calendar-key", nil, nil, &ans)
		if code, _ := getFeed(t, tb, path+"?key="+old); code != http.StatusNotFound {
			t.Errorf("old key: %d", code)
		}
		if code, _ := getFeed(t, tb, path+"?key="+ans.Key); code != http.StatusOK {
			t.Errorf("new key: %d", code)
		}
	})
	t.Run("every mismatch is 404", func(t *testing.T) {
		for _, p := range []string{path, path + "?key=" + ans.Key + "x", "/calendar/" + tb.resource.ID + "?key=" + ans.Key,
			"/calendar/" + pending.ID + ".ics?key=" + ans.Key, "/calendar/nope.ics?key=" + ans.Key} {
			if code, _ := getFeed(t, tb, p); code != http.StatusNotFound {
				t.Errorf("%s: %d", p, code)
			}
		}
	})
}

func TestCustomerExportAndErase(t *testing.T) {
	t.Parallel()
	tb := feedSetup(t)
	admin, acct := staffLogin(t, tb, booking.RoleAdmin)
	ops, _ := staffLogin(t, tb, booking.RoleOps)
	b := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{Status: booking.StatusConfirmed, PaymentIntent: "pi_gdpr",
		Email: "Carla@Example.com"})

	var exp map[string]any
	if resp := ops.do(t, "GET", "/api/admin/customers/export?email=carla@example.com", nil, nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("OPS export: %d", resp.StatusCode)
	}
	if resp := admin.do(t, "GET", "/api/admin/customers/export?email=carla@example.com", nil, nil, &exp); resp.StatusCode != http.StatusOK {
		t.Fatalf("export: %d", resp.StatusCode)
	}
	if bs, _ := exp["bookings"].([]any); len(bs) != 1 {
		t.Fatalf("export: %v", exp)
	}
	var got struct {
		Erasure booking.Erasure `json:"erasure"`
	}
	if resp := admin.do(t, "POST", "/api/admin/customers/erase", map[string]string{"email": "CARLA@example.com"}, nil, &got); resp.StatusCode != http.StatusOK ||
		got.Erasure.Bookings != 1 || got.Erasure.Tombstone != booking.Tombstone("carla@example.com") {
		t.Fatalf("erase: %d %+v", resp.StatusCode, got)
	}
	if resp := admin.do(t, "POST", "/api/admin/customers/erase", map[string]string{"email": "x"}, nil, nil); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad address: %d", resp.StatusCode)
	}
	st, err := tb.db.FindBooking(t.Context(), b.ID)
	if err != nil || st.Customer.Email != got.Erasure.Tombstone {
		t.Fatalf("booking after erasure: %+v %v", st, err)
	}
	logs := tb.logs.String()
	if strings.Contains(strings.ToLower(logs), "carla@") || !strings.Contains(logs, "customer.erase") || !strings.Contains(logs, acct.ID) {
		t.Errorf("logs: the address is there, or the erasure or its staff user is missing")
	}
}
