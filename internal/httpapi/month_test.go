package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/pgtest"
)

func monthOf(t *testing.T, tb *testBundle, id, from, to string) booking.MonthAvailability {
	t.Helper()
	var m booking.MonthAvailability
	if resp := tb.doJSON(t, http.MethodGet, "/api/resources/"+id+"/availability?from="+from+"&to="+to, nil, nil, &m); resp.StatusCode != http.StatusOK {
		t.Fatalf("month view: status %d", resp.StatusCode)
	}
	return m
}

// TestMonthAvailability: each day of the range says whether it has free
// slots and how many, in the resource's zone: past, full, closed (weekly
// hours or an override) and beyond the horizon.
func TestMonthAvailability(t *testing.T) {
	t.Parallel()
	tz := "America/New_York"
	loc, _ := time.LoadLocation(tz)
	day := pgtest.TestDay(loc) // a Wednesday
	clock := pgtest.ClockAt(pgtest.WallTime(day, 8, 0))
	tb := setup(t, setupOpts{now: clock.Now})
	// Open 09:00-11:00 on weekdays (two slots), closed at weekends;
	// bookable up to 10 days ahead.
	var hours []booking.OpenSpan
	for wd := 1; wd <= 5; wd++ {
		hours = append(hours, booking.OpenSpan{Weekday: wd, Start: "09:00", End: "11:00"})
	}
	res := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{Timezone: tz, WeeklyHours: hours})
	res.MaxAdvanceDays = 10
	if _, err := tb.db.UpdateResource(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	date := func(n int) string { return day.AddDate(0, 0, n).Format(time.DateOnly) }
	if _, err := tb.app.Overrides.Create(context.Background(), res.ID, booking.DateOverride{From: date(2), Closed: true}); err != nil {
		t.Fatal(err)
	}
	// The next day (Thursday) full, the day after (Friday) closed by override.
	for _, h := range []int{9, 10} {
		if resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(res.ID, pgtest.WallTime(day.AddDate(0, 0, 1), h, 0)), nil, nil); resp.StatusCode != http.StatusCreated {
			t.Fatalf("book: %d", resp.StatusCode)
		}
	}
	m := monthOf(t, tb, res.ID, date(-1), date(14))
	if m.Timezone != tz || len(m.Days) != 16 {
		t.Fatalf("month %+v", m)
	}
	want := map[int]struct {
		status string
		free   int
	}{
		-1: {booking.DayPast, 0}, 0: {booking.DayAvailable, 2}, 1: {booking.DayFull, 0}, 2: {booking.DayClosed, 0},
		3: {booking.DayClosed, 0}, 4: {booking.DayClosed, 0}, 5: {booking.DayAvailable, 2},
		9: {booking.DayAvailable, 2}, 10: {booking.DayClosed, 0}, 11: {booking.DayClosed, 0}, 12: {booking.DayBeyondHorizon, 0},
	}
	for n, w := range want {
		d := m.Days[n+1]
		if d.Date != date(n) || d.Status != w.status || d.FreeSlots != w.free || d.PlacesLeft != w.free {
			t.Errorf("day %+d: %+v, want %s with %d free", n, d, w.status, w.free)
		}
	}

	t.Run("Validation", func(t *testing.T) {
		for _, q := range []string{"from=2030-01-01&to=2030-03-04", "from=2030-01-02&to=2030-01-01", "from=x&to=2030-01-01",
			"from=2030-01-01", "date=2030-01-01&from=2030-01-01&to=2030-01-02"} {
			var e apiError
			resp := tb.doJSON(t, http.MethodGet, "/api/resources/"+res.ID+"/availability?"+q, nil, nil, &e)
			checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
		}
		m := monthOf(t, tb, res.ID, "2030-01-01", "2030-03-03")
		if len(m.Days) != 62 {
			t.Errorf("62 days: %d", len(m.Days))
		}
	})
}

