package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/booking"
)

// staffColumnsOf adds to bookingColumns the booking's latest dispute and
// the refund it is owed, for the staff views.
const staffBookingColumns = bookingColumns + `,
    (SELECT json_build_object('id', d.stripe_dispute_id, 'paymentId', d.payment_id, 'amount', d.amount,
        'currency', d.currency, 'reason', d.reason, 'status', coalesce(c.status, d.status), 'closed', c.id IS NOT NULL,
        'createdAt', d.created_at)
     FROM disputes d LEFT JOIN dispute_closures c ON c.stripe_dispute_id = d.stripe_dispute_id
     WHERE d.booking_id = b.id ORDER BY d.id DESC LIMIT 1),
    (SELECT coalesce(sum(q.amount), 0) FROM refund_requests q WHERE q.booking_id = b.id AND q.state = 'owed')`

func scanStaffBooking(row pgx.CollectableRow) (booking.StaffBooking, error) {
	var b booking.Booking
	var dispute []byte
	var owed int64
	if err := row.Scan(append(bookingDest(&b), &dispute, &owed)...); err != nil {
		return booking.StaffBooking{}, err
	}
	utcBooking(&b)
	var d *booking.Dispute
	if dispute != nil {
		d = &booking.Dispute{}
		if err := json.Unmarshal(dispute, d); err != nil {
			return booking.StaffBooking{}, fmt.Errorf("decode dispute: %w", err)
		}
	}
	return booking.StaffView(&b, d, owed), nil
}

// listBookingsSQL pages through bookings newest first by keyset
// (created_at, id), with optional status and startsAt range filters.
const listBookingsSQL = `
SELECT ` + staffBookingColumns + `
FROM bookings b
WHERE ($1::text IS NULL OR b.status = $1)
  AND ($2::timestamptz IS NULL OR b.starts_at >= $2)
  AND ($3::timestamptz IS NULL OR b.starts_at < $3)
  AND ($4::timestamptz IS NULL OR (b.created_at, b.id) < ($4, $5::uuid))
ORDER BY b.created_at DESC, b.id DESC
LIMIT $6`

// ListBookings returns up to f.Limit bookings after f.After, newest first.
func (db *DB) ListBookings(ctx context.Context, f booking.BookingFilter) ([]booking.StaffBooking, error) {
	var status, from, to, afterAt, afterID any
	if f.Status != "" {
		status = string(f.Status)
	}
	if !f.From.IsZero() {
		from = f.From
	}
	if !f.To.IsZero() {
		to = f.To
	}
	if f.After != nil {
		afterAt, afterID = f.After.At, f.After.ID
	}
	rows, _ := db.Pool.Query(ctx, listBookingsSQL, status, from, to, afterAt, afterID, f.Limit)
	items, err := pgx.CollectRows(rows, scanStaffBooking)
	return items, interpretError(err)
}

const bookingAuditSQL = `
SELECT from_status, to_status, cause, cause_ref, created_at FROM booking_audit WHERE booking_id = $1 ORDER BY id`

// bookingEventsSQL lists the ledger rows of a booking: those it matched
// when they arrived and those applied to it later (replays, events that
// waited for its payment).
const bookingEventsSQL = `
SELECT ` + ledgerColumns + `
FROM webhook_events w
WHERE w.booking_id = $1
   OR w.stripe_event_id IN (SELECT stripe_event_id FROM webhook_event_replays WHERE booking_id = $1)
ORDER BY w.received_at, w.stripe_event_id
LIMIT 500`

const refundRequestsSQL = `
SELECT id, booking_id::text, payment_id, amount, currency, reason, state, attempts, last_error, next_attempt_at,
    coalesce(stripe_refund_id, ''), requested_by, created_at
FROM refund_requests WHERE booking_id = $1 ORDER BY id`

// FindBookingDetail returns a booking with its money rows, refund
// requests, audit trail and ledger rows, and its state for deciding what
// staff may do. Errors: not_found.
func (db *DB) FindBookingDetail(ctx context.Context, id string) (*booking.BookingDetail, *booking.State, error) {
	if !booking.IsUUID(id) {
		return nil, nil, booking.Errorf(booking.ENotFound, "Booking not found.")
	}
	var d booking.BookingDetail
	var st *booking.State
	err := db.Transact(ctx, func(tx pgx.Tx) error {
		var b pgx.Batch
		b.Queue(findBookingSQL, id)
		b.Queue(moneyByIDSQL, id, "", "")
		b.Queue(bookingAuditSQL, id)
		b.Queue(bookingEventsSQL, id)
		b.Queue(refundRequestsSQL, id)
		br := tx.SendBatch(ctx, &b)
		defer br.Close()
		var err error
		if st, err = readLocked(br); err != nil {
			return err
		}
		if st == nil {
			return booking.Errorf(booking.ENotFound, "Booking not found.")
		}
		if _, err := readMoney(br, st); err != nil {
			return err
		}
		rows, _ := br.Query()
		d.Audit, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (booking.AuditEntry, error) {
			var a booking.AuditEntry
			err := row.Scan(&a.From, &a.To, &a.Cause, &a.CauseRef, &a.CreatedAt)
			a.CreatedAt = a.CreatedAt.UTC()
			return a, err
		})
		if err != nil {
			return err
		}
		rows, _ = br.Query()
		if d.Events, err = pgx.CollectRows(rows, scanLedgerEvent); err != nil {
			return err
		}
		rows, _ = br.Query()
		d.RefundRequests, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (booking.RefundRequest, error) {
			var r booking.RefundRequest
			err := row.Scan(&r.ID, &r.BookingID, &r.PaymentID, &r.Amount, &r.Currency, &r.Reason, &r.State, &r.Attempts,
				&r.LastError, &r.NextAttemptAt, &r.StripeRefundID, &r.RequestedBy, &r.CreatedAt)
			return r, err
		})
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	d.Booking = st.View()
	d.Payments, d.Refunds, d.Disputes = st.Payments, st.Refunds, st.Disputes
	for _, s := range []*[]booking.Payment{&d.Payments} {
		if *s == nil {
			*s = []booking.Payment{}
		}
	}
	if d.Refunds == nil {
		d.Refunds = []booking.Refund{}
	}
	if d.Disputes == nil {
		d.Disputes = []booking.Dispute{}
	}
	if d.Audit == nil {
		d.Audit = []booking.AuditEntry{}
	}
	if d.Events == nil {
		d.Events = []booking.LedgerEvent{}
	}
	if d.RefundRequests == nil {
		d.RefundRequests = []booking.RefundRequest{}
	}
	return &d, st, nil
}
