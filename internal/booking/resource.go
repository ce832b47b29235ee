package booking

import (
	"context"
	"strconv"
	"strings"
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
	// Location is where the booking takes place (an address, a room);
	// shown to customers and written to calendar files. Optional.
	Location string `json:"location"`
	// ReminderHours is how long before the start the customer is
	// reminded; 0 means no reminder.
	ReminderHours int `json:"reminderHours"`
	// The self-service policy (docs/adr/0007): a customer may cancel with
	// a full refund until CancelUntilHours before the start; between that
	// cut-off and the start a cancellation refunds LateCancelRefundPercent
	// of the amount paid (rounded down) and the rest is retained as a fee.
	// A booking may be moved until RescheduleUntilHours before its start.
	// Nothing changes online once the booking has started.
	CancelUntilHours        int `json:"cancelUntilHours"`
	LateCancelRefundPercent int `json:"lateCancelRefundPercent"`
	RescheduleUntilHours    int `json:"rescheduleUntilHours"`
	// The availability rules (rules.go): a start every SlotIntervalMinutes
	// (0: every DurationMinutes); the buffers a booking keeps free before
	// and after itself (fixed on the booking when it is made); no booking
	// starting sooner than MinNoticeMinutes from now, nor on a local date
	// more than MaxAdvanceDays after today (0: no horizon).
	SlotIntervalMinutes int `json:"slotIntervalMinutes"`
	BufferBeforeMinutes int `json:"bufferBeforeMinutes"`
	BufferAfterMinutes  int `json:"bufferAfterMinutes"`
	MinNoticeMinutes    int `json:"minNoticeMinutes"`
	MaxAdvanceDays      int `json:"maxAdvanceDays"`
	// Capacity is how many places each slot sells (capacity.go); 1 is a
	// resource booked whole.
	Capacity int `json:"capacity"`
	// Overrides are the closed days and special hours of date ranges,
	// managed apart from the resource (PUT/DELETE its overrides).
	Overrides []DateOverride `json:"overrides"`
}

// Defaults of a resource's reminder and self-service policy.
const (
	DefaultReminderHours        = 24
	DefaultCancelUntilHours     = 24
	DefaultRescheduleUntilHours = 24
)

// Limits of a resource's policy fields.
const (
	maxLocation    = 300
	maxReminder    = 720  // 30 days
	maxPolicyHours = 8760 // a year
)

// OpenSpan is one opening window of a weekday in the resource's local time.
// Weekday 0 is Sunday. Start and End are "HH:MM"; End "24:00" means midnight.
type OpenSpan struct {
	Weekday int    `json:"weekday"`
	Start   string `json:"start"`
	End     string `json:"end"`
}

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
	if _, err := LoadZone(r.Timezone); err != nil || r.Timezone == "" || r.Timezone == "Local" {
		v.Add("timezone", "Must be an IANA time zone such as Europe/Paris.")
	}
	for i, s := range r.WeeklyHours {
		if _, _, err := s.minutes(); err != nil || s.Weekday < 0 || s.Weekday > 6 {
			v.Add("weeklyHours", "Entry "+strconv.Itoa(i)+": weekday 0-6 and start before end as HH:MM.")
		}
	}
	r.Location = strings.TrimSpace(r.Location)
	switch {
	case utf8.RuneCountInString(r.Location) > maxLocation:
		v.Add("location", "Must be at most 300 characters.")
	case strings.ContainsFunc(r.Location, isControl):
		v.Add("location", "Must be one line without control characters.")
	}
	if r.ReminderHours < 0 || r.ReminderHours > maxReminder {
		v.Add("reminderHours", "Must be between 0 (no reminder) and 720.")
	}
	if r.CancelUntilHours < 0 || r.CancelUntilHours > maxPolicyHours {
		v.Add("cancelUntilHours", "Must be between 0 and 8760.")
	}
	if r.LateCancelRefundPercent < 0 || r.LateCancelRefundPercent > 100 {
		v.Add("lateCancelRefundPercent", "Must be between 0 and 100.")
	}
	if r.RescheduleUntilHours < 0 || r.RescheduleUntilHours > maxPolicyHours {
		v.Add("rescheduleUntilHours", "Must be between 0 and 8760.")
	}
	r.validateRules(v)
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

// ResourcePatch changes a resource; nil fields are left alone.
type ResourcePatch struct {
	Slug            *string     `json:"slug"`
	Name            *string     `json:"name"`
	Description     *string     `json:"description"`
	PriceAmount     *int64      `json:"priceAmount"`
	Currency        *string     `json:"currency"`
	DurationMinutes *int        `json:"durationMinutes"`
	Timezone        *string     `json:"timezone"`
	Active          *bool       `json:"active"`
	WeeklyHours     *[]OpenSpan `json:"weeklyHours"`

	Location                *string `json:"location"`
	ReminderHours           *int    `json:"reminderHours"`
	CancelUntilHours        *int    `json:"cancelUntilHours"`
	LateCancelRefundPercent *int    `json:"lateCancelRefundPercent"`
	RescheduleUntilHours    *int    `json:"rescheduleUntilHours"`

	SlotIntervalMinutes *int `json:"slotIntervalMinutes"`
	BufferBeforeMinutes *int `json:"bufferBeforeMinutes"`
	BufferAfterMinutes  *int `json:"bufferAfterMinutes"`
	MinNoticeMinutes    *int `json:"minNoticeMinutes"`
	MaxAdvanceDays      *int `json:"maxAdvanceDays"`
	Capacity            *int `json:"capacity"`
}

