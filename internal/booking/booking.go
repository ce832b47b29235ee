package booking

import (
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Resource is something that can be booked: a room, a person's hour, a court.
type Resource struct {
	ID              string     `json:"id"`
	Slug            string     `json:"slug"`
	Name            string     `json:"name"`
	Description     string     `json:"description"`
	PriceAmount     int64      `json:"priceAmount"`
	Currency        string     `json:"currency"`
	DurationMinutes int        `json:"durationMinutes"`
	Timezone        string     `json:"timezone"`
	Active          bool       `json:"active"`
	WeeklyHours     []OpenSpan `json:"weeklyHours"`
}

// OpenSpan is one opening window of a weekday in the resource's local time.
// Weekday 0 is Sunday. Start and End are "HH:MM"; End "24:00" means midnight.
type OpenSpan struct {
	Weekday int    `json:"weekday"`
	Start   string `json:"start"`
	End     string `json:"end"`
}

// Customer is the person who books.
type Customer struct {
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
	Email     string `json:"email"`
}

// Booking is one reservation of a resource's time range.
type Booking struct {
	ID              string    `json:"id"`
	Reference       string    `json:"reference"`
	ResourceID      string    `json:"resourceId"`
	StartsAt        time.Time `json:"startsAt"`
	EndsAt          time.Time `json:"endsAt"`
	Status          Status    `json:"status"`
	AmountTotal     int64     `json:"amountTotal"`
	Currency        string    `json:"currency"`
	HoldExpiresAt   time.Time `json:"holdExpiresAt"`
	StripeSessionID *string   `json:"stripeSessionId"`
	Customer        Customer  `json:"customer"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`

	// CheckoutURL is where the customer pays; not part of the public Booking shape.
	CheckoutURL string `json:"-"`
	// ReviewReason says why a booking needs review; shown to staff only.
	ReviewReason string `json:"-"`
}

// Validate checks a customer; field names are prefixed with prefix ("customer.").
func (c *Customer) Validate(v ValidationError, prefix string) {
	c.FirstName = strings.TrimSpace(c.FirstName)
	c.LastName = strings.TrimSpace(c.LastName)
	c.Email = strings.TrimSpace(c.Email)
	checkName := func(field, val string) {
		switch {
		case val == "":
			v.Add(prefix+field, "Required.")
		case utf8.RuneCountInString(val) > 100:
			v.Add(prefix+field, "Must be at most 100 characters.")
		case strings.ContainsFunc(val, isControl):
			v.Add(prefix+field, "Must not contain control characters.")
		}
	}
	checkName("firstName", c.FirstName)
	checkName("lastName", c.LastName)
	switch {
	case c.Email == "":
		v.Add(prefix+"email", "Required.")
	case len(c.Email) > 254:
		v.Add(prefix+"email", "Must be at most 254 characters.")
	default:
		a, err := mail.ParseAddress(c.Email)
		if err != nil || a.Address != c.Email || !strings.Contains(c.Email[strings.LastIndexByte(c.Email, '@'):], ".") {
			v.Add(prefix+"email", "Must be a valid email address.")
		}
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// Validate checks a resource's fields, reporting problems in v.
func (r *Resource) Validate(v ValidationError) {
	r.Slug = strings.TrimSpace(r.Slug)
	r.Name = strings.TrimSpace(r.Name)
	r.Currency = strings.ToLower(strings.TrimSpace(r.Currency))
	if !validSlug(r.Slug) {
		v.Add("slug", "Must be 1-63 lower-case letters, digits or dashes.")
	}
	if r.Name == "" || utf8.RuneCountInString(r.Name) > 200 {
		v.Add("name", "Required, at most 200 characters.")
	}
	if utf8.RuneCountInString(r.Description) > 2000 {
		v.Add("description", "Must be at most 2000 characters.")
	}
	if r.PriceAmount <= 0 || r.PriceAmount > 99_999_999 {
		v.Add("priceAmount", "Must be a positive amount in minor units, at most 99999999.")
	}
	if len(r.Currency) != 3 || strings.Trim(r.Currency, "abcdefghijklmnopqrstuvwxyz") != "" {
		v.Add("currency", "Must be a three-letter ISO currency code.")
	}
	if r.DurationMinutes < 5 || r.DurationMinutes > 1440 {
		v.Add("durationMinutes", "Must be between 5 and 1440.")
	}
	if _, err := time.LoadLocation(r.Timezone); err != nil || r.Timezone == "" || r.Timezone == "Local" {
		v.Add("timezone", "Must be an IANA time zone such as Europe/Paris.")
	}
	for i, s := range r.WeeklyHours {
		if _, _, err := s.minutes(); err != nil || s.Weekday < 0 || s.Weekday > 6 {
			v.Add("weeklyHours", "Entry "+strconv.Itoa(i)+": weekday 0-6 and start before end as HH:MM.")
		}
	}
}

func validSlug(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}
