package pgtest

import "time"

// Clock is a test clock: the real time shifted by a fixed amount, so that a
// test starts at the wall time it chose and time still passes (holds lapse,
// webhook signatures made with the real time stay fresh). Pass its Now as
// app.Options.Now, and its Shift to a browser whose clock must agree.
type Clock struct {
	Shift time.Duration
}

// ClockAt returns a clock that reads at now.
func ClockAt(at time.Time) *Clock {
	return &Clock{Shift: time.Until(at)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	return time.Now().Add(c.Shift)
}

// TestDay returns midnight, in loc, of the first Wednesday at least a week
// after today there. Tests that book "the next free slots" start their clock
// on it: an ordinary weekday, followed by another, far from any change of
// daylight-saving time (those fall on Sundays), whatever the hour and the
// time zone the tests run in.
func TestDay(loc *time.Location) time.Time {
	now := time.Now().In(loc)
	d := time.Date(now.Year(), now.Month(), now.Day()+7, 0, 0, 0, 0, loc)
	for d.Weekday() != time.Wednesday {
		d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
	}
	return d
}

// WallTime returns the instant of hour:minute on day's date in day's zone.
func WallTime(day time.Time, hour, minute int) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day(), hour, minute, 0, 0, day.Location())
}