// Apply copies the set fields of p onto r.
func (p *ResourcePatch) Apply(r *Resource) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&r.Slug, p.Slug)
	set(&r.Name, p.Name)
	set(&r.Description, p.Description)
	set(&r.Currency, p.Currency)
	set(&r.Timezone, p.Timezone)
	if p.PriceAmount != nil {
		r.PriceAmount = *p.PriceAmount
	}
	if p.DurationMinutes != nil {
		r.DurationMinutes = *p.DurationMinutes
	}
	if p.Active != nil {
		r.Active = *p.Active
	}
	if p.WeeklyHours != nil {
		r.WeeklyHours = *p.WeeklyHours
	}
	set(&r.Location, p.Location)
	setInt := func(dst *int, src *int) {
		if src != nil {
			*dst = *src
		}
	}
	setInt(&r.ReminderHours, p.ReminderHours)
	setInt(&r.CancelUntilHours, p.CancelUntilHours)
	setInt(&r.LateCancelRefundPercent, p.LateCancelRefundPercent)
	setInt(&r.RescheduleUntilHours, p.RescheduleUntilHours)
	setInt(&r.SlotIntervalMinutes, p.SlotIntervalMinutes)
	setInt(&r.BufferBeforeMinutes, p.BufferBeforeMinutes)
	setInt(&r.BufferAfterMinutes, p.BufferAfterMinutes)
	setInt(&r.MinNoticeMinutes, p.MinNoticeMinutes)
	setInt(&r.MaxAdvanceDays, p.MaxAdvanceDays)
	setInt(&r.Capacity, p.Capacity)
	if r.Overrides == nil {
		r.Overrides = []DateOverride{}
	}
	if r.WeeklyHours == nil {
		r.WeeklyHours = []OpenSpan{}
	}
}

// slugTaken turns a unique-slug conflict into a field error.
func slugTaken(err error) error {
	if ErrorCode(err) == EConflict {
		return &Error{Code: EValidation, Message: "Some fields are invalid.", Fields: map[string]string{"slug": "Already in use."}, Err: err}
	}
	return err
}

// CatalogStore is what the resource flows need from the database.
type CatalogStore interface {
	ListResources(ctx context.Context, includeInactive bool) ([]Resource, error)
	FindResource(ctx context.Context, id string) (*Resource, error)
	CreateResource(ctx context.Context, r *Resource, isDefault bool) (*Resource, error)
	UpdateResource(ctx context.Context, r *Resource) (*Resource, error)
}

// Catalog holds the resources: the public list and their administration.
type Catalog struct {
	Store CatalogStore
}

// Resources lists resources by name, the default first; inactive ones only
// when asked (staff).
func (a *Catalog) Resources(ctx context.Context, includeInactive bool) ([]Resource, error) {
	items, err := a.Store.ListResources(ctx, includeInactive)
	if items == nil {
		items = []Resource{}
	}
	return items, err
}

// Resource returns the resource with id. Errors: not_found.
func (a *Catalog) Resource(ctx context.Context, id string) (*Resource, error) {
	if !IsUUID(id) {
		return nil, Errorf(ENotFound, "Resource not found.")
	}
	return a.Store.FindResource(ctx, id)
}

// CreateResource validates and stores a new resource (active, with the
// default reminder and policy, unless p says otherwise).
// Errors: validation_failed.
func (a *Catalog) CreateResource(ctx context.Context, p ResourcePatch) (*Resource, error) {
	r := Resource{Active: true, ReminderHours: DefaultReminderHours, CancelUntilHours: DefaultCancelUntilHours,
		RescheduleUntilHours: DefaultRescheduleUntilHours, Capacity: 1}
	p.Apply(&r)
	v := ValidationError{}
	r.Validate(v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	out, err := a.Store.CreateResource(ctx, &r, false)
	return out, slugTaken(err)
}

// UpdateResource applies p to resource id. Errors: not_found, validation_failed.
func (a *Catalog) UpdateResource(ctx context.Context, id string, p ResourcePatch) (*Resource, error) {
	r, err := a.Resource(ctx, id)
	if err != nil {
		return nil, err
	}
	p.Apply(r)
	v := ValidationError{}
	r.Validate(v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	out, err := a.Store.UpdateResource(ctx, r)
	return out, slugTaken(err)
}
