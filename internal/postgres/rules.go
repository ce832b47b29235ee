package postgres

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/booking"
)

// queryer runs a query on a pool or in a transaction.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// resourceOverridesColumn reads a resource's date overrides with the
// resource (so the resource caches hold them), in date order.
const resourceOverridesColumn = `(SELECT coalesce(jsonb_agg(jsonb_build_object('id', o.id, 'from', o.from_date, 'to', o.to_date,
	'closed', o.closed, 'hours', o.hours, 'note', o.note) ORDER BY o.from_date), '[]'::jsonb)
	FROM resource_overrides o WHERE o.resource_id = resources.id)`

// constraintOverrideOverlap keeps the overrides of a resource apart.
const constraintOverrideOverlap = "resource_overrides_no_overlap"

const createOverrideSQL = `
INSERT INTO resource_overrides (resource_id, from_date, to_date, closed, hours, note)
SELECT id, $2, $3, $4, $5, $6 FROM resources WHERE id = $1
RETURNING id::text, to_char(from_date, 'YYYY-MM-DD'), to_char(to_date, 'YYYY-MM-DD'), closed, hours, note`

// CreateOverride stores a date override of a resource.
// Errors: not_found (no such resource), conflict (overlaps another).
func (db *DB) CreateOverride(ctx context.Context, resourceID string, o *booking.DateOverride) (*booking.DateOverride, error) {
	hours, err := json.Marshal(o.Hours)
	if err != nil {
		return nil, err
	}
	var out booking.DateOverride
	var h []byte
	err = db.Pool.QueryRow(ctx, createOverrideSQL, resourceID, o.From, o.To, o.Closed, hours, o.Note).
		Scan(&out.ID, &out.From, &out.To, &out.Closed, &h, &out.Note)
	switch {
	case isConstraint(err, "23P01", constraintOverrideOverlap):
		return nil, booking.WrapError(booking.EConflict, "This override overlaps another.", err)
	case err != nil:
		if booking.ErrorCode(interpretError(err)) == booking.ENotFound {
			return nil, booking.Errorf(booking.ENotFound, "Resource not found.")
		}
		return nil, interpretError(err)
	}
	if err := json.Unmarshal(h, &out.Hours); err != nil {
		return nil, err
	}
	return &out, nil
}

const deleteOverrideSQL = `DELETE FROM resource_overrides WHERE resource_id = $1 AND id = $2`

// DeleteOverride removes a date override. Errors: not_found.
func (db *DB) DeleteOverride(ctx context.Context, resourceID, id string) error {
	tag, err := db.Pool.Exec(ctx, deleteOverrideSQL, resourceID, id)
	if err != nil {
		return interpretError(err)
	}
	if tag.RowsAffected() == 0 {
		return booking.Errorf(booking.ENotFound, "Override not found.")
	}
	return nil
}
