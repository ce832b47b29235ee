package notify_test

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-ical"

	"github.com/bookingplatform/booking/internal/notify"
)

// stamp is the DTSTAMP of the calendar files in these tests.
var stamp = time.Date(2026, 11, 20, 8, 30, 0, 0, time.UTC)

const organizer = "Example Bookings <bookings@example.com>"

// booking returns a confirmed one-hour booking at start in zone.
func booking(t *testing.T, zone string, start time.Time, d time.Duration) notify.Booking {
	t.Helper()
	return notify.Booking{
		ID:           "0b7c4f52-3c1e-4a57-9d7e-1f2a3b4c5d6e",
		Reference:    "BK-7Q2M4X",
		Status:       "confirmed",
		ResourceName: "Tennis court 1",
		Location:     "Club house, 12 rue de la Paix; Paris",
		Timezone:     zone,
		StartsAt:     start,
		EndsAt:       start.Add(d),
		AmountTotal:  5400,
		AmountPaid:   5400,
		Currency:     "eur",
		FirstName:    "Ada",
		LastName:     "Lovelace",
		Email:        "ada@example.com",
		ManageURL:    "https://book.example.com/manage/0b7c4f52?token=s3cr3t",
	}
}

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

// mustICS generates a calendar file and checks its physical form: CRLF line
// endings only, no line over 75 octets, no line that is not valid UTF-8 on
// its own (folding never splits a character). It returns the file parsed
// back by go-ical, after checking go-ical can encode it again (which checks
// the required and unique properties of each component).
func mustICS(t *testing.T, b notify.Booking, method string) (*ical.Calendar, []byte) {
	t.Helper()
	data, err := notify.ICS(b, method, notify.ICSOpts{Organizer: organizer, Stamp: stamp})
	if err != nil {
		t.Fatalf("ICS: %v", err)
	}
	if !bytes.HasSuffix(data, []byte("\r\n")) {
		t.Fatalf("calendar file does not end with CRLF")
	}
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\r\n"), "\r\n") {
		if strings.ContainsAny(line, "\r\n") {
			t.Errorf("line %d has a bare CR or LF: %q", i+1, line)
		}
		if len(line) > 75 {
			t.Errorf("line %d is %d octets long: %q", i+1, len(line), line)
		}
		if !utf8.ValidString(line) {
			t.Errorf("line %d splits a UTF-8 character: %q", i+1, line)
		}
	}
	cal, err := ical.NewDecoder(bytes.NewReader(data)).Decode()
	if err != nil {
		t.Fatalf("parse calendar file: %v\n%s", err, data)
	}
	if err := ical.NewEncoder(&bytes.Buffer{}).Encode(cal); err != nil {
		t.Fatalf("calendar file is not a valid iCalendar object: %v\n%s", err, data)
	}
	return cal, data
}

// event returns the one VEVENT of cal.
func event(t *testing.T, cal *ical.Calendar) ical.Event {
	t.Helper()
	events := cal.Events()
	if len(events) != 1 {
		t.Fatalf("calendar has %d events, want 1", len(events))
	}
	return events[0]
}

func text(t *testing.T, props ical.Props, name string) string {
	t.Helper()
	p := props.Get(name)
	if p == nil {
		t.Fatalf("property %s is missing", name)
	}
	v, err := p.Text()
	if err != nil {
		t.Fatalf("property %s: %v", name, err)
	}
	return v
}

