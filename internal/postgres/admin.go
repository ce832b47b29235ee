package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bookingplatform/booking/internal/booking"
)

// listBookingsSQL pages through bookings newest first by keyset
// (created_at, id), with optional status and startsAt range filters. Paid and
// refunded amounts are derived from the append-only money rows.
const listBookingsSQL = `
SELECT ` + bookingColumns + `,
    coalesce((SELECT sum(p.amount) FROM payments p WHERE p.booking_id = b.id), 0),
    coalesce((SELECT sum(r.amount) FROM refunds r WHERE r.booking_id = b.id), 0)
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
		if !booking.IsUUID(f.After.ID) {
			return nil, booking.Errorf(booking.EValidation, "The cursor is not valid for this list.")
		}
		afterAt, afterID = f.After.At, f.After.ID
	}
	rows, _ := db.Pool.Query(ctx, listBookingsSQL, status, from, to, afterAt, afterID, f.Limit)
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (booking.StaffBooking, error) {
		var s booking.StaffBooking
		b := &s.Booking
		err := row.Scan(&b.ID, &b.Reference, &b.ResourceID, &b.StartsAt, &b.EndsAt, &b.Status, &b.AmountTotal,
			&b.Currency, &b.HoldExpiresAt, &b.StripeSessionID, &b.CheckoutURL, &b.Customer.FirstName,
			&b.Customer.LastName, &b.Customer.Email, &b.ReviewReason, &b.CreatedAt, &b.UpdatedAt,
			&s.AmountPaid, &s.AmountRefunded)
		b.StartsAt, b.EndsAt, b.HoldExpiresAt = b.StartsAt.UTC(), b.EndsAt.UTC(), b.HoldExpiresAt.UTC()
		b.CreatedAt, b.UpdatedAt = b.CreatedAt.UTC(), b.UpdatedAt.UTC()
		s.Review = b.ReviewReason
		return s, err
	})
	return items, interpretError(err)
}

const ledgerColumns = `id, stripe_event_id, type, outcome, detail, booking_id::text, stripe_session_id, source,
	livemode, replay_count, stripe_created_at, received_at, processed_at`

func scanLedgerEvent(row pgx.CollectableRow) (booking.LedgerEvent, error) {
	var e booking.LedgerEvent
	err := row.Scan(&e.Seq, &e.ID, &e.Type, &e.Outcome, &e.Detail, &e.BookingID, &e.SessionID, &e.Source,
		&e.Livemode, &e.ReplayCount, &e.CreatedAt, &e.ReceivedAt, &e.ProcessedAt)
	e.ReceivedAt, e.ProcessedAt = e.ReceivedAt.UTC(), e.ProcessedAt.UTC()
	if e.CreatedAt != nil {
		t := e.CreatedAt.UTC()
		e.CreatedAt = &t
	}
	return e, err
}

const listPaymentEventsSQL = `
SELECT ` + ledgerColumns + `
FROM webhook_events
WHERE ($1::text IS NULL OR type = $1)
  AND ($2::text IS NULL OR outcome = $2)
  AND ($3::timestamptz IS NULL OR (received_at, id) < ($3, $4::bigint))
