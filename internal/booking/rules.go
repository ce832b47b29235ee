package booking

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of the availability rules.
const (
	maxBufferMinutes = 1440
	maxNoticeMinutes = 525600 // a year
	maxAdvanceDays   = 3650
	maxCapacity      = 10000
	maxOverrideDays  = 366
)

func (r *Resource) validateRules(v ValidationError) {
	if r.SlotIntervalMinutes != 0 && (r.SlotIntervalMinutes < 5 || r.SlotIntervalMinutes > 1440) {
		v.Add("slotIntervalMinutes", "Must be 0 (a start every duration) or between 5 and 1440.")
	}
	if r.BufferBeforeMinutes < 0 || r.BufferBeforeMinutes > maxBufferMinutes {
		v.Add("bufferBeforeMinutes", "Must be between 0 and 1440.")
	}
	if r.BufferAfterMinutes < 0 || r.BufferAfterMinutes > maxBufferMinutes {
		v.Add("bufferAfterMinutes", "Must be between 0 and 1440.")
	}
	if r.MinNoticeMinutes < 0 || r.MinNoticeMinutes > maxNoticeMinutes {
		v.Add("minNoticeMinutes", "Must be between 0 and 525600 (a year).")
	}
	if r.MaxAdvanceDays < 0 || r.MaxAdvanceDays > maxAdvanceDays {
		v.Add("maxAdvanceDays", "Must be between 0 (no horizon) and 3650.")
	}
	if r.Capacity == 0 { // not given: a resource booked whole
		r.Capacity = 1
	}
	switch {
	case r.Capacity < 1 || r.Capacity > maxCapacity:
		v.Add("capacity", "Must be between 1 and 10000.")
	case r.Capacity > 1 && (r.BufferBeforeMinutes > 0 || r.BufferAfterMinutes > 0):
		// Places are counted per session start; a buffer around a session
		// that several customers share protects nothing.
		v.Add("capacity", "A resource with more than one place per slot cannot have buffers.")
	}
}

// TimeSpan is an opening window of a date override, in local time "HH:MM"
// ("24:00" is midnight at the end of the day).
type TimeSpan struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// DateOverride replaces a resource's weekly hours on the local dates From
// to To (inclusive, "YYYY-MM-DD"): closed, or open during Hours only.
type DateOverride struct {
	ID     string     `json:"id"`
	From   string     `json:"from"`
	To     string     `json:"to"`
	Closed bool       `json:"closed"`
	Hours  []TimeSpan `json:"hours"`
	Note   string     `json:"note"`
}

// Validate checks an override, reporting problems in v.
func (o *DateOverride) Validate(v ValidationError) {
	o.Note = strings.TrimSpace(o.Note)
	if o.To == "" {
		o.To = o.From
	}
	from, err1 := time.Parse(time.DateOnly, o.From)
	to, err2 := time.Parse(time.DateOnly, o.To)
	switch {
	case err1 != nil:
		v.Add("from", "Required, a date as YYYY-MM-DD.")
	case err2 != nil:
		v.Add("to", "Must be a date as YYYY-MM-DD.")
	case to.Before(from):
		v.Add("to", "Must not be before from.")
	case to.Sub(from) > maxOverrideDays*24*time.Hour:
		v.Add("to", "An override spans at most 366 days.")
	}
	if o.Hours == nil {
		o.Hours = []TimeSpan{}
	}
	switch {
	case o.Closed && len(o.Hours) > 0:
		v.Add("hours", "A closed override has no hours.")
	case !o.Closed && len(o.Hours) == 0:
		v.Add("hours", "Give the opening hours, or set closed.")
	case len(o.Hours) > 24:
		v.Add("hours", "At most 24 windows.")
	}
	for i, h := range o.Hours {
		if _, _, err := (OpenSpan{Start: h.Start, End: h.End}).minutes(); err != nil {
			v.Add("hours", "Entry "+strconv.Itoa(i)+": start before end as HH:MM.")
		}
	}
	if utf8.RuneCountInString(o.Note) > 200 || strings.ContainsFunc(o.Note, isControl) {
		v.Add("note", "At most 200 characters on one line.")
	}
}

// OverrideOn returns the override covering local date (y, mo, d), if any.
func (r *Resource) OverrideOn(y int, mo time.Month, d int) *DateOverride {
	date := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	for i := range r.Overrides {
		if o := &r.Overrides[i]; o.From <= date && date <= o.To {
			return o
		}
	}
	return nil
}

