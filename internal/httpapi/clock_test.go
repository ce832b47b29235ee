package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/pgtest"
)

// TestKeyFlowsAtAnyHour runs the customer's flows on the demo resource (Paris,
// 09:00–17:00 on weekdays) with the server's clock at three hours of one
// Wednesday: before opening, with one slot left, and ten minutes before
// midnight with none left. Availability lists only slots that start later,
// the first free slots found by walking the days from today can be booked
// and paid, and a slot that has started is refused.
func TestKeyFlowsAtAnyHour(t *testing.T) {
	t.Parallel()
	demo := booking.DemoResource()
	paris, err := time.LoadLocation(demo.Timezone)
	if err != nil {
		t.Fatal(err)
	}
	day := pgtest.TestDay(paris)
	next := day.AddDate(0, 0, 1)
	hours := func(d time.Time, hs ...int) []time.Time {
		out := []time.Time{}
		for _, h := range hs {
			out = append(out, pgtest.WallTime(d, h, 0))
		}
		return out
	}
	for _, tt := range []struct {
		name         string
		hour, minute int
		today        []time.Time // today's free slots
		first        []time.Time // the first two free slots from now on
		started      []time.Time // slots that have started: refused
	}{
		{name: "08:00 before opening", hour: 8, minute: 0,
			today: hours(day, 9, 10, 11, 12, 13, 14, 15, 16), first: hours(day, 9, 10),
			started: hours(day.AddDate(0, 0, -1), 16)},
		{name: "15:30 with one slot left", hour: 15, minute: 30,
			today: hours(day, 16), first: append(hours(day, 16), hours(next, 9)...),
			started: hours(day, 9, 15)},
		{name: "23:50 with none left", hour: 23, minute: 50,
			today: hours(day), first: hours(next, 9, 10),
			started: hours(day, 16)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			r := demo
			res, err := db.CreateResource(context.Background(), &r, true)
			if err != nil {
				t.Fatalf("create resource: %v", err)
			}
			clock := pgtest.ClockAt(pgtest.WallTime(day, tt.hour, tt.minute))
			tb := setup(t, setupOpts{db: db, resource: res, now: clock.Now, demo: true})

			if got := tb.availabilityOf(t, res.ID, day.Format(time.DateOnly)); !sameStarts(got, tt.today) {
				t.Errorf("today's slots %v, want %v", got, tt.today)
			}
			free := tb.firstFreeSlots(t, res.ID, day, len(tt.first))
			if !sameStarts(free, tt.first) {
				t.Fatalf("first free slots %v, want %v", free, tt.first)
			}

			for _, s := range free {
				before := clock.Now()
				c := tb.book(t, res.ID, s.StartsAt)
				b := c.Booking
				if b.Status != booking.StatusPending || !b.StartsAt.Equal(s.StartsAt) {
					t.Errorf("booked %s %v, want pending at %v", b.Status, b.StartsAt, s.StartsAt)
				}
				if hold := b.HoldExpiresAt.Sub(before); hold < 29*time.Minute || hold > 32*time.Minute {
					t.Errorf("hold of %v from the server's clock, want 30 minutes", hold)
				}
				if r := tb.deliverEvent(t, paidEvent("evt_"+b.ID, &b)); r.status != http.StatusOK || r.Outcome != "processed" {
					t.Errorf("paid event: %d %q, want 200 processed", r.status, r.Outcome)
				}
				if got := tb.status(t, b.ID); got != booking.StatusConfirmed {
					t.Errorf("status after payment %s, want confirmed", got)
				}
			}
			if again := tb.firstFreeSlots(t, res.ID, day, 1); slices.ContainsFunc(free, func(s booking.Slot) bool {
				return s.StartsAt.Equal(again[0].StartsAt)
			}) {
				t.Errorf("booked slot %v still offered", again[0].StartsAt)
			}

			for _, s := range tt.started {
				var e apiError
				resp := tb.doJSON(t, http.MethodPost, "/api/bookings", bookingBody(res.ID, s), nil, &e)
				checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
				if _, ok := e.Fields["startsAt"]; !ok {
					t.Errorf("slot %v that started: fields %v, want startsAt", s, e.Fields)
				}
			}
		})
	}
}

// firstFreeSlots walks the days from day on, as the booking page does, and
// returns the first n free slots of a resource.
func (tb *testBundle) firstFreeSlots(t testing.TB, resourceID string, day time.Time, n int) []booking.Slot {
	t.Helper()
	var out []booking.Slot
	for d := 0; d < 14 && len(out) < n; d++ {
		for _, s := range tb.availabilityOf(t, resourceID, day.AddDate(0, 0, d).Format(time.DateOnly)) {
			if len(out) < n {
				out = append(out, s)
			}
		}
	}
	return out
}

// sameStarts reports whether slots start exactly at want, in order.
func sameStarts(slots []booking.Slot, want []time.Time) bool {
	return slices.EqualFunc(slots, want, func(s booking.Slot, w time.Time) bool { return s.StartsAt.Equal(w) })
}
