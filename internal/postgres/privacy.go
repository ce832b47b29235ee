package postgres

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/booking"
)

// tombstoneSQLExpr is booking.Tombstone of the address in column col, in
// SQL: "erased-" and the first 12 hex digits of the SHA-256 of the
// lower-case address, at "invalid".
func tombstoneSQLExpr(col string) string {
	return `'erased-' || left(encode(sha256(convert_to(lower(` + col + `), 'UTF8')), 'hex'), 12) || '@invalid'`
}

// customerDataSQL reads every row held about an address: its bookings
// (through bookings_customer_email_idx), their money rows, audit and
// ledger rows (by booking, each through its booking index), and the
// messages of those bookings or sent to the address (messages_recipient_idx).
// The customer token hash is a secret, not data about the customer: left
// out.
const customerDataSQL = `
WITH b AS (SELECT * FROM bookings WHERE lower(customer_email) = lower($1))
SELECT
  (SELECT coalesce(jsonb_agg(to_jsonb(b) - 'customer_token_hash' ORDER BY b.created_at, b.id), '[]') FROM b),
  (SELECT coalesce(jsonb_agg(to_jsonb(p) ORDER BY p.id), '[]') FROM payments p WHERE p.booking_id IN (SELECT id FROM b)),
  (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.id), '[]') FROM refunds r WHERE r.booking_id IN (SELECT id FROM b)),
  (SELECT coalesce(jsonb_agg(to_jsonb(d) || jsonb_build_object('closures',
       (SELECT coalesce(jsonb_agg(to_jsonb(c) ORDER BY c.stripe_event_id), '[]') FROM dispute_closures c
        WHERE c.stripe_dispute_id = d.stripe_dispute_id)) ORDER BY d.id), '[]')
   FROM disputes d WHERE d.booking_id IN (SELECT id FROM b)),
  (SELECT coalesce(jsonb_agg(to_jsonb(m) ORDER BY m.id), '[]') FROM messages m
   WHERE m.booking_id IN (SELECT id FROM b) OR lower(m.recipient) = lower($1)),
  (SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.id), '[]') FROM booking_audit a WHERE a.booking_id IN (SELECT id FROM b)),
  (SELECT coalesce(jsonb_agg(to_jsonb(w) - 'payload' || jsonb_build_object('payload',
       convert_from(w.payload, 'UTF8')::jsonb) ORDER BY w.received_at, w.stripe_event_id), '[]')
   FROM webhook_events w WHERE w.booking_id IN (SELECT id FROM b)),
  (SELECT coalesce(jsonb_agg(jsonb_build_object('cause', e.cause, 'staffId', e.staff_id, 'bookings', e.bookings,
       'createdAt', e.created_at) ORDER BY e.id), '[]')
   FROM customer_erasures e WHERE e.email_hash = sha256(convert_to(lower($1), 'UTF8'))),
  (SELECT coalesce(jsonb_agg(to_jsonb(n) ORDER BY n.id), '[]') FROM booking_notes n WHERE n.booking_id IN (SELECT id FROM b))`

// CustomerData returns everything held about the address. Errors:
// unavailable.
func (db *DB) CustomerData(ctx context.Context, email string) (*booking.CustomerData, error) {
	d := &booking.CustomerData{}
	err := db.Pool.QueryRow(ctx, customerDataSQL, email).Scan(&d.Bookings, &d.Payments, &d.Refunds, &d.Disputes,
		&d.Messages, &d.Audit, &d.Ledger, &d.Erasures, &d.Notes)
	if err != nil {
		return nil, interpretError(err)
	}
	return d, nil
}

// lockCustomerBookingsSQL locks the bookings of an address, in id order
// (two erasures never deadlock).
const lockCustomerBookingsSQL = `
SELECT id::text FROM bookings WHERE lower(customer_email) = lower($1) ORDER BY id FOR UPDATE`

// lockEndedBookingsSQL locks up to $2 bookings that ended before $1 and
// are not erased yet, through bookings_retention_idx, skipping the ones
// another replica holds. Bookings in review and those owed a refund keep
// their data until staff or the refund loop are done with them.
const lockEndedBookingsSQL = `
SELECT b.id::text FROM bookings b
WHERE b.ends_at < $1 AND b.customer_email NOT LIKE 'erased-%@invalid'
  AND b.status NOT IN ('pending', 'awaiting_payment', 'needs_review')
  AND NOT EXISTS (SELECT 1 FROM refund_requests q WHERE q.booking_id = b.id AND q.state = 'owed')
ORDER BY b.ends_at
LIMIT $2
FOR UPDATE OF b SKIP LOCKED`

// eraseMessagesSQL tombstones the customer's address on the messages of
// the bookings (staff alerts, sent to the staff address, keep theirs).
var eraseMessagesSQL = `
UPDATE messages m SET recipient = ` + tombstoneSQLExpr("b.customer_email") + `
FROM bookings b
WHERE m.booking_id = b.id AND b.id = ANY($1::uuid[]) AND lower(m.recipient) = lower(b.customer_email)
  AND b.customer_email NOT LIKE 'erased-%@invalid'`

// eraseRecipientSQL tombstones an address on every message sent to it.
var eraseRecipientSQL = `
UPDATE messages SET recipient = ` + tombstoneSQLExpr("recipient") + ` WHERE lower(recipient) = lower($1)`

var eraseBookingsSQL = `
UPDATE bookings SET customer_first_name = 'erased', customer_last_name = 'erased',
    customer_email = ` + tombstoneSQLExpr("customer_email") + `
WHERE id = ANY($1::uuid[]) AND customer_email NOT LIKE 'erased-%@invalid'`

