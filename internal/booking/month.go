package booking

import (
	"context"
	"time"
)

// MaxMonthDays is the longest range the month view answers.
const MaxMonthDays = 62

// Day statuses of the month view.
const (
	DayAvailable     = "available"      // at least one slot can be booked
	DayFull          = "full"           // open, every bookable slot taken
	DayClosed        = "closed"         // no opening hours (weekly or by a date override)
	DayPast          = "past"           // open, but no slot can still be booked (past, or within the notice)
	DayBeyondHorizon = "beyond_horizon" // after the last date the horizon allows
)

// DayAvailability is one local date of the month view.
type DayAvailability struct {
	Date   string `json:"date"`
	Status string `json:"status"`
	// FreeSlots counts the slots that can be booked; PlacesLeft their
	// places (equal to FreeSlots on a resource booked whole).
	FreeSlots  int `json:"freeSlots"`
	PlacesLeft int `json:"placesLeft"`
}

// MonthAvailability is the month view of a resource: per local date of
// [From, To], whether it has slots to book and how many.
type MonthAvailability struct {
	ResourceID string            `json:"resourceId"`
	From       string            `json:"from"`
	To         string            `json:"to"`
	Timezone   string            `json:"timezone"`
	Capacity   int               `json:"capacity"`
	Days       []DayAvailability `json:"days"`
}

// MonthAvailability returns the month view of resource id for the local
// dates from to to (inclusive, at most MaxMonthDays), in the resource's
// zone. The bookings of the whole range are read in one query.
// Errors: not_found, validation_failed.
func (s *Booker) MonthAvailability(ctx context.Context, id, from, to string) (*MonthAvailability, error) {
	v := ValidationError{}
	first, err1 := time.Parse(time.DateOnly, from)
	last, err2 := time.Parse(time.DateOnly, to)
	switch {
	case err1 != nil:
		v.Add("from", "Must be a date as YYYY-MM-DD.")
	case err2 != nil:
		v.Add("to", "Must be a date as YYYY-MM-DD.")
	case last.Before(first):
		v.Add("to", "Must not be before from.")
	case last.Sub(first) >= MaxMonthDays*24*time.Hour:
		v.Add("to", "The range spans at most 62 days.")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	res, err := s.activeResource(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	n := int(last.Sub(first)/(24*time.Hour)) + 1
	out := &MonthAvailability{ResourceID: res.ID, From: from, To: to, Timezone: res.Timezone,
		Capacity: max(res.Capacity, 1), Days: make([]DayAvailability, 0, n)}
	type day struct {
		out   DayAvailability
		slots []Slot
		span  Slot // the time its slots keep, buffers included
	}
	days := make([]day, 0, n)
	var span Slot
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		slots, err := res.SlotsOn(d.Year(), d.Month(), d.Day())
		if err != nil {
			return nil, err
		}
		dd := day{out: DayAvailability{Date: d.Format(time.DateOnly)}, slots: slots}
		if len(slots) == 0 {
			days = append(days, dd)
			continue
		}
		b := res.Blocked(Slot{StartsAt: slots[0].StartsAt, EndsAt: slots[len(slots)-1].EndsAt})
		dd.span = b
		days = append(days, dd)
		if span.StartsAt.IsZero() || b.StartsAt.Before(span.StartsAt) {
			span.StartsAt = b.StartsAt
		}
		if b.EndsAt.After(span.EndsAt) {
			span.EndsAt = b.EndsAt
		}
	}
	var busy []Busy
	if !span.StartsAt.IsZero() {
		if busy, err = s.Store.BusyRanges(ctx, res.ID, span.StartsAt, span.EndsAt, now); err != nil {
			return nil, err
		}
	}
	lastDate, horizon := res.LastBookableDate(now)
	var dayBusy []Busy
	for _, d := range days {
		o := d.out
		switch {
		case len(d.slots) == 0:
			o.Status = DayClosed
		case horizon && o.Date > lastDate:
			o.Status = DayBeyondHorizon
		default:
			// Only the bookings that meet the day's span can take one of
			// its slots: each slot is then checked against a day's
			// bookings, not the whole range's.
			dayBusy = dayBusy[:0]
			for _, b := range busy {
				if b.Blocked.StartsAt.Before(d.span.EndsAt) && d.span.StartsAt.Before(b.Blocked.EndsAt) {
					dayBusy = append(dayBusy, b)
				}
			}
			// What freeSlots lists, counted without listing it.
			bookable := 0
			for _, sl := range d.slots {
				if res.Bookable(sl, now) != "" {
					continue
				}
				bookable++
				if left := res.PlacesLeft(sl, dayBusy); left > 0 {
					o.FreeSlots++
					o.PlacesLeft += left
				}
			}
			switch {
			case bookable == 0:
				o.Status = DayPast
			case o.FreeSlots == 0:
				o.Status = DayFull
			default:
				o.Status = DayAvailable
			}
		}
		out.Days = append(out.Days, o)
	}
	return out, nil
}