func TestICSCalendar(t *testing.T) {
	t.Parallel()
	b := booking(t, "Europe/Paris", time.Date(2026, 12, 4, 10, 0, 0, 0, zone(t, "Europe/Paris")), time.Hour)
	cal, _ := mustICS(t, b, notify.MethodRequest)

	for name, want := range map[string]string{
		ical.PropProductID: notify.ProdID,
		ical.PropVersion:   "2.0",
		ical.PropMethod:    "REQUEST",
	} {
		if got := cal.Props.Get(name); got == nil || got.Value != want {
			t.Errorf("%s = %v, want %q", name, got, want)
		}
	}
	ev := event(t, cal)
	checks := []struct{ name, want string }{
		{ical.PropUID, "0b7c4f52-3c1e-4a57-9d7e-1f2a3b4c5d6e@book.example.com"},
		{ical.PropSequence, "0"},
		{ical.PropDateTimeStamp, "20261120T083000Z"},
		{ical.PropSummary, "Tennis court 1"},
		{ical.PropStatus, "CONFIRMED"},
		{ical.PropURL, b.ManageURL},
	}
	for _, c := range checks {
		if p := ev.Props.Get(c.name); p == nil || p.Value != c.want {
			t.Errorf("%s = %v, want %q", c.name, p, c.want)
		}
	}
	desc := text(t, ev.Props, ical.PropDescription)
	if !strings.Contains(desc, "Reference: BK-7Q2M4X") || !strings.Contains(desc, "Manage your booking: "+b.ManageURL) {
		t.Errorf("DESCRIPTION = %q, want the reference and the manage link", desc)
	}
	org := ev.Props.Get(ical.PropOrganizer)
	if org == nil || org.Value != "mailto:bookings@example.com" || org.Params.Get(ical.ParamCommonName) != "Example Bookings" {
		t.Errorf("ORGANIZER = %+v", org)
	}
	att := ev.Props.Get(ical.PropAttendee)
	if att == nil || att.Value != "mailto:ada@example.com" || att.Params.Get(ical.ParamCommonName) != "Ada Lovelace" ||
		att.Params.Get(ical.ParamRSVP) != "FALSE" {
		t.Errorf("ATTENDEE = %+v", att)
	}
	if status, err := (&ev).Status(); err != nil || status != ical.EventConfirmed {
		t.Errorf("Status() = %v, %v", status, err)
	}
}

// Every change of a booking keeps the event's UID and raises its SEQUENCE;
// a cancellation is METHOD:CANCEL with STATUS:CANCELLED.
func TestICSUpdatesKeepTheUID(t *testing.T) {
	t.Parallel()
	paris := zone(t, "Europe/Paris")
	b := booking(t, "Europe/Paris", time.Date(2026, 12, 4, 10, 0, 0, 0, paris), time.Hour)

	confirmed, _ := mustICS(t, b, notify.MethodRequest)
	b.Sequence = 1
	b.StartsAt, b.EndsAt = b.StartsAt.Add(48*time.Hour), b.EndsAt.Add(48*time.Hour)
	moved, _ := mustICS(t, b, notify.MethodRequest)
	b.Sequence = 2
	cancelled, _ := mustICS(t, b, notify.MethodCancel)

	uid := event(t, confirmed).Props.Get(ical.PropUID).Value
	for i, tc := range []struct {
		cal            *ical.Calendar
		method, status string
	}{
		{confirmed, "REQUEST", "CONFIRMED"},
		{moved, "REQUEST", "CONFIRMED"},
		{cancelled, "CANCEL", "CANCELLED"},
	} {
		ev := event(t, tc.cal)
		if got := ev.Props.Get(ical.PropUID).Value; got != uid {
			t.Errorf("file %d: UID = %q, want %q", i, got, uid)
		}
		if seq, err := ev.Props.Get(ical.PropSequence).Int(); err != nil || seq != i {
			t.Errorf("file %d: SEQUENCE = %d, %v; want %d", i, seq, err, i)
		}
		if got := tc.cal.Props.Get(ical.PropMethod).Value; got != tc.method {
			t.Errorf("file %d: METHOD = %q, want %q", i, got, tc.method)
		}
		if got := ev.Props.Get(ical.PropStatus).Value; got != tc.status {
			t.Errorf("file %d: STATUS = %q, want %q", i, got, tc.status)
		}
	}
	movedEvent := event(t, moved)
	start, err := movedEvent.DateTimeStart(nil)
	if err != nil || !start.Equal(b.StartsAt) {
		t.Errorf("moved DTSTART = %v, %v; want %v", start, err, b.StartsAt)
	}

	b.ManageURL = ""
	plain, _ := mustICS(t, b, notify.MethodRequest)
	if got, want := event(t, plain).Props.Get(ical.PropUID).Value, b.ID+"@booking"; got != want {
		t.Errorf("UID without a manage link = %q, want %q", got, want)
	}
}

