package notify

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Calendar methods (RFC 5546): an invitation or its update, and its
// withdrawal.
const (
	MethodRequest = "REQUEST"
	MethodCancel  = "CANCEL"
)

// ProdID is the PRODID of the calendar files.
const ProdID = "-//Booking Platform//Booking//EN"

// ICSOpts are the parts of a calendar file that do not come from the booking.
type ICSOpts struct {
	// Organizer is the sender address (MAIL_FROM), e.g.
	// "Example Bookings <bookings@example.com>". Required.
	Organizer string
	// Stamp is DTSTAMP, the time the file is created; the zero value means
	// now.
	Stamp time.Time
}

// ICS returns the iCalendar (RFC 5545) object of b for method (MethodRequest
// or MethodCancel): a VCALENDAR with a VTIMEZONE for the resource's zone and
// one VEVENT whose UID is stable across changes ("<id>@<host of ManageURL>",
// or "@booking" without a ManageURL) and whose SEQUENCE is b.Sequence. A
// REQUEST is STATUS:CONFIRMED, a CANCEL STATUS:CANCELLED; a client applies a
// file only when its SEQUENCE is not lower than the one it has, so every
// change, a cancellation included, needs a higher Sequence.
//
// Lines end in CRLF and are folded at 75 octets, never inside a UTF-8
// character. The words of the description follow b.Language.
func ICS(b Booking, method string, opts ICSOpts) ([]byte, error) {
	if method != MethodRequest && method != MethodCancel {
		return nil, fmt.Errorf("calendar: method %q is not REQUEST or CANCEL", method)
	}
	if strings.TrimSpace(b.ID) == "" {
		return nil, errors.New("calendar: booking id is required")
	}
	if b.Sequence < 0 {
		return nil, errors.New("calendar: sequence is negative")
	}
	loc, err := loadZone(b.Timezone)
	if err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	if err := checkSlot(b.StartsAt, b.EndsAt); err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	organizer, err := mail.ParseAddress(opts.Organizer)
	if err != nil {
		return nil, fmt.Errorf("calendar: organizer: %w", err)
	}
	attendee, err := mail.ParseAddress(b.Email)
	if err != nil {
		return nil, errors.New("calendar: the customer's email address is invalid")
	}
	l, err := localeFor(b.Language)
	if err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	stamp := stampOrNow(opts.Stamp)
	var w icsWriter
	w.begin(method)
	writeTimezone(&w, loc, b.StartsAt, b.EndsAt)
	w.line("BEGIN:VEVENT")
	w.line("UID:" + escapeText(uid(b)))
	w.line("SEQUENCE:" + strconv.Itoa(b.Sequence))
	w.line("DTSTAMP:" + stamp.UTC().Format(utcLayout))
	w.line("DTSTART" + dateTime(b.StartsAt, loc))
	w.line("DTEND" + dateTime(b.EndsAt, loc))
	w.line("SUMMARY:" + escapeText(b.ResourceName))
	if where := strings.TrimSpace(b.Location); where != "" {
		w.line("LOCATION:" + escapeText(where))
	}
	desc := l.CalendarReference + ": " + b.Reference
	if b.ManageURL != "" {
		desc += "\n" + l.CalendarManage + ": " + b.ManageURL
	}
	w.line("DESCRIPTION:" + escapeText(desc))
	if u, err := url.Parse(b.ManageURL); err == nil && (u.Scheme == "https" || u.Scheme == "http") {
		w.line("URL:" + b.ManageURL)
	}
	if method == MethodCancel {
		w.line("STATUS:CANCELLED")
	} else {
		w.line("STATUS:CONFIRMED")
	}
	w.line("TRANSP:OPAQUE")
	w.line("ORGANIZER" + cn(organizer.Name) + ":mailto:" + organizer.Address)
	w.line("ATTENDEE" + cn(strings.TrimSpace(b.FirstName+" "+b.LastName)) +
		";CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=FALSE:mailto:" + attendee.Address)
	w.line("END:VEVENT")
	w.line("END:VCALENDAR")
	return w.buf.Bytes(), nil
}

// Layouts of DATE-TIME values: local time (with TZID) and UTC.
const (
	localLayout = "20060102T150405"
	utcLayout   = "20060102T150405Z"
)

// dateTime writes the parameters and value of a DATE-TIME property for t:
// ";TZID=<zone>:<local time>", except for a local time that occurs twice
// (the repeated hour when clocks go back): RFC 5545 §3.3.5 reads it as the
// first occurrence and some clients as the second, so it is written in UTC,
// ":<time>Z", which every client reads the same way.
func dateTime(t time.Time, loc *time.Location) string {
	t = t.In(loc)
	if repeated(t) {
		return ":" + t.UTC().Format(utcLayout)
	}
	return ";TZID=" + paramValue(loc.String()) + ":" + t.Format(localLayout)
}

// repeated reports whether another instant shows the same local time as t,
// in t's location: one in the zone before t's or in the zone after it.
func repeated(t time.Time) bool {
	wall := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
	zoneStart, zoneEnd := t.ZoneBounds()
	if !zoneStart.IsZero() {
		_, prevOffset := zoneStart.Add(-time.Second).Zone()
		if earlier := wall.Add(-time.Duration(prevOffset) * time.Second); earlier.Before(zoneStart) && earlier.Before(t) {
			return true
		}
	}
	if !zoneEnd.IsZero() {
		_, nextOffset := zoneEnd.Zone()
		if later := wall.Add(-time.Duration(nextOffset) * time.Second); !later.Before(zoneEnd) && later.After(t) {
			return true
		}
	}
	return false
}

// uid is the event's UID: the booking id at the host of the manage link.
func uid(b Booking) string { return EventUID(b.ID, b.ManageURL) }

