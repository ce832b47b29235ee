package postgres

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/booking"
)

// bookingColumns are read with the bookings table aliased b.
const bookingColumns = `b.id::text, b.reference, b.resource_id::text, b.starts_at, b.ends_at, b.status, b.amount_total,
	b.currency, b.hold_expires_at, b.stripe_session_id, coalesce(b.checkout_url, ''), b.customer_first_name,
	b.customer_last_name, b.customer_email, coalesce(b.review_reason, ''), b.holds_slot, b.amount_paid,
	b.amount_refunded, b.amount_withdrawn, b.amount_retained, b.sequence, b.created_at, b.updated_at, b.quantity`

// bookingDest returns the scan destinations of bookingColumns.
func bookingDest(b *booking.Booking) []any {
	return []any{&b.ID, &b.Reference, &b.ResourceID, &b.StartsAt, &b.EndsAt, &b.Status, &b.AmountTotal,
		&b.Currency, &b.HoldExpiresAt, &b.StripeSessionID, &b.CheckoutURL, &b.Customer.FirstName,
		&b.Customer.LastName, &b.Customer.Email, &b.ReviewReason, &b.HoldsSlot, &b.AmountPaid,
		&b.AmountRefunded, &b.AmountWithdrawn, &b.AmountRetained, &b.Sequence, &b.CreatedAt, &b.UpdatedAt, &b.Quantity}
}

// utcBooking puts a scanned booking's times in UTC.
func utcBooking(b *booking.Booking) {
	b.StartsAt, b.EndsAt, b.HoldExpiresAt = b.StartsAt.UTC(), b.EndsAt.UTC(), b.HoldExpiresAt.UTC()
	b.CreatedAt, b.UpdatedAt = b.CreatedAt.UTC(), b.UpdatedAt.UTC()
}

func scanBooking(row pgx.CollectableRow) (booking.Booking, error) {
	var b booking.Booking
	err := row.Scan(bookingDest(&b)...)
	utcBooking(&b)
	return b, err
}

// busyStartsWindow bounds the start of a booking whose blocked range meets
// [$2, $3): a booking lasts at most 24 hours and keeps at most 24 hours
// before and after it (bookings_span_check), so it starts in ($2 - 48 h,
// $3 + 24 h) — the range of bookings_busy_idx to read. (Hours, not days:
// a day added to a timestamptz follows the session's time zone.)
const busyStartsWindow = `starts_at > $2::timestamptz - interval '48 hours' AND starts_at < $3::timestamptz + interval '24 hours'`

// busyRangesSQL reads the bookings holding time of a resource in a range,
// from bookings_busy_idx alone: those booked whole by their blocked range,
// the places of shared slots by their own (no buffers, at most a day
// long); and the staff blocks, which take the whole resource (every place
// of a shared one).
const busyRangesSQL = `
SELECT starts_at,
       CASE WHEN shared THEN starts_at ELSE lower(coalesce(blocked, tstzrange(starts_at, ends_at, '[)'))) END,
       CASE WHEN shared THEN ends_at ELSE upper(coalesce(blocked, tstzrange(starts_at, ends_at, '[)'))) END,
       quantity, shared
FROM bookings
WHERE resource_id = $1 AND holds_slot AND ` + busyStartsWindow + `
  AND NOT (status = 'pending' AND hold_expires_at <= $4)
  AND CASE WHEN shared THEN starts_at < $3 AND ends_at > $2
      ELSE coalesce(blocked, tstzrange(starts_at, ends_at, '[)')) && tstzrange($2, $3, '[)') END
UNION ALL
SELECT lower(period), lower(period), upper(period), 1, false
FROM resource_blocks
WHERE resource_id = $1 AND period && tstzrange($2, $3, '[)')`

// BusyRanges lists the bookings holding time of a resource that overlap
// [from, to); pending holds that lapsed before now do not count.
func (db *DB) BusyRanges(ctx context.Context, resourceID string, from, to, now time.Time) ([]booking.Busy, error) {
	return busyRanges(ctx, db.Pool, resourceID, from, to, now)
}

func busyRanges(ctx context.Context, q queryer, resourceID string, from, to, now time.Time) ([]booking.Busy, error) {
	rows, _ := q.Query(ctx, busyRangesSQL, resourceID, from, to, now)
	s, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (booking.Busy, error) {
		var b booking.Busy
		err := row.Scan(&b.StartsAt, &b.Blocked.StartsAt, &b.Blocked.EndsAt, &b.Quantity, &b.Shared)
		b.StartsAt, b.Blocked.StartsAt, b.Blocked.EndsAt = b.StartsAt.UTC(), b.Blocked.StartsAt.UTC(), b.Blocked.EndsAt.UTC()
		return b, err
	})
	return s, interpretError(err)
}