// observance is a STANDARD or DAYLIGHT component of a VTIMEZONE.
type observance struct {
	kind     string
	onset    time.Time // the instant it begins
	from, to int       // offsets in seconds
}

func parseOffset(t *testing.T, s string) int {
	t.Helper()
	if len(s) != 5 && len(s) != 7 {
		t.Fatalf("bad UTC offset %q", s)
	}
	h, _ := strconv.Atoi(s[1:3])
	m, _ := strconv.Atoi(s[3:5])
	sec := 0
	if len(s) == 7 {
		sec, _ = strconv.Atoi(s[5:7])
	}
	n := h*3600 + m*60 + sec
	if s[0] == '-' {
		n = -n
	}
	return n
}

// timezone reads the VTIMEZONE of cal, checks its TZID and returns its
// observances in order.
func timezone(t *testing.T, cal *ical.Calendar, tzid string) []observance {
	t.Helper()
	var tz *ical.Component
	for _, c := range cal.Children {
		if c.Name == ical.CompTimezone {
			if tz != nil {
				t.Fatal("more than one VTIMEZONE")
			}
			tz = c
		}
	}
	if tz == nil {
		t.Fatal("no VTIMEZONE")
	}
	if got := tz.Props.Get(ical.PropTimezoneID).Value; got != tzid {
		t.Fatalf("TZID = %q, want %q", got, tzid)
	}
	var obs []observance
	for _, c := range tz.Children {
		from := parseOffset(t, c.Props.Get(ical.PropTimezoneOffsetFrom).Value)
		to := parseOffset(t, c.Props.Get(ical.PropTimezoneOffsetTo).Value)
		local, err := time.Parse("20060102T150405", c.Props.Get(ical.PropDateTimeStart).Value)
		if err != nil {
			t.Fatalf("observance DTSTART: %v", err)
		}
		// DTSTART is the onset in the local time before it (TZOFFSETFROM).
		obs = append(obs, observance{kind: c.Name, onset: local.Add(-time.Duration(from) * time.Second), from: from, to: to})
	}
	sort.SliceStable(obs, func(i, j int) bool { return obs[i].onset.Before(obs[j].onset) })
	return obs
}

// resolve finds the instant of a local time by the VTIMEZONE's rules alone,
// as a calendar client does: the first instant whose observance's offset
// gives that local time.
func resolve(t *testing.T, obs []observance, local string) time.Time {
	t.Helper()
	wall, err := time.Parse("20060102T150405", local)
	if err != nil {
		t.Fatalf("local time %q: %v", local, err)
	}
	var found []time.Time
	for i, o := range obs {
		inst := wall.Add(-time.Duration(o.to) * time.Second)
		if inst.Before(o.onset) || (i+1 < len(obs) && !inst.Before(obs[i+1].onset)) {
			continue
		}
		found = append(found, inst)
	}
	if len(found) == 0 {
		t.Fatalf("local time %s does not exist by the VTIMEZONE", local)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Before(found[j]) })
	return found[0]
}

// transitions returns the instants in year at which loc's offset changes.
func transitions(loc *time.Location, year int) []time.Time {
	var out []time.Time
	t := time.Date(year, 1, 1, 0, 0, 0, 0, loc)
	end := time.Date(year+1, 1, 1, 0, 0, 0, 0, loc)
	for {
		_, next := t.ZoneBounds()
		if next.IsZero() || !next.Before(end) {
			return out
		}
		out = append(out, next)
		t = next
	}
}