// TestAcceptanceFullClassAndPool is the acceptance test of issue 10: a
// 10-place class booked to full from many goroutines, and a pool of 3
// courts booked to full; the availability endpoints (day, month, pool)
// then show zero places for them.
func TestAcceptanceFullClassAndPool(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{db: whSmallPoolDB(t)})
	day := pgtest.TestDay(time.UTC)
	date := day.Format(time.DateOnly)
	// One session a day at 18:00.
	evening := []booking.OpenSpan{{Weekday: int(day.Weekday()), Start: "18:00", End: "19:00"}}
	class := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{Slug: "class", Capacity: 10, WeeklyHours: evening})
	var ids []string
	for range 3 {
		ids = append(ids, pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{WeeklyHours: evening}).ID)
	}
	name, slug := "Courts", "courts"
	pool, err := tb.app.Pools.Create(context.Background(), booking.PoolPatch{Name: &name, Slug: &slug, ResourceIDs: &ids})
	if err != nil {
		t.Fatal(err)
	}
	at := day.Add(18 * time.Hour)

	if m := monthOf(t, tb, class.ID, date, date); m.Days[0].Status != booking.DayAvailable || m.Days[0].PlacesLeft != 10 {
		t.Fatalf("class before: %+v", m.Days[0])
	}
	classCount := race(t, tb, 40, bookingBody(class.ID, at))
	poolCount := race(t, tb, 30, poolBody(pool.ID, at))
	if classCount[http.StatusCreated] != 10 || classCount[http.StatusConflict] != 30 {
		t.Errorf("class answers %v, want 10 × 201, 30 × 409", classCount)
	}
	if poolCount[http.StatusCreated] != 3 || poolCount[http.StatusConflict] != 27 {
		t.Errorf("pool answers %v, want 3 × 201, 27 × 409", poolCount)
	}

	var a booking.Availability
	tb.doJSON(t, http.MethodGet, "/api/resources/"+class.ID+"/availability?date="+date, nil, nil, &a)
	if len(a.Slots) != 0 {
		t.Errorf("class day view still lists %+v", a.Slots)
	}
	var pa booking.PoolAvailability
	tb.doJSON(t, http.MethodGet, "/api/pools/"+pool.ID+"/availability?date="+date, nil, nil, &pa)
	if len(pa.Slots) != 0 {
		t.Errorf("pool still lists %+v", pa.Slots)
	}
	for _, id := range append([]string{class.ID}, ids...) {
		m := monthOf(t, tb, id, date, date)
		if d := m.Days[0]; d.Status != booking.DayFull || d.FreeSlots != 0 || d.PlacesLeft != 0 {
			t.Errorf("month view of %s: %+v, want full with 0 places", id, d)
		}
	}
}

// TestMonthSeesBuffersAcrossDays: a booking keeps time on other days than
// its own through its buffers (up to a day each side), and the month view
// reads bookings by their start (bookings_busy_idx), so it must look far
// enough around each day. A booking at 10:00 with a day's buffer before it
// takes the day before from 10:00 and the whole of its own day (every slot
// of it keeps the day before it); the day after it keeps its first 11
// slots. Each day of the month view agrees with the day view.
func TestMonthSeesBuffersAcrossDays(t *testing.T) {
	t.Parallel()
	day := pgtest.TestDay(time.UTC)
	tb := setup(t, setupOpts{now: pgtest.ClockAt(day.AddDate(0, 0, -3)).Now})
	res := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{WeeklyHours: pgtest.AllWeek})
	res.BufferBeforeMinutes = 1440
	if _, err := tb.db.UpdateResource(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	at := day.AddDate(0, 0, 1).Add(10 * time.Hour)
	if resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(res.ID, at), nil, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("book: %d", resp.StatusCode)
	}
	date := func(n int) string { return day.AddDate(0, 0, n).Format(time.DateOnly) }
	want := []int{24, 10, 0, 13, 24} // free slots from the day before `day`
	for i, d := range monthOf(t, tb, res.ID, date(-1), date(3)).Days {
		if d.FreeSlots != want[i] {
			t.Errorf("month view %s: %d free slots, want %d", d.Date, d.FreeSlots, want[i])
		}
	}
	for i, w := range want {
		// One day at a time: the booking starts after the range (i = 1)
		// or a day before it (i = 3).
		m := monthOf(t, tb, res.ID, date(i-1), date(i-1))
		var a booking.Availability
		tb.doJSON(t, http.MethodGet, "/api/resources/"+res.ID+"/availability?date="+date(i-1), nil, nil, &a)
		if m.Days[0].FreeSlots != w || len(a.Slots) != w {
			t.Errorf("%s alone: month view %d free slots, day view %d, want %d", date(i-1), m.Days[0].FreeSlots, len(a.Slots), w)
		}
	}
}
