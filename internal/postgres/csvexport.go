package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/booking"
)

// Exports stream: the rows come from the connection as PostgreSQL sends
// them and each is handed to the caller before the next is read, so an
// export of a million rows holds one row in memory. They run in a
// read-only REPEATABLE READ transaction with its own statement timeout:
// a large export to a slow client outlasts the pool's 15 s.

const exportTimeoutSQL = `SET LOCAL statement_timeout = '30min'`

const exportBookingsSQL = `
SELECT b.id::text, b.reference, b.resource_id::text, r.name, r.timezone, b.status,
       b.starts_at, b.ends_at,
       to_char(b.starts_at AT TIME ZONE r.timezone, 'YYYY-MM-DD"T"HH24:MI:SS'),
       to_char(b.ends_at AT TIME ZONE r.timezone, 'YYYY-MM-DD"T"HH24:MI:SS'),
       b.amount_total, b.amount_paid, b.amount_refunded, b.currency,
       b.customer_first_name, b.customer_last_name, b.customer_email,
       coalesce(b.stripe_session_id, ''), b.created_at, b.updated_at
FROM bookings b JOIN resources r ON r.id = b.resource_id
WHERE ($1::timestamptz IS NULL OR b.starts_at >= $1)
  AND ($2::timestamptz IS NULL OR b.starts_at < $2)
  AND ($3::text IS NULL OR b.status = $3)
  AND ($4::uuid IS NULL OR b.resource_id = $4)
ORDER BY b.starts_at, b.id`

const exportMoneySQL = `
SELECT m.kind, m.id, m.ref, b.id::text, b.reference, b.status, b.resource_id::text, r.timezone,
       m.amount, m.currency, m.detail, m.created_at,
       to_char(m.created_at AT TIME ZONE r.timezone, 'YYYY-MM-DD"T"HH24:MI:SS')
FROM (
    SELECT 'payment' AS kind, p.id::text AS id, coalesce(p.stripe_payment_intent_id, p.stripe_session_id, 'offline') AS ref,
           p.booking_id, p.amount, p.currency, CASE WHEN p.method = 'offline' THEN 'paid at the venue' ELSE '' END AS detail,
           p.created_at
    FROM payments p
    UNION ALL
    SELECT 'refund', f.id::text, coalesce(f.stripe_refund_id, 'offline'), f.booking_id, f.amount, f.currency,
           f.source || CASE WHEN f.method = 'offline' THEN ', handed back at the venue' ELSE '' END, f.created_at
    FROM refunds f
    UNION ALL
    SELECT 'dispute', d.id::text, d.stripe_dispute_id, d.booking_id, d.amount, d.currency, d.reason, d.created_at
    FROM disputes d
    UNION ALL
    SELECT 'dispute_closed', c.id::text, c.stripe_dispute_id, d.booking_id, c.amount, d.currency, c.status, c.created_at
    FROM dispute_closures c JOIN disputes d ON d.stripe_dispute_id = c.stripe_dispute_id
) m
LEFT JOIN bookings b ON b.id = m.booking_id
LEFT JOIN resources r ON r.id = b.resource_id
WHERE ($1::timestamptz IS NULL OR m.created_at >= $1)
  AND ($2::timestamptz IS NULL OR m.created_at < $2)
  AND ($3::text IS NULL OR b.status = $3)
  AND ($4::uuid IS NULL OR b.resource_id = $4)
ORDER BY m.created_at, m.kind, m.id`

func exportArgs(f booking.BookingFilter) []any {
	var from, to *time.Time
	if !f.From.IsZero() {
		from = &f.From
	}
	if !f.To.IsZero() {
		to = &f.To
	}
	var status, res *string
	if f.Status != "" {
		s := string(f.Status)
		status = &s
	}
	if f.ResourceID != "" {
		res = &f.ResourceID
	}
	return []any{from, to, status, res}
}

// stream runs query in a read-only snapshot and hands each row, scanned by
// scan, to row.
func (db *DB) stream(ctx context.Context, query string, args []any, scan func(pgx.Rows) ([]string, error), row func([]string) error) error {
	tx, err := db.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return interpretError(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, exportTimeoutSQL); err != nil {
		return interpretError(err)
	}
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return interpretError(err)
	}
	defer rows.Close()
	for rows.Next() {
		rec, err := scan(rows)
		if err != nil {
			return interpretError(err)
		}
		if err := row(rec); err != nil {
			return err
		}
	}
	return interpretError(rows.Err())
}

func utc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ExportBookings streams the bookings f selects (status, resource, start
// within from/to), in calendar order, as booking.BookingExportColumns.
func (db *DB) ExportBookings(ctx context.Context, f booking.BookingFilter, row func([]string) error) error {
	var (
		id, ref, resID, resName, tz, status, startLocal, endLocal, cur, first, last, email, session string
		starts, ends, created, updated                                                              time.Time
		total, paid, refunded                                                                       int64
	)
	rec := make([]string, len(booking.BookingExportColumns))
	return db.stream(ctx, exportBookingsSQL, exportArgs(f), func(rows pgx.Rows) ([]string, error) {
		err := rows.Scan(&id, &ref, &resID, &resName, &tz, &status, &starts, &ends, &startLocal, &endLocal,
			&total, &paid, &refunded, &cur, &first, &last, &email, &session, &created, &updated)
		copy(rec, []string{id, ref, resID, resName, tz, status, utc(starts), utc(ends), startLocal, endLocal,
			strconv.FormatInt(total, 10), strconv.FormatInt(paid, 10), strconv.FormatInt(refunded, 10), cur,
			first, last, email, session, utc(created), utc(updated)})
		return rec, err
	}, row)
}

// ExportMoney streams the payments, refunds, disputes and dispute closures
// f selects (their time within from/to; the booking's status and
// resource), oldest first, as booking.MoneyExportColumns.
func (db *DB) ExportMoney(ctx context.Context, f booking.BookingFilter, row func([]string) error) error {
	var (
		kind, id, ref, cur, detail                          string
		bookingID, bookingRef, status, resID, tz, localTime *string
		amount                                              int64
		created                                             time.Time
	)
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	rec := make([]string, len(booking.MoneyExportColumns))
	return db.stream(ctx, exportMoneySQL, exportArgs(f), func(rows pgx.Rows) ([]string, error) {
		err := rows.Scan(&kind, &id, &ref, &bookingID, &bookingRef, &status, &resID, &tz,
			&amount, &cur, &detail, &created, &localTime)
		copy(rec, []string{kind, id, ref, str(bookingID), str(bookingRef), str(status), str(resID), str(tz),
			strconv.FormatInt(amount, 10), cur, detail, utc(created), str(localTime)})
		return rec, err
	}, row)
}
