package booking

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

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
	// Sequence is the iCalendar SEQUENCE of the booking's calendar entry:
	// 0 at first, one more on every reschedule. A cancellation's calendar
	// file uses Sequence+1.
	Sequence int `json:"sequence"`
	// Quantity is the number of places the booking takes (1 unless its
	// resource has capacity); AmountTotal is their price.
	Quantity  int       `json:"quantity"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`

	// The fields below are not part of the public Booking shape.

	// CheckoutURL is where the customer pays.
	CheckoutURL string `json:"-"`
	// ReviewReason says why a booking needs review; shown to staff only.
	ReviewReason string `json:"-"`
	// HoldsSlot says whether the booking occupies its time range (M1).
	HoldsSlot bool `json:"-"`
	// AmountPaid and AmountRefunded are the sums of its payments and refunds.
	AmountPaid     int64 `json:"-"`
	AmountRefunded int64 `json:"-"`
	// AmountWithdrawn is what lost disputes took back through the
	// customer's bank.
	AmountWithdrawn int64 `json:"-"`
	// AmountRetained is the late-cancellation fee kept under the resource's
	// policy when the customer cancelled: money kept on purpose for a
	// booking that will not happen (docs/adr/0007). Never more than what
	// is paid and neither refunded nor withdrawn; 0 while the booking holds
	// its slot.
	AmountRetained int64 `json:"-"`
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
