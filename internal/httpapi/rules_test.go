package httpapi_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/pgtest"
)

// plainSlots drops the places of available slots.
func plainSlots(in []booking.AvailableSlot) []booking.Slot {
	out := make([]booking.Slot, len(in))
	for i, s := range in {
		out[i] = booking.Slot{StartsAt: s.StartsAt, EndsAt: s.EndsAt}
	}
	return out
}

func starts(slots []booking.Slot) []string {
	out := make([]string, len(slots))
	for i, s := range slots {
		out[i] = s.StartsAt.UTC().Format("15:04")
	}
	return out
}

// rulesSetup starts a staff-enabled server whose clock reads 08:00 UTC on
// the test day, and creates through the admin API a UTC resource open
// 09:00-13:00 every day with the given rules.
func rulesSetup(t *testing.T, rules map[string]any) (*testBundle, *staffClient, *booking.Resource, time.Time) {
	t.Helper()
	day := pgtest.TestDay(time.UTC)
	clock := pgtest.ClockAt(day.Add(8 * time.Hour))
	tb := staffSetup(t, staffOpts{})
	tb.app.Booker.Now = clock.Now
	admin, _ := staffLogin(t, tb, booking.RoleAdmin)
	body := map[string]any{"slug": "rules", "name": "Rules", "priceAmount": 1000, "currency": "eur",
		"durationMinutes": 60, "timezone": "UTC", "weeklyHours": []map[string]any{}}
	for wd := range 7 {
		body["weeklyHours"] = append(body["weeklyHours"].([]map[string]any), map[string]any{"weekday": wd, "start": "09:00", "end": "13:00"})
	}
	for k, v := range rules {
		body[k] = v
	}
	var out struct{ Resource booking.Resource }
	if resp := admin.do(t, http.MethodPost, "/api/admin/resources", body, nil, &out); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create resource: status %d", resp.StatusCode)
	}
	return tb, admin, &out.Resource, day
}

func TestResourceRulesValidation(t *testing.T) {
	t.Parallel()
	tb, admin, res, _ := rulesSetup(t, nil)
	_ = tb
	if res.Capacity != 1 || res.SlotIntervalMinutes != 0 || len(res.Overrides) != 0 {
		t.Errorf("defaults: %+v", res)
	}
	for _, tt := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"slotIntervalMinutes": 3}, "slotIntervalMinutes"},
		{map[string]any{"bufferBeforeMinutes": -1}, "bufferBeforeMinutes"},
		{map[string]any{"bufferAfterMinutes": 1441}, "bufferAfterMinutes"},
		{map[string]any{"minNoticeMinutes": -5}, "minNoticeMinutes"},
		{map[string]any{"maxAdvanceDays": 4000}, "maxAdvanceDays"},
		{map[string]any{"capacity": -1}, "capacity"},
		{map[string]any{"capacity": 5, "bufferAfterMinutes": 10}, "capacity"},
	} {
		var e apiError
		resp := admin.do(t, http.MethodPatch, "/api/admin/resources/"+res.ID, tt.body, nil, &e)
		checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
		if e.Fields[tt.field] == "" {
			t.Errorf("%v: fields %v, want %s", tt.body, e.Fields, tt.field)
		}
	}
	for _, tt := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"from": "2031-02-30", "closed": true}, "from"},
		{map[string]any{"from": "2031-02-03", "to": "2031-02-01", "closed": true}, "to"},
		{map[string]any{"from": "2031-02-03", "closed": false}, "hours"},
		{map[string]any{"from": "2031-02-03", "closed": true, "hours": []map[string]string{{"start": "09:00", "end": "10:00"}}}, "hours"},
		{map[string]any{"from": "2031-02-03", "hours": []map[string]string{{"start": "11:00", "end": "10:00"}}}, "hours"},
	} {
		var e apiError
		resp := admin.do(t, http.MethodPost, "/api/admin/resources/"+res.ID+"/overrides", tt.body, nil, &e)
		checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
		if e.Fields[tt.field] == "" {
			t.Errorf("%v: fields %v, want %s", tt.body, e.Fields, tt.field)
		}
	}
	ok := map[string]any{"from": "2031-02-01", "to": "2031-02-05", "closed": true}
	if resp := admin.do(t, http.MethodPost, "/api/admin/resources/"+res.ID+"/overrides", ok, nil, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("override: status %d", resp.StatusCode)
	}
	var e apiError
	resp := admin.do(t, http.MethodPost, "/api/admin/resources/"+res.ID+"/overrides", map[string]any{"from": "2031-02-05", "closed": true}, nil, &e)
	checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
	if e.Fields["from"] == "" {
		t.Errorf("overlap: fields %v", e.Fields)
	}
	resp = admin.do(t, http.MethodDelete, "/api/admin/resources/"+res.ID+"/overrides/"+res.ID, nil, nil, &e)
	checkAPIError(t, resp, e, http.StatusNotFound, "not_found")
}

