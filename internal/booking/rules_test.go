package booking_test

import (
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
)

func startsUTC(slots []booking.Slot) []string {
	out := make([]string, len(slots))
	for i, s := range slots {
		out[i] = s.StartsAt.UTC().Format("15:04")
	}
	return out
}

func sameList(a, b []string) bool {
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

// TestRulesAcrossDST: slot intervals, date overrides, buffers, notice and
// horizon across both daylight-saving transitions of Europe/Paris and
// America/New_York (dates in slot_test.go), all in the resource's zone
// whatever the zone of the process.
func TestRulesAcrossDST(t *testing.T) {
	for _, tt := range []struct {
		name, tz, date string
		interval       int
		hours          []booking.TimeSpan // an override of that date, or nil
		want           []string           // starts in UTC
	}{
		// Paris spring: 01:00-04:00 local, the 02:00-03:00 hour is skipped;
		// every 30 minutes for 60: 01:00 (00:00Z), then 03:00 (01:00Z) and
		// 03:30 (01:30Z) ... 01:30 runs into the jump and would end at 03:30
		// local = 01:30Z, the window closes at 04:00 = 02:00Z.
		{"paris spring", "Europe/Paris", "2030-03-31", 30, []booking.TimeSpan{{Start: "01:00", End: "04:00"}},
			[]string{"00:00", "00:30", "01:00"}},
		// Paris autumn: 01:00-04:00 local lasts four hours; 02:00 and 02:30
		// are taken at their first (summer) instant.
		{"paris autumn", "Europe/Paris", "2030-10-27", 60, []booking.TimeSpan{{Start: "01:00", End: "04:00"}},
			[]string{"23:00", "00:00", "02:00"}},
		// New York spring, weekly hours 09:00-11:00, every 30 minutes.
		{"new york spring", "America/New_York", "2030-03-10", 30, nil, []string{"13:00", "13:30", "14:00"}},
		// New York autumn: special hours on the day of the change.
		{"new york autumn", "America/New_York", "2030-11-03", 60, []booking.TimeSpan{{Start: "00:00", End: "03:00"}},
			[]string{"04:00", "05:00", "07:00"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := res(tt.tz, 60, allWeek("09:00", "11:00")...)
			r.SlotIntervalMinutes = tt.interval
			if tt.hours != nil {
				r.Overrides = []booking.DateOverride{{From: tt.date, To: tt.date, Hours: tt.hours}}
			}
			y, mo, d, _ := booking.ParseDate(tt.date)
			slots, err := r.SlotsOn(y, mo, d)
			if err != nil {
				t.Fatal(err)
			}
			if got := startsUTC(slots); !sameList(got, tt.want) {
				t.Errorf("starts %v, want %v", got, tt.want)
			}
			for _, s := range slots {
				if got, ok := r.SlotAt(s.StartsAt); !ok || got != s {
					t.Errorf("SlotAt(%v) = %v, %v", s.StartsAt, got, ok)
				}
			}
		})
	}
}

func TestClosedOverrideRange(t *testing.T) {
	r := res("Europe/Paris", 60, allWeek("09:00", "12:00")...)
	r.Overrides = []booking.DateOverride{{From: "2030-03-30", To: "2030-04-01", Closed: true}}
	for date, want := range map[string]int{"2030-03-29": 3, "2030-03-30": 0, "2030-03-31": 0, "2030-04-01": 0, "2030-04-02": 3} {
		y, mo, d, _ := booking.ParseDate(date)
		slots, _ := r.SlotsOn(y, mo, d)
		if len(slots) != want {
			t.Errorf("%s: %d slots, want %d", date, len(slots), want)
		}
	}
	if _, ok := r.SlotAt(mustTime(t, "2030-03-31T08:00:00Z")); ok {
		t.Error("a slot of a closed day")
	}
}

// TestHorizonAndNoticeAcrossDST: the horizon counts local dates, so a
// booking made the evening before a 23-hour day may still start at the
// last local hour of the last date, and not a minute after midnight.
func TestHorizonAndNoticeAcrossDST(t *testing.T) {
	for _, tt := range []struct {
		tz, now, last, after string
	}{
		// Paris: now 2030-03-30 23:30 local (22:30Z), 1 day ahead: until
		// 2030-03-31 23:59 local (21:59Z, summer time).
		{"Europe/Paris", "2030-03-30T22:30:00Z", "2030-03-31T21:00:00Z", "2030-03-31T22:00:00Z"},
		{"Europe/Paris", "2030-10-26T21:30:00Z", "2030-10-27T22:00:00Z", "2030-10-27T23:00:00Z"},
		// New York: now 2030-03-09 23:30 local (04:30Z on the 10th).
		{"America/New_York", "2030-03-10T04:30:00Z", "2030-03-11T03:00:00Z", "2030-03-11T04:00:00Z"},
		{"America/New_York", "2030-11-03T03:30:00Z", "2030-11-04T04:00:00Z", "2030-11-04T05:00:00Z"},
	} {
		r := res(tt.tz, 60, allWeek("00:00", "24:00")...)
		r.MaxAdvanceDays = 1
		now := mustTime(t, tt.now)
		last, after := mustTime(t, tt.last), mustTime(t, tt.after)
		if why := r.Bookable(booking.Slot{StartsAt: last, EndsAt: last.Add(time.Hour)}, now); why != "" {
			t.Errorf("%s %s: last hour refused: %s", tt.tz, tt.last, why)
		}
		if why := r.Bookable(booking.Slot{StartsAt: after, EndsAt: after.Add(time.Hour)}, now); why == "" {
			t.Errorf("%s %s: past the horizon accepted", tt.tz, tt.after)
		}
		r.MaxAdvanceDays, r.MinNoticeMinutes = 0, 90
		soon := now.Add(60 * time.Minute)
		if why := r.Bookable(booking.Slot{StartsAt: soon, EndsAt: soon.Add(time.Hour)}, now); why == "" {
			t.Errorf("%s: inside the notice accepted", tt.tz)
		}
	}
}

func TestBlockedAndPlaces(t *testing.T) {
	r := res("UTC", 60, allWeek("09:00", "17:00")...)
	r.BufferBeforeMinutes, r.BufferAfterMinutes = 15, 30
	s := booking.Slot{StartsAt: mustTime(t, "2030-01-07T10:00:00Z"), EndsAt: mustTime(t, "2030-01-07T11:00:00Z")}
	b := r.Blocked(s)
	if !b.StartsAt.Equal(mustTime(t, "2030-01-07T09:45:00Z")) || !b.EndsAt.Equal(mustTime(t, "2030-01-07T11:30:00Z")) {
		t.Errorf("blocked %v", b)
	}
	// A booking blocked until 09:45 (its own buffers) leaves 10:00 free.
	busy := []booking.Busy{{Blocked: booking.Slot{StartsAt: mustTime(t, "2030-01-07T08:00:00Z"), EndsAt: mustTime(t, "2030-01-07T09:45:00Z")}}}
	if n := r.PlacesLeft(s, busy); n != 1 {
		t.Errorf("places %d, want 1", n)
	}
	busy[0].Blocked.EndsAt = mustTime(t, "2030-01-07T09:46:00Z")
	if n := r.PlacesLeft(s, busy); n != 0 {
		t.Errorf("places %d, want 0", n)
	}
	c := res("UTC", 60, allWeek("09:00", "17:00")...)
	c.Capacity = 10
	busy = []booking.Busy{{StartsAt: s.StartsAt, Blocked: s, Quantity: 4, Shared: true},
		{StartsAt: s.EndsAt, Blocked: booking.Slot{StartsAt: s.EndsAt, EndsAt: s.EndsAt.Add(time.Hour)}, Quantity: 9, Shared: true}}
	if n := c.PlacesLeft(s, busy); n != 6 {
		t.Errorf("places %d, want 6", n)
	}
	busy = append(busy, booking.Busy{StartsAt: s.StartsAt, Blocked: s, Quantity: 1})
	if n := c.PlacesLeft(s, busy); n != 0 {
		t.Errorf("places with an exclusive booking in the way %d, want 0", n)
	}
}