// DTSTART and DTEND name the resource's zone and give the local time of the
// booked instants, both as go-ical reads them (the zone by name) and by the
// VTIMEZONE's own rules, in zones with and without daylight-saving time and
// on the days the clocks change.
func TestICSTimesInTheResourceZone(t *testing.T) {
	t.Parallel()
	type tc struct {
		name  string
		start time.Time
		d     time.Duration
	}
	zones := []struct {
		name     string
		dst      bool // has daylight-saving transitions in 2026
		dstShift time.Duration
	}{
		{"Europe/Paris", true, time.Hour},
		{"America/New_York", true, time.Hour},
		{"Australia/Lord_Howe", true, 30 * time.Minute},
		{"Asia/Kolkata", false, 0},
		{"UTC", false, 0},
	}
	for _, z := range zones {
		t.Run(strings.ReplaceAll(z.name, "/", "_"), func(t *testing.T) {
			t.Parallel()
			loc := zone(t, z.name)
			cases := []tc{
				{"ordinary day", time.Date(2026, 7, 14, 9, 30, 0, 0, loc), time.Hour},
				{"new year", time.Date(2026, 12, 31, 23, 0, 0, 0, loc), 2 * time.Hour},
			}
			trans := transitions(loc, 2026)
			if z.dst && len(trans) != 2 {
				t.Fatalf("%s has %d transitions in 2026, want 2", z.name, len(trans))
			}
			if !z.dst && len(trans) != 0 {
				t.Fatalf("%s has %d transitions in 2026, want none", z.name, len(trans))
			}
			for i, tr := range trans {
				local := tr.In(loc)
				day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
				cases = append(cases,
					tc{fmt.Sprintf("transition %d, midday", i+1), time.Date(day.Year(), day.Month(), day.Day(), 12, 0, 0, 0, loc), time.Hour},
					tc{fmt.Sprintf("transition %d, across the change", i+1), tr.Add(-90 * time.Minute), 3 * time.Hour},
					tc{fmt.Sprintf("transition %d, right after", i+1), tr, time.Hour},
				)
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					b := booking(t, z.name, c.start, c.d)
					cal, _ := mustICS(t, b, notify.MethodRequest)
					obs := timezone(t, cal, z.name)
					if z.dst {
						kinds := map[string]bool{}
						for _, o := range obs {
							kinds[o.kind] = true
						}
						if !kinds[ical.CompTimezoneStandard] || !kinds[ical.CompTimezoneDaylight] {
							t.Errorf("VTIMEZONE of %s has %v, want STANDARD and DAYLIGHT", z.name, kinds)
						}
					} else if len(obs) != 1 || obs[0].kind != ical.CompTimezoneStandard {
						t.Errorf("VTIMEZONE of %s = %+v, want a single STANDARD", z.name, obs)
					}
					for _, o := range obs {
						if _, off := o.onset.In(loc).Zone(); off != o.to {
							t.Errorf("observance from %v: TZOFFSETTO %d, Go says %d", o.onset, o.to, off)
						}
						if z.dst && o.from != o.to && abs(o.to-o.from) != int(z.dstShift/time.Second) {
							t.Errorf("observance from %v shifts %ds, want %v", o.onset, o.to-o.from, z.dstShift)
						}
					}
					ev := event(t, cal)
					for _, p := range []struct {
						name string
						want time.Time
					}{{ical.PropDateTimeStart, b.StartsAt}, {ical.PropDateTimeEnd, b.EndsAt}} {
						prop := ev.Props.Get(p.name)
						if repeatedLocalTime(p.want.In(loc)) {
							// Written in UTC (see TestICSRepeatedHour).
							if got, err := prop.DateTime(nil); err != nil || !got.Equal(p.want) || prop.Params.Get(ical.PropTimezoneID) != "" {
								t.Errorf("%s = %v %s (%v, %v), want %v in UTC", p.name, prop.Params, prop.Value, got, err, p.want)
							}
							continue
						}
						if prop.Params.Get(ical.PropTimezoneID) != z.name {
							t.Fatalf("%s = %s;%v, want TZID=%s", p.name, prop.Value, prop.Params, z.name)
						}
						if want := p.want.In(loc).Format("20060102T150405"); prop.Value != want {
							t.Errorf("%s = %s, want local time %s", p.name, prop.Value, want)
						}
						got, err := prop.DateTime(nil)
						if err != nil || !got.Equal(p.want) {
							t.Errorf("%s read by go-ical = %v, %v; want %v", p.name, got, err, p.want)
						}
						if got := resolve(t, obs, prop.Value); !got.Equal(p.want) {
							t.Errorf("%s by the VTIMEZONE = %v, want %v", p.name, got, p.want.UTC())
						}
					}
				})
			}
		})
	}
}

