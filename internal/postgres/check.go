package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/booking"
)

// A check is one query per violation kind, each returning (booking id,
// ref, detail). The fast ones read partial indexes on id whose predicate is
// the violation itself (migrations 00004 and 00008), so on a healthy
// database they read nothing; the full ones read whole tables. The fast
// ones are ordered by id: the planner cannot tell how rare a comparison of
// two columns is (it assumes a third of the rows), and would rather scan
// the table for the first rows than fetch a third of it through an index;
// in id order the partial index, which holds only the violations, is the
// cheapest way for it too (internal/postgres plan_test.go checks it).
type check struct {
	kind string
	full bool
	sql  string
}

var checks = []check{
	{booking.ViolationKeptWithoutSlot, false, `
SELECT b.id::text, '', 'status ' || b.status || ', kept ' ||
    (b.amount_paid - b.amount_refunded - b.amount_withdrawn - b.amount_retained) || ' ' || b.currency
FROM bookings b
WHERE b.amount_paid > b.amount_refunded + b.amount_withdrawn + b.amount_retained AND NOT b.holds_slot
  AND NOT EXISTS (SELECT 1 FROM refund_requests q WHERE q.booking_id = b.id AND q.state = 'owed')
ORDER BY b.id
LIMIT $1`},
	{booking.ViolationRefundedHolding, false, `
SELECT b.id::text, '', 'status ' || b.status || ', refunded ' || b.amount_refunded || ' of ' || b.amount_paid
FROM bookings b
WHERE b.amount_paid > 0 AND b.amount_refunded >= b.amount_paid AND b.holds_slot
ORDER BY b.id
LIMIT $1`},
	{booking.ViolationRefundedKept, false, `
SELECT b.id::text, '', 'refunded ' || b.amount_refunded || ' of ' || b.amount_paid ||
    CASE WHEN b.amount_retained > 0 THEN ', fee retained ' || b.amount_retained ELSE '' END
FROM bookings b
WHERE b.status = 'refunded' AND b.amount_refunded + b.amount_withdrawn + b.amount_retained < b.amount_paid
  AND NOT EXISTS (SELECT 1 FROM refund_requests q WHERE q.booking_id = b.id AND q.state = 'owed')
ORDER BY b.id
LIMIT $1`},
	{booking.ViolationConfirmedUnpaid, false, `
SELECT b.id::text, '', 'confirmed with nothing paid'
FROM bookings b
WHERE b.status = 'confirmed' AND b.amount_paid = 0
ORDER BY b.id
LIMIT $1`},
	{booking.ViolationRefundsExceed, false, `
SELECT b.id::text, '', 'refunded ' || b.amount_refunded || ' of ' || b.amount_paid
FROM bookings b
WHERE b.amount_refunded > b.amount_paid
ORDER BY b.id
LIMIT $1`},
	{booking.ViolationEarlyEvent, false, `
SELECT p.booking_id::text, w.stripe_event_id, w.event_type || ' waits, but its payment is recorded'
FROM pending_money_events w JOIN payments p ON p.stripe_payment_intent_id = w.payment_intent_id
LIMIT $1`},

	{booking.ViolationOverlap, true, `
SELECT a.id::text, o.id::text, 'both hold ' || o.starts_at || ' - ' || o.ends_at
FROM bookings a JOIN bookings o
  ON o.resource_id = a.resource_id AND o.id > a.id AND o.holds_slot
 AND NOT o.shared
 AND coalesce(o.blocked, tstzrange(o.starts_at, o.ends_at, '[)')) && coalesce(a.blocked, tstzrange(a.starts_at, a.ends_at, '[)'))
WHERE a.holds_slot AND NOT a.shared
LIMIT $1`},
	{booking.ViolationRefundsExceed, true, `
SELECT p.booking_id::text, p.id::text, 'payment of ' || p.amount || ', refunds of ' || sum(r.amount)
FROM payments p JOIN refunds r ON r.payment_id = p.id
GROUP BY p.id
HAVING sum(r.amount) > p.amount
LIMIT $1`},
	{booking.ViolationSumsMismatch, true, `
SELECT b.id::text, '', 'paid ' || b.amount_paid || ' (rows ' || coalesce(p.total, 0) || '), refunded ' ||
    b.amount_refunded || ' (rows ' || coalesce(r.total, 0) || '), withdrawn ' || b.amount_withdrawn ||
    ' (rows ' || coalesce(w.total, 0) || ')'
FROM bookings b
LEFT JOIN (SELECT booking_id, sum(amount) AS total FROM payments GROUP BY booking_id) p ON p.booking_id = b.id
LEFT JOIN (SELECT booking_id, sum(amount) AS total FROM refunds GROUP BY booking_id) r ON r.booking_id = b.id
LEFT JOIN (SELECT d.booking_id, sum(c.amount) AS total FROM dispute_closures c
           JOIN disputes d ON d.stripe_dispute_id = c.stripe_dispute_id GROUP BY d.booking_id) w ON w.booking_id = b.id
WHERE b.amount_paid <> coalesce(p.total, 0) OR b.amount_refunded <> coalesce(r.total, 0)
   OR b.amount_withdrawn <> coalesce(w.total, 0)
LIMIT $1`},
	{booking.ViolationLedgerEffect, true, `
SELECT coalesce(w.booking_id::text, ''), w.stripe_event_id, w.type || ' ' || w.outcome || ' without its payment row'
FROM webhook_events w
WHERE w.type IN ('checkout.session.completed', 'checkout.session.async_payment_succeeded')
  AND w.outcome IN ('processed', 'amount_mismatch', 'refunding', 'needs_review')
  AND w.booking_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.stripe_session_id = w.stripe_session_id)
  AND NOT (w.type = 'checkout.session.completed' AND convert_from(w.payload, 'UTF8')::jsonb #>> '{data,object,payment_status}' = 'unpaid')
UNION ALL
SELECT w.booking_id::text, w.stripe_event_id, 'disputed without its dispute row'
FROM webhook_events w
WHERE w.outcome = 'disputed' AND NOT EXISTS (SELECT 1 FROM disputes d WHERE d.stripe_event_id = w.stripe_event_id)
UNION ALL
SELECT coalesce(w.booking_id::text, ''), w.stripe_event_id, 'unmatched ' || w.type || ' neither waiting nor applied'
FROM webhook_events w
WHERE w.outcome = 'unmatched' AND w.type IN ('charge.refunded', 'charge.dispute.created', 'charge.dispute.closed')
  AND w.stripe_payment_intent_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM pending_money_events x WHERE x.stripe_event_id = w.stripe_event_id)
  AND NOT EXISTS (SELECT 1 FROM webhook_event_replays x WHERE x.stripe_event_id = w.stripe_event_id AND x.outcome <> 'unmatched')
LIMIT $1`},
}

