package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/postgres"
)

// ResourceOpts overrides the defaults of CreateResource.
type ResourceOpts struct {
	Slug        string
	Price       int64
	Currency    string
	Duration    int
	Timezone    string
	WeeklyHours []booking.OpenSpan
	Inactive    bool
	Default     bool
	Location    string
	// The self-service policy; nil means the product's default (24 hours
	// for each, no refund after the cancellation cut-off, a reminder 24
	// hours ahead).
	ReminderHours           *int
	CancelUntilHours        *int
	LateCancelRefundPercent *int
	RescheduleUntilHours    *int
	// Capacity is the places of each slot (0: 1).
	Capacity int
}

// Int returns a pointer to n, for the optional fields of the factories.
func Int(n int) *int { return &n }

// AllWeek opens every day from 00:00 to 24:00.
var AllWeek = []booking.OpenSpan{
	{Weekday: 0, Start: "00:00", End: "24:00"}, {Weekday: 1, Start: "00:00", End: "24:00"},
	{Weekday: 2, Start: "00:00", End: "24:00"}, {Weekday: 3, Start: "00:00", End: "24:00"},
	{Weekday: 4, Start: "00:00", End: "24:00"}, {Weekday: 5, Start: "00:00", End: "24:00"},
	{Weekday: 6, Start: "00:00", End: "24:00"},
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// CreateResource inserts a resource: by default 50.00 EUR, 60 minutes, UTC,
// open all week round the clock.
func CreateResource(t testing.TB, db *postgres.DB, o ResourceOpts) *booking.Resource {
	t.Helper()
	r := booking.Resource{Slug: o.Slug, Name: "Room", PriceAmount: o.Price, Currency: o.Currency,
		DurationMinutes: o.Duration, Timezone: o.Timezone, WeeklyHours: o.WeeklyHours, Active: !o.Inactive, Capacity: o.Capacity}
	if r.Slug == "" {
		r.Slug = "room-" + randHex(4)
	}
	if r.PriceAmount == 0 {
		r.PriceAmount = 5000
	}
	if r.Currency == "" {
		r.Currency = "eur"
	}
	if r.DurationMinutes == 0 {
		r.DurationMinutes = 60
	}
	if r.Timezone == "" {
		r.Timezone = "UTC"
	}
	if r.WeeklyHours == nil {
		r.WeeklyHours = AllWeek
	}
	r.Location = o.Location
	orDefault := func(p *int, def int) int {
		if p == nil {
			return def
		}
		return *p
	}
	r.ReminderHours = orDefault(o.ReminderHours, booking.DefaultReminderHours)
	r.CancelUntilHours = orDefault(o.CancelUntilHours, booking.DefaultCancelUntilHours)
	r.LateCancelRefundPercent = orDefault(o.LateCancelRefundPercent, 0)
	r.RescheduleUntilHours = orDefault(o.RescheduleUntilHours, booking.DefaultRescheduleUntilHours)
	out, err := db.CreateResource(context.Background(), &r, o.Default)
	if err != nil {
		t.Fatalf("create resource: %v", err)
	}
	return out
}

// BookingOpts overrides the defaults of CreateBooking.
type BookingOpts struct {
	StartsAt  time.Time // default: a whole hour 30 days ahead, unique per call
	Status    booking.Status
	HoldUntil time.Time // default: now + 30 min
	SessionID string    // default: cs_test_<random>; "-" for none
	Amount    int64     // default: the resource's price
	Token     string    // customer token; default "token"
	Email     string    // customer email; default test@example.com
	// PaymentIntent, when set, records the payment of the booking's
	// Checkout Session (the booking's amount) with that PaymentIntent.
	PaymentIntent string
}

// slotBase varies between runs; slotSeq makes each default slot unique, also
// across parallel tests.
var (
	slotBase = time.Now().Unix() % 1000
	slotSeq  atomic.Int64
)

// CreateBooking inserts a booking directly (as if created by the API and
// given a Checkout Session).
func CreateBooking(t testing.TB, db *postgres.DB, r *booking.Resource, o BookingOpts) *booking.Booking {
	t.Helper()
	if o.StartsAt.IsZero() {
		n := slotBase + slotSeq.Add(1)
		o.StartsAt = time.Now().UTC().Truncate(time.Hour).Add(30*24*time.Hour + time.Duration(n)*time.Hour)
	}
	if o.Status == "" {
		o.Status = booking.StatusPending
	}
	if o.HoldUntil.IsZero() {
		o.HoldUntil = time.Now().Add(30 * time.Minute)
	}
	var sid any = "cs_test_" + randHex(12)
	if o.SessionID == "-" {
		sid = nil
	} else if o.SessionID != "" {
		sid = o.SessionID
	}
	if o.Amount == 0 {
		o.Amount = r.PriceAmount
	}
	if o.Token == "" {
		o.Token = "token"
	}
	if o.Email == "" {
		o.Email = "test@example.com"
	}
	const q = `
INSERT INTO bookings (reference, resource_id, starts_at, ends_at, status, amount_total, currency, hold_expires_at,
    stripe_session_id, customer_first_name, customer_last_name, customer_email, customer_token_hash, status_cause,
    status_cause_ref, amount_paid)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'Test', 'Customer', $12, $10, 'system', 'test', $11)
RETURNING id::text`
	const pay = `
INSERT INTO payments (booking_id, stripe_session_id, stripe_payment_intent_id, amount, currency, stripe_event_id)
VALUES ($1::uuid, $2, $3, $4, $5, 'evt_test_' || $1::text)`
	var paid int64
	if o.PaymentIntent != "" {
		paid = o.Amount
	}
	var id string
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, q, "BK-T"+randHex(5), r.ID, o.StartsAt,
			o.StartsAt.Add(time.Duration(r.DurationMinutes)*time.Minute), string(o.Status), o.Amount, r.Currency,
			o.HoldUntil, sid, booking.HashToken(o.Token), paid, o.Email).Scan(&id)
		if err != nil || paid == 0 {
			return err
		}
		_, err = tx.Exec(ctx, pay, id, sid, o.PaymentIntent, paid, r.Currency)
		return err
	})
	if err != nil {
		t.Fatalf("create booking: %v", err)
	}
	b, err := db.FindBooking(context.Background(), id)
	if err != nil {
		t.Fatalf("read booking: %v", err)
	}
	return b
}

// Count runs a SELECT count(*) style query and returns the number.
func Count(t testing.TB, db *postgres.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("count %q: %v", query, err)
	}
	return n
}