ORDER BY received_at DESC, id DESC
LIMIT $5`

// ListPaymentEvents returns up to f.Limit ledger rows after f.After, newest first.
func (db *DB) ListPaymentEvents(ctx context.Context, f booking.EventFilter) ([]booking.LedgerEvent, error) {
	var typ, outcome, afterAt, afterID any
	if f.Type != "" {
		typ = f.Type
	}
	if f.Outcome != "" {
		outcome = f.Outcome
	}
	if f.After != nil {
		seq, err := strconv.ParseInt(f.After.ID, 10, 64)
		if err != nil {
			return nil, booking.Errorf(booking.EValidation, "The cursor is not valid for this list.")
		}
		afterAt, afterID = f.After.At, seq
	}
	rows, _ := db.Pool.Query(ctx, listPaymentEventsSQL, typ, outcome, afterAt, afterID, f.Limit)
	items, err := pgx.CollectRows(rows, scanLedgerEvent)
	return items, interpretError(err)
}

const findPaymentEventSQL = `SELECT ` + ledgerColumns + ` FROM webhook_events WHERE stripe_event_id = $1`

// FindPaymentEvent returns the ledger row of a Stripe event id. Errors: not_found.
func (db *DB) FindPaymentEvent(ctx context.Context, eventID string) (*booking.LedgerEvent, error) {
	rows, _ := db.Pool.Query(ctx, findPaymentEventSQL, eventID)
	e, err := pgx.CollectExactlyOneRow(rows, scanLedgerEvent)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, booking.Errorf(booking.ENotFound, "Payment event not found.")
	}
	if err != nil {
		return nil, interpretError(err)
	}
	return &e, nil
}

const findStoredEventSQL = `SELECT stripe_event_id, source, payload FROM webhook_events WHERE stripe_event_id = $1`

// FindStoredEvent returns the raw payload of a ledger row. Errors: not_found.
func (db *DB) FindStoredEvent(ctx context.Context, eventID string) (*booking.StoredEvent, error) {
	var e booking.StoredEvent
	err := db.Pool.QueryRow(ctx, findStoredEventSQL, eventID).Scan(&e.ID, &e.Source, &e.Payload)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, booking.Errorf(booking.ENotFound, "Payment event not found.")
	}
	if err != nil {
		return nil, interpretError(err)
	}
	return &e, nil
}

const lockCancelBookingSQL = `SELECT ` + bookingColumns + ` FROM bookings WHERE id = $1 FOR UPDATE`

const staffCancelSQL = `
UPDATE bookings
SET status = 'cancelled', status_cause = $2, status_cause_ref = $3, updated_at = now()
WHERE id = $1
RETURNING ` + bookingColumns

// refundablePaymentSQL picks the payment of the booking's own Checkout
// Session first, else the oldest payment of the booking.
const refundablePaymentSQL = `
SELECT coalesce(p.stripe_payment_intent_id, ''), p.amount, p.currency
FROM payments p JOIN bookings b ON b.id = p.booking_id
WHERE p.booking_id = $1
ORDER BY (p.stripe_session_id = b.stripe_session_id) DESC NULLS LAST, p.id
LIMIT 1`

// BeginCancel locks a booking and cancels it when it is pending or awaiting
// payment. For a confirmed booking it returns the payment to refund and
// changes nothing. Errors: not_found, conflict.
func (db *DB) BeginCancel(ctx context.Context, bookingID string, cause booking.Cause) (*booking.CancelPlan, error) {
	var plan booking.CancelPlan
	err := db.Transact(ctx, func(tx pgx.Tx) error {
		plan = booking.CancelPlan{}
		rows, _ := tx.Query(ctx, lockCancelBookingSQL, bookingID)
		b, err := pgx.CollectExactlyOneRow(rows, scanBooking)
		if errors.Is(err, pgx.ErrNoRows) {
			return booking.Errorf(booking.ENotFound, "Booking not found.")
		}
		if err != nil {
			return err
		}
		switch b.Status {
		case booking.StatusPending, booking.StatusAwaitingPayment:
			rows, _ := tx.Query(ctx, staffCancelSQL, b.ID, cause.Kind, cause.Ref)
			nb, err := pgx.CollectExactlyOneRow(rows, scanBooking)
			if err != nil {
				return err
			}
			plan.Booking = &nb
			return nil
		case booking.StatusConfirmed:
			req := booking.RefundRequest{BookingID: b.ID, IdempotencyKey: booking.RefundIdempotencyKey(b.ID)}
			err := tx.QueryRow(ctx, refundablePaymentSQL, b.ID).Scan(&req.PaymentIntentID, &req.Amount, &req.Currency)
			if errors.Is(err, pgx.ErrNoRows) || (err == nil && req.PaymentIntentID == "") {
				return booking.Errorf(booking.EConflict, "No refundable payment is recorded for this booking.")
			}
			if err != nil {
				return err
			}
			plan.Booking, plan.Refund = &b, &req
			return nil
		}
		return booking.Errorf(booking.EConflict, "A booking in status %s cannot be cancelled.", b.Status)
	})
	if err != nil {
		return nil, err
	}
	return &plan, nil
}

const updateResourceSQL = `
UPDATE resources
SET slug = $2, name = $3, description = $4, price_amount = $5, currency = $6, duration_minutes = $7,
    timezone = $8, weekly_hours = $9, active = $10, updated_at = now()
WHERE id = $1
RETURNING ` + resourceColumns

// UpdateResource stores every field of r. Errors: not_found, conflict (slug taken).
func (db *DB) UpdateResource(ctx context.Context, r *booking.Resource) (*booking.Resource, error) {
	hours, err := json.Marshal(r.WeeklyHours)
	if err != nil {
		return nil, err
	}
	rows, _ := db.Pool.Query(ctx, updateResourceSQL, r.ID, r.Slug, r.Name, r.Description, r.PriceAmount,
		r.Currency, r.DurationMinutes, r.Timezone, hours, r.Active)
	out, err := pgx.CollectExactlyOneRow(rows, scanResource)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, booking.Errorf(booking.ENotFound, "Resource not found.")
	}
	if err != nil {
		return nil, interpretError(err)
	}
	return &out, nil
}

// PoolCollector exports the connection pool's statistics to Prometheus.
func (db *DB) PoolCollector() prometheus.Collector { return &poolCollector{pool: db.Pool} }

type poolCollector struct{ pool *pgxpool.Pool }

var (
	poolTotalDesc    = prometheus.NewDesc("booking_db_pool_total_conns", "Connections in the pool (idle, acquired and being built).", nil, nil)
	poolIdleDesc     = prometheus.NewDesc("booking_db_pool_idle_conns", "Idle connections in the pool.", nil, nil)
	poolAcquiredDesc = prometheus.NewDesc("booking_db_pool_acquired_conns", "Connections in use.", nil, nil)
	poolMaxDesc      = prometheus.NewDesc("booking_db_pool_max_conns", "Maximum size of the pool.", nil, nil)
	poolAcquireDesc  = prometheus.NewDesc("booking_db_pool_acquires_total", "Connections acquired from the pool.", nil, nil)
	poolWaitDesc     = prometheus.NewDesc("booking_db_pool_empty_acquires_total", "Acquires that had to wait for a connection.", nil, nil)
	poolWaitSecDesc  = prometheus.NewDesc("booking_db_pool_acquire_seconds_total", "Time spent acquiring connections.", nil, nil)
)

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolTotalDesc, poolIdleDesc, poolAcquiredDesc, poolMaxDesc, poolAcquireDesc, poolWaitDesc, poolWaitSecDesc} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(poolTotalDesc, float64(s.TotalConns()))
	gauge(poolIdleDesc, float64(s.IdleConns()))
	gauge(poolAcquiredDesc, float64(s.AcquiredConns()))
	gauge(poolMaxDesc, float64(s.MaxConns()))
	counter(poolAcquireDesc, float64(s.AcquireCount()))
	counter(poolWaitDesc, float64(s.EmptyAcquireCount()))
	counter(poolWaitSecDesc, s.AcquireDuration().Seconds())
}
