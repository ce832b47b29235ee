package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookingplatform/booking/internal/booking"
)

// The staff desk: bookings paid at the venue, staff blocks, notes and the
// staff calendar (migration 00021, docs/adr/0011).

const insertNoteSQL = `
INSERT INTO booking_notes (booking_id, author_id, body) VALUES ($1, $2, $3)
RETURNING id, booking_id::text, author_id::text, (SELECT email FROM staff_users WHERE id = $2), body, created_at`

// holdExtras writes what a hold made at the desk carries besides its row,
// in its transaction tx: its note and the messages it queues.
func (db *DB) holdExtras(ctx context.Context, tx pgx.Tx, h *booking.NewHold) error {
	if h.Note != "" {
		if _, err := tx.Exec(ctx, insertNoteSQL, h.ID, h.NoteBy, h.Note); err != nil {
			return err
		}
	}
	if len(h.Notices) > 0 && db.Notices != nil {
		return db.Notices.Enqueue(ctx, tx, h.Notices, nil)
	}
	return nil
}

// CreatePaidHold inserts hold h, then applies decide's plan to it (the
// offline payment and the move to confirmed, with their messages and
// outgoing webhooks) and stores the sealed answer of h's key, in one
// transaction: a booking paid at the venue never exists unpaid.
// Errors: slot_unavailable, unavailable.
func (db *DB) CreatePaidHold(ctx context.Context, h booking.NewHold, decide func(*booking.State) (booking.Plan, error),
	seal func(*booking.Booking) []byte,
) (*booking.Booking, error) {
	var out *booking.Booking
	err := db.Transact(ctx, func(tx pgx.Tx) error {
		b, err := insertHold(ctx, tx, &h)
		if err != nil {
			return err
		}
		if err := db.enqueueCreated(ctx, tx, b); err != nil {
			return err
		}
		if err := db.holdExtras(ctx, tx, &h); err != nil {
			return err
		}
		after, err := db.decideIn(ctx, tx, b.ID, decide)
		if err != nil {
			return err
		}
		out = &after.Booking
		sealed := seal(out)
		if h.KeyHash == nil {
			return nil
		}
		_, err = tx.Exec(ctx, storeIdemAnswerSQL, h.KeyHash, out.ID, sealed)
		return err
	})
	if err != nil {
		return nil, interpretError(err)
	}
	return out, nil
}

const (
	insertBlockSQL = `
INSERT INTO resource_blocks (resource_id, period, reason, created_by)
VALUES ($1, tstzrange($2, $3, '[)'), $4, $5)
RETURNING id::text, resource_id::text, lower(period), upper(period), reason,
    (SELECT email FROM staff_users WHERE id = $5), created_at`

	bookingReferenceSQL = `SELECT reference FROM bookings WHERE id = $1`

	deleteBlockSQL = `DELETE FROM resource_blocks WHERE id = $1 AND resource_id = $2`

	// scheduleSQL lists the bookings holding time of resource $1 that meet
	// [$2, $3), live holds only ($4 is now), as busyRangesSQL finds them.
	scheduleSQL = `
SELECT b.id::text, b.reference, b.status, b.starts_at, b.ends_at,
       lower(coalesce(b.blocked, tstzrange(b.starts_at, b.ends_at, '[)'))),
       upper(coalesce(b.blocked, tstzrange(b.starts_at, b.ends_at, '[)'))),
       b.quantity, b.customer_first_name || ' ' || b.customer_last_name, b.hold_expires_at,
       EXISTS (SELECT 1 FROM payments p WHERE p.booking_id = b.id AND p.method = 'offline')
FROM bookings b
WHERE b.resource_id = $1 AND b.holds_slot AND ` + busyStartsWindow + `
  AND CASE WHEN b.shared THEN b.starts_at < $3 AND b.ends_at > $2
      ELSE coalesce(b.blocked, tstzrange(b.starts_at, b.ends_at, '[)')) && tstzrange($2, $3, '[)') END
  AND NOT (b.status = 'pending' AND b.hold_expires_at <= $4)
ORDER BY b.starts_at, b.id
LIMIT 5000`

	// blocksOfSQL lists the blocks of resource $1 that meet [$2, $3).
	blocksOfSQL = `
SELECT k.id::text, k.resource_id::text, lower(k.period), upper(k.period), k.reason, s.email, k.created_at
FROM resource_blocks k JOIN staff_users s ON s.id = k.created_by
WHERE k.resource_id = $1 AND k.period && tstzrange($2, $3, '[)')
ORDER BY lower(k.period)
LIMIT 1000`

	notesOfSQL = `
SELECT n.id, n.booking_id::text, n.author_id::text, s.email, n.body, n.created_at
FROM booking_notes n JOIN staff_users s ON s.id = n.author_id
WHERE n.booking_id = $1 ORDER BY n.id LIMIT 500`

	bookingExistsSQL = `SELECT EXISTS (SELECT 1 FROM bookings WHERE id = $1)`
)

func scanBlock(row pgx.CollectableRow) (booking.Block, error) {
	var b booking.Block
	err := row.Scan(&b.ID, &b.ResourceID, &b.StartsAt, &b.EndsAt, &b.Reason, &b.CreatedBy, &b.CreatedAt)
	b.StartsAt, b.EndsAt, b.CreatedAt = b.StartsAt.UTC(), b.EndsAt.UTC(), b.CreatedAt.UTC()
	return b, err
}

