package booking

import (
	"errors"
	"sort"
	"strconv"
	"time"
)

// Slot is a bookable time range.
type Slot struct {
	StartsAt time.Time `json:"startsAt"`
	EndsAt   time.Time `json:"endsAt"`
}

var errBadClock = errors.New("bad clock time")

func parseClock(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, errBadClock
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return 0, errBadClock
	}
	return h*60 + m, nil
}

func (s OpenSpan) minutes() (start, end int, err error) {
	if start, err = parseClock(s.Start); err != nil {
		return 0, 0, err
	}
	if end, err = parseClock(s.End); err != nil {
		return 0, 0, err
	}
	if start >= end || start == 24*60 {
		return 0, 0, errBadClock
	}
	return start, end, nil
}

// wallTime returns the instant of a local wall-clock time on a date. For a time
// that does not exist (skipped by a daylight-saving jump) ok is false; for a
// time that exists twice the earlier instant is returned.
func wallTime(y int, mo time.Month, d, minute int, loc *time.Location) (t time.Time, ok bool) {
	t = time.Date(y, mo, d, minute/60, minute%60, 0, 0, loc)
	if t.Hour() != (minute/60)%24 || t.Minute() != minute%60 {
		return t, false
	}
	if minute == 24*60 {
		return t, true
	}
	// time.Date picks one of two instants for an ambiguous time; prefer the earlier.
	if e := t.Add(-time.Hour); e.Hour() == t.Hour() && e.Minute() == t.Minute() && e.Day() == t.Day() {
		return e, true
	}
	return t, true
}

// SlotsOn lists the slots of resource r on local date (y, mo, d): consecutive
// durations from the start of each opening window that fit before its end.
// Slots whose wall-clock start does not exist on that day are left out.
func (r *Resource) SlotsOn(y int, mo time.Month, d int) ([]Slot, error) {
	loc, err := time.LoadLocation(r.Timezone)
	if err != nil {
		return nil, err
	}
	weekday := int(time.Date(y, mo, d, 12, 0, 0, 0, time.UTC).Weekday())
	dur := time.Duration(r.DurationMinutes) * time.Minute
	var slots []Slot
	for _, span := range r.WeeklyHours {
		if span.Weekday != weekday {
			continue
		}
		start, end, err := span.minutes()
		if err != nil {
			continue
		}
		// The window closes at an instant: a daylight-saving jump inside the
		// window shifts the wall clock, so a slot must also end by then.
		closeAt := time.Date(y, mo, d, end/60, end%60, 0, 0, loc)
		for m := start; m+r.DurationMinutes <= end; m += r.DurationMinutes {
			st, ok := wallTime(y, mo, d, m, loc)
			if !ok || st.Add(dur).After(closeAt) {
				continue
			}
			slots = append(slots, Slot{StartsAt: st.UTC(), EndsAt: st.Add(dur).UTC()})
		}
	}
	sort.Slice(slots, func(i, j int) bool { return slots[i].StartsAt.Before(slots[j].StartsAt) })
	// Overlapping opening windows could yield the same slot twice.
	out := slots[:0]
	for i, s := range slots {
		if i == 0 || !s.StartsAt.Equal(out[len(out)-1].StartsAt) {
			out = append(out, s)
		}
	}
	return out, nil
}

// SlotAt returns the slot of r that starts exactly at t, or false when t is not
// on the resource's slot grid inside its weekly hours.
func (r *Resource) SlotAt(t time.Time) (Slot, bool) {
	loc, err := time.LoadLocation(r.Timezone)
	if err != nil {
		return Slot{}, false
	}
	lt := t.In(loc)
	// A slot that starts on this local date; check the previous date too in
	// case of windows ending at 24:00 and DST corner cases.
	for _, day := range []time.Time{lt, lt.AddDate(0, 0, -1)} {
		slots, err := r.SlotsOn(day.Year(), day.Month(), day.Day())
		if err != nil {
			return Slot{}, false
		}
		for _, s := range slots {
			if s.StartsAt.Equal(t) {
				return s, true
			}
		}
	}
	return Slot{}, false
}

// ParseDate parses "YYYY-MM-DD".
func ParseDate(s string) (y int, mo time.Month, d int, err error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, 0, 0, err
	}
	return t.Year(), t.Month(), t.Day(), nil
}

// LocalTime resolves a local date ("YYYY-MM-DD") and clock time ("HH:MM") in
// the resource's time zone. A wall time skipped by daylight saving is an error.
func (r *Resource) LocalTime(date, clock string) (time.Time, error) {
	y, mo, d, err := ParseDate(date)
	if err != nil {
		return time.Time{}, err
	}
	m, err := parseClock(clock)
	if err != nil || m >= 24*60 {
		return time.Time{}, errBadClock
	}
	loc, err := time.LoadLocation(r.Timezone)
	if err != nil {
		return time.Time{}, err
	}
	t, ok := wallTime(y, mo, d, m, loc)
	if !ok {
		return time.Time{}, errors.New("local time does not exist on that day")
	}
	return t.UTC(), nil
}
