package booking_test

import (
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
)

func TestBookingFilterShape(t *testing.T) {
	t.Parallel()
	day := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
	rid := "6f1c3c52-6d43-4a8e-9c55-0d6f4e6a1b2c"
	for _, tc := range []struct {
		f    booking.BookingFilter
		want string
	}{
		{booking.BookingFilter{}, booking.ShapeBookings},
		{booking.BookingFilter{Status: booking.StatusConfirmed}, booking.ShapeBookingsStatus},
		{booking.BookingFilter{ResourceID: rid}, booking.ShapeBookingsResource},
		{booking.BookingFilter{ResourceID: rid, Status: booking.StatusPending}, booking.ShapeBookingsResourceStatus},
		{booking.BookingFilter{From: day}, booking.ShapeBookingsRange},
		{booking.BookingFilter{To: day, Status: booking.StatusPending}, booking.ShapeBookingsStatusRange},
		{booking.BookingFilter{From: day, ResourceID: rid}, booking.ShapeBookingsResourceRange},
		{booking.BookingFilter{From: day, ResourceID: rid, Status: booking.StatusPending}, booking.ShapeBookingsResourceStatusRange},
		{booking.BookingFilter{Email: "a@b.c", ResourceID: rid, Status: booking.StatusPending}, booking.ShapeBookingsEmail},
		{booking.BookingFilter{Email: "a@b.c", To: day}, booking.ShapeBookingsEmailRange},
	} {
		if got := tc.f.Shape(); got != tc.want {
			t.Errorf("%+v: shape %q, want %q", tc.f, got, tc.want)
		}
	}
	seen := map[string]bool{}
	for _, s := range booking.BookingShapes {
		if seen[s] {
			t.Errorf("shape %s listed twice", s)
		}
		seen[s] = true
	}
	if len(seen) != 10 {
		t.Errorf("%d booking shapes", len(seen))
	}
}

func TestBookingFilterCursor(t *testing.T) {
	t.Parallel()
	b := &booking.Booking{ID: "6f1c3c52-6d43-4a8e-9c55-0d6f4e6a1b2c",
		StartsAt: time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC), CreatedAt: time.Date(2029, 12, 1, 8, 30, 0, 123000, time.UTC)}
	newest := booking.BookingFilter{Status: booking.StatusPending, Limit: 10}
	ranged := booking.BookingFilter{From: b.StartsAt.Add(-time.Hour), Limit: 10}
	c := newest.CursorAfter(b)
	if c.At != b.CreatedAt || c.Shape != booking.ShapeBookingsStatus {
		t.Errorf("newest-first cursor %+v", c)
	}
	if r := ranged.CursorAfter(b); r.At != b.StartsAt || r.Shape != booking.ShapeBookingsRange {
		t.Errorf("calendar cursor %+v", r)
	}
	back, err := booking.DecodeCursor(c.Encode())
	if err != nil || *back != c {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	for _, tc := range []struct {
		name  string
		f     booking.BookingFilter
		valid bool
	}{
		{"same shape", booking.BookingFilter{Status: booking.StatusConfirmed, Limit: 10, After: back}, true},
		{"another shape", booking.BookingFilter{Limit: 10, After: back}, false},
		{"a range", booking.BookingFilter{Status: booking.StatusPending, From: b.StartsAt, Limit: 10, After: back}, false},
	} {
		v := booking.ValidationError{}
		tc.f.Validate(v)
		if got := v.Err() == nil; got != tc.valid {
			t.Errorf("%s: valid %v, want %v (%v)", tc.name, got, tc.valid, v)
		}
	}
	ev := booking.EventFilter{Limit: 10, After: back}
	v := booking.ValidationError{}
	ev.Validate(v)
	if v["cursor"] == "" {
		t.Errorf("a bookings cursor passed as a ledger cursor: %v", v)
	}
}
