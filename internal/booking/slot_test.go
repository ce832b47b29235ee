package booking_test

import (
	"fmt"
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
		// 2027 transitions (see dstTransitions below).
		{"paris 2027 spring gap start", "Europe/Paris", "2027-03-28", "02:00", ""},
		{"paris 2027 spring gap end", "Europe/Paris", "2027-03-28", "02:59", ""},
		{"paris 2027 after the spring gap", "Europe/Paris", "2027-03-28", "03:00", "2027-03-28T01:00:00Z"},
		{"paris 2027 first 02:00 of the fall back", "Europe/Paris", "2027-10-31", "02:00", "2027-10-31T00:00:00Z"},
		{"paris 2027 first 02:59 of the fall back", "Europe/Paris", "2027-10-31", "02:59", "2027-10-31T00:59:00Z"},
		{"paris 2027 03:00 once after the fall back", "Europe/Paris", "2027-10-31", "03:00", "2027-10-31T02:00:00Z"},
		{"new york 2027 inside the spring gap", "America/New_York", "2027-03-14", "02:30", ""},
		{"new york 2027 just before the spring gap", "America/New_York", "2027-03-14", "01:59", "2027-03-14T06:59:00Z"},
		{"new york 2027 first 01:00 of the fall back", "America/New_York", "2027-11-07", "01:00", "2027-11-07T05:00:00Z"},
		{"new york 2027 first 01:59 of the fall back", "America/New_York", "2027-11-07", "01:59", "2027-11-07T05:59:00Z"},
		{"new york 2027 02:00 once after the fall back", "America/New_York", "2027-11-07", "02:00", "2027-11-07T07:00:00Z"},
		// Lord Howe shifts by 30 minutes: 02:00-02:29 do not exist on
		// 2027-10-03, and 01:30-01:59 happen twice on 2027-04-04 (+11, then +10:30).
		{"lord howe 2027 just before the 30-minute gap", "Australia/Lord_Howe", "2027-10-03", "01:59", "2027-10-02T15:29:00Z"},
		{"lord howe 2027 start of the 30-minute gap", "Australia/Lord_Howe", "2027-10-03", "02:00", ""},
		{"lord howe 2027 end of the 30-minute gap", "Australia/Lord_Howe", "2027-10-03", "02:29", ""},
		{"lord howe 2027 after the 30-minute gap", "Australia/Lord_Howe", "2027-10-03", "02:30", "2027-10-02T15:30:00Z"},
		{"lord howe 2027 before the 30-minute repeat", "Australia/Lord_Howe", "2027-04-04", "01:29", "2027-04-03T14:29:00Z"},
		{"lord howe 2027 first 01:30 of the repeat", "Australia/Lord_Howe", "2027-04-04", "01:30", "2027-04-03T14:30:00Z"},
		{"lord howe 2027 first 01:45 of the repeat", "Australia/Lord_Howe", "2027-04-04", "01:45", "2027-04-03T14:45:00Z"},
		{"lord howe 2027 first 01:59 of the repeat", "Australia/Lord_Howe", "2027-04-04", "01:59", "2027-04-03T14:59:00Z"},
		{"lord howe 2027 02:00 once after the repeat", "Australia/Lord_Howe", "2027-04-04", "02:00", "2027-04-03T15:30:00Z"},
		// Santiago changes at midnight: Sunday 00:00-00:59 do not exist on
		// 2027-09-05, and Saturday 23:00-23:59 happen twice on 2027-04-03.
		{"santiago 2027 midnight skipped", "America/Santiago", "2027-09-05", "00:00", ""},
		{"santiago 2027 01:00 after the midnight gap", "America/Santiago", "2027-09-05", "01:00", "2027-09-05T04:00:00Z"},
		{"santiago 2027 first 23:30 before midnight", "America/Santiago", "2027-04-03", "23:30", "2027-04-04T02:30:00Z"},
		{"santiago 2027 midnight after the repeat", "America/Santiago", "2027-04-04", "00:00", "2027-04-04T04:00:00Z"},
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

// dstTransitions are the 2027 daylight-saving changes walked through below, all
// on a Sunday. Closing instants of 05:00 and 24:00 (next day's 00:00) are given
// in UTC; neither wall time is near the change, so each exists exactly once.
//
// Australia/Lord_Howe shifts by 30 minutes; its 2027 changes were looked up
// with the Go time package (Time.ZoneBounds): on 2027-04-04 at 02:00 +11 the
// clock goes back to 01:30 +10:30 (at 2027-04-03T15:00Z), and on 2027-10-03 at
// 02:00 +10:30 it jumps to 02:30 +11 (at 2027-10-02T15:30Z).
var dstTransitions = []struct {
	name, tz, date       string
	close0500, close2400 string
}{
	// 02:00 CET -> 03:00 CEST at 01:00Z.
	{"paris spring forward", "Europe/Paris", "2027-03-28", "2027-03-28T03:00:00Z", "2027-03-28T22:00:00Z"},
	// 03:00 CEST -> 02:00 CET at 01:00Z.
	{"paris fall back", "Europe/Paris", "2027-10-31", "2027-10-31T04:00:00Z", "2027-10-31T23:00:00Z"},
	// 02:00 EST -> 03:00 EDT at 07:00Z.
	{"new york spring forward", "America/New_York", "2027-03-14", "2027-03-14T09:00:00Z", "2027-03-15T04:00:00Z"},
	// 02:00 EDT -> 01:00 EST at 06:00Z.
	{"new york fall back", "America/New_York", "2027-11-07", "2027-11-07T10:00:00Z", "2027-11-08T05:00:00Z"},
	{"lord howe spring forward by 30 minutes", "Australia/Lord_Howe", "2027-10-03", "2027-10-02T18:00:00Z", "2027-10-03T13:00:00Z"},
	{"lord howe fall back by 30 minutes", "Australia/Lord_Howe", "2027-04-04", "2027-04-03T18:30:00Z", "2027-04-04T13:30:00Z"},
}

// TestSlotsOnAroundDaylightSaving checks the rules every slot list must keep on
// both transitions of each zone, for several durations and windows.
func TestSlotsOnAroundDaylightSaving(t *testing.T) {
	t.Parallel()
	windows := []struct{ start, end string }{{"00:00", "24:00"}, {"01:00", "05:00"}}
	for _, tr := range dstTransitions {
		for _, w := range windows {
			for _, minutes := range []int{60, 90, 45} {
				name := fmt.Sprintf("%s %s, %s-%s in %d-minute slots", tr.name, tr.date, w.start, w.end, minutes)
				closeAt := tr.close0500
				if w.end == "24:00" {
					closeAt = tr.close2400
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					checkSlotRules(t, res(tr.tz, minutes, allWeek(w.start, w.end)...), tr.date, w.start, w.end, mustTime(t, closeAt))
				})
			}
		}
	}
}