// FindViolations runs the fast checks, and with full the full ones too,
// each reporting at most limit violations. Errors: unavailable.
func (db *DB) FindViolations(ctx context.Context, full bool, limit int) ([]booking.Violation, error) {
	var b pgx.Batch
	var kinds []string
	for _, c := range checks {
		if c.full && !full {
			continue
		}
		b.Queue(c.sql, limit)
		kinds = append(kinds, c.kind)
	}
	var out []booking.Violation
	err := db.Transact(ctx, func(tx pgx.Tx) error {
		out = nil
		// One snapshot for every check, so that they describe one state.
		if _, err := tx.Exec(ctx, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY`); err != nil {
			return err
		}
		br := tx.SendBatch(ctx, &b)
		defer br.Close()
		for _, kind := range kinds {
			rows, _ := br.Query()
			vs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (booking.Violation, error) {
				v := booking.Violation{Kind: kind}
				err := row.Scan(&v.BookingID, &v.Ref, &v.Detail)
				return v, err
			})
			if err != nil {
				return err
			}
			out = append(out, vs...)
		}
		return nil
	})
	return out, err
}

const moneyFiguresSQL = `
SELECT
  (SELECT count(*) FROM bookings WHERE status = 'needs_review'),
  (SELECT count(*) FROM refund_requests WHERE state = 'owed'),
  (SELECT count(*) FROM refund_requests WHERE state = 'owed' AND attempts >= $2),
  coalesce((SELECT extract(epoch FROM $1 - min(created_at)) FROM refund_requests WHERE state = 'owed'), 0)::float8`

// MoneyFigures counts the bookings under review and the refunds owed, from
// partial indexes. Errors: unavailable.
func (db *DB) MoneyFigures(ctx context.Context, now time.Time) (*booking.MoneyFigures, error) {
	var f booking.MoneyFigures
	err := db.Pool.QueryRow(ctx, moneyFiguresSQL, now, booking.RefundReviewAfter).Scan(&f.NeedsReview, &f.RefundsOwed,
		&f.RefundsFailing, &f.OldestOwedSeconds)
	if err != nil {
		return nil, interpretError(err)
	}
	return &f, nil
}