// spansOn returns the opening windows of local date (y, mo, d): an
// override's hours when one covers the date (none when it is closed), the
// weekly hours of its weekday otherwise.
func (r *Resource) spansOn(y int, mo time.Month, d int) []OpenSpan {
	weekday := int(time.Date(y, mo, d, 12, 0, 0, 0, time.UTC).Weekday())
	if o := r.OverrideOn(y, mo, d); o != nil {
		out := make([]OpenSpan, 0, len(o.Hours))
		for _, h := range o.Hours {
			out = append(out, OpenSpan{Weekday: weekday, Start: h.Start, End: h.End})
		}
		return out
	}
	var out []OpenSpan
	for _, s := range r.WeeklyHours {
		if s.Weekday == weekday {
			out = append(out, s)
		}
	}
	return out
}

// stepMinutes is the distance between two slot starts on the grid.
func (r *Resource) stepMinutes() int {
	if r.SlotIntervalMinutes > 0 {
		return r.SlotIntervalMinutes
	}
	return r.DurationMinutes
}

// Blocked returns the range a booking of slot s keeps from other bookings:
// the slot with the resource's buffers around it.
func (r *Resource) Blocked(s Slot) Slot {
	return Slot{StartsAt: s.StartsAt.Add(-time.Duration(r.BufferBeforeMinutes) * time.Minute),
		EndsAt: s.EndsAt.Add(time.Duration(r.BufferAfterMinutes) * time.Minute)}
}

// Bookable says why slot s cannot be booked at now under the resource's
// notice and horizon, or "" when it can. The horizon counts local dates in
// the resource's zone: with MaxAdvanceDays 30, a booking made on the 1st
// may start on any time of the 31st, whatever daylight saving does between.
func (r *Resource) Bookable(s Slot, now time.Time) string {
	if !s.StartsAt.After(now) {
		return "Must be in the future."
	}
	if r.MinNoticeMinutes > 0 && s.StartsAt.Before(now.Add(time.Duration(r.MinNoticeMinutes)*time.Minute)) {
		return "Must start at least " + strconv.Itoa(r.MinNoticeMinutes) + " minutes from now."
	}
	if last, ok := r.LastBookableDate(now); ok {
		loc, err := LoadZone(r.Timezone)
		if err != nil {
			return "This resource cannot be booked."
		}
		if s.StartsAt.In(loc).Format(time.DateOnly) > last {
			return "Must start within " + strconv.Itoa(r.MaxAdvanceDays) + " days."
		}
	}
	return ""
}

// LastBookableDate returns the last local date ("YYYY-MM-DD") a booking may
// start on at now, or false when the resource has no horizon.
func (r *Resource) LastBookableDate(now time.Time) (string, bool) {
	if r.MaxAdvanceDays <= 0 {
		return "", false
	}
	loc, err := LoadZone(r.Timezone)
	if err != nil {
		return "", false
	}
	lt := now.In(loc)
	return time.Date(lt.Year(), lt.Month(), lt.Day()+r.MaxAdvanceDays, 12, 0, 0, 0, time.UTC).Format(time.DateOnly), true
}

// OverrideStore is what managing date overrides needs from the database.
type OverrideStore interface {
	// CreateOverride stores an override of a resource.
	// Errors: not_found (resource), conflict (overlaps another override).
	CreateOverride(ctx context.Context, resourceID string, o *DateOverride) (*DateOverride, error)
	// DeleteOverride removes one. Errors: not_found.
	DeleteOverride(ctx context.Context, resourceID, id string) error
}

// Overrides manages the date overrides of resources.
type Overrides struct {
	Store OverrideStore
}

// Create validates and stores an override of resource id.
// Errors: not_found, validation_failed (including an overlap).
func (a *Overrides) Create(ctx context.Context, resourceID string, o DateOverride) (*DateOverride, error) {
	if !IsUUID(resourceID) {
		return nil, Errorf(ENotFound, "Resource not found.")
	}
	v := ValidationError{}
	o.Validate(v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	out, err := a.Store.CreateOverride(ctx, resourceID, &o)
	if ErrorCode(err) == EConflict {
		return nil, &Error{Code: EValidation, Message: "Some fields are invalid.",
			Fields: map[string]string{"from": "Overlaps another override of this resource."}, Err: err}
	}
	return out, err
}

// Delete removes override id of resource resourceID. Errors: not_found.
func (a *Overrides) Delete(ctx context.Context, resourceID, id string) error {
	if !IsUUID(resourceID) || !IsUUID(id) {
		return Errorf(ENotFound, "Override not found.")
	}
	return a.Store.DeleteOverride(ctx, resourceID, id)
}