// checkSlotRules checks the slots of r (open every day from start to end) on
// date, whose window closes at closeAt, and on the days either side.
func checkSlotRules(t *testing.T, r *booking.Resource, date, start, end string, closeAt time.Time) {
	t.Helper()
	loc, err := time.LoadLocation(r.Timezone)
	if err != nil {
		t.Fatal(err)
	}
	y, mo, d, err := booking.ParseDate(date)
	if err != nil {
		t.Fatal(err)
	}
	dur := time.Duration(r.DurationMinutes) * time.Minute
	clock := func(s string) int {
		if s == "24:00" {
			return 24 * 60
		}
		v, err := time.Parse("15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v.Hour()*60 + v.Minute()
	}
	from, to := clock(start), clock(end)
	slots, err := r.SlotsOn(y, mo, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(slots) == 0 {
		t.Fatalf("no slots")
	}
	for i, s := range slots {
		if s.StartsAt.Location() != time.UTC || s.EndsAt.Location() != time.UTC {
			t.Errorf("slot %v not in UTC", s)
		}
		if s.EndsAt.Sub(s.StartsAt) != dur {
			t.Errorf("slot %v lasts %v, want %v", s, s.EndsAt.Sub(s.StartsAt), dur)
		}
		if i > 0 && s.StartsAt.Before(slots[i-1].EndsAt) {
			t.Errorf("slot %v overlaps the previous slot %v", s, slots[i-1])
		}
		if s.EndsAt.After(closeAt) {
			t.Errorf("slot %v ends after the window closes at %v", s, closeAt)
		}
		// The local clock at the start reads a point of the wall-clock grid
		// of that date, and that wall time resolves (existing, at its
		// earlier instant when it happens twice) to the start itself. A slot
		// placed at a non-existent grid time, or at the second occurrence of
		// a repeated one, fails here.
		lt := s.StartsAt.In(loc)
		m := lt.Hour()*60 + lt.Minute()
		if lt.Format(time.DateOnly) != date || lt.Second() != 0 || lt.Nanosecond() != 0 ||
			m < from || m+r.DurationMinutes > to || (m-from)%r.DurationMinutes != 0 {
			t.Errorf("slot %v starts at local %v, off the %s grid from %s to %s", s, lt, date, start, end)
			continue
		}
		if at, err := r.LocalTime(date, lt.Format("15:04")); err != nil || !at.Equal(s.StartsAt) {
			t.Errorf("slot %v starts at local %s, which resolves to %v, %v", s, lt.Format("15:04"), at, err)
		}
		// Independently of LocalTime: the clock did not read the same wall
		// time a shift (30 or 60 minutes) earlier.
		for _, back := range []time.Duration{30 * time.Minute, time.Hour} {
			if e := s.StartsAt.Add(-back).In(loc); e.Format(time.DateTime) == lt.Format(time.DateTime) {
				t.Errorf("slot %v starts at the second %s; the first was at %v", s, lt.Format("15:04"), e.UTC())
			}
		}
	}

	// The day before and the day after (open at the same hours): no slot of
	// one day overlaps a slot of the next either.
	day := time.Date(y, mo, d, 12, 0, 0, 0, time.UTC)
	var all []booking.Slot
	for _, dd := range []time.Time{day.AddDate(0, 0, -1), day, day.AddDate(0, 0, 1)} {
		s, err := r.SlotsOn(dd.Year(), dd.Month(), dd.Day())
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, s...)
	}
	for i := 1; i < len(all); i++ {
		if all[i].StartsAt.Before(all[i-1].EndsAt) {
			t.Errorf("slot %v overlaps %v (consecutive days)", all[i], all[i-1])
		}
	}

	// SlotAt finds exactly the listed slots, and nothing else: probe every
	// listed start, one minute either side, and every quarter hour (all
	// offsets involved are whole quarter hours) from three hours before the
	// first slot to three hours after the last.
	listed := map[time.Time]booking.Slot{}
	for _, s := range all {
		listed[s.StartsAt] = s
	}
	var probes []time.Time
	for _, s := range slots {
		probes = append(probes, s.StartsAt, s.StartsAt.Add(-time.Minute), s.StartsAt.Add(time.Minute))
	}
	for p := slots[0].StartsAt.Add(-3 * time.Hour); !p.After(slots[len(slots)-1].EndsAt.Add(3 * time.Hour)); p = p.Add(15 * time.Minute) {
		probes = append(probes, p)
	}
	for _, p := range probes {
		got, ok := r.SlotAt(p)
		want, listedHere := listed[p]
		switch {
		case ok != listedHere:
			t.Errorf("SlotAt(%v) ok = %v, but listed = %v", p, ok, listedHere)
		case ok && (!got.StartsAt.Equal(want.StartsAt) || !got.EndsAt.Equal(want.EndsAt)):
			t.Errorf("SlotAt(%v) = %v, listed as %v", p, got, want)
		}
	}
}

// The exact slot lists around daylight-saving changes in 2027.
func TestSlotsOnDaylightSavingExact(t *testing.T) {
	t.Parallel()
	sun := func(start, end string) booking.OpenSpan { return booking.OpenSpan{Weekday: 0, Start: start, End: end} }
	sat := func(start, end string) booking.OpenSpan { return booking.OpenSpan{Weekday: 6, Start: start, End: end} }
	join := slices.Concat[[]string]
	const m45, m90 = 45 * time.Minute, 90 * time.Minute
	tests := []struct {
		name string
		r    *booking.Resource
		date string
		want []string
	}{
		// 00:00 CET, 01:30 CET (ends 04:00 CEST); 03:00 CEST would overlap
		// it, so the grid resumes at 04:30 CEST, up to 22:30-24:00 CEST.
		{"paris spring forward 90-minute slot after the gap overlapping the one before is dropped",
			res("Europe/Paris", 90, sun("00:00", "24:00")), "2027-03-28",
			join(series(t, "2027-03-27T23:00:00Z", m90, 2), series(t, "2027-03-28T02:30:00Z", m90, 13))},
		// 01:00 CET; 02:30 does not exist; 04:00 + 90 minutes is past 05:00.
		{"paris spring forward 90-minute slots in a window across the gap",
			res("Europe/Paris", 90, sun("01:00", "05:00")), "2027-03-28",
			[]string{"2027-03-28T00:00:00Z"}},
		// 02:30 does not exist: the window closes when the clock jumps
		// past it, at 03:00 CEST (01:00Z), and 01:00-02:00 CET ends then.
		{"paris window closing inside the gap closes at the jump",
			res("Europe/Paris", 60, sun("00:00", "02:30")), "2027-03-28",
			[]string{"2027-03-27T23:00:00Z", "2027-03-28T00:00:00Z"}},
		// 01:30 CEST ends at 02:00 CET (01:00Z); the hour of repeated wall
		// times is left unused and the grid resumes at 03:00 CET.
		{"paris fall back 90-minute slots",
			res("Europe/Paris", 90, sun("00:00", "24:00")), "2027-10-31",
			join(series(t, "2027-10-30T22:00:00Z", m90, 2), series(t, "2027-10-31T02:00:00Z", m90, 14))},
		// 02:30 happens twice: the window closes at its earlier instant
		// (00:30Z), before 01:30-03:00 CEST (23:30Z-01:00Z) would end.
		{"paris window closing at a repeated time closes at its first occurrence",
			res("Europe/Paris", 90, sun("00:00", "02:30")), "2027-10-31",
			[]string{"2027-10-30T22:00:00Z"}},
		{"new york spring forward 90-minute slot after the gap overlapping the one before is dropped",
			res("America/New_York", 90, sun("00:00", "24:00")), "2027-03-14",
			join(series(t, "2027-03-14T05:00:00Z", m90, 2), series(t, "2027-03-14T08:30:00Z", m90, 13))},
		{"new york fall back takes the first 01:00",
			res("America/New_York", 60, sun("00:00", "24:00")), "2027-11-07",
			join(series(t, "2027-11-07T04:00:00Z", time.Hour, 2), series(t, "2027-11-07T07:00:00Z", time.Hour, 22))},
		// 01:00 +10:30; 02:00 does not exist; 03:00 and 04:00 +11.
		{"lord howe spring forward hourly",
			res("Australia/Lord_Howe", 60, sun("01:00", "05:00")), "2027-10-03",
			[]string{"2027-10-02T14:30:00Z", "2027-10-02T16:00:00Z", "2027-10-02T17:00:00Z"}},
		// 01:00 +10:30 ends at 02:30 +11 (16:00Z); 02:30 +11 (15:30Z) would overlap it.
		{"lord howe spring forward 90-minute slot after the gap overlapping the one before is dropped",
			res("Australia/Lord_Howe", 90, sun("01:00", "05:00")), "2027-10-03",
			[]string{"2027-10-02T14:30:00Z"}},
		// 01:00, 01:45 +10:30 (ends 02:30 +11 = 16:00Z); 02:30 +11 (15:30Z)
		// overlaps it; 03:15 and 04:00 +11 (ends 04:45, before 05:00).
		{"lord howe spring forward 45-minute slots",
			res("Australia/Lord_Howe", 45, sun("01:00", "05:00")), "2027-10-03",
			[]string{"2027-10-02T14:30:00Z", "2027-10-02T15:15:00Z", "2027-10-02T16:15:00Z", "2027-10-02T17:00:00Z"}},
		// 00:00, 00:45, 01:30 +10:30; 02:15 does not exist; 03:00 to 23:15 +11.
		{"lord howe spring forward 45-minute slots all day",
			res("Australia/Lord_Howe", 45, sun("00:00", "24:00")), "2027-10-03",
			join(series(t, "2027-10-02T13:30:00Z", m45, 3), series(t, "2027-10-02T16:00:00Z", m45, 28))},
		// 01:00 +11; 02:00 exists only at +10:30 (15:30Z), after the repeat.
		{"lord howe fall back hourly",
			res("Australia/Lord_Howe", 60, sun("01:00", "05:00")), "2027-04-04",
			[]string{"2027-04-03T14:00:00Z", "2027-04-03T15:30:00Z", "2027-04-03T16:30:00Z", "2027-04-03T17:30:00Z"}},
		// 01:45 happens twice (14:45Z at +11, 15:15Z at +10:30): the earlier
		// one, right after 01:00-01:45 +11; then 02:30 to 04:00 +10:30.
		{"lord howe fall back 45-minute slots take the first of a repeated time",
			res("Australia/Lord_Howe", 45, sun("01:00", "05:00")), "2027-04-04",
			[]string{"2027-04-03T14:00:00Z", "2027-04-03T14:45:00Z", "2027-04-03T16:00:00Z", "2027-04-03T16:45:00Z", "2027-04-03T17:30:00Z"}},
		{"lord howe fall back 90-minute slots",
			res("Australia/Lord_Howe", 90, sun("01:00", "05:00")), "2027-04-04",
			[]string{"2027-04-03T14:00:00Z", "2027-04-03T16:00:00Z"}},
		// 00:00 +11, 01:30 first occurrence (+11, ends 02:30 +10:30), then
		// 03:00 to 22:30 +10:30.
		{"lord howe fall back 90-minute slots all day",
			res("Australia/Lord_Howe", 90, sun("00:00", "24:00")), "2027-04-04",
			join(series(t, "2027-04-03T13:00:00Z", m90, 2), series(t, "2027-04-03T16:30:00Z", m90, 14))},
		// Sunday 00:00 does not exist in Santiago on 2027-09-05 (the clock
		// jumps from Saturday 24:00 -04 to 01:00 -03 at 04:00Z): Saturday's
		// window "to 24:00" closes at the jump, and Sunday starts at 01:00.
		{"santiago window to a skipped midnight closes at the jump",
			res("America/Santiago", 60, sat("22:00", "24:00")), "2027-09-04",
			[]string{"2027-09-05T02:00:00Z", "2027-09-05T03:00:00Z"}},
		{"santiago skipped midnight is not a slot",
			res("America/Santiago", 60, sun("00:00", "03:00")), "2027-09-05",
			[]string{"2027-09-05T04:00:00Z", "2027-09-05T05:00:00Z"}},
		// Saturday 23:00-23:59 happen twice on 2027-04-03 (-03, then -04
		// from 03:00Z); Sunday 00:00 is at 04:00Z.
		{"santiago repeated hour before midnight takes the first 23:00",
			res("America/Santiago", 60, sat("22:00", "24:00")), "2027-04-03",
			[]string{"2027-04-04T01:00:00Z", "2027-04-04T02:00:00Z"}},
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
			for i, s := range slots {
				got[i] = s.StartsAt.Format(time.RFC3339)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got (%d)\n%v\nwant (%d)\n%v", len(got), got, len(tt.want), tt.want)
			}
			for _, s := range slots {
				if got, ok := tt.r.SlotAt(s.StartsAt); !ok || got != s {
					t.Errorf("SlotAt(%v) = %v, %v; want %v", s.StartsAt, got, ok, s)
				}
				for _, off := range []time.Duration{-time.Minute, time.Minute} {
					if got, ok := tt.r.SlotAt(s.StartsAt.Add(off)); ok {
						t.Errorf("SlotAt(%v) = %v, want none (one minute off the grid)", s.StartsAt.Add(off), got)
					}
				}
			}
		})
	}
}

// Midnight transitions: a day whose window ends at 24:00 never overlaps the
// next day's first slot, in the cases checked by checkSlotRules too.
func TestSlotsOnAroundMidnightTransitions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, date, closeAt string
	}{
		// Saturday 24:00 is skipped: the window closes at the jump, 04:00Z.
		{"santiago skipped midnight", "2027-09-04", "2027-09-05T04:00:00Z"},
		// Saturday 23:00-23:59 repeated; Sunday 00:00 -04 is 04:00Z.
		{"santiago repeated hour before midnight", "2027-04-03", "2027-04-04T04:00:00Z"},
	}
	for _, tt := range tests {
		for _, minutes := range []int{60, 90, 45} {
			t.Run(fmt.Sprintf("%s in %d-minute slots", tt.name, minutes), func(t *testing.T) {
				t.Parallel()
				checkSlotRules(t, res("America/Santiago", minutes, allWeek("00:00", "24:00")...), tt.date, "00:00", "24:00", mustTime(t, tt.closeAt))
			})
		}
	}
}
