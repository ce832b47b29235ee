package booking

import (
	"context"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// maxPoolMembers bounds a pool: every member is tried in one hold
// transaction, under a savepoint each.
const maxPoolMembers = 50

// Pool is one bookable service offered by several resources ("Tennis — any
// court" over courts 1–4). A booking of the pool is a booking of one free
// member, chosen inside the hold transaction. Members sell the same thing:
// they share price, currency, duration and capacity, which the pool shows.
type Pool struct {
	ID          string   `json:"id"`
	Slug        string   `json:"slug"`
	Name        string   `json:"name"`
	ResourceIDs []string `json:"resourceIds"`
	// The terms its members share (from the first member).
	PriceAmount     int64     `json:"priceAmount"`
	Currency        string    `json:"currency"`
	DurationMinutes int       `json:"durationMinutes"`
	Capacity        int       `json:"capacity"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
}

// PoolPatch creates or changes a pool; nil fields are left alone.
type PoolPatch struct {
	Slug        *string   `json:"slug"`
	Name        *string   `json:"name"`
	ResourceIDs *[]string `json:"resourceIds"`
}

// PoolStore is what pools need from the database.
type PoolStore interface {
	ListPools(ctx context.Context) ([]Pool, error)
	// FindPool returns a pool with its members in order. Errors: not_found.
	FindPool(ctx context.Context, id string) (*Pool, error)
	// CreatePool and UpdatePool store a pool and its members.
	// Errors: conflict (slug taken), not_found (UpdatePool).
	CreatePool(ctx context.Context, p *Pool) (*Pool, error)
	UpdatePool(ctx context.Context, p *Pool) (*Pool, error)
	FindResource(ctx context.Context, id string) (*Resource, error)
	BusyRanges(ctx context.Context, resourceID string, from, to, now time.Time) ([]Busy, error)
	// CreateHoldAny inserts the first of holds that the database accepts
	// (each try under a savepoint: a slot conflict moves on to the next),
	// after expiring the lapsed holds in its way, and stores seal(booking)
	// as the key's answer, in one transaction. Errors: slot_unavailable
	// when every hold is refused.
	CreateHoldAny(ctx context.Context, holds []NewHold, seal func(*Booking) []byte) (*Booking, error)
}

// Pools manages pools and answers their availability.
type Pools struct {
	Store PoolStore
	Now   func() time.Time
}

// sameTerms reports whether two resources sell the same thing at the same
// price, so that one Checkout Session fits a booking of either.
func sameTerms(a, b *Resource) bool {
	return a.PriceAmount == b.PriceAmount && a.Currency == b.Currency &&
		a.DurationMinutes == b.DurationMinutes && max(a.Capacity, 1) == max(b.Capacity, 1)
}

// members loads the resources of ids, in order.
func members(ctx context.Context, store interface {
	FindResource(ctx context.Context, id string) (*Resource, error)
}, ids []string,
) ([]*Resource, error) {
	out := make([]*Resource, 0, len(ids))
	for _, id := range ids {
		r, err := store.FindResource(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// withTerms fills in the terms the members of p share.
func withTerms(p *Pool, ms []*Resource) *Pool {
	if len(ms) > 0 {
		p.PriceAmount, p.Currency, p.DurationMinutes, p.Capacity = ms[0].PriceAmount, ms[0].Currency,
			ms[0].DurationMinutes, max(ms[0].Capacity, 1)
	}
	if p.ResourceIDs == nil {
		p.ResourceIDs = []string{}
	}
	return p
}

// validate checks p and loads its members, which must exist and share
// their terms. Errors: validation_failed.
func (a *Pools) validate(ctx context.Context, p *Pool) ([]*Resource, error) {
	v := ValidationError{}
	p.Slug, p.Name = strings.TrimSpace(p.Slug), strings.TrimSpace(p.Name)
	if !validSlug(p.Slug) {
		v.Add("slug", "Must be 1-63 lower-case letters, digits or dashes.")
	}
	if p.Name == "" || utf8.RuneCountInString(p.Name) > 200 {
		v.Add("name", "Required, at most 200 characters.")
	}
	seen := map[string]bool{}
	switch {
	case len(p.ResourceIDs) == 0:
		v.Add("resourceIds", "Give at least one resource.")
	case len(p.ResourceIDs) > maxPoolMembers:
		v.Add("resourceIds", "At most 50 resources.")
	}
	for i, id := range p.ResourceIDs {
		id = strings.ToLower(strings.TrimSpace(id))
		p.ResourceIDs[i] = id
		if !IsUUID(id) || seen[id] {
			v.Add("resourceIds", "Must be distinct resource ids.")
			break
		}
		seen[id] = true
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	ms, err := members(ctx, a.Store, p.ResourceIDs)
	if ErrorCode(err) == ENotFound {
		v.Add("resourceIds", "No such resource.")
		return nil, v.Err()
	}
	if err != nil {
		return nil, err
	}
	for _, m := range ms[1:] {
		if !sameTerms(ms[0], m) {
			v.Add("resourceIds", "Members must share price, currency, duration and capacity: "+m.Name+
				" differs from "+ms[0].Name+".")
			return nil, v.Err()
		}
	}
	return ms, nil
}

// List returns every pool by name, with its terms.
func (a *Pools) List(ctx context.Context) ([]Pool, error) {
	ps, err := a.Store.ListPools(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Pool, 0, len(ps))
	for i := range ps {
		ms, err := members(ctx, a.Store, ps[i].ResourceIDs)
		if err != nil {
			return nil, err
		}
		out = append(out, *withTerms(&ps[i], ms))
	}
	return out, nil
}

// Create validates and stores a pool. Errors: validation_failed (also
// when its members do not share their terms, or the slug is taken).
func (a *Pools) Create(ctx context.Context, in PoolPatch) (*Pool, error) {
	p := Pool{}
	if in.Slug != nil {
		p.Slug = *in.Slug
	}
	if in.Name != nil {
		p.Name = *in.Name
	}
	if in.ResourceIDs != nil {
		p.ResourceIDs = append([]string{}, *in.ResourceIDs...)
	}
	ms, err := a.validate(ctx, &p)
	if err != nil {
		return nil, err
	}
	out, err := a.Store.CreatePool(ctx, &p)
	if err != nil {
		return nil, slugTaken(err)
	}
	return withTerms(out, ms), nil
}

// Update applies in to pool id. Errors: not_found, validation_failed.
func (a *Pools) Update(ctx context.Context, id string, in PoolPatch) (*Pool, error) {
	if !IsUUID(id) {
		return nil, Errorf(ENotFound, "Pool not found.")
	}
	p, err := a.Store.FindPool(ctx, id)
	if err != nil {
		return nil, err
	}
	if in.Slug != nil {
		p.Slug = *in.Slug
	}
	if in.Name != nil {
		p.Name = *in.Name
	}
	if in.ResourceIDs != nil {
		p.ResourceIDs = append([]string{}, *in.ResourceIDs...)
	}
	ms, err := a.validate(ctx, p)
	if err != nil {
		return nil, err
	}
	out, err := a.Store.UpdatePool(ctx, p)
	if err != nil {
		return nil, slugTaken(err)
	}
	return withTerms(out, ms), nil
}

// PoolSlot is a start at which members of a pool are free: how many, and
// the places they have left together.
type PoolSlot struct {
	StartsAt    time.Time `json:"startsAt"`
	EndsAt      time.Time `json:"endsAt"`
	MembersFree int       `json:"membersFree"`
	PlacesLeft  int       `json:"placesLeft"`
}

// PoolAvailability is the union of the free slots of a pool's members on a
// date (each member's local date).
type PoolAvailability struct {
	PoolID string     `json:"poolId"`
	Date   string     `json:"date"`
	Slots  []PoolSlot `json:"slots"`
}

// Availability returns the slots of pool id on date at which at least one
// member can be booked now. Errors: not_found, validation_failed.
func (a *Pools) Availability(ctx context.Context, id, date string) (*PoolAvailability, error) {
	y, mo, d, err := ParseDate(date)
	if err != nil {
		return nil, &Error{Code: EValidation, Message: "Some fields are invalid.", Fields: map[string]string{"date": "Must be a date as YYYY-MM-DD."}}
	}
	if !IsUUID(id) {
		return nil, Errorf(ENotFound, "Pool not found.")
	}
	p, err := a.Store.FindPool(ctx, id)
	if err != nil {
		return nil, err
	}
	ms, err := members(ctx, a.Store, p.ResourceIDs)
	if err != nil {
		return nil, err
	}
	now := a.Now()
	byStart := map[time.Time]*PoolSlot{}
	for _, m := range bookableMembers(ms) {
		all, err := m.SlotsOn(y, mo, d)
		if err != nil || len(all) == 0 {
			continue
		}
		span := m.Blocked(Slot{StartsAt: all[0].StartsAt, EndsAt: all[len(all)-1].EndsAt})
		busy, err := a.Store.BusyRanges(ctx, m.ID, span.StartsAt, span.EndsAt, now)
		if err != nil {
			return nil, err
		}
		for _, s := range m.freeSlots(all, busy, now) {
			ps := byStart[s.StartsAt]
			if ps == nil {
				ps = &PoolSlot{StartsAt: s.StartsAt, EndsAt: s.EndsAt}
				byStart[s.StartsAt] = ps
			}
			ps.MembersFree++
			ps.PlacesLeft += s.PlacesLeft
		}
	}
	out := &PoolAvailability{PoolID: p.ID, Date: date, Slots: make([]PoolSlot, 0, len(byStart))}
	for _, ps := range byStart {
		out.Slots = append(out.Slots, *ps)
	}
	sort.Slice(out.Slots, func(i, j int) bool { return out.Slots[i].StartsAt.Before(out.Slots[j].StartsAt) })
	return out, nil
}

// bookableMembers keeps the active members that sell the terms of the
// first active one: a member whose price was changed after the pool was
// made is left out rather than sold at another price.
func bookableMembers(ms []*Resource) []*Resource {
	var out []*Resource
	for _, m := range ms {
		if m.Active && (len(out) == 0 || sameTerms(out[0], m)) {
			out = append(out, m)
		}
	}
	return out
}