// TestResourceBuffers: the blocked range is fixed on the booking when it is
// made; changing the buffer later changes new bookings only.
func TestResourceBuffers(t *testing.T) {
	t.Parallel()
	tb, admin, res, day := rulesSetup(t, map[string]any{"bufferAfterMinutes": 30})
	date := day.Format(time.DateOnly)
	tb.book(t, res.ID, day.Add(10*time.Hour))
	if got := starts(tb.availabilityOf(t, res.ID, date)); !equal(got, []string{"12:00"}) {
		t.Errorf("with a 30-minute buffer after: %v, want [12:00]", got)
	}
	var e apiError
	resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(res.ID, day.Add(11*time.Hour)), nil, &e)
	checkAPIError(t, resp, e, http.StatusConflict, "slot_unavailable")
	// 09:00 would end at 10:00 but keep 10:00-10:30 for itself.
	resp = tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(res.ID, day.Add(9*time.Hour)), nil, &e)
	checkAPIError(t, resp, e, http.StatusConflict, "slot_unavailable")

	if resp := admin.do(t, http.MethodPatch, "/api/admin/resources/"+res.ID, map[string]any{"bufferAfterMinutes": 0}, nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("patch: %d", resp.StatusCode)
	}
	// The booking keeps 10:00-11:30: 11:00 stays taken, 09:00 is free now.
	if got := starts(tb.availabilityOf(t, res.ID, date)); !equal(got, []string{"09:00", "12:00"}) {
		t.Errorf("after removing the buffer: %v, want [09:00 12:00]", got)
	}
	resp = tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(res.ID, day.Add(11*time.Hour)), nil, &e)
	checkAPIError(t, resp, e, http.StatusConflict, "slot_unavailable")
	tb.book(t, res.ID, day.Add(9*time.Hour))
}

func TestResourceIntervalNoticeHorizon(t *testing.T) {
	t.Parallel()
	tb, _, res, day := rulesSetup(t, map[string]any{"slotIntervalMinutes": 30, "minNoticeMinutes": 90, "maxAdvanceDays": 10})
	// 08:00 now, notice 90 minutes: the first start is 10:00 (09:30 is too soon); a start every 30
	// minutes, the last 60-minute slot at 12:00.
	if got := starts(tb.availabilityOf(t, res.ID, day.Format(time.DateOnly))); !equal(got, []string{"10:00", "10:30", "11:00", "11:30", "12:00"}) {
		t.Errorf("today: %v", got)
	}
	var e apiError
	resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(res.ID, day.Add(9*time.Hour+30*time.Minute)), nil, &e)
	checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
	if e.Fields["startsAt"] == "" {
		t.Errorf("notice: %v", e.Fields)
	}
	tb.book(t, res.ID, day.Add(10*time.Hour+30*time.Minute))
	// Overlapping starts of the grid: 10:00, 11:00 and 11:30 meet 10:30-11:30.
	if got := starts(tb.availabilityOf(t, res.ID, day.Format(time.DateOnly))); !equal(got, []string{"11:30", "12:00"}) {
		t.Errorf("after booking 10:30: %v", got)
	}
	last := day.AddDate(0, 0, 10)
	if n := len(tb.availabilityOf(t, res.ID, last.Format(time.DateOnly))); n != 7 {
		t.Errorf("day 10: %d slots, want 7", n)
	}
	if n := len(tb.availabilityOf(t, res.ID, last.AddDate(0, 0, 1).Format(time.DateOnly))); n != 0 {
		t.Errorf("day 11: %d slots, want none (horizon)", n)
	}
	resp = tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(res.ID, last.AddDate(0, 0, 1).Add(9*time.Hour)), nil, &e)
	checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
	tb.book(t, res.ID, last.Add(12*time.Hour))
}

