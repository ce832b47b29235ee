package booking_test

import (
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
)

// TestLoadZone: a zone is loaded once and then shared; a name that is no
// zone is refused every time.
func TestLoadZone(t *testing.T) {
	a, err := booking.LoadZone("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	b, err := booking.LoadZone("Europe/Berlin")
	if err != nil || a != b {
		t.Fatalf("second load: %p, %v; want the first %p", b, err, a)
	}
	if got := time.Date(2031, 7, 1, 12, 0, 0, 0, a).UTC().Hour(); got != 10 {
		t.Errorf("noon in Berlin in July is %d:00 UTC, want 10:00", got)
	}
	for range 2 {
		if _, err := booking.LoadZone("Europe/Atlantis"); err == nil {
			t.Error("an unknown zone was accepted")
		}
	}
}