// repeatedLocalTime reports whether an instant up to an hour away shows
// the same local time as t.
func repeatedLocalTime(t time.Time) bool {
	for _, d := range []time.Duration{-time.Hour, -30 * time.Minute, 30 * time.Minute, time.Hour} {
		u := t.Add(d).In(t.Location())
		if u.Format("20060102T150405") == t.Format("20060102T150405") {
			return true
		}
	}
	return false
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// A local time that occurs twice, in the hour that repeats when the clocks
// go back, is written in UTC: RFC 5545 reads it with a TZID as the first
// occurrence, Go (and go-ical) as the second.
func TestICSRepeatedHour(t *testing.T) {
	t.Parallel()
	first := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC) // 02:30 CEST
	for _, tc := range []struct {
		name     string
		start    time.Time
		wantTZID bool
	}{
		{"before", first.Add(-time.Hour), true},            // 01:30 CEST
		{"first occurrence", first, false},                 // 02:30 CEST
		{"second occurrence", first.Add(time.Hour), false}, // 02:30 CET
		{"after", first.Add(2 * time.Hour), true},          // 03:30 CET
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := booking(t, "Europe/Paris", tc.start, 15*time.Minute)
			cal, _ := mustICS(t, b, notify.MethodRequest)
			prop := event(t, cal).Props.Get(ical.PropDateTimeStart)
			if hasTZID := prop.Params.Get(ical.PropTimezoneID) != ""; hasTZID != tc.wantTZID {
				t.Errorf("DTSTART = %v %s: TZID %v, want %v", prop.Params, prop.Value, hasTZID, tc.wantTZID)
			}
			got, err := prop.DateTime(nil)
			if err != nil || !got.Equal(tc.start) {
				t.Errorf("DTSTART = %v, %v; want %v", got, err, tc.start)
			}
		})
	}
}

func TestICSEscapesText(t *testing.T) {
	t.Parallel()
	b := booking(t, "Europe/Paris", time.Date(2026, 12, 4, 10, 0, 0, 0, zone(t, "Europe/Paris")), time.Hour)
	b.Location = "Hall A, Floor 2; Room \\3\nBack entrance, by the café"
	b.ResourceName = "Court; \"centre\", indoor"
	b.FirstName, b.LastName = "Ada, Countess", "Lovelace; \"AL\""
	cal, data := mustICS(t, b, notify.MethodRequest)
	ev := event(t, cal)
	if got := text(t, ev.Props, ical.PropLocation); got != b.Location {
		t.Errorf("LOCATION = %q, want %q", got, b.Location)
	}
	if got := text(t, ev.Props, ical.PropSummary); got != b.ResourceName {
		t.Errorf("SUMMARY = %q, want %q", got, b.ResourceName)
	}
	if !bytes.Contains(data, []byte(`LOCATION:Hall A\, Floor 2\; Room \\3\nBack entrance\, by the café`)) {
		t.Errorf("LOCATION is not escaped as RFC 5545 says:\n%s", data)
	}
	att := ev.Props.Get(ical.PropAttendee)
	if got := att.Params.Get(ical.ParamCommonName); got != "Ada, Countess Lovelace; AL" {
		t.Errorf("ATTENDEE CN = %q", got)
	}

	b.Location = ""
	cal, _ = mustICS(t, b, notify.MethodRequest)
	if p := event(t, cal).Props.Get(ical.PropLocation); p != nil {
		t.Errorf("LOCATION = %q without a location, want none", p.Value)
	}
}

