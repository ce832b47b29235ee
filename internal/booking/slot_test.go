package booking_test

import (
	"slices"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// series returns n RFC 3339 UTC instants from from, step apart.
func series(t testing.TB, from string, step time.Duration, n int) []string {
	t.Helper()
	start := mustTime(t, from)
	out := make([]string, n)
	for i := range out {
		out[i] = start.Add(time.Duration(i) * step).UTC().Format(time.RFC3339)
	}
	return out
}

// allWeek opens every day from start to end.
func allWeek(start, end string) []booking.OpenSpan {
	var spans []booking.OpenSpan
	for d := range 7 {
		spans = append(spans, booking.OpenSpan{Weekday: d, Start: start, End: end})
	}
	return spans
}

func res(tz string, minutes int, hours ...booking.OpenSpan) *booking.Resource {
	return &booking.Resource{Timezone: tz, DurationMinutes: minutes, WeeklyHours: hours}
}

// Dates used below: 2030-01-07 is a Monday. Europe/Paris switches to summer
// time on 2030-03-31 (02:00 → 03:00, at 01:00Z) and back on 2030-10-27
// (03:00 → 02:00, at 01:00Z); America/New_York on 2030-03-10 (02:00 → 03:00,
// at 07:00Z) and 2030-11-03 (02:00 → 01:00, at 06:00Z). All are Sundays.

func TestSlotsOn(t *testing.T) {
	t.Parallel()
	mon := func(start, end string) booking.OpenSpan { return booking.OpenSpan{Weekday: 1, Start: start, End: end} }
	sun := func(start, end string) booking.OpenSpan { return booking.OpenSpan{Weekday: 0, Start: start, End: end} }
	tests := []struct {
		name string
		r    *booking.Resource
		date string
		want []string
	}{
		{"window on its weekday", res("UTC", 60, mon("09:00", "12:00")), "2030-01-07",
			series(t, "2030-01-07T09:00:00Z", time.Hour, 3)},
		{"other weekday is closed", res("UTC", 60, mon("09:00", "12:00")), "2030-01-08", nil},
		{"a slot must fit before the end", res("UTC", 90, mon("09:00", "12:00")), "2030-01-07",
			series(t, "2030-01-07T09:00:00Z", 90*time.Minute, 2)},
		{"grid starts at the window start", res("UTC", 60, mon("09:15", "11:15")), "2030-01-07",
			series(t, "2030-01-07T09:15:00Z", time.Hour, 2)},
		{"window ending at 24:00", res("UTC", 60, mon("22:00", "24:00")), "2030-01-07",
			series(t, "2030-01-07T22:00:00Z", time.Hour, 2)},
		{"whole day in 90-minute slots", res("UTC", 90, allWeek("00:00", "24:00")...), "2030-01-07",
			series(t, "2030-01-07T00:00:00Z", 90*time.Minute, 16)},
		{"overlapping windows give each slot once", res("UTC", 60, mon("09:00", "12:00"), mon("10:00", "14:00")), "2030-01-07",
			series(t, "2030-01-07T09:00:00Z", time.Hour, 5)},
		{"identical windows give each slot once", res("UTC", 60, mon("09:00", "11:00"), mon("09:00", "11:00")), "2030-01-07",
			series(t, "2030-01-07T09:00:00Z", time.Hour, 2)},
		{"windows are sorted", res("UTC", 60, mon("14:00", "16:00"), mon("09:00", "11:00")), "2030-01-07",
			append(series(t, "2030-01-07T09:00:00Z", time.Hour, 2), series(t, "2030-01-07T14:00:00Z", time.Hour, 2)...)},
		{"invalid window is ignored", res("UTC", 60, mon("12:00", "09:00"), mon("25:00", "26:00"), mon("10:00", "11:00")), "2030-01-07",
			series(t, "2030-01-07T10:00:00Z", time.Hour, 1)},
		{"paris in winter", res("Europe/Paris", 60, allWeek("00:00", "24:00")...), "2030-01-07",
			series(t, "2030-01-06T23:00:00Z", time.Hour, 24)},
		{"paris in summer", res("Europe/Paris", 60, allWeek("09:00", "12:00")...), "2030-07-01",
			series(t, "2030-07-01T07:00:00Z", time.Hour, 3)},
		{"paris spring forward skips 02:00", res("Europe/Paris", 60, allWeek("00:00", "24:00")...), "2030-03-31",
			series(t, "2030-03-30T23:00:00Z", time.Hour, 23)},
		{"paris spring forward in 30-minute slots", res("Europe/Paris", 30, allWeek("00:00", "24:00")...), "2030-03-31",
			series(t, "2030-03-30T23:00:00Z", 30*time.Minute, 46)},
		{"paris fall back takes the first 02:00", res("Europe/Paris", 60, allWeek("00:00", "24:00")...), "2030-10-27",
			append(series(t, "2030-10-26T22:00:00Z", time.Hour, 3), series(t, "2030-10-27T02:00:00Z", time.Hour, 21)...)},
		{"paris fall back window ending at 24:00", res("Europe/Paris", 60, sun("22:00", "24:00")), "2030-10-27",
			series(t, "2030-10-27T21:00:00Z", time.Hour, 2)},
		{"new york spring forward", res("America/New_York", 60, sun("00:00", "04:00")), "2030-03-10",
			[]string{"2030-03-10T05:00:00Z", "2030-03-10T06:00:00Z", "2030-03-10T07:00:00Z"}},
		{"new york fall back", res("America/New_York", 30, sun("00:00", "03:00")), "2030-11-03",
			[]string{"2030-11-03T04:00:00Z", "2030-11-03T04:30:00Z", "2030-11-03T05:00:00Z", "2030-11-03T05:30:00Z",
				"2030-11-03T07:00:00Z", "2030-11-03T07:30:00Z"}},
		{"new york window ending at 24:00 crosses the UTC date", res("America/New_York", 60, sun("22:00", "24:00")), "2030-11-03",
			[]string{"2030-11-04T03:00:00Z", "2030-11-04T04:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			y, mo, d, err := booking.ParseDate(tt.date)
			if err != nil {
				t.Fatal(err)
			}
			slots, err := tt.r.SlotsOn(y, mo, d)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]string, len(slots))
			dur := time.Duration(tt.r.DurationMinutes) * time.Minute
			for i, s := range slots {
				got[i] = s.StartsAt.Format(time.RFC3339)
				if s.StartsAt.Location() != time.UTC || s.EndsAt.Location() != time.UTC {
					t.Errorf("slot %v not in UTC", s)
				}
				if s.EndsAt.Sub(s.StartsAt) != dur {
					t.Errorf("slot %v lasts %v, want %v", s, s.EndsAt.Sub(s.StartsAt), dur)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got (%d)\n%v\nwant (%d)\n%v", len(got), got, len(tt.want), tt.want)
			}
		})
	}

	t.Run("unknown time zone", func(t *testing.T) {
		t.Parallel()
		if _, err := res("Mars/Olympus", 60, allWeek("00:00", "24:00")...).SlotsOn(2030, 1, 7); err == nil {
			t.Errorf("no error for an unknown time zone")
		}
	})
}

