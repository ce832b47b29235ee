package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/booking"
)

// A reschedule is one UPDATE of the booking's range: the no-overlap
// exclusion constraint settles a race with a new booking of the same slot
// (23P01 → slot_unavailable, and the transaction, the old slot with it,
// is left as it was). Pending holds of the new slot that lapsed are
// released first, as for a new booking. The audit row is written by the
// bookings_audit_move trigger (migration 00008), with the note set for
// this transaction only.

// auditNoteSQL sets the note the audit trigger writes with a move, for
// the rest of the transaction (is_local: safe behind a transaction-pooling
// PgBouncer).
const auditNoteSQL = `SELECT set_config('booking.audit_note', $1, true)`

// rescheduleBookingSQL moves a booking and raises its calendar sequence.
const rescheduleBookingSQL = `
UPDATE bookings
SET starts_at = $2, ends_at = $3, sequence = sequence + 1, status_cause = $4, status_cause_ref = $5, updated_at = now()
WHERE id = $1`

// queueReschedule queues the statements of a reschedule of the booking in
// st on b.
func queueReschedule(b *pgx.Batch, st *booking.State, m *booking.Reschedule) {
	bk := &st.Booking
	b.Queue(releaseLapsedSQL, bk.ResourceID, m.StartsAt, m.EndsAt, m.ReleaseLapsed)
	b.Queue(auditNoteSQL, m.Note)
	b.Queue(rescheduleBookingSQL, bk.ID, m.StartsAt, m.EndsAt, m.Cause.Kind, m.Cause.Ref)
}

// FindState returns a booking with its money rows, as ChangeBooking reads
// them but without locking the booking: for answers that a decision under
// the lock checks again (a cancellation quote). Errors: not_found,
// unavailable.
func (db *DB) FindState(ctx context.Context, id string) (*booking.State, error) {
	if !booking.IsUUID(id) {
		return nil, booking.Errorf(booking.ENotFound, "Booking not found.")
	}
	var b pgx.Batch
	b.Queue(findBookingSQL, id)
	b.Queue(moneyByIDSQL, id, "", "")
	br := db.Pool.SendBatch(ctx, &b)
	defer br.Close()
	st, err := readLocked(br)
	if err != nil {
		return nil, interpretError(err)
	}
	if st == nil {
		return nil, booking.Errorf(booking.ENotFound, "Booking not found.")
	}
	if _, err := readMoney(br, st); err != nil {
		return nil, interpretError(err)
	}
	return st, nil
}
