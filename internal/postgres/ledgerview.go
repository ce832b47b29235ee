package postgres

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/booking"
)

const ledgerColumns = `w.stripe_event_id, w.type, w.outcome, w.detail, w.booking_id::text, w.stripe_session_id,
	w.source, w.livemode, w.stripe_created_at, w.received_at, w.processed_at,
	coalesce((SELECT json_agg(json_build_object('source', r.source, 'outcome', r.outcome, 'detail', r.detail,
	    'bookingId', r.booking_id, 'causeRef', r.cause_ref, 'createdAt', r.created_at) ORDER BY r.id)
	  FROM webhook_event_replays r WHERE r.stripe_event_id = w.stripe_event_id), '[]')`

func scanLedgerEvent(row pgx.CollectableRow) (booking.LedgerEvent, error) {
	var e booking.LedgerEvent
	var replays []byte
	err := row.Scan(&e.ID, &e.Type, &e.Outcome, &e.Detail, &e.BookingID, &e.SessionID, &e.Source,
		&e.Livemode, &e.CreatedAt, &e.ReceivedAt, &e.ProcessedAt, &replays)
	if err != nil {
		return e, err
	}
	e.ReceivedAt, e.ProcessedAt = e.ReceivedAt.UTC(), e.ProcessedAt.UTC()
	if e.CreatedAt != nil {
		t := e.CreatedAt.UTC()
		e.CreatedAt = &t
	}
	if err := json.Unmarshal(replays, &e.Replays); err != nil {
		return e, err
	}
	e.ReplayCount = 0
	for _, r := range e.Replays {
		if r.Source == booking.SourceReplay {
			e.ReplayCount++
		}
	}
	return e, nil
}

const listPaymentEventsSQL = `
SELECT ` + ledgerColumns + `
FROM webhook_events w
WHERE ($1::text IS NULL OR w.type = $1)
  AND ($2::text IS NULL OR w.outcome = $2)
  AND ($3::timestamptz IS NULL OR (w.received_at, w.stripe_event_id) < ($3, $4::text))
ORDER BY w.received_at DESC, w.stripe_event_id DESC
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
		afterAt, afterID = f.After.At, f.After.ID
	}
	rows, _ := db.Pool.Query(ctx, listPaymentEventsSQL, typ, outcome, afterAt, afterID, f.Limit)
	items, err := pgx.CollectRows(rows, scanLedgerEvent)
	return items, interpretError(err)
}

const findPaymentEventSQL = `SELECT ` + ledgerColumns + ` FROM webhook_events w WHERE w.stripe_event_id = $1`

// FindPaymentEvent returns the ledger row of a Stripe event id with its
// replays. Errors: not_found.
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

const knownEventsSQL = `SELECT stripe_event_id FROM webhook_events WHERE stripe_event_id = ANY($1)`

// KnownEvents returns which of the Stripe event ids the ledger already holds.
func (db *DB) KnownEvents(ctx context.Context, ids []string) (map[string]bool, error) {
	rows, _ := db.Pool.Query(ctx, knownEventsSQL, ids)
	known, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, interpretError(err)
	}
	out := make(map[string]bool, len(known))
	for _, id := range known {
		out[id] = true
	}
	return out, nil
}