// eraseNotesSQL erases what staff wrote on the bookings: it may say
// anything about the customer.
const eraseNotesSQL = `UPDATE booking_notes SET body = 'erased' WHERE booking_id = ANY($1::uuid[]) AND body <> 'erased'`

const eraseManageTokensSQL = `DELETE FROM manage_tokens WHERE booking_id = ANY($1::uuid[])`

// eraseIdemAnswersSQL forgets the stored answers of the bookings'
// creation (they hold the customer); they would expire within a day.
const eraseIdemAnswersSQL = `DELETE FROM idempotency_keys WHERE booking_id = ANY($1::uuid[])`

// erasureEventsSQL locks the ledger rows of the bookings: matched to them,
// or naming their Checkout Session or PaymentIntent (events that arrived
// before the booking was known).
const erasureEventsSQL = `
SELECT w.stripe_event_id, w.payload FROM webhook_events w
WHERE w.booking_id = ANY($1::uuid[])
   OR w.stripe_session_id IN (SELECT b.stripe_session_id FROM bookings b WHERE b.id = ANY($1::uuid[]))
   OR w.stripe_payment_intent_id IN (SELECT p.stripe_payment_intent_id FROM payments p WHERE p.booking_id = ANY($1::uuid[]))
ORDER BY w.stripe_event_id
FOR UPDATE OF w`

const redactEventSQL = `UPDATE webhook_events SET payload = $2 WHERE stripe_event_id = $1`

const recordErasureSQL = `
INSERT INTO customer_erasures (email_hash, cause, staff_id, bookings, messages, tokens, events)
VALUES ($1, $2, $3, $4, $5, $6, $7)`

// EraseCustomer erases the address's bookings and messages in one
// transaction and records it. Errors: unavailable.
func (db *DB) EraseCustomer(ctx context.Context, email string, by *booking.Staff, redact booking.RedactFunc) (*booking.Erasure, error) {
	var e *booking.Erasure
	hash, err := hex.DecodeString(booking.EmailHash(email))
	if err != nil {
		return nil, err
	}
	var staffID *string
	if by != nil && by.ID != "" {
		staffID = &by.ID
	}
	err = db.Transact(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, lockCustomerBookingsSQL, email)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if e, err = eraseBookings(ctx, tx, ids, redact); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, eraseRecipientSQL, email)
		if err != nil {
			return fmt.Errorf("erase messages: %w", err)
		}
		e.Messages += int(tag.RowsAffected())
		_, err = tx.Exec(ctx, recordErasureSQL, hash, "staff", staffID, e.Bookings, e.Messages, e.Tokens, e.Events)
		return err
	})
	if err != nil {
		return nil, interpretError(err)
	}
	return e, nil
}

// EraseEnded erases up to limit ended bookings in one transaction and
// records it when there were any. Errors: unavailable.
func (db *DB) EraseEnded(ctx context.Context, before time.Time, limit int, redact booking.RedactFunc) (*booking.Erasure, error) {
	var e *booking.Erasure
	err := db.Transact(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, lockEndedBookingsSQL, before, limit)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if e, err = eraseBookings(ctx, tx, ids, redact); err != nil || e.Bookings == 0 {
			return err
		}
		_, err = tx.Exec(ctx, recordErasureSQL, nil, "retention", nil, e.Bookings, e.Messages, e.Tokens, e.Events)
		return err
	})
	if err != nil {
		return nil, interpretError(err)
	}
	return e, nil
}

// eraseBookings erases the locked bookings ids: messages first (they are
// found by the address the booking still has), then the bookings, their
// manage links and stored answers, and the personal data of their ledger
// rows. Everything runs on tx.
func eraseBookings(ctx context.Context, tx pgx.Tx, ids []string, redact booking.RedactFunc) (*booking.Erasure, error) {
	e := &booking.Erasure{}
	if len(ids) == 0 {
		return e, nil
	}
	tag, err := tx.Exec(ctx, eraseMessagesSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("erase messages: %w", err)
	}
	e.Messages = int(tag.RowsAffected())
	if tag, err = tx.Exec(ctx, eraseBookingsSQL, ids); err != nil {
		return nil, fmt.Errorf("erase bookings: %w", err)
	}
	e.Bookings = int(tag.RowsAffected())
	if _, err = tx.Exec(ctx, eraseNotesSQL, ids); err != nil {
		return nil, fmt.Errorf("erase notes: %w", err)
	}
	if tag, err = tx.Exec(ctx, eraseManageTokensSQL, ids); err != nil {
		return nil, fmt.Errorf("erase manage tokens: %w", err)
	}
	e.Tokens = int(tag.RowsAffected())
	if _, err = tx.Exec(ctx, eraseIdemAnswersSQL, ids); err != nil {
		return nil, fmt.Errorf("erase stored answers: %w", err)
	}
	type event struct {
		id      string
		payload []byte
	}
	rows, _ := tx.Query(ctx, erasureEventsSQL, ids)
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (event, error) {
		var ev event
		err := row.Scan(&ev.id, &ev.payload)
		return ev, err
	})
	if err != nil {
		return nil, fmt.Errorf("read ledger rows: %w", err)
	}
	for _, ev := range events {
		out, changed, err := redact(ev.payload)
		if err != nil {
			return nil, fmt.Errorf("redact event %s: %w", ev.id, err)
		}
		if !changed {
			continue
		}
		if _, err := tx.Exec(ctx, redactEventSQL, ev.id, out); err != nil {
			return nil, fmt.Errorf("redact event %s: %w", ev.id, err)
		}
		e.Events++
	}
	return e, nil
}
