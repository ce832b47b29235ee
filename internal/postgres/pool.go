package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/booking"
)

// poolColumns read a pool with its members in order.
const poolColumns = `p.id::text, p.slug, p.name,
	coalesce((SELECT array_agg(m.resource_id::text ORDER BY m.position) FROM pool_members m WHERE m.pool_id = p.id), '{}'),
	p.created_at, p.updated_at`

func scanPool(row pgx.CollectableRow) (booking.Pool, error) {
	var p booking.Pool
	err := row.Scan(&p.ID, &p.Slug, &p.Name, &p.ResourceIDs, &p.CreatedAt, &p.UpdatedAt)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, err
}

const listPoolsSQL = `SELECT ` + poolColumns + ` FROM pools p ORDER BY p.name, p.id`

// ListPools returns every pool by name.
func (db *DB) ListPools(ctx context.Context) ([]booking.Pool, error) {
	rows, _ := db.Pool.Query(ctx, listPoolsSQL)
	ps, err := pgx.CollectRows(rows, scanPool)
	return ps, interpretError(err)
}

const findPoolSQL = `SELECT ` + poolColumns + ` FROM pools p WHERE p.id = $1`

// FindPool returns a pool with its members. Errors: not_found.
func (db *DB) FindPool(ctx context.Context, id string) (*booking.Pool, error) {
	if !booking.IsUUID(id) {
		return nil, booking.Errorf(booking.ENotFound, "Pool not found.")
	}
	rows, _ := db.Pool.Query(ctx, findPoolSQL, id)
	p, err := pgx.CollectExactlyOneRow(rows, scanPool)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, booking.Errorf(booking.ENotFound, "Pool not found.")
	}
	if err != nil {
		return nil, interpretError(err)
	}
	return &p, nil
}

const (
	insertPoolSQL = `INSERT INTO pools (slug, name) VALUES ($1, $2) RETURNING id::text`
	updatePoolSQL = `UPDATE pools SET slug = $2, name = $3, updated_at = now() WHERE id = $1 RETURNING id::text`
	// clearPoolMembersSQL and addPoolMembersSQL replace the members of a
	// pool by the resources of $2, in that order.
	clearPoolMembersSQL = `DELETE FROM pool_members WHERE pool_id = $1`
	addPoolMembersSQL   = `
INSERT INTO pool_members (pool_id, resource_id, position)
SELECT $1, m.id, m.n FROM unnest($2::uuid[]) WITH ORDINALITY AS m(id, n)`
)

// CreatePool inserts a pool and its members. Errors: conflict (slug taken).
func (db *DB) CreatePool(ctx context.Context, p *booking.Pool) (*booking.Pool, error) {
	return db.savePool(ctx, insertPoolSQL, p, p.Slug, p.Name)
}

// UpdatePool stores a pool's fields and members. Errors: not_found,
// conflict (slug taken).
func (db *DB) UpdatePool(ctx context.Context, p *booking.Pool) (*booking.Pool, error) {
	return db.savePool(ctx, updatePoolSQL, p, p.ID, p.Slug, p.Name)
}

func (db *DB) savePool(ctx context.Context, sql string, p *booking.Pool, args ...any) (*booking.Pool, error) {
	var out booking.Pool
	err := db.Transact(ctx, func(tx pgx.Tx) error {
		var id string
		if err := tx.QueryRow(ctx, sql, args...).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, clearPoolMembersSQL, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, addPoolMembersSQL, id, p.ResourceIDs); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, findPoolSQL, id)
		var err error
		out, err = pgx.CollectExactlyOneRow(rows, scanPool)
		return err
	})
	if booking.ErrorCode(err) == booking.ENotFound {
		return nil, booking.Errorf(booking.ENotFound, "Pool not found.")
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateHoldAny inserts the first of holds the database accepts, each try
// under a savepoint: the no-overlap constraint (or the places counter)
// refusing one member rolls back that try only, and the next member is
// tried, all in one transaction on one connection. The lapsed holds in
// each member's way are expired first, as in CreateHold, and booking.created
// is queued in the same transaction for the endpoints that ask for it.
// Errors: slot_unavailable when every member is taken, unavailable.
func (db *DB) CreateHoldAny(ctx context.Context, holds []booking.NewHold, seal func(*booking.Booking) []byte) (*booking.Booking, error) {
	var out *booking.Booking
	err := db.Transact(ctx, func(tx pgx.Tx) error {
		out = nil
		var last error
		for i := range holds {
			sp, err := tx.Begin(ctx) // a savepoint
			if err != nil {
				return err
			}
			b, err := insertHold(ctx, sp, &holds[i])
			if err != nil {
				if rerr := sp.Rollback(ctx); rerr != nil {
					return rerr
				}
				if booking.ErrorCode(interpretError(err)) == booking.ESlotUnavailable {
					last = err
					continue
				}
				return err
			}
			if err := sp.Commit(ctx); err != nil {
				return err
			}
			out = b
			break
		}
		if out == nil {
			if last == nil {
				last = booking.Errorf(booking.ESlotUnavailable, "This slot is no longer available.")
			}
			return last
		}
		if err := db.enqueueCreated(ctx, tx, out); err != nil {
			return err
		}
		sealed := seal(out)
		if holds[0].KeyHash == nil {
			return nil
		}
		_, err := tx.Exec(ctx, storeIdemAnswerSQL, holds[0].KeyHash, out.ID, sealed)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
