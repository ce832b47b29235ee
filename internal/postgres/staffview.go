package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/bookingplatform/booking/internal/booking"
)

// staffColumnsOf adds to bookingColumns the booking's latest dispute and
// the refund it is owed, for the staff views.
const staffBookingColumns = bookingColumns + `,
    (SELECT json_build_object('id', d.stripe_dispute_id, 'paymentId', d.payment_id, 'amount', d.amount,
        'currency', d.currency, 'reason', d.reason, 'status', coalesce(c.status, d.status), 'closed', c.id IS NOT NULL,
        'withdrawn', coalesce(c.amount, 0), 'createdAt', d.created_at)
     FROM disputes d LEFT JOIN dispute_closures c ON c.stripe_dispute_id = d.stripe_dispute_id
     WHERE d.booking_id = b.id ORDER BY d.id DESC LIMIT 1),
    (SELECT coalesce(sum(least(q.amount, p.amount - (SELECT coalesce(sum(r.amount), 0) FROM refunds r WHERE r.payment_id = p.id))), 0)
     FROM refund_requests q JOIN payments p ON p.id = q.payment_id WHERE q.booking_id = b.id AND q.state = 'owed')`

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

// The booking list has one statement per shape (booking.BookingFilter.Shape),
// each read in its order from the index of migration 00006 that leads with
// its equality filters. The keyset position is one row comparison that the
// index scan starts from — (created_at, id) < (at, id) newest first,
// (starts_at, id) > (at, id) in calendar order — and the end of a startsAt
// range is where the scan stops; a first page starts from the end of the
// index (infinity) or from the range's start. So every statement reads about
// as many index entries as it returns, also for rare statuses and deep
// cursors, and a generic plan is the same plan.
//
// Shapes with a status filter take the page's ids from their index alone
// (an index-only scan: its columns are the filters and the order), then
// their rows by primary key (= ANY of an array: a join would be planned for
// an unknown number of ids under a generic plan, and hash the whole table).
// Asked for whole rows directly, the planner may prefer to walk the
// newest-first index and filter, since the heap is in that order: a good bet
// for a status most bookings have, on average — and a bad one when the
// newest bookings are of another status (a burst of fresh holds), where it
// read 15,000 rows for a page of confirmed bookings at a million. Shapes
// without one read whole rows straight from their index, which has no other
// candidate for their order: that saves the primary-key descent of each row
// (at a million, 258 buffers instead of 421 for a page of a day's bookings).
//
// With an email, the customer's bookings (a handful) are read by
// lower(customer_email) and the status and resource filters applied to them.
func listBookingsSQL(where, order string, limit int) string {
	return fmt.Sprintf(`
SELECT %s
FROM bookings b
WHERE b.id = ANY (ARRAY(
    SELECT b.id FROM bookings b
    WHERE %s
    ORDER BY %s
    LIMIT $%d))
ORDER BY %s`, staffBookingColumns, where, order, limit, order)
}

// listBookingsDirectSQL reads a page of whole rows from the index of its
// shape (shapes without a status filter).
func listBookingsDirectSQL(where, order string, limit int) string {
	return fmt.Sprintf(`
SELECT %s
FROM bookings b
WHERE %s
ORDER BY %s
LIMIT $%d`, staffBookingColumns, where, order, limit)
}

const (
	newestFirst = `b.created_at DESC, b.id DESC`
	byStart     = `b.starts_at, b.id`
)

