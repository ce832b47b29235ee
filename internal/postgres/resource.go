package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/booking"
)

const resourceColumns = `id::text, slug, name, description, price_amount, currency, duration_minutes, timezone, weekly_hours, active,
	location, reminder_hours, cancel_until_hours, late_cancel_refund_percent, reschedule_until_hours,
	slot_interval_minutes, buffer_before_minutes, buffer_after_minutes, min_notice_minutes, max_advance_days, capacity,
	` + resourceOverridesColumn

func scanResource(row pgx.CollectableRow) (booking.Resource, error) {
	var r booking.Resource
	var hours, overrides []byte
	err := row.Scan(&r.ID, &r.Slug, &r.Name, &r.Description, &r.PriceAmount, &r.Currency,
		&r.DurationMinutes, &r.Timezone, &hours, &r.Active, &r.Location, &r.ReminderHours, &r.CancelUntilHours,
		&r.LateCancelRefundPercent, &r.RescheduleUntilHours, &r.SlotIntervalMinutes, &r.BufferBeforeMinutes,
		&r.BufferAfterMinutes, &r.MinNoticeMinutes, &r.MaxAdvanceDays, &r.Capacity, &overrides)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(overrides, &r.Overrides); err != nil {
		return r, fmt.Errorf("decode overrides of resource %s: %w", r.ID, err)
	}
	if r.Overrides == nil {
		r.Overrides = []booking.DateOverride{}
	}
	if err := json.Unmarshal(hours, &r.WeeklyHours); err != nil {
		return r, fmt.Errorf("decode weekly hours of resource %s: %w", r.ID, err)
	}
	if r.WeeklyHours == nil {
		r.WeeklyHours = []booking.OpenSpan{}
	}
	return r, nil
}

const listResourcesSQL = `SELECT ` + resourceColumns + ` FROM resources WHERE active OR $1 ORDER BY is_default DESC, name, id`

// ListResources returns resources by name, the default first; inactive ones only when asked.
func (db *DB) ListResources(ctx context.Context, includeInactive bool) ([]booking.Resource, error) {
	rows, _ := db.Pool.Query(ctx, listResourcesSQL, includeInactive)
	rs, err := pgx.CollectRows(rows, scanResource)
	return rs, interpretError(err)
}

const findResourceSQL = `SELECT ` + resourceColumns + ` FROM resources WHERE id = $1`

// FindResource returns the resource with id. Errors: not_found.
func (db *DB) FindResource(ctx context.Context, id string) (*booking.Resource, error) {
	if !booking.IsUUID(id) {
		return nil, booking.Errorf(booking.ENotFound, "Resource not found.")
	}
	rows, _ := db.Pool.Query(ctx, findResourceSQL, id)
	r, err := pgx.CollectExactlyOneRow(rows, scanResource)
	if err != nil {
		if booking.ErrorCode(interpretError(err)) == booking.ENotFound {
			return nil, booking.Errorf(booking.ENotFound, "Resource not found.")
		}
		return nil, interpretError(err)
	}
	return &r, nil
}

const defaultResourceSQL = `SELECT ` + resourceColumns + ` FROM resources WHERE active ORDER BY is_default DESC, created_at, id LIMIT 1`

// DefaultResource returns the default resource (or the oldest active one).
// Errors: not_found when no resource is active.
func (db *DB) DefaultResource(ctx context.Context) (*booking.Resource, error) {
	rows, _ := db.Pool.Query(ctx, defaultResourceSQL)
	r, err := pgx.CollectExactlyOneRow(rows, scanResource)
	if err != nil {
		if booking.ErrorCode(interpretError(err)) == booking.ENotFound {
			return nil, booking.Errorf(booking.ENotFound, "No resource is open for booking.")
		}
		return nil, interpretError(err)
	}
	return &r, nil
}

const createResourceSQL = `
INSERT INTO resources (slug, name, description, price_amount, currency, duration_minutes, timezone, weekly_hours, active, is_default,
    location, reminder_hours, cancel_until_hours, late_cancel_refund_percent, reschedule_until_hours,
    slot_interval_minutes, buffer_before_minutes, buffer_after_minutes, min_notice_minutes, max_advance_days, capacity)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
RETURNING ` + resourceColumns

// CreateResource inserts a resource. isDefault makes it the resource of the
// compatibility route. Errors: conflict (slug taken).
func (db *DB) CreateResource(ctx context.Context, r *booking.Resource, isDefault bool) (*booking.Resource, error) {
	hours, err := json.Marshal(r.WeeklyHours)
	if err != nil {
		return nil, err
	}
	rows, _ := db.Pool.Query(ctx, createResourceSQL, r.Slug, r.Name, r.Description, r.PriceAmount,
		r.Currency, r.DurationMinutes, r.Timezone, hours, r.Active, isDefault, r.Location, r.ReminderHours, r.CancelUntilHours,
		r.LateCancelRefundPercent, r.RescheduleUntilHours, r.SlotIntervalMinutes, r.BufferBeforeMinutes,
		r.BufferAfterMinutes, r.MinNoticeMinutes, r.MaxAdvanceDays, max(r.Capacity, 1))
	out, err := pgx.CollectExactlyOneRow(rows, scanResource)
	if err != nil {
		return nil, interpretError(err)
	}
	return &out, nil
}

const updateResourceSQL = `
UPDATE resources
SET slug = $2, name = $3, description = $4, price_amount = $5, currency = $6, duration_minutes = $7,
    timezone = $8, weekly_hours = $9, active = $10, location = $11, reminder_hours = $12, cancel_until_hours = $13,
    late_cancel_refund_percent = $14, reschedule_until_hours = $15, slot_interval_minutes = $16,
    buffer_before_minutes = $17, buffer_after_minutes = $18, min_notice_minutes = $19, max_advance_days = $20,
    capacity = $21, updated_at = now()
WHERE id = $1
RETURNING ` + resourceColumns

// UpdateResource stores every field of r. Errors: not_found, conflict (slug taken).
func (db *DB) UpdateResource(ctx context.Context, r *booking.Resource) (*booking.Resource, error) {
	hours, err := json.Marshal(r.WeeklyHours)
	if err != nil {
		return nil, err
	}
	rows, _ := db.Pool.Query(ctx, updateResourceSQL, r.ID, r.Slug, r.Name, r.Description, r.PriceAmount,
		r.Currency, r.DurationMinutes, r.Timezone, hours, r.Active, r.Location, r.ReminderHours, r.CancelUntilHours,
		r.LateCancelRefundPercent, r.RescheduleUntilHours, r.SlotIntervalMinutes, r.BufferBeforeMinutes,
		r.BufferAfterMinutes, r.MinNoticeMinutes, r.MaxAdvanceDays, max(r.Capacity, 1))
	out, err := pgx.CollectExactlyOneRow(rows, scanResource)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, booking.Errorf(booking.ENotFound, "Resource not found.")
	}
	if err != nil {
		return nil, interpretError(err)
	}
	return &out, nil
}