// AddBlock releases the lapsed holds in b's way and inserts b, in one
// transaction. Errors: slot_unavailable (a booking holds time in it),
// conflict (another block overlaps it), unavailable.
func (db *DB) AddBlock(ctx context.Context, b booking.Block, by string, now time.Time) (*booking.Block, error) {
	var out booking.Block
	err := db.Transact(ctx, func(tx pgx.Tx) error {
		// Row locks of the lapsed holds first, the block's lock second: the
		// order a booking's own change takes them in (no deadlock).
		if _, err := tx.Exec(ctx, releaseLapsedSQL, b.ResourceID, b.StartsAt, b.EndsAt, now); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, insertBlockSQL, b.ResourceID, b.StartsAt, b.EndsAt, b.Reason, by)
		var err error
		out, err = pgx.CollectExactlyOneRow(rows, scanBlock)
		return err
	})
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return &out, nil
	case isConstraint(err, "23P01", "resource_blocks_no_overlap"):
		return nil, booking.WrapError(booking.EConflict, "Another block of this resource overlaps this range.", err)
	case isConstraint(err, "23P01", constraintBlockBookings) && errors.As(err, &pgErr):
		msg := "A booking holds time in this range: cancel or move it first."
		var ref string
		if booking.IsUUID(pgErr.Detail) && db.Pool.QueryRow(ctx, bookingReferenceSQL, pgErr.Detail).Scan(&ref) == nil {
			msg = "Booking " + ref + " holds time in this range: cancel or move it first."
		}
		return nil, booking.WrapError(booking.ESlotUnavailable, msg, err)
	}
	return nil, interpretError(err)
}

// DeleteBlock removes a block of a resource. Errors: not_found.
func (db *DB) DeleteBlock(ctx context.Context, resourceID, id string) error {
	tag, err := db.Pool.Exec(ctx, deleteBlockSQL, id, resourceID)
	if err != nil {
		return interpretError(err)
	}
	if tag.RowsAffected() == 0 {
		return booking.Errorf(booking.ENotFound, "Block not found.")
	}
	return nil
}

// ScheduleOf lists the live bookings and the blocks of a resource that
// meet [from, to), in one round trip.
func (db *DB) ScheduleOf(ctx context.Context, resourceID string, from, to, now time.Time) ([]booking.ScheduleEntry, []booking.Block, error) {
	var b pgx.Batch
	b.Queue(scheduleSQL, resourceID, from, to, now)
	b.Queue(blocksOfSQL, resourceID, from, to)
	br := db.Pool.SendBatch(ctx, &b)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, nil, interpretError(err)
	}
	entries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (booking.ScheduleEntry, error) {
		var e booking.ScheduleEntry
		err := row.Scan(&e.ID, &e.Reference, &e.Status, &e.StartsAt, &e.EndsAt, &e.BlockedStartsAt, &e.BlockedEndsAt,
			&e.Quantity, &e.Customer, &e.HoldExpiresAt, &e.PaidOffline)
		e.StartsAt, e.EndsAt, e.HoldExpiresAt = e.StartsAt.UTC(), e.EndsAt.UTC(), e.HoldExpiresAt.UTC()
		e.BlockedStartsAt, e.BlockedEndsAt = e.BlockedStartsAt.UTC(), e.BlockedEndsAt.UTC()
		return e, err
	})
	if err != nil {
		return nil, nil, interpretError(err)
	}
	rows, err = br.Query()
	if err != nil {
		return nil, nil, interpretError(err)
	}
	blocks, err := pgx.CollectRows(rows, scanBlock)
	return entries, blocks, interpretError(err)
}

// AddNote writes a note on a booking. Errors: not_found.
func (db *DB) AddNote(ctx context.Context, bookingID, authorID, body string) (*booking.Note, error) {
	var n booking.Note
	err := db.Pool.QueryRow(ctx, insertNoteSQL, bookingID, authorID, body).Scan(
		&n.ID, &n.BookingID, &n.AuthorID, &n.Author, &n.Body, &n.CreatedAt)
	if isConstraint(err, "23503", "booking_notes_booking_id_fkey") {
		return nil, booking.Errorf(booking.ENotFound, "Booking not found.")
	}
	if err != nil {
		return nil, interpretError(err)
	}
	n.CreatedAt = n.CreatedAt.UTC()
	return &n, nil
}

// NotesOf lists the notes of a booking, oldest first. Errors: not_found.
func (db *DB) NotesOf(ctx context.Context, bookingID string) ([]booking.Note, error) {
	var b pgx.Batch
	b.Queue(bookingExistsSQL, bookingID)
	b.Queue(notesOfSQL, bookingID)
	br := db.Pool.SendBatch(ctx, &b)
	defer br.Close()
	var exists bool
	if err := br.QueryRow().Scan(&exists); err != nil {
		return nil, interpretError(err)
	}
	if !exists {
		return nil, booking.Errorf(booking.ENotFound, "Booking not found.")
	}
	rows, err := br.Query()
	if err != nil {
		return nil, interpretError(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (booking.Note, error) {
		var n booking.Note
		err := row.Scan(&n.ID, &n.BookingID, &n.AuthorID, &n.Author, &n.Body, &n.CreatedAt)
		n.CreatedAt = n.CreatedAt.UTC()
		return n, err
	})
	return out, interpretError(err)
}
