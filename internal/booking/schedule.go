package booking

import (
	"context"
	"strings"
	"time"
)

// MaxNoteLength is the longest note on a booking, in characters.
const MaxNoteLength = 2000

// MaxScheduleDays is the longest range of the staff calendar.
const MaxScheduleDays = 31

// Note is a staff note on a booking.
type Note struct {
	ID        int64     `json:"id"`
	BookingID string    `json:"bookingId"`
	AuthorID  string    `json:"authorId"`
	Author    string    `json:"author"` // the staff user's email
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"createdAt"`
}

// Block is time of a resource staff keep from bookings (maintenance, a
// private event). The no-overlap rule respects it: no booking holds time
// in a block, whichever was made first.
type Block struct {
	ID         string    `json:"id"`
	ResourceID string    `json:"resourceId"`
	StartsAt   time.Time `json:"startsAt"`
	EndsAt     time.Time `json:"endsAt"`
	Reason     string    `json:"reason"`
	CreatedBy  string    `json:"createdBy"` // the staff user's email
	CreatedAt  time.Time `json:"createdAt"`
}

// BlockRequest is the body of POST /api/admin/resources/{id}/blocks.
type BlockRequest struct {
	StartsAt time.Time `json:"startsAt"`
	EndsAt   time.Time `json:"endsAt"`
	Reason   string    `json:"reason"`
}

// ScheduleEntry is a booking on the staff calendar: one that holds time of
// the resource (a live hold, a confirmed booking, one under review that
// keeps its slot).
type ScheduleEntry struct {
	ID        string    `json:"id"`
	Reference string    `json:"reference"`
	Status    Status    `json:"status"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	// BlockedStartsAt and BlockedEndsAt include the buffers the booking
	// was made with.
	BlockedStartsAt time.Time `json:"blockedStartsAt"`
	BlockedEndsAt   time.Time `json:"blockedEndsAt"`
	Quantity        int       `json:"quantity"`
	Customer        string    `json:"customer"` // first and last name
	HoldExpiresAt   time.Time `json:"holdExpiresAt"`
	PaidOffline     bool      `json:"paidOffline"`
}

// Schedule is the staff calendar of one resource over a range of local
// days: the bookings that hold its time and its blocks.
type Schedule struct {
	ResourceID string          `json:"resourceId"`
	Timezone   string          `json:"timezone"`
	From       string          `json:"from"`
	To         string          `json:"to"` // the last day shown
	Bookings   []ScheduleEntry `json:"bookings"`
	Blocks     []Block         `json:"blocks"`
}

// ScheduleStore is what the staff calendar, blocks and notes need.
type ScheduleStore interface {
	FindResource(ctx context.Context, id string) (*Resource, error)
	// AddBlock releases the lapsed holds in b's way and inserts b.
	// Errors: slot_unavailable (a booking holds time in it, named in the
	// message), conflict (it overlaps another block).
	AddBlock(ctx context.Context, b Block, by string, now time.Time) (*Block, error)
	// DeleteBlock removes a block of a resource. Errors: not_found.
	DeleteBlock(ctx context.Context, resourceID, id string) error
	// ScheduleOf lists the bookings holding time of a resource in
	// [from, to) (live holds only) and its blocks there.
	ScheduleOf(ctx context.Context, resourceID string, from, to, now time.Time) ([]ScheduleEntry, []Block, error)
	// AddNote writes a note on a booking. Errors: not_found.
	AddNote(ctx context.Context, bookingID, authorID, body string) (*Note, error)
	// NotesOf lists the notes of a booking, oldest first.
	NotesOf(ctx context.Context, bookingID string) ([]Note, error)
}

// Planner holds the staff calendar, staff blocks and notes.
type Planner struct {
	Store ScheduleStore
	Now   func() time.Time
}

