package booking

import (
	"errors"
	"slices"
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

// wallClock resolves the local wall-clock time minute (0 to 24*60, where
// 24*60 is the next day's 00:00) of date y-mo-d in loc from the zone's real
// UTC offsets, whatever the size of its daylight-saving shifts.
//
// first is the earliest instant at which the local clock reads exactly that
// time; exists is false when no instant does (a jump skips it). reached is the
// earliest instant at which the local clock reads that time or later: the
// instant of the jump when it is skipped, and otherwise first (unless a jump
// passed the time before a shift back to it, which no real zone does).
func wallClock(y int, mo time.Month, d, minute int, loc *time.Location) (first, reached time.Time, exists bool) {
	// The wall time written as if it were UTC. An instant whose local clock
	// reads it is wall minus the offset in force at that instant.
	wall := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC).Add(time.Duration(minute) * time.Minute)
	// UTC offsets stay well below 26 hours, so every instant whose clock reads
	// that wall time, or jumps over it, lies within 26 hours of it. Walk the
	// zone's periods (spans of one offset) covering that range in time order.
	const reach = 26 * time.Hour
	haveReached := false
	for at, to := wall.Add(-reach), wall.Add(reach); ; {
		lt := at.In(loc)
		_, off := lt.Zone()
		start, end := lt.ZoneBounds() // zero: since/until the beginning/end of time
		// In this period the clock reads from start+off to end+off.
		cand := wall.Add(-time.Duration(off) * time.Second)
		afterStart := start.IsZero() || !cand.Before(start)
		beforeEnd := end.IsZero() || cand.Before(end)
		switch {
		case afterStart && beforeEnd:
			// The clock reads the wall time in this period, at cand.
			if !haveReached {
				reached = cand
			}
			return cand, reached, true
		case !afterStart && !haveReached:
			// The clock is already past the wall time when this period
			// starts: the jump into it skipped the wall time.
			reached, haveReached = start, true
		}
		if end.IsZero() || !end.Before(to) {
			break
		}
		at = end
	}
	return time.Time{}, reached, false
}

// wallTime returns the instant of a local wall-clock time on a date. For a time
// that does not exist (skipped by a daylight-saving jump) ok is false; for a
// time that exists twice the earlier instant is returned.
func wallTime(y int, mo time.Month, d, minute int, loc *time.Location) (t time.Time, ok bool) {
	t, _, ok = wallClock(y, mo, d, minute, loc)
	return t, ok
}

var errBadDuration = errors.New("slot duration must be positive")

// SlotsOn lists the slots of resource r on local date (y, mo, d): a start
// every slot interval (by default every duration) from the start of each
// opening window, for slots that fit before its end. The opening windows
// are those of a date override covering the date (none when closed), and
// otherwise the weekly hours of its weekday.
// Slots whose wall-clock start does not exist on that day are left out; a
// wall-clock start that happens twice is taken at its earlier instant.
//
// The grid is by wall clock, but a slot lasts its duration in real time, so
// around a daylight-saving jump a slot may run into the next one on the grid:
// the later one is then left out, and no two listed slots overlap.
func (r *Resource) SlotsOn(y int, mo time.Month, d int) ([]Slot, error) {
	loc, err := LoadZone(r.Timezone)
	if err != nil {
		return nil, err
	}
	if r.DurationMinutes <= 0 {
		return nil, errBadDuration
	}
	dur := time.Duration(r.DurationMinutes) * time.Minute
	step := r.stepMinutes()
	var slots []Slot
	for _, span := range r.spansOn(y, mo, d) {
		start, end, err := span.minutes()
		if err != nil {
			continue
		}
		// The window closes at an instant: a daylight-saving jump inside the
		// window shifts the wall clock, so a slot must also end by then. That
		// instant is the first at which the local clock reads the closing
		// time or later: for a closing time that happens twice, its earlier
		// instant (the rule used for every wall time); for one skipped by a
		// jump, the instant of the jump. "24:00" is the next day's 00:00, so
		// a day's slots always end by the time the next day's can start.
		_, closeAt, _ := wallClock(y, mo, d, end, loc)
		slots = slices.Grow(slots, (end-start)/step+1)
		for m := start; m+r.DurationMinutes <= end; m += step {
			st, ok := wallTime(y, mo, d, m, loc)
			if !ok || st.Add(dur).After(closeAt) {
				continue
			}
			slots = append(slots, Slot{StartsAt: st.UTC(), EndsAt: st.Add(dur).UTC()})
		}
	}
	sort.Slice(slots, func(i, j int) bool { return slots[i].StartsAt.Before(slots[j].StartsAt) })
	// Keep a slot only when it starts once the previous kept one has ended:
	// the earlier slot wins. This also lists each slot once when opening
	// windows overlap. All slots last the same, so the previous kept slot is
	// the one that ends last.
	//
	// With a slot interval shorter than the duration, slots overlap on
	// purpose (a start every 15 minutes for an hour's booking): only the
	// same start listed twice is dropped; bookings of overlapping slots
	// are kept apart by the no-overlap constraint.
	out := slots[:0]
	for _, s := range slots {
		switch {
		case len(out) == 0:
			out = append(out, s)
		case step < r.DurationMinutes:
			if s.StartsAt.After(out[len(out)-1].StartsAt) {
				out = append(out, s)
			}
		case !s.StartsAt.Before(out[len(out)-1].EndsAt):
			out = append(out, s)
		}
	}
	return out, nil
}

// SlotAt returns the slot of r that starts exactly at t, or false when t is not
// on the resource's slot grid inside its weekly hours.
func (r *Resource) SlotAt(t time.Time) (Slot, bool) {
	loc, err := LoadZone(r.Timezone)
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
	loc, err := LoadZone(r.Timezone)
	if err != nil {
		return time.Time{}, err
	}
	t, ok := wallTime(y, mo, d, m, loc)
	if !ok {
		return time.Time{}, errors.New("local time does not exist on that day")
	}
	return t.UTC(), nil
}