// bookingListSQL holds the statement of each shape. Parameters: the
// filters of the shape (email, status, resource; or resource, status),
// then the keyset position (at, id), the range's end when ordered by
// start, and the limit.
var bookingListSQL = map[string]string{
	booking.ShapeBookings: listBookingsDirectSQL(`(b.created_at, b.id) < ($1, $2::uuid)`, newestFirst, 3),
	booking.ShapeBookingsStatus: listBookingsSQL(`b.status = $1 AND (b.created_at, b.id) < ($2, $3::uuid)`,
		newestFirst, 4),
	booking.ShapeBookingsResource: listBookingsDirectSQL(`b.resource_id = $1 AND (b.created_at, b.id) < ($2, $3::uuid)`,
		newestFirst, 4),
	booking.ShapeBookingsResourceStatus: listBookingsSQL(
		`b.resource_id = $1 AND b.status = $2 AND (b.created_at, b.id) < ($3, $4::uuid)`, newestFirst, 5),
	booking.ShapeBookingsRange: listBookingsDirectSQL(`(b.starts_at, b.id) > ($1, $2::uuid) AND b.starts_at < $3`,
		byStart, 4),
	booking.ShapeBookingsStatusRange: listBookingsSQL(
		`b.status = $1 AND (b.starts_at, b.id) > ($2, $3::uuid) AND b.starts_at < $4`, byStart, 5),
	booking.ShapeBookingsResourceRange: listBookingsDirectSQL(
		`b.resource_id = $1 AND (b.starts_at, b.id) > ($2, $3::uuid) AND b.starts_at < $4`, byStart, 5),
	booking.ShapeBookingsResourceStatusRange: listBookingsSQL(
		`b.resource_id = $1 AND b.status = $2 AND (b.starts_at, b.id) > ($3, $4::uuid) AND b.starts_at < $5`, byStart, 6),
	booking.ShapeBookingsEmail: listBookingsSQL(`lower(b.customer_email) = lower($1)
        AND ($2::text IS NULL OR b.status = $2) AND ($3::uuid IS NULL OR b.resource_id = $3)
        AND (b.created_at, b.id) < ($4, $5::uuid)`, newestFirst, 6),
	booking.ShapeBookingsEmailRange: listBookingsSQL(`lower(b.customer_email) = lower($1)
        AND ($2::text IS NULL OR b.status = $2) AND ($3::uuid IS NULL OR b.resource_id = $3)
        AND (b.starts_at, b.id) > ($4, $5::uuid) AND b.starts_at < $6`, byStart, 7),
}

// Ends of the keyset: every booking sorts before (infinity, maxUUID) and
// after (-infinity, nilUUID) — and after (t, nilUUID) whenever it starts
// at or after t, since no booking has the nil UUID (ids are random v4).
var (
	infinity      = pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}
	minusInfinity = pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
)

const (
	nilUUID = "00000000-0000-0000-0000-000000000000"
	maxUUID = "ffffffff-ffff-ffff-ffff-ffffffffffff"
)

// timeOr returns t, or inf when t is zero.
func timeOr(t time.Time, inf pgtype.Timestamptz) any {
	if t.IsZero() {
		return inf
	}
	return t
}

// bookingListArgs returns the statement of f's shape and its arguments.
func bookingListArgs(f *booking.BookingFilter) (string, []any) {
	shape := f.Shape()
	var args []any
	if f.Email != "" {
		var status, resource any
		if f.Status != "" {
			status = string(f.Status)
		}
		if f.ResourceID != "" {
			resource = f.ResourceID
		}
		args = append(args, f.Email, status, resource)
	} else {
		if f.ResourceID != "" {
			args = append(args, f.ResourceID)
		}
		if f.Status != "" {
			args = append(args, string(f.Status))
		}
	}
	switch {
	case !f.ByStart() && f.After != nil:
		args = append(args, f.After.At, f.After.ID)
	case !f.ByStart():
		args = append(args, infinity, maxUUID)
	case f.After != nil && !f.After.At.Before(f.From):
		// A cursor at or after the range's start: from there.
		args = append(args, f.After.At, f.After.ID, timeOr(f.To, infinity))
	default:
		args = append(args, timeOr(f.From, minusInfinity), nilUUID, timeOr(f.To, infinity))
	}
	return bookingListSQL[shape], append(args, f.Limit)
}

// ListBookings returns up to f.Limit bookings after f.After, in the order
// of f's shape (see booking.BookingFilter).
func (db *DB) ListBookings(ctx context.Context, f booking.BookingFilter) ([]booking.StaffBooking, error) {
	sql, args := bookingListArgs(&f)
	return collectGeneric(ctx, db.Pool, sql, args, scanStaffBooking)
}

const bookingAuditSQL = `
SELECT from_status, to_status, cause, cause_ref, detail, created_at FROM booking_audit WHERE booking_id = $1 ORDER BY id`

// bookingEventsSQL lists the ledger rows of a booking: those it matched
// when they arrived and those applied to it later (replays, events that
// waited for its payment). Both are looked up by booking id in their own
// index, then by event id; an OR of the two would read the whole ledger.
const bookingEventsSQL = `
SELECT ` + ledgerColumns + `
FROM webhook_events w
WHERE w.stripe_event_id IN (
    SELECT stripe_event_id FROM webhook_events WHERE booking_id = $1
    UNION
    SELECT stripe_event_id FROM webhook_event_replays WHERE booking_id = $1)
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
			err := row.Scan(&a.From, &a.To, &a.Cause, &a.CauseRef, &a.Detail, &a.CreatedAt)
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
