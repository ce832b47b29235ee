package booking_test

import (
	"testing"
	"time"
)

// BenchmarkMonthGrid is the slot arithmetic of a month view (the part of
// booking.Booker.MonthAvailability that reads no database): the slots of
// 31 days and whether each can be booked, for a resource in a zone with
// daylight saving and a booking horizon, open 09:00–18:00 every day with a
// start every hour (279 slots). Its UTC twin, without a horizon, is the
// baseline: run both in one `go test -bench MonthGrid ./internal/booking/`
// and compare them (docs/BENCHMARKS.md).
func BenchmarkMonthGrid(b *testing.B) {
	for _, c := range []struct {
		name    string
		tz      string
		horizon int
	}{{"UTC", "UTC", 0}, {"Berlin_horizon", "Europe/Berlin", 365}} {
		b.Run(c.name, func(b *testing.B) {
			r := res(c.tz, 60, allWeek("09:00", "18:00")...)
			r.MaxAdvanceDays = c.horizon
			now := time.Date(2031, 2, 20, 8, 0, 0, 0, time.UTC)
			first := time.Date(2031, 3, 1, 0, 0, 0, 0, time.UTC)
			n := 0
			for b.Loop() {
				n = 0
				for d := first; d.Before(first.AddDate(0, 0, 31)); d = d.AddDate(0, 0, 1) {
					slots, err := r.SlotsOn(d.Year(), d.Month(), d.Day())
					if err != nil {
						b.Fatal(err)
					}
					for _, s := range slots {
						if r.Bookable(s, now) == "" {
							n++
						}
					}
				}
			}
			if n != 279 {
				b.Fatalf("%d bookable slots, want 279", n)
			}
		})
	}
}
