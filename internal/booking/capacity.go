package booking

import (
	"strconv"
	"time"
)

// Busy is a booking that holds time of a resource: Blocked is the range it
// keeps from others (its slot with the buffers it was made with); a shared
// booking takes Quantity places of the slot starting at StartsAt.
type Busy struct {
	StartsAt time.Time
	Blocked  Slot
	Quantity int
	Shared   bool
}

// AvailableSlot is a free slot with the places it has left (1 on a
// resource booked whole).
type AvailableSlot struct {
	StartsAt   time.Time `json:"startsAt"`
	EndsAt     time.Time `json:"endsAt"`
	PlacesLeft int       `json:"placesLeft"`
}

// checkQuantity validates the places asked for (0 means 1) and returns them
// with their price.
func (r *Resource) checkQuantity(v ValidationError, q int) (int, int64) {
	if q == 0 {
		q = 1
	}
	switch {
	case q < 1:
		v.Add("quantity", "Must be at least 1.")
	case q > max(r.Capacity, 1):
		if r.Capacity <= 1 {
			v.Add("quantity", "This resource is booked one at a time: quantity must be 1.")
		} else {
			v.Add("quantity", "Must be at most "+strconv.Itoa(r.Capacity)+", the places of a slot.")
		}
	}
	return q, r.PriceAmount * int64(q)
}

// PlacesLeft returns how many places slot s has left given the busy
// bookings around it. A resource booked whole has 1 place, taken by any
// booking whose blocked range meets the slot's (with the resource's current
// buffers); a resource with capacity sells places per slot start, and an
// exclusive booking (a staff block) in the way takes them all.
func (r *Resource) PlacesLeft(s Slot, busy []Busy) int {
	if r.Capacity <= 1 {
		blocked := r.Blocked(s)
		for _, b := range busy {
			if blocked.StartsAt.Before(b.Blocked.EndsAt) && b.Blocked.StartsAt.Before(blocked.EndsAt) {
				return 0
			}
		}
		return 1
	}
	left := r.Capacity
	for _, b := range busy {
		overlaps := s.StartsAt.Before(b.Blocked.EndsAt) && b.Blocked.StartsAt.Before(s.EndsAt)
		switch {
		case !overlaps:
		case !b.Shared:
			return 0
		case b.StartsAt.Equal(s.StartsAt):
			left -= b.Quantity
		}
	}
	return max(left, 0)
}

// placesFor refuses a booking of qty places in slot s when busy leaves
// fewer (the database settles the race for the last ones).
func (r *Resource) placesFor(s Slot, busy []Busy, qty int) error {
	left := r.PlacesLeft(s, busy)
	switch {
	case left >= qty:
		return nil
	case left == 0 || r.Capacity <= 1:
		return Errorf(ESlotUnavailable, "This slot is no longer available.")
	}
	return Errorf(ESlotUnavailable, "Only %d places are left in this slot.", left)
}

// freeSlots returns the slots of all that can be booked at now, with their
// places left, given the busy bookings over their span.
func (r *Resource) freeSlots(all []Slot, busy []Busy, now time.Time) []AvailableSlot {
	out := make([]AvailableSlot, 0, len(all))
	for _, sl := range all {
		if r.Bookable(sl, now) != "" {
			continue
		}
		if left := r.PlacesLeft(sl, busy); left > 0 {
			out = append(out, AvailableSlot{StartsAt: sl.StartsAt, EndsAt: sl.EndsAt, PlacesLeft: left})
		}
	}
	return out
}
