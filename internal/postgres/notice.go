package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookingplatform/booking/internal/booking"
)

// NoticeQueue inserts the jobs of notices and of outgoing webhook
// deliveries in the transaction of the change that causes them
// (internal/jobs.Queue).
type NoticeQueue interface {
	Enqueue(ctx context.Context, tx pgx.Tx, notices []booking.Notice, hooks []booking.WebhookTarget) error
}

// enqueueNotices queues the messages and outgoing webhooks plan p causes
// for the booking in st (as it is before p), in the open transaction tx.
// endpoints are the enabled webhook endpoints when the caller read them
// already (ApplyEvent does, in its first pipeline); nil reads them in tx,
// and only when the change causes an event.
func (db *DB) enqueueNotices(ctx context.Context, tx pgx.Tx, st *booking.State, p *booking.Plan,
	endpoints *[]booking.WebhookEndpoint,
) error {
	if db.Notices == nil {
		return nil
	}
	n := booking.Notices(st, p)
	var hooks []booking.WebhookTarget
	if events := booking.WebhookEvents(st, p); len(events) > 0 {
		if endpoints == nil {
			rows, _ := tx.Query(ctx, enabledEndpointsSQL)
			eps, err := readEndpoints(rows)
			if err != nil {
				return err
			}
			endpoints = &eps
		}
		hooks = booking.WebhookTargets(events, *endpoints)
	}
	if len(n) == 0 && len(hooks) == 0 {
		return nil
	}
	return db.Notices.Enqueue(ctx, tx, n, hooks)
}

// enqueueCreated queues booking.created for the endpoints that ask for it,
// in tx, the transaction that inserts hold b. It reads the endpoints in tx
// (one small statement) only when a queue is configured.
func (db *DB) enqueueCreated(ctx context.Context, tx pgx.Tx, b *booking.Booking) error {
	if db.Notices == nil {
		return nil
	}
	rows, _ := tx.Query(ctx, enabledEndpointsSQL)
	eps, err := readEndpoints(rows)
	if err != nil {
		return err
	}
	hooks := booking.WebhookTargets([]booking.WebhookEvent{{Type: booking.EventBookingCreated, Booking: *b}}, eps)
	if len(hooks) == 0 {
		return nil
	}
	return db.Notices.Enqueue(ctx, tx, nil, hooks)
}

// errOpenTx: the transaction of an openTx is ended by its owner.
var errOpenTx = errors.New("the transaction belongs to the caller")

// openTx is a pgx.Tx over a connection whose transaction the caller began
// and will end (ApplyEvent folds BEGIN and COMMIT into its pipelines), so
// that code made for a pgx.Tx (River's InsertManyTx) can write in it.
type openTx struct{ c *pgx.Conn }

func (t openTx) Begin(context.Context) (pgx.Tx, error) { return nil, errOpenTx }
func (t openTx) Commit(context.Context) error          { return errOpenTx }
func (t openTx) Rollback(context.Context) error        { return errOpenTx }
func (t openTx) LargeObjects() pgx.LargeObjects        { return pgx.LargeObjects{} }
func (t openTx) Conn() *pgx.Conn                       { return t.c }

func (t openTx) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	return t.c.CopyFrom(ctx, table, cols, src)
}

func (t openTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return t.c.SendBatch(ctx, b)
}

func (t openTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	return t.c.Prepare(ctx, name, sql)
}

func (t openTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return t.c.Exec(ctx, sql, args...)
}

func (t openTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return t.c.Query(ctx, sql, args...)
}

func (t openTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return t.c.QueryRow(ctx, sql, args...)
}

const (
	messageSentSQL   = `SELECT EXISTS (SELECT 1 FROM messages WHERE booking_id = $1 AND kind = $2 AND version = $3)`
	recordMessageSQL = `
INSERT INTO messages (booking_id, kind, version, recipient, subject, message_id, job_id, sent_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (booking_id, kind, version) DO NOTHING`
	messagesOfSQL = `
SELECT kind, version, recipient, subject, message_id, coalesce(job_id, 0), sent_at
FROM messages WHERE booking_id = $1 ORDER BY sent_at, id`
	addManageTokenSQL = `INSERT INTO manage_tokens (token_hash, booking_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`
	// manageTokenSQL: whether a message's token opens booking $1.
	manageTokenSQL = `SELECT EXISTS (SELECT 1 FROM manage_tokens WHERE token_hash = $2 AND booking_id = $1)`
	// oldestQueuedSQL: how long the oldest message due to be sent has
	// waited (0 when none is).
	oldestQueuedSQL = `
SELECT coalesce(extract(epoch FROM now() - min(scheduled_at)), 0)::float8 FROM river_job
WHERE state IN ('available', 'retryable') AND queue = 'messages' AND scheduled_at <= now()`
)

// MessageSent reports whether (booking, kind, version) was sent.
func (db *DB) MessageSent(ctx context.Context, bookingID, kind string, version int64) (bool, error) {
	var sent bool
	err := db.Pool.QueryRow(ctx, messageSentSQL, bookingID, kind, version).Scan(&sent)
	return sent, interpretError(err)
}

// RecordMessage records a sent message; a second record is ignored.
func (db *DB) RecordMessage(ctx context.Context, m booking.SentMessage) error {
	_, err := db.Pool.Exec(ctx, recordMessageSQL, m.BookingID, m.Kind, m.Version, m.Recipient, m.Subject, m.MessageID,
		m.JobID, m.SentAt)
	return interpretError(err)
}

// MessagesOf lists the messages sent for a booking, oldest first.
func (db *DB) MessagesOf(ctx context.Context, bookingID string) ([]booking.SentMessage, error) {
	rows, _ := db.Pool.Query(ctx, messagesOfSQL, bookingID)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (booking.SentMessage, error) {
		m := booking.SentMessage{BookingID: bookingID}
		err := row.Scan(&m.Kind, &m.Version, &m.Recipient, &m.Subject, &m.MessageID, &m.JobID, &m.SentAt)
		return m, err
	})
	return out, interpretError(err)
}

// AddManageToken stores the hash of a token sent in a message.
func (db *DB) AddManageToken(ctx context.Context, bookingID string, hash []byte) error {
	_, err := db.Pool.Exec(ctx, addManageTokenSQL, hash, bookingID)
	return interpretError(err)
}

// ManageTokenValid reports whether a token sent in a message (its hash)
// opens booking id.
func (db *DB) ManageTokenValid(ctx context.Context, id string, hash []byte) (bool, error) {
	var ok bool
	err := db.Pool.QueryRow(ctx, manageTokenSQL, id, hash).Scan(&ok)
	return ok, interpretError(err)
}

// OldestQueuedMessage is how long the oldest message due to be sent has
// waited.
func (db *DB) OldestQueuedMessage(ctx context.Context) (time.Duration, error) {
	var secs float64
	err := db.Pool.QueryRow(ctx, oldestQueuedSQL).Scan(&secs)
	return time.Duration(secs * float64(time.Second)), interpretError(err)
}
