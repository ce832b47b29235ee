package booking_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bookingplatform/booking/internal/booking"
)

func keysOf(v booking.ValidationError) []string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestCustomerValidate(t *testing.T) {
	t.Parallel()
	ok := booking.Customer{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com"}
	with := func(change func(c *booking.Customer)) booking.Customer {
		c := ok
		change(&c)
		return c
	}
	tests := []struct {
		name string
		in   booking.Customer
		want []string // field keys with problems, without prefix
	}{
		{"valid", ok, nil},
		{"unicode names", with(func(c *booking.Customer) { c.FirstName, c.LastName = "Zoë", "Ó Súilleabháin-Łukasz" }), nil},
		{"100-character names", with(func(c *booking.Customer) {
			c.FirstName, c.LastName = strings.Repeat("é", 100), strings.Repeat("x", 100)
		}), nil},
		{"surrounding spaces are trimmed", with(func(c *booking.Customer) {
			c.FirstName, c.Email = "  Ada\t", " ada@example.com\n"
		}), nil},
		{"upper-case and plus address", with(func(c *booking.Customer) { c.Email = "Ada.Lovelace+booking@Example.CO.UK" }), nil},
		{"254-character email", with(func(c *booking.Customer) { c.Email = strings.Repeat("a", 242) + "@example.com" }), nil},
		{"everything missing", booking.Customer{}, []string{"email", "firstName", "lastName"}},
		{"blank first name", with(func(c *booking.Customer) { c.FirstName = " \t " }), []string{"firstName"}},
		{"blank last name", with(func(c *booking.Customer) { c.LastName = "" }), []string{"lastName"}},
		{"101-character first name", with(func(c *booking.Customer) { c.FirstName = strings.Repeat("é", 101) }), []string{"firstName"}},
		{"101-character last name", with(func(c *booking.Customer) { c.LastName = strings.Repeat("x", 101) }), []string{"lastName"}},
		{"newline inside a name", with(func(c *booking.Customer) { c.FirstName = "Ada\nLovelace" }), []string{"firstName"}},
		{"NUL inside a name", with(func(c *booking.Customer) { c.LastName = "Love\x00lace" }), []string{"lastName"}},
		{"DEL inside a name", with(func(c *booking.Customer) { c.LastName = "Love\x7flace" }), []string{"lastName"}},
		{"blank email", with(func(c *booking.Customer) { c.Email = "   " }), []string{"email"}},
		{"email without at", with(func(c *booking.Customer) { c.Email = "ada.example.com" }), []string{"email"}},
		{"email without a dot in the domain", with(func(c *booking.Customer) { c.Email = "ada@localhost" }), []string{"email"}},
		{"email with two ats", with(func(c *booking.Customer) { c.Email = "ada@@example.com" }), []string{"email"}},
		{"email with display name", with(func(c *booking.Customer) { c.Email = "Ada <ada@example.com>" }), []string{"email"}},
		{"email in angle brackets", with(func(c *booking.Customer) { c.Email = "<ada@example.com>" }), []string{"email"}},
		{"two emails", with(func(c *booking.Customer) { c.Email = "ada@example.com, bob@example.com" }), []string{"email"}},
		{"email with a space", with(func(c *booking.Customer) { c.Email = "ada lovelace@example.com" }), []string{"email"}},
		{"email without local part", with(func(c *booking.Customer) { c.Email = "@example.com" }), []string{"email"}},
		{"255-character email", with(func(c *booking.Customer) { c.Email = strings.Repeat("a", 243) + "@example.com" }), []string{"email"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, prefix := range []string{"", "customer."} {
				c := tt.in
				v := booking.ValidationError{}
				c.Validate(v, prefix)
				want := make([]string, len(tt.want))
				for i, k := range tt.want {
					want[i] = prefix + k
				}
				if got := keysOf(v); !slices.Equal(got, want) {
					t.Errorf("prefix %q: problems %v (%v), want %v", prefix, got, v, want)
				}
				for k, msg := range v {
					if msg == "" {
						t.Errorf("%s: empty message", k)
					}
				}
				if len(tt.want) == 0 {
					if c.FirstName != strings.TrimSpace(tt.in.FirstName) || c.LastName != strings.TrimSpace(tt.in.LastName) ||
						c.Email != strings.TrimSpace(tt.in.Email) {
						t.Errorf("not normalised: %+v", c)
					}
					if err := v.Err(); err != nil {
						t.Errorf("Err() = %v, want nil", err)
					}
				}
			}
		})
	}
}

func validResource() booking.Resource {
	return booking.Resource{Slug: "room-1", Name: "Room 1", Description: "A quiet room.", PriceAmount: 5000,
		Currency: "eur", DurationMinutes: 60, Timezone: "Europe/Paris", Active: true,
		WeeklyHours: []booking.OpenSpan{{Weekday: 1, Start: "09:00", End: "17:00"}, {Weekday: 6, Start: "22:00", End: "24:00"}}}
}

func TestResourceValidate(t *testing.T) {
	t.Parallel()
	with := func(change func(r *booking.Resource)) booking.Resource {
		r := validResource()
		change(&r)
		return r
	}
	span := func(wd int, start, end string) booking.Resource {
		return with(func(r *booking.Resource) { r.WeeklyHours = []booking.OpenSpan{{Weekday: wd, Start: start, End: end}} })
	}
	tests := []struct {
		name string
		in   booking.Resource
		want []string
	}{
		{"valid", validResource(), nil},
		{"no weekly hours", with(func(r *booking.Resource) { r.WeeklyHours = nil }), nil},
		{"63-character slug", with(func(r *booking.Resource) { r.Slug = strings.Repeat("a", 63) }), nil},
		{"digits-first slug", with(func(r *booking.Resource) { r.Slug = "1st-floor" }), nil},
		{"upper-case currency is normalised", with(func(r *booking.Resource) { r.Currency = " USD " }), nil},
		{"bounds of price and duration", with(func(r *booking.Resource) { r.PriceAmount, r.DurationMinutes = 99_999_999, 5 }), nil},
		{"whole-day duration", with(func(r *booking.Resource) { r.DurationMinutes = 1440 }), nil},
		{"window to 24:00", span(0, "00:00", "24:00"), nil},
		{"empty resource", booking.Resource{}, []string{"currency", "durationMinutes", "name", "priceAmount", "slug", "timezone"}},
		{"slug with upper case", with(func(r *booking.Resource) { r.Slug = "Room-1" }), []string{"slug"}},
		{"slug with a space", with(func(r *booking.Resource) { r.Slug = "room 1" }), []string{"slug"}},
		{"slug starting with a dash", with(func(r *booking.Resource) { r.Slug = "-room" }), []string{"slug"}},
		{"64-character slug", with(func(r *booking.Resource) { r.Slug = strings.Repeat("a", 64) }), []string{"slug"}},
		{"slug with an accent", with(func(r *booking.Resource) { r.Slug = "salle-é" }), []string{"slug"}},
		{"blank name", with(func(r *booking.Resource) { r.Name = "  " }), []string{"name"}},
		{"201-character name", with(func(r *booking.Resource) { r.Name = strings.Repeat("n", 201) }), []string{"name"}},
		{"2001-character description", with(func(r *booking.Resource) { r.Description = strings.Repeat("d", 2001) }), []string{"description"}},
		{"zero price", with(func(r *booking.Resource) { r.PriceAmount = 0 }), []string{"priceAmount"}},
		{"negative price", with(func(r *booking.Resource) { r.PriceAmount = -100 }), []string{"priceAmount"}},
		{"price too high", with(func(r *booking.Resource) { r.PriceAmount = 100_000_000 }), []string{"priceAmount"}},
		{"two-letter currency", with(func(r *booking.Resource) { r.Currency = "eu" }), []string{"currency"}},
		{"currency with a digit", with(func(r *booking.Resource) { r.Currency = "eu1" }), []string{"currency"}},
		{"duration too short", with(func(r *booking.Resource) { r.DurationMinutes = 4 }), []string{"durationMinutes"}},
		{"duration too long", with(func(r *booking.Resource) { r.DurationMinutes = 1441 }), []string{"durationMinutes"}},
		{"unknown time zone", with(func(r *booking.Resource) { r.Timezone = "Mars/Olympus" }), []string{"timezone"}},
		{"Local time zone", with(func(r *booking.Resource) { r.Timezone = "Local" }), []string{"timezone"}},
		{"weekday 7", span(7, "09:00", "17:00"), []string{"weeklyHours"}},
		{"negative weekday", span(-1, "09:00", "17:00"), []string{"weeklyHours"}},
		{"start after end", span(1, "17:00", "09:00"), []string{"weeklyHours"}},
		{"empty window", span(1, "09:00", "09:00"), []string{"weeklyHours"}},
		{"hour 25", span(1, "09:00", "25:00"), []string{"weeklyHours"}},
		{"24:30", span(1, "09:00", "24:30"), []string{"weeklyHours"}},
		{"window starting at 24:00", span(1, "24:00", "24:00"), []string{"weeklyHours"}},
		{"single-digit hour", span(1, "9:00", "17:00"), []string{"weeklyHours"}},
		{"missing end", span(1, "09:00", ""), []string{"weeklyHours"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.in
			v := booking.ValidationError{}
			r.Validate(v)
			if got := keysOf(v); !slices.Equal(got, tt.want) {
				t.Errorf("problems %v (%v), want %v", got, v, tt.want)
			}
			if len(tt.want) == 0 && (r.Currency != strings.ToLower(strings.TrimSpace(tt.in.Currency)) || r.Slug != tt.in.Slug) {
				t.Errorf("not normalised: %+v", r)
			}
		})
	}
}

func TestValidationError(t *testing.T) {
	t.Parallel()
	v := booking.ValidationError{}
	if err := v.Err(); err != nil {
		t.Fatalf("empty: Err() = %v", err)
	}
	v.Add("email", "first")
	v.Add("email", "second")
	if v["email"] != "first" {
		t.Errorf("Add replaced the first message: %q", v["email"])
	}
	err := v.Err()
	var be *booking.Error
	if !errors.As(err, &be) || be.Code != booking.EValidation || be.Fields["email"] != "first" || be.Message == "" {
		t.Errorf("Err() = %#v", err)
	}
	if booking.ErrorCode(fmt.Errorf("wrapped: %w", err)) != booking.EValidation {
		t.Errorf("ErrorCode does not see through wrapping")
	}
	if booking.ErrorCode(errors.New("plain")) != booking.EInternal {
		t.Errorf("plain error is not internal")
	}
	cause := errors.New("cause")
	if w := booking.WrapError(booking.ENotFound, "Not found.", cause); !errors.Is(w, cause) {
		t.Errorf("WrapError hides its cause")
	}
}

func TestIsUUID(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"8b0e1a52-2a8f-4a4e-9d55-0f4c1f0f4b1a":  true,
		"8B0E1A52-2A8F-4A4E-9D55-0F4C1F0F4B1A":  true,
		"8b0e1a522a8f4a4e9d550f4c1f0f4b1a":      false,
		"8b0e1a52-2a8f-4a4e-9d55-0f4c1f0f4b1":   false,
		"8b0e1a52-2a8f-4a4e-9d55-0f4c1f0f4b1ag": false,
		"8b0e1a52-2a8f-4a4e-9d55-0f4c1f0f4b1g":  false,
		"8b0e1a52_2a8f-4a4e-9d55-0f4c1f0f4b1a":  false,
		"":                                      false,
	} {
		if got := booking.IsUUID(s); got != want {
			t.Errorf("IsUUID(%q) = %v, want %v", s, got, want)
		}
	}
}