// Schedule returns the calendar of resource id for days local days from
// local date from (YYYY-MM-DD; default today there, days default 7).
// Errors: not_found, validation_failed.
func (p *Planner) Schedule(ctx context.Context, id, from string, days int) (*Schedule, error) {
	res, err := p.resource(ctx, id)
	if err != nil {
		return nil, err
	}
	v := ValidationError{}
	if days == 0 {
		days = 7
	}
	if days < 1 || days > MaxScheduleDays {
		v.Add("days", "Must be between 1 and 31.")
	}
	loc, err := LoadZone(res.Timezone)
	if err != nil {
		return nil, err
	}
	var y, d int
	var m time.Month
	if from == "" {
		now := p.Now().In(loc)
		y, m, d = now.Date()
	} else if y, m, d, err = ParseDate(from); err != nil {
		v.Add("from", "Must be a date as YYYY-MM-DD.")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	start := time.Date(y, m, d, 0, 0, 0, 0, loc)
	end := time.Date(y, m, d+days, 0, 0, 0, 0, loc)
	entries, blocks, err := p.Store.ScheduleOf(ctx, res.ID, start.UTC(), end.UTC(), p.Now())
	if err != nil {
		return nil, err
	}
	if entries == nil {
		entries = []ScheduleEntry{}
	}
	if blocks == nil {
		blocks = []Block{}
	}
	return &Schedule{ResourceID: res.ID, Timezone: res.Timezone, From: start.Format(time.DateOnly),
		To: end.AddDate(0, 0, -1).Format(time.DateOnly), Bookings: entries, Blocks: blocks}, nil
}

// AddBlock keeps a range of resource id from bookings, for staff member
// by. Errors: not_found, validation_failed, slot_unavailable (a booking
// holds time in it), conflict (another block overlaps it).
func (p *Planner) AddBlock(ctx context.Context, id string, req BlockRequest, by *Staff) (*Block, error) {
	res, err := p.resource(ctx, id)
	if err != nil {
		return nil, err
	}
	now := p.Now()
	v := ValidationError{}
	req.Reason = strings.TrimSpace(req.Reason)
	switch {
	case req.StartsAt.IsZero():
		v.Add("startsAt", "Required, as an RFC 3339 timestamp.")
	case req.EndsAt.IsZero():
		v.Add("endsAt", "Required, as an RFC 3339 timestamp.")
	case !req.EndsAt.After(req.StartsAt):
		v.Add("endsAt", "Must be after startsAt.")
	case req.EndsAt.Sub(req.StartsAt) > 366*24*time.Hour:
		v.Add("endsAt", "A block lasts at most 366 days.")
	case !req.EndsAt.After(now):
		v.Add("endsAt", "Must be in the future: a block keeps time from bookings to come.")
	}
	if len([]rune(req.Reason)) > 200 {
		v.Add("reason", "Must be at most 200 characters.")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	b := Block{ResourceID: res.ID, StartsAt: req.StartsAt.UTC().Truncate(time.Second),
		EndsAt: req.EndsAt.UTC().Truncate(time.Second), Reason: req.Reason}
	return p.Store.AddBlock(ctx, b, by.ID, now)
}

// DeleteBlock gives the time of a block back. Errors: not_found.
func (p *Planner) DeleteBlock(ctx context.Context, id, blockID string) error {
	if !IsUUID(id) || !IsUUID(blockID) {
		return Errorf(ENotFound, "Block not found.")
	}
	return p.Store.DeleteBlock(ctx, id, blockID)
}

// AddNote writes a note on booking id for staff member by.
// Errors: not_found, validation_failed.
func (p *Planner) AddNote(ctx context.Context, id, body string, by *Staff) (*Note, error) {
	if !IsUUID(id) {
		return nil, Errorf(ENotFound, "Booking not found.")
	}
	body = strings.TrimSpace(body)
	v := ValidationError{}
	switch n := len([]rune(body)); {
	case n == 0:
		v.Add("body", "Required.")
	case n > MaxNoteLength:
		v.Add("body", "Must be at most 2000 characters.")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return p.Store.AddNote(ctx, id, by.ID, body)
}

// Notes lists the notes of booking id. Errors: not_found.
func (p *Planner) Notes(ctx context.Context, id string) ([]Note, error) {
	if !IsUUID(id) {
		return nil, Errorf(ENotFound, "Booking not found.")
	}
	out, err := p.Store.NotesOf(ctx, id)
	if out == nil && err == nil {
		out = []Note{}
	}
	return out, err
}

func (p *Planner) resource(ctx context.Context, id string) (*Resource, error) {
	if !IsUUID(id) {
		return nil, Errorf(ENotFound, "Resource not found.")
	}
	return p.Store.FindResource(ctx, id)
}