// claimIdemKeySQL claims an Idempotency-Key for a new request. An earlier
// claim is taken over when it is older than 24 hours ($4), or when it has
// no answer and its lease ($5) is over: a request that died half-way does
// not keep the key busy.
const claimIdemKeySQL = `
INSERT INTO idempotency_keys AS k (key_hash, request_hash, created_at) VALUES ($1, $2, $3)
ON CONFLICT (key_hash) DO UPDATE
    SET request_hash = EXCLUDED.request_hash, booking_id = NULL, response = NULL, created_at = EXCLUDED.created_at
    WHERE k.created_at < $4 OR (k.response IS NULL AND k.created_at < $5)
RETURNING true`

const readIdemKeySQL = `SELECT request_hash, response FROM idempotency_keys WHERE key_hash = $1`

// ClaimKey claims an Idempotency-Key, or returns the sealed answer of the
// request that holds it. Errors: idempotency_key_reused,
// idempotency_key_in_use, unavailable.
func (db *DB) ClaimKey(ctx context.Context, keyHash, requestHash []byte, now time.Time) ([]byte, error) {
	var claimed bool
	err := db.Pool.QueryRow(ctx, claimIdemKeySQL, keyHash, requestHash, now,
		now.Add(-booking.IdempotencyKeyTTL), now.Add(-booking.IdempotencyClaimLease)).Scan(&claimed)
	if err == nil {
		return nil, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, interpretError(err)
	}
	var hash, answer []byte
	if err := db.Pool.QueryRow(ctx, readIdemKeySQL, keyHash).Scan(&hash, &answer); err != nil {
		// The claim that refused ours was purged in between: a rare race
		// a retry settles.
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, booking.Errorf(booking.EIdempotencyPending, "A request with this Idempotency-Key is in progress; retry shortly.")
		}
		return nil, interpretError(err)
	}
	switch {
	case !bytes.Equal(hash, requestHash):
		return nil, booking.Errorf(booking.EIdempotencyReused, "This Idempotency-Key was used with a different request.")
	case answer == nil:
		return nil, booking.Errorf(booking.EIdempotencyPending, "A request with this Idempotency-Key is in progress; retry shortly.")
	}
	return answer, nil
}

const forgetIdemKeySQL = `DELETE FROM idempotency_keys WHERE key_hash = $1 AND response IS NULL`

// ForgetKey releases a claimed key that has no answer.
func (db *DB) ForgetKey(ctx context.Context, keyHash []byte) error {
	_, err := db.Pool.Exec(ctx, forgetIdemKeySQL, keyHash)
	return interpretError(err)
}

// releaseLapsedSQL expires pending holds that lapsed and overlap a range
// (by their blocked range; places of a shared slot by their own), so a
// lapsed hold never blocks a new booking even when no webhook or sweep ran.
// Places of shared slots are given back by trigger (bookings_count_places).
const releaseLapsedSQL = `
UPDATE bookings
SET status = 'expired', status_cause = 'system', status_cause_ref = 'hold_lapsed', updated_at = now()
WHERE resource_id = $1 AND status = 'pending' AND hold_expires_at <= $4
  AND coalesce(blocked, tstzrange(starts_at, ends_at, '[)')) && tstzrange($2, $3, '[)')`

const insertBookingSQL = `
INSERT INTO bookings AS b (id, reference, resource_id, starts_at, ends_at, status, amount_total, currency, hold_expires_at,
    customer_first_name, customer_last_name, customer_email, customer_token_hash, status_cause, status_cause_ref,
    stripe_session_id, checkout_url, blocked, quantity, shared)
VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
    tstzrange($17, $18, '[)'), $19, $20)
RETURNING ` + bookingColumns

const storeIdemAnswerSQL = `UPDATE idempotency_keys SET booking_id = $2, response = $3 WHERE key_hash = $1`