func TestResourceOverrides(t *testing.T) {
	t.Parallel()
	tb, admin, res, day := rulesSetup(t, nil)
	closed, special := day.AddDate(0, 0, 1), day.AddDate(0, 0, 2)
	var c struct{ Override booking.DateOverride }
	if resp := admin.do(t, http.MethodPost, "/api/admin/resources/"+res.ID+"/overrides",
		map[string]any{"from": closed.Format(time.DateOnly), "closed": true, "note": "Holiday"}, nil, &c); resp.StatusCode != http.StatusCreated {
		t.Fatalf("closed: %d", resp.StatusCode)
	}
	if resp := admin.do(t, http.MethodPost, "/api/admin/resources/"+res.ID+"/overrides",
		map[string]any{"from": special.Format(time.DateOnly), "hours": []map[string]string{{"start": "14:00", "end": "16:00"}}}, nil, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("special: %d", resp.StatusCode)
	}
	var a booking.Availability
	tb.doJSON(t, http.MethodGet, "/api/resources/"+res.ID+"/availability?date="+closed.Format(time.DateOnly), nil, nil, &a)
	if !a.Closed || len(a.Slots) != 0 {
		t.Errorf("closed day: %+v", a)
	}
	var e apiError
	resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(res.ID, closed.Add(9*time.Hour)), nil, &e)
	checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
	if got := starts(tb.availabilityOf(t, res.ID, special.Format(time.DateOnly))); !equal(got, []string{"14:00", "15:00"}) {
		t.Errorf("special hours: %v", got)
	}
	tb.book(t, res.ID, special.Add(15*time.Hour))
	// The public resource lists its overrides (the booking page greys the days).
	var list struct{ Items []booking.Resource }
	tb.doJSON(t, http.MethodGet, "/api/resources", nil, nil, &list)
	found := false
	for _, r := range list.Items {
		if r.ID == res.ID && len(r.Overrides) == 2 && r.Overrides[0].Closed && r.Overrides[0].Note == "Holiday" {
			found = true
		}
	}
	if !found {
		t.Errorf("overrides not listed: %+v", list.Items)
	}
	if resp := admin.do(t, http.MethodDelete, "/api/admin/resources/"+res.ID+"/overrides/"+c.Override.ID, nil, nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if n := len(tb.availabilityOf(t, res.ID, closed.Format(time.DateOnly))); n != 4 {
		t.Errorf("reopened day: %d slots, want 4", n)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCapacityRace: 200 concurrent requests for one place each of a
// 10-place class sell exactly 10 places; the others are refused with 409,
// none fails.
func TestCapacityRace(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{db: whSmallPoolDB(t)})
	res := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{Slug: "class", Capacity: 10})
	at := pgtest.TestDay(time.UTC).Add(18 * time.Hour)
	body, _ := json.Marshal(bookingBody(res.ID, at))
	const clients = 200
	codes := make([]int, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := tb.rawDo(http.MethodPost, "/api/bookings", body, nil)
			if err != nil {
				codes[i] = -1
				return
			}
			codes[i] = r.status
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[http.StatusCreated] != 10 || count[http.StatusConflict] != clients-10 {
		t.Errorf("answers %v, want 10 × 201 and %d × 409", count, clients-10)
	}
	if n := pgtest.Count(t, tb.db, `SELECT coalesce(sum(quantity), 0) FROM bookings WHERE resource_id = $1 AND holds_slot`, res.ID); n != 10 {
		t.Errorf("%d places sold, want 10", n)
	}
	if n := pgtest.Count(t, tb.db, `SELECT taken FROM slot_places WHERE resource_id = $1`, res.ID); n != 10 {
		t.Errorf("slot_places counts %d, want 10", n)
	}
	var a booking.Availability
	tb.doJSON(t, http.MethodGet, "/api/resources/"+res.ID+"/availability?date="+at.Format(time.DateOnly), nil, nil, &a)
	for _, s := range a.Slots {
		if s.StartsAt.Equal(at) {
			t.Errorf("full slot listed with %d places", s.PlacesLeft)
		}
	}
}

// TestCapacityQuantity: places are sold by quantity at price × quantity,
// placesLeft counts them down, and lapsed holds give their places back.
func TestCapacityQuantity(t *testing.T) {
	t.Parallel()
	day := pgtest.TestDay(time.UTC)
	clock := pgtest.ClockAt(day.Add(8 * time.Hour))
	tb := setup(t, setupOpts{now: clock.Now})
	res := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{Slug: "yoga", Capacity: 5, Price: 1500})
	at := day.Add(18 * time.Hour)
	date := at.Format(time.DateOnly)
	places := func() int {
		var a booking.Availability
		tb.doJSON(t, http.MethodGet, "/api/resources/"+res.ID+"/availability?date="+date, nil, nil, &a)
		if a.Capacity != 5 {
			t.Errorf("capacity %d", a.Capacity)
		}
		for _, s := range a.Slots {
			if s.StartsAt.Equal(at) {
				return s.PlacesLeft
			}
		}
		return 0
	}
	if n := places(); n != 5 {
		t.Fatalf("places %d, want 5", n)
	}
	body := bookingBody(res.ID, at)
	body["quantity"] = 3
	var c createdBooking
	if resp := tb.doJSON(t, http.MethodPost, "/api/bookings", body, nil, &c); resp.StatusCode != http.StatusCreated {
		t.Fatalf("book 3: %d", resp.StatusCode)
	}
	if c.Booking.Quantity != 3 || c.Booking.AmountTotal != 4500 {
		t.Errorf("booking %d places for %d, want 3 for 4500", c.Booking.Quantity, c.Booking.AmountTotal)
	}
	if n := places(); n != 2 {
		t.Errorf("places %d, want 2", n)
	}
	var e apiError
	resp := tb.doJSON(t, http.MethodPost, "/api/bookings", body, nil, &e)
	checkAPIError(t, resp, e, http.StatusConflict, "slot_unavailable")
	body["quantity"] = 6
	resp = tb.doJSON(t, http.MethodPost, "/api/bookings", body, nil, &e)
	checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
	one := bookingBody(tb.resource.ID, at)
	one["quantity"] = 2
	resp = tb.doJSON(t, http.MethodPost, "/api/bookings", one, nil, &e)
	checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")

	// The hold lapses: its places come back without any sweep.
	clock.Shift += 2 * time.Hour
	if n := places(); n != 5 {
		t.Errorf("after the hold lapsed: places %d, want 5", n)
	}
	body["quantity"] = 5
	if resp := tb.doJSON(t, http.MethodPost, "/api/bookings", body, nil, &c); resp.StatusCode != http.StatusCreated {
		t.Fatalf("book 5 after the lapse: %d", resp.StatusCode)
	}
	if got := tb.status(t, c.Booking.ID); got != booking.StatusPending {
		t.Errorf("status %s", got)
	}
	if n := pgtest.Count(t, tb.db, `SELECT taken FROM slot_places WHERE resource_id = $1`, res.ID); n != 5 {
		t.Errorf("slot_places counts %d, want 5", n)
	}
}