func TestSlotAt(t *testing.T) {
	t.Parallel()
	paris := res("Europe/Paris", 60, allWeek("00:00", "24:00")...)
	parisLoc, _ := time.LoadLocation("Europe/Paris")
	morning := res("UTC", 60, booking.OpenSpan{Weekday: 1, Start: "09:00", End: "12:00"})
	nyEvening := res("America/New_York", 60, booking.OpenSpan{Weekday: 0, Start: "22:00", End: "24:00"})
	nyNight := res("America/New_York", 60, booking.OpenSpan{Weekday: 0, Start: "00:00", End: "04:00"})
	half := res("UTC", 30, allWeek("00:00", "24:00")...)
	tests := []struct {
		name string
		r    *booking.Resource
		at   time.Time
		ok   bool
		ends string // when ok
	}{
		{"on the grid", morning, mustTime(t, "2030-01-07T10:00:00Z"), true, "2030-01-07T11:00:00Z"},
		{"first slot", morning, mustTime(t, "2030-01-07T09:00:00Z"), true, "2030-01-07T10:00:00Z"},
		{"last slot", morning, mustTime(t, "2030-01-07T11:00:00Z"), true, "2030-01-07T12:00:00Z"},
		{"at closing time", morning, mustTime(t, "2030-01-07T12:00:00Z"), false, ""},
		{"before opening", morning, mustTime(t, "2030-01-07T08:00:00Z"), false, ""},
		{"closed weekday", morning, mustTime(t, "2030-01-08T10:00:00Z"), false, ""},
		{"half past on a 60-minute grid", morning, mustTime(t, "2030-01-07T10:30:00Z"), false, ""},
		{"half past on a 30-minute grid", half, mustTime(t, "2030-01-07T10:30:00Z"), true, "2030-01-07T11:00:00Z"},
		{"one second off", morning, mustTime(t, "2030-01-07T10:00:01Z"), false, ""},
		{"one nanosecond off", morning, mustTime(t, "2030-01-07T10:00:00Z").Add(time.Nanosecond), false, ""},
		{"time given in another zone", morning, mustTime(t, "2030-01-07T12:00:00+02:00"), true, "2030-01-07T11:00:00Z"},
		{"paris local midnight", paris, mustTime(t, "2030-03-30T23:00:00Z"), true, "2030-03-31T00:00:00Z"},
		{"paris first slot after the spring gap", paris, mustTime(t, "2030-03-31T01:00:00Z"), true, "2030-03-31T02:00:00Z"},
		{"paris wall time given in Paris", paris, time.Date(2030, 3, 31, 3, 0, 0, 0, parisLoc), true, "2030-03-31T02:00:00Z"},
		{"paris first 02:00 of the fall back", paris, mustTime(t, "2030-10-27T00:00:00Z"), true, "2030-10-27T01:00:00Z"},
		{"paris second 02:00 of the fall back", paris, mustTime(t, "2030-10-27T01:00:00Z"), false, ""},
		{"paris 03:00 after the fall back", paris, mustTime(t, "2030-10-27T02:00:00Z"), true, "2030-10-27T03:00:00Z"},
		{"window ending 24:00, late slot on the next UTC day", nyEvening, mustTime(t, "2030-01-07T04:00:00Z"), true, "2030-01-07T05:00:00Z"},
		{"window ending 24:00, midnight is not a slot", nyEvening, mustTime(t, "2030-01-07T05:00:00Z"), false, ""},
		{"new york 01:00 EST before the gap", nyNight, mustTime(t, "2030-03-10T06:00:00Z"), true, "2030-03-10T07:00:00Z"},
		{"new york 03:00 EDT after the gap", nyNight, mustTime(t, "2030-03-10T07:00:00Z"), true, "2030-03-10T08:00:00Z"},
		{"new york first 01:00 of the fall back", nyNight, mustTime(t, "2030-11-03T05:00:00Z"), true, "2030-11-03T06:00:00Z"},
		{"new york second 01:00 of the fall back", nyNight, mustTime(t, "2030-11-03T06:00:00Z"), false, ""},
		{"unknown time zone", res("Nowhere/Land", 60, allWeek("00:00", "24:00")...), mustTime(t, "2030-01-07T10:00:00Z"), false, ""},
		{"no weekly hours", res("UTC", 60), mustTime(t, "2030-01-07T10:00:00Z"), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, ok := tt.r.SlotAt(tt.at)
			if ok != tt.ok {
				t.Fatalf("SlotAt(%v) ok = %v, want %v", tt.at, ok, tt.ok)
			}
			if !ok {
				return
			}
			if !s.StartsAt.Equal(tt.at) || s.StartsAt.Location() != time.UTC {
				t.Errorf("starts %v, want %v in UTC", s.StartsAt, tt.at.UTC())
			}
			if got := s.EndsAt.Format(time.RFC3339); got != tt.ends {
				t.Errorf("ends %s, want %s", got, tt.ends)
			}
		})
	}

	t.Run("every listed slot is found", func(t *testing.T) {
		t.Parallel()
		for _, date := range []string{"2030-03-30", "2030-03-31", "2030-10-27", "2030-10-28"} {
			y, mo, d, _ := booking.ParseDate(date)
			slots, err := paris.SlotsOn(y, mo, d)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range slots {
				if got, ok := paris.SlotAt(want.StartsAt); !ok || !got.StartsAt.Equal(want.StartsAt) || !got.EndsAt.Equal(want.EndsAt) {
					t.Errorf("%s: SlotAt(%v) = %v, %v; want %v", date, want.StartsAt, got, ok, want)
				}
			}
		}
	})
}

func TestLocalTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, tz, date, clock string
		want                  string // "" for an error
	}{
		{"utc", "UTC", "2030-01-07", "10:00", "2030-01-07T10:00:00Z"},
		{"paris winter", "Europe/Paris", "2030-01-07", "10:00", "2030-01-07T09:00:00Z"},
		{"paris summer", "Europe/Paris", "2030-07-01", "10:00", "2030-07-01T08:00:00Z"},
		{"paris midnight", "Europe/Paris", "2030-07-01", "00:00", "2030-06-30T22:00:00Z"},
		{"paris just before the spring gap", "Europe/Paris", "2030-03-31", "01:59", "2030-03-31T00:59:00Z"},
		{"paris inside the spring gap", "Europe/Paris", "2030-03-31", "02:00", ""},
		{"paris late in the spring gap", "Europe/Paris", "2030-03-31", "02:30", ""},
		{"paris after the spring gap", "Europe/Paris", "2030-03-31", "03:00", "2030-03-31T01:00:00Z"},
		{"paris ambiguous time takes the earlier instant", "Europe/Paris", "2030-10-27", "02:30", "2030-10-27T00:30:00Z"},
		{"paris after the fall back", "Europe/Paris", "2030-10-27", "03:00", "2030-10-27T02:00:00Z"},
		{"new york inside the spring gap", "America/New_York", "2030-03-10", "02:15", ""},
		{"new york after the spring gap", "America/New_York", "2030-03-10", "03:00", "2030-03-10T07:00:00Z"},
		{"new york ambiguous time takes the earlier instant", "America/New_York", "2030-11-03", "01:30", "2030-11-03T05:30:00Z"},
		{"new york after the fall back", "America/New_York", "2030-11-03", "02:00", "2030-11-03T07:00:00Z"},
		{"24:00 is not a clock time", "UTC", "2030-01-07", "24:00", ""},
		{"hour out of range", "UTC", "2030-01-07", "25:00", ""},
		{"minute out of range", "UTC", "2030-01-07", "10:60", ""},
		{"single-digit hour", "UTC", "2030-01-07", "9:00", ""},
		{"seconds", "UTC", "2030-01-07", "10:00:00", ""},
		{"not a time", "UTC", "2030-01-07", "ab:cd", ""},
		{"negative minute", "UTC", "2030-01-07", "10:-1", ""},
		{"impossible date", "UTC", "2030-02-30", "10:00", ""},
		{"bad date format", "UTC", "07/01/2030", "10:00", ""},
		{"unknown zone", "Mars/Olympus", "2030-01-07", "10:00", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := res(tt.tz, 60)
			got, err := r.LocalTime(tt.date, tt.clock)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("LocalTime(%q, %q) = %v, want an error", tt.date, tt.clock, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("LocalTime(%q, %q): %v", tt.date, tt.clock, err)
			}
			if got.Location() != time.UTC || got.Format(time.RFC3339) != tt.want {
				t.Errorf("LocalTime(%q, %q) = %v, want %s", tt.date, tt.clock, got, tt.want)
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	t.Parallel()
	y, mo, d, err := booking.ParseDate("2030-02-28")
	if err != nil || y != 2030 || mo != time.February || d != 28 {
		t.Errorf("ParseDate(2030-02-28) = %d %v %d %v", y, mo, d, err)
	}
	for _, s := range []string{"", "2030-02-29", "2030-2-28", "2030-02-28T00:00:00Z", "28.02.2030", " 2030-02-28"} {
		if _, _, _, err := booking.ParseDate(s); err == nil {
			t.Errorf("ParseDate(%q): no error", s)
		}
	}
}

// A daylight-saving jump inside an opening window must not let a slot end
// after the window closes.
func TestSlotsOnEndByClosingInstant(t *testing.T) {
	t.Parallel()
	r := booking.Resource{Timezone: "Europe/Paris", DurationMinutes: 90,
		WeeklyHours: []booking.OpenSpan{{Weekday: 0, Start: "00:00", End: "03:00"}}}
	slots, err := r.SlotsOn(2030, time.March, 31)
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Europe/Paris")
	closeAt := time.Date(2030, time.March, 31, 3, 0, 0, 0, loc)
	if len(slots) != 1 {
		t.Fatalf("got %d slots %v, want 1 (00:00-01:30 CET; 01:30 CET + 90 min ends after 03:00 CEST)", len(slots), slots)
	}
	for _, s := range slots {
		if s.EndsAt.After(closeAt) {
			t.Fatalf("slot %v ends after closing %v", s, closeAt)
		}
	}
}
