package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/booking"
)

// setCalendarKeySQL stores a resource's feed key, replacing the old one;
// no row when the resource does not exist.
const setCalendarKeySQL = `
INSERT INTO calendar_keys (resource_id, key_hash, created_by)
SELECT r.id, $2, $3 FROM resources r WHERE r.id = $1
ON CONFLICT (resource_id) DO UPDATE SET key_hash = excluded.key_hash, created_by = excluded.created_by,
    created_at = now()
RETURNING true`

// SetCalendarKey stores the hash of the resource's new feed key. Errors:
// not_found, unavailable.
func (db *DB) SetCalendarKey(ctx context.Context, resourceID string, keyHash []byte, by *booking.Staff) error {
	var staffID *string
	if by != nil && by.ID != "" {
		staffID = &by.ID
	}
	var ok bool
	err := db.Pool.QueryRow(ctx, setCalendarKeySQL, resourceID, keyHash, staffID).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return booking.Errorf(booking.ENotFound, "Resource not found.")
	}
	return interpretError(err)
}

const calendarKeySQL = `SELECT key_hash FROM calendar_keys WHERE resource_id = $1`

// CalendarKeyHash returns the hash of the resource's feed key. Errors:
// not_found (no feed), unavailable.
func (db *DB) CalendarKeyHash(ctx context.Context, resourceID string) ([]byte, error) {
	var h []byte
	err := db.Pool.QueryRow(ctx, calendarKeySQL, resourceID).Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, booking.Errorf(booking.ENotFound, "Calendar not found.")
	}
	return h, interpretError(err)
}

const calendarFeedResourcesSQL = `SELECT resource_id::text FROM calendar_keys`

// CalendarFeedResources returns the ids of the resources with a feed.
// Errors: unavailable.
func (db *DB) CalendarFeedResources(ctx context.Context) (map[string]bool, error) {
	rows, _ := db.Pool.Query(ctx, calendarFeedResourcesSQL)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, interpretError(err)
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// feedBookingsSQL reads a feed through bookings_resource_starts_idx: the
// bookings that hold their slot with money (confirmed, or in review
// holding it) and the paid ones that were cancelled or refunded. Holds
// (pending, awaiting_payment) are not in a staff calendar until paid.
const feedBookingsSQL = `
SELECT b.id::text, b.reference, b.customer_first_name, b.customer_last_name, b.starts_at, b.ends_at, b.status,
       b.sequence, b.updated_at
FROM bookings b
WHERE b.resource_id = $1 AND b.starts_at >= $2 AND b.starts_at < $3
  AND (b.status = 'confirmed' OR (b.status = 'needs_review' AND b.holds_slot)
       OR (b.status IN ('cancelled', 'refunded') AND b.amount_paid > 0))
ORDER BY b.starts_at, b.id
LIMIT 20000`

// ListFeedBookings returns the bookings of a feed, by start (at most
// 20,000). Errors: unavailable.
func (db *DB) ListFeedBookings(ctx context.Context, resourceID string, from, to time.Time) ([]booking.FeedBooking, error) {
	rows, _ := db.Pool.Query(ctx, feedBookingsSQL, resourceID, from, to)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (booking.FeedBooking, error) {
		var b booking.FeedBooking
		err := row.Scan(&b.ID, &b.Reference, &b.FirstName, &b.LastName, &b.StartsAt, &b.EndsAt, &b.Status,
			&b.Sequence, &b.UpdatedAt)
		return b, err
	})
	if err != nil {
		return nil, interpretError(err)
	}
	return out, nil
}