// CreateHold inserts a pending booking with its Checkout Session, after
// expiring the lapsed holds in its way, and stores the sealed answer of its
// idempotency key, in one transaction. Errors: slot_unavailable, unavailable.
func (db *DB) CreateHold(ctx context.Context, h booking.NewHold, seal func(*booking.Booking) []byte) (*booking.Booking, error) {
	var out *booking.Booking
	err := db.Transact(ctx, func(tx pgx.Tx) error {
		var err error
		if out, err = insertHold(ctx, tx, &h); err != nil {
			return err
		}
		if err := db.enqueueCreated(ctx, tx, out); err != nil {
			return err
		}
		if err := db.holdExtras(ctx, tx, &h); err != nil {
			return err
		}
		sealed := seal(out)
		if h.KeyHash == nil {
			return nil
		}
		_, err = tx.Exec(ctx, storeIdemAnswerSQL, h.KeyHash, out.ID, sealed)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// insertHold expires the lapsed holds in h's way and inserts h, in tx.
func insertHold(ctx context.Context, tx pgx.Tx, h *booking.NewHold) (*booking.Booking, error) {
	var b pgx.Batch
	b.Queue(releaseLapsedSQL, h.Resource.ID, h.Blocked.StartsAt, h.Blocked.EndsAt, h.Now)
	b.Queue(insertBookingSQL, holdArgs(h)...)
	br := tx.SendBatch(ctx, &b)
	var out *booking.Booking
	_, err := br.Exec()
	if err == nil {
		var rows pgx.Rows
		rows, err = br.Query()
		if err == nil {
			var bk booking.Booking
			bk, err = pgx.CollectExactlyOneRow(rows, scanBooking)
			out = &bk
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// holdArgs are the arguments of insertBookingSQL for h.
func holdArgs(h *booking.NewHold) []any {
	amount, qty, blocked := h.Amount, max(h.Quantity, 1), h.Blocked
	if amount == 0 {
		amount = h.Resource.PriceAmount * int64(qty)
	}
	if blocked.StartsAt.IsZero() {
		blocked = h.Slot
	}
	var session, url *string // none for a booking paid at the venue
	if h.SessionID != "" {
		session, url = &h.SessionID, &h.CheckoutURL
	}
	return []any{h.ID, h.Reference, h.Resource.ID, h.Slot.StartsAt, h.Slot.EndsAt,
		amount, h.Resource.Currency, h.HoldUntil, h.Customer.FirstName, h.Customer.LastName,
		h.Customer.Email, h.TokenHash, h.Cause.Kind, h.Cause.Ref, session, url,
		blocked.StartsAt, blocked.EndsAt, qty, h.Shared}
}

const findBookingWithTokenSQL = `SELECT ` + bookingColumns + `, b.customer_token_hash FROM bookings b WHERE b.id = $1`

// FindBookingWithToken returns a booking and the hash of its customer
// token. Errors: not_found.
func (db *DB) FindBookingWithToken(ctx context.Context, id string) (*booking.Booking, []byte, error) {
	if !booking.IsUUID(id) {
		return nil, nil, booking.Errorf(booking.ENotFound, "Booking not found.")
	}
	var b booking.Booking
	var hash []byte
	err := db.Pool.QueryRow(ctx, findBookingWithTokenSQL, id).Scan(append(bookingDest(&b), &hash)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, booking.Errorf(booking.ENotFound, "Booking not found.")
	}
	if err != nil {
		return nil, nil, interpretError(err)
	}
	utcBooking(&b)
	return &b, hash, nil
}

const findBookingBySessionSQL = `SELECT ` + bookingColumns + ` FROM bookings b WHERE b.stripe_session_id = $1`

// FindBookingBySession returns the booking of a Checkout Session. Errors: not_found.
func (db *DB) FindBookingBySession(ctx context.Context, sessionID string) (*booking.Booking, error) {
	return db.findBooking(ctx, findBookingBySessionSQL, sessionID)
}

const findBookingSQL = `SELECT ` + bookingColumns + ` FROM bookings b WHERE b.id = $1`

// FindBooking returns the booking with id. Errors: not_found.
func (db *DB) FindBooking(ctx context.Context, id string) (*booking.Booking, error) {
	if !booking.IsUUID(id) {
		return nil, booking.Errorf(booking.ENotFound, "Booking not found.")
	}
	return db.findBooking(ctx, findBookingSQL, id)
}

func (db *DB) findBooking(ctx context.Context, sql string, args ...any) (*booking.Booking, error) {
	rows, _ := db.Pool.Query(ctx, sql, args...)
	b, err := pgx.CollectExactlyOneRow(rows, scanBooking)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, booking.Errorf(booking.ENotFound, "Booking not found.")
		}
		return nil, interpretError(err)
	}
	return &b, nil
}