// Long lines are folded at 75 octets between characters, and unfold to the
// original text.
func TestICSFoldsLongUTF8Lines(t *testing.T) {
	t.Parallel()
	b := booking(t, "Europe/Paris", time.Date(2026, 12, 4, 10, 0, 0, 0, zone(t, "Europe/Paris")), time.Hour)
	for _, s := range []string{"é", "€", "日本語", "🎾", "a"} {
		for shift := range 4 {
			b.Reference = strings.Repeat("x", shift) + strings.Repeat(s, 60)
			b.Location = strings.Repeat("Salle des fêtes 🎾 ", 8)
			cal, data := mustICS(t, b, notify.MethodRequest)
			ev := event(t, cal)
			desc := text(t, ev.Props, ical.PropDescription)
			if !strings.Contains(desc, "Reference: "+b.Reference+"\n") {
				t.Fatalf("DESCRIPTION = %q, want the whole reference", desc)
			}
			if got := text(t, ev.Props, ical.PropLocation); got != strings.TrimSpace(b.Location) {
				t.Fatalf("LOCATION = %q", got)
			}
			if !bytes.Contains(data, []byte("\r\n ")) {
				t.Fatalf("no folded line in:\n%s", data)
			}
		}
	}
}

func TestICSRejectsBadInput(t *testing.T) {
	t.Parallel()
	good := booking(t, "Europe/Paris", time.Date(2026, 12, 4, 10, 0, 0, 0, zone(t, "Europe/Paris")), time.Hour)
	tests := []struct {
		name   string
		mutate func(*notify.Booking)
		method string
		opts   notify.ICSOpts
	}{
		{"unknown method", func(*notify.Booking) {}, "PUBLISH", notify.ICSOpts{Organizer: organizer}},
		{"no id", func(b *notify.Booking) { b.ID = "" }, notify.MethodRequest, notify.ICSOpts{Organizer: organizer}},
		{"no zone", func(b *notify.Booking) { b.Timezone = "" }, notify.MethodRequest, notify.ICSOpts{Organizer: organizer}},
		{"server zone", func(b *notify.Booking) { b.Timezone = "Local" }, notify.MethodRequest, notify.ICSOpts{Organizer: organizer}},
		{"unknown zone", func(b *notify.Booking) { b.Timezone = "Mars/Olympus" }, notify.MethodRequest, notify.ICSOpts{Organizer: organizer}},
		{"end before start", func(b *notify.Booking) { b.EndsAt = b.StartsAt }, notify.MethodRequest, notify.ICSOpts{Organizer: organizer}},
		{"negative sequence", func(b *notify.Booking) { b.Sequence = -1 }, notify.MethodRequest, notify.ICSOpts{Organizer: organizer}},
		{"no organizer", func(*notify.Booking) {}, notify.MethodRequest, notify.ICSOpts{}},
		{"bad customer email", func(b *notify.Booking) { b.Email = "not an address" }, notify.MethodRequest, notify.ICSOpts{Organizer: organizer}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := good
			tc.mutate(&b)
			if _, err := notify.ICS(b, tc.method, tc.opts); err == nil {
				t.Fatal("ICS succeeded, want an error")
			} else if strings.Contains(err.Error(), "not an address") {
				t.Errorf("error %q echoes the customer's address", err)
			}
		})
	}
}
