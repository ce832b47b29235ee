package notify

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FeedEvent is one booking in a calendar feed.
type FeedEvent struct {
	// ID is the booking id; the UID is EventUID(ID, FeedOpts.AppURL).
	ID        string
	Reference string
	// Customer is the customer's name as stored (after an erasure: the
	// tombstone).
	Customer string
	StartsAt time.Time
	EndsAt   time.Time
	Sequence int
	// Cancelled writes STATUS:CANCELLED instead of STATUS:CONFIRMED.
	Cancelled bool
	// Updated is LAST-MODIFIED.
	Updated time.Time
}

// FeedOpts are the parts of a feed that do not come from the bookings.
type FeedOpts struct {
	// Name is the calendar's name (X-WR-CALNAME), e.g. the resource's.
	Name string
	// Timezone is the resource's IANA zone; Location its place (optional).
	Timezone string
	Location string
	// AppURL is APP_URL, the host of every UID.
	AppURL string
	// From and To bound the period the feed covers, for its VTIMEZONE.
	From, To time.Time
	// Stamp is DTSTAMP; the zero value means now.
	Stamp time.Time
}

// Feed returns a published iCalendar (RFC 5545) object for a subscribed
// calendar: METHOD:PUBLISH, one VTIMEZONE for the resource's zone over
// [From, To), and one VEVENT per event with the UID and SEQUENCE of the
// emailed files (EventUID), its LOCATION and its status. No attendee
// addresses are written: a feed is read by staff calendars.
func Feed(events []FeedEvent, opts FeedOpts) ([]byte, error) {
	loc, err := loadZone(opts.Timezone)
	if err != nil {
		return nil, fmt.Errorf("calendar feed: %w", err)
	}
	if !opts.From.Before(opts.To) {
		return nil, errors.New("calendar feed: empty period")
	}
	stamp := stampOrNow(opts.Stamp)
	var w icsWriter
	w.begin("PUBLISH")
	if opts.Name != "" {
		w.line("X-WR-CALNAME:" + escapeText(opts.Name))
	}
	w.line("X-WR-TIMEZONE:" + escapeText(loc.String()))
	w.line("REFRESH-INTERVAL;VALUE=DURATION:PT15M")
	w.line("X-PUBLISHED-TTL:PT15M")
	writeTimezone(&w, loc, opts.From, opts.To)
	for _, e := range events {
		if strings.TrimSpace(e.ID) == "" || e.Sequence < 0 {
			return nil, errors.New("calendar feed: event without id or with a negative sequence")
		}
		if err := checkSlot(e.StartsAt, e.EndsAt); err != nil {
			return nil, fmt.Errorf("calendar feed: %w", err)
		}
		w.line("BEGIN:VEVENT")
		w.line("UID:" + escapeText(EventUID(e.ID, opts.AppURL)))
		w.line("SEQUENCE:" + strconv.Itoa(e.Sequence))
		w.line("DTSTAMP:" + stamp.UTC().Format(utcLayout))
		if !e.Updated.IsZero() {
			w.line("LAST-MODIFIED:" + e.Updated.UTC().Format(utcLayout))
		}
		w.line("DTSTART" + dateTime(e.StartsAt, loc))
		w.line("DTEND" + dateTime(e.EndsAt, loc))
		summary := e.Reference
		if name := strings.TrimSpace(e.Customer); name != "" {
			summary += " · " + name
		}
		w.line("SUMMARY:" + escapeText(summary))
		if where := strings.TrimSpace(opts.Location); where != "" {
			w.line("LOCATION:" + escapeText(where))
		}
		if e.Cancelled {
			w.line("STATUS:CANCELLED")
			w.line("TRANSP:TRANSPARENT")
		} else {
			w.line("STATUS:CONFIRMED")
			w.line("TRANSP:OPAQUE")
		}
		w.line("END:VEVENT")
	}
	w.line("END:VCALENDAR")
	return w.buf.Bytes(), nil
}
