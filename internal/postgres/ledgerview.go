package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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

// The ledger list has one statement per shape (booking.EventFilter.Shape),
// each read newest first from its index of migrations 00005 and 00006:
// (received_at, stripe_event_id) alone, or after the type, the outcome, or
// both. The scan starts at the keyset position — the cursor, or the end of
// the receivedAt range (to and the empty event id sort after every row
// received before to), or infinity — and stops at the range's start. As for
// bookings, the page's event ids come from the index alone, then their rows
// by primary key,
// so that the planner does not walk the newest-first index filtering on a
// type or an outcome the newest rows may not have.
func listEventsSQL(where string, n int) string {
	return fmt.Sprintf(`
SELECT %s
FROM webhook_events w
WHERE w.stripe_event_id = ANY (ARRAY(
    SELECT w.stripe_event_id FROM webhook_events w
    WHERE %s(w.received_at, w.stripe_event_id) < ($%d, $%d::text) AND w.received_at >= $%d
    ORDER BY w.received_at DESC, w.stripe_event_id DESC
    LIMIT $%d))
ORDER BY w.received_at DESC, w.stripe_event_id DESC`, ledgerColumns, where, n, n+1, n+2, n+3)
}

// eventListSQL holds the statement of each shape. Parameters: the filters
// of the shape (type, outcome), the keyset position (at, id), the range's
// start and the limit.
var eventListSQL = map[string]string{
	booking.ShapeEvents:            listEventsSQL(``, 1),
	booking.ShapeEventsType:        listEventsSQL(`w.type = $1 AND `, 2),
	booking.ShapeEventsOutcome:     listEventsSQL(`w.outcome = $1 AND `, 2),
	booking.ShapeEventsTypeOutcome: listEventsSQL(`w.type = $1 AND w.outcome = $2 AND `, 3),
}

// eventListArgs returns the statement of f's shape and its arguments.
func eventListArgs(f *booking.EventFilter) (string, []any) {
	var args []any
	if f.Type != "" {
		args = append(args, f.Type)
	}
	if f.Outcome != "" {
		args = append(args, f.Outcome)
	}
	if f.After != nil && (f.To.IsZero() || f.After.At.Before(f.To)) {
		args = append(args, f.After.At, f.After.ID)
	} else {
		args = append(args, timeOr(f.To, infinity), "")
	}
	args = append(args, timeOr(f.From, minusInfinity), f.Limit)
	return eventListSQL[f.Shape()], args
}

// ListPaymentEvents returns up to f.Limit ledger rows after f.After, newest first.
func (db *DB) ListPaymentEvents(ctx context.Context, f booking.EventFilter) ([]booking.LedgerEvent, error) {
	sql, args := eventListArgs(&f)
	return collectGeneric(ctx, db.Pool, sql, args, scanLedgerEvent)
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