// EventUID is the calendar UID of a booking: "<booking id>@<host of
// appURL>" (lower case), or "<booking id>@booking" when appURL has no host.
// The emailed files (appURL: the manage link, which lives at APP_URL) and
// the calendar feeds (appURL: APP_URL) both use it, so a calendar that got
// both sees one event.
func EventUID(bookingID, appURL string) string {
	host := "booking"
	if u, err := url.Parse(appURL); err == nil && u.Hostname() != "" {
		host = strings.ToLower(u.Hostname())
	}
	return bookingID + "@" + host
}

// cn is the ";CN=..." parameter of a name, "" when there is none.
func cn(name string) string {
	if name = strings.TrimSpace(name); name == "" {
		return ""
	}
	return ";CN=" + paramValue(name)
}

// writeTimezone writes the VTIMEZONE of loc for the years the event
// [start, end) falls in: the observance in effect on 1 January of the first
// year, then one STANDARD or DAYLIGHT per transition up to the end of the
// last year. A zone without transitions in that period gets one
// observance.
func writeTimezone(w *icsWriter, loc *time.Location, start, end time.Time) {
	from := time.Date(start.In(loc).Year(), time.January, 1, 0, 0, 0, 0, loc)
	to := time.Date(end.In(loc).Year()+1, time.January, 1, 0, 0, 0, 0, loc)

	w.line("BEGIN:VTIMEZONE")
	w.line("TZID:" + escapeText(loc.String()))
	// The zone in effect at from, and when it began.
	zoneStart, zoneEnd := from.ZoneBounds()
	_, offset := from.Zone()
	prevOffset := offset
	onset := time.Date(1970, time.January, 1, 0, 0, 0, 0, time.UTC).Add(-time.Duration(offset) * time.Second)
	if !zoneStart.IsZero() {
		_, prevOffset = zoneStart.Add(-time.Second).Zone()
		onset = zoneStart
	}
	writeObservance(w, from, onset, prevOffset)
	for !zoneEnd.IsZero() && zoneEnd.Before(to) {
		t := zoneEnd
		_, prevOffset = t.Add(-time.Second).Zone()
		writeObservance(w, t.In(loc), t, prevOffset)
		_, zoneEnd = t.In(loc).ZoneBounds()
	}
	w.line("END:VTIMEZONE")
}

// writeObservance writes the STANDARD or DAYLIGHT component of the zone in
// effect at t, which began at onset, when the offset changed from
// prevOffset. Its DTSTART is the onset in local time before the change, as
// RFC 5545 defines it.
func writeObservance(w *icsWriter, t, onset time.Time, prevOffset int) {
	name, offset := t.Zone()
	kind := "STANDARD"
	if t.IsDST() {
		kind = "DAYLIGHT"
	}
	w.line("BEGIN:" + kind)
	w.line("DTSTART:" + onset.In(time.FixedZone("", prevOffset)).Format(localLayout))
	w.line("TZOFFSETFROM:" + utcOffset(prevOffset))
	w.line("TZOFFSETTO:" + utcOffset(offset))
	if name != "" {
		w.line("TZNAME:" + escapeText(name))
	}
	w.line("END:" + kind)
}

// utcOffset writes an offset in seconds as ±HHMM, or ±HHMMSS when it has
// seconds (historical local mean times).
func utcOffset(seconds int) string {
	sign := '+'
	if seconds < 0 {
		sign, seconds = '-', -seconds
	}
	s := fmt.Sprintf("%c%02d%02d", sign, seconds/3600, seconds%3600/60)
	if seconds%60 != 0 {
		s += fmt.Sprintf("%02d", seconds%60)
	}
	return s
}

// escapeText escapes a TEXT value: backslash, semicolon, comma and line
// breaks; other control characters than tab are dropped.
func escapeText(s string) string {
	var b strings.Builder
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == ';':
			b.WriteString(`\;`)
		case r == ',':
			b.WriteString(`\,`)
		case r == '\n' || r == '\r':
			b.WriteString(`\n`)
		case r == '\t' || (r >= 0x20 && r != 0x7f):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// paramValue writes a parameter value: control characters and double
// quotes (which a parameter value cannot hold) are dropped, and the value is
// quoted when it contains ":", ";" or ",".
func paramValue(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '"' || (r < 0x20 && r != '\t') || r == 0x7f {
			continue
		}
		b.WriteRune(r)
	}
	v := b.String()
	if strings.ContainsAny(v, ":;,") {
		return `"` + v + `"`
	}
	return v
}

// icsWriter writes content lines, folded and ended with CRLF.
type icsWriter struct {
	buf bytes.Buffer
}

// maxLine is the longest a line may be, in octets, without its CRLF.
const maxLine = 75

// line writes one content line, folding it so no physical line exceeds
// maxLine octets (the leading space of a continuation counts) and no UTF-8
// character is split.
func (w *icsWriter) line(s string) {
	limit := maxLine
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		w.buf.WriteString(s[:cut])
		w.buf.WriteString("\r\n ")
		s = s[cut:]
		limit = maxLine - 1
	}
	w.buf.WriteString(s)
	w.buf.WriteString("\r\n")
}

// stampOrNow is a file's DTSTAMP: stamp, or now when it is zero.
func stampOrNow(stamp time.Time) time.Time {
	if stamp.IsZero() {
		return time.Now()
	}
	return stamp
}

// begin writes the head of a VCALENDAR of method.
func (w *icsWriter) begin(method string) {
	w.line("BEGIN:VCALENDAR")
	w.line("PRODID:" + escapeText(ProdID))
	w.line("VERSION:2.0")
	w.line("CALSCALE:GREGORIAN")
	w.line("METHOD:" + method)
}
