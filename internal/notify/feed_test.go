package notify_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"github.com/bookingplatform/booking/internal/notify"
)

func TestFeed(t *testing.T) {
	t.Parallel()
	paris, _ := time.LoadLocation("Europe/Paris")
	start := time.Date(2030, 3, 30, 10, 0, 0, 0, paris)
	events := []notify.FeedEvent{
		{ID: "b1", Reference: "BK-1", Customer: "Ann Smith", StartsAt: start, EndsAt: start.Add(time.Hour), Sequence: 2},
		{ID: "b2", Reference: "BK-2", StartsAt: start.Add(48 * time.Hour), EndsAt: start.Add(49 * time.Hour), Cancelled: true},
	}
	body, err := notify.Feed(events, notify.FeedOpts{Name: "Court 1", Timezone: "Europe/Paris", Location: "Rue 1, Paris",
		AppURL: "https://Book.Example.com/", From: start.AddDate(0, -1, 0), To: start.AddDate(1, 0, 0), Stamp: start})
	if err != nil {
		t.Fatal(err)
	}
	cal, err := ical.NewDecoder(bytes.NewReader(body)).Decode()
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	if len(cal.Children) == 0 || cal.Children[0].Name != ical.CompTimezone {
		t.Fatalf("no VTIMEZONE first")
	}
	evs := cal.Events()
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	// The same UID as the emailed file of the booking.
	mailed, err := notify.ICS(notify.Booking{ID: "b1", Reference: "BK-1", ResourceName: "Court 1", Timezone: "Europe/Paris",
		StartsAt: start, EndsAt: start.Add(time.Hour), Email: "a@example.com", ManageURL: "https://book.example.com/manage/b1?token=x"},
		notify.MethodRequest, notify.ICSOpts{Organizer: "B <b@example.com>"})
	if err != nil {
		t.Fatal(err)
	}
	mc, err := ical.NewDecoder(bytes.NewReader(mailed)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	want := mc.Events()[0].Props.Get(ical.PropUID).Value
	for i, e := range evs {
		uid := e.Props.Get(ical.PropUID).Value
		if i == 0 && uid != want {
			t.Errorf("feed UID %q, mailed %q", uid, want)
		}
		if got, _ := e.Props.Text(ical.PropLocation); got != "Rue 1, Paris" {
			t.Errorf("location %q", got)
		}
	}
	if s := evs[0].Props.Get(ical.PropSequence).Value; s != "2" {
		t.Errorf("sequence %s", s)
	}
	if s := evs[1].Props.Get(ical.PropStatus).Value; s != "CANCELLED" {
		t.Errorf("status %s", s)
	}
	got, err := evs[0].DateTimeStart(nil)
	if err != nil || !got.Equal(start) {
		t.Errorf("start %v %v", got, err)
	}
}
