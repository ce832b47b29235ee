// Package jobs runs the product's durable background work on River, a job
// queue in PostgreSQL: the messages a change of a booking causes (queued in
// the transaction of the change, see Queue.Enqueue) and the periodic work
// of serve.
//
// The messages of one change are one job, unique by its arguments (the
// booking, each message's kind and version): a webhook storm, a replay or a
// second replica inserting the same notices finds the first job and inserts
// nothing. A job that runs sends at most what the messages table does not
// record as sent yet (per booking, kind and version), so a retry after a crash
// between the mail server's acceptance and the record is the one case that
// can send a message twice.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/bookingplatform/booking/internal/booking"
)

// QueueMessages is the River queue of messages.
const QueueMessages = "messages"

// MessageMaxAttempts is how many times a message is tried before it is
// discarded (River's backoff, attempt⁴ seconds: about three days in all).
const MessageMaxAttempts = 20

// MessageArgs is a message job: notice Kind of booking BookingID, version
// Version, then the other notices of the same change (Also), and its
// reminder (Reminder, due at RemindAt): one job per change rather than one
// per message, so that a confirmation writes one row of the queue instead
// of three (docs/adr/0008). A job inserted before Also and Reminder existed
// holds one message, and is worked as before.
type MessageArgs struct {
	BookingID string `json:"booking_id"`
	Message   string `json:"message"`
	Version   int64  `json:"version"`
	Ref       string `json:"ref,omitempty"`
	// The time before a reschedule, for its notice.
	PreviousStartsAt time.Time `json:"previous_starts_at,omitzero"`
	PreviousEndsAt   time.Time `json:"previous_ends_at,omitzero"`
	// Also are sent after Message, in order.
	Also []MessagePart `json:"also,omitempty"`
	// Reminder is sent at RemindAt: once Message and Also are sent the job
	// waits (River's snooze, which spends no attempt) until then.
	Reminder *MessagePart `json:"reminder,omitempty"`
	RemindAt time.Time    `json:"remind_at,omitzero"`
}

// MessagePart is one more message of a job's change.
type MessagePart struct {
	Message          string    `json:"message"`
	Version          int64     `json:"version"`
	Ref              string    `json:"ref,omitempty"`
	PreviousStartsAt time.Time `json:"previous_starts_at,omitzero"`
	PreviousEndsAt   time.Time `json:"previous_ends_at,omitzero"`
}

// one is the single-message job of part p of a.
func (a MessageArgs) one(p MessagePart) MessageArgs {
	return MessageArgs{BookingID: a.BookingID, Message: p.Message, Version: p.Version, Ref: p.Ref,
		PreviousStartsAt: p.PreviousStartsAt, PreviousEndsAt: p.PreviousEndsAt}
}

// immediate are the messages of a sent as soon as it runs, in order.
func (a MessageArgs) immediate() []MessageArgs {
	out := []MessageArgs{a.one(MessagePart{Message: a.Message, Version: a.Version, Ref: a.Ref,
		PreviousStartsAt: a.PreviousStartsAt, PreviousEndsAt: a.PreviousEndsAt})}
	for _, p := range a.Also {
		out = append(out, a.one(p))
	}
	return out
}

func partOf(n booking.Notice) MessagePart {
	return MessagePart{Message: n.Kind, Version: n.Version, Ref: n.Ref,
		PreviousStartsAt: n.PreviousStartsAt, PreviousEndsAt: n.PreviousEndsAt}
}

// Kind is River's name of the job type: "change_messages" since a job
// holds the messages of a change. A replica of an earlier version has no
// worker for it, so during a rolling upgrade such a replica fails the job
// (an unknown kind) and it is retried, by River's backoff, until an
// upgraded replica works it — rather than sending its first message and
// dropping the others.
func (MessageArgs) Kind() string { return "change_messages" }

// KindAliases: the jobs queued by earlier versions, one message each.
func (MessageArgs) KindAliases() []string { return []string{"message"} }

// messageKinds are the kinds of message jobs, for listing them.
var messageKinds = append([]string{MessageArgs{}.Kind()}, MessageArgs{}.KindAliases()...)

// InsertOpts makes a job unique by its arguments (the booking, and the kind
// and version of each of its messages) in every state but cancelled and
// discarded, so that "send again" of a dead one can
// insert it anew.
func (MessageArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueMessages,
		MaxAttempts: MessageMaxAttempts,
		UniqueOpts:  river.UniqueOpts{ByArgs: true},
	}
}

// ResourceFinder reads a resource (through the process's cache).
type ResourceFinder interface {
	FindResource(ctx context.Context, id string) (*booking.Resource, error)
}

// Queue inserts jobs. Its client may also work them (Start).
type Queue struct {
	Client *river.Client[pgx.Tx]
	Now    func() time.Time
	Logger *slog.Logger
}

// Config is what New needs beyond the pool.
type Config struct {
	// Message works message jobs; nil makes an insert-only queue (jobs wait
	// for a replica that works them).
	Message *MessageWorker
	// Delivery and Failing work the outgoing webhooks and the alert of an
	// endpoint failing (with Message; nil: not worked here).
	Delivery *DeliveryWorker
	Failing  *EndpointFailingWorker
	// PollOnly: no LISTEN (behind PgBouncer in transaction pooling mode);
	// jobs are fetched every FetchPollInterval.
	PollOnly bool
	// MaxWorkers of the messages queue (default 4).
	MaxWorkers int
	// FetchPollInterval (default one second).
	FetchPollInterval time.Duration
	Logger            *slog.Logger
}

// New returns a queue on pool.
func New(pool *pgxpool.Pool, now func() time.Time, cfg Config) (*Queue, error) {
	rc := &river.Config{
		Logger:            quieter(cfg.Logger),
		PollOnly:          cfg.PollOnly,
		FetchPollInterval: cfg.FetchPollInterval,
		JobTimeout:        2 * time.Minute,
		// River's GIN indexes on args and metadata are dropped (migration
		// 00022): the reindexer rebuilds the others.
		ReindexerIndexNames: slices.DeleteFunc(river.ReindexerIndexNamesDefault(), func(n string) bool {
			return n == "river_job_args_index" || n == "river_job_metadata_index"
		}),
	}
	if p := cfg.FetchPollInterval; p > 0 && p < river.FetchCooldownDefault {
		rc.FetchCooldown = p
	}
	if cfg.Message != nil {
		w := river.NewWorkers()
		river.AddWorker(w, cfg.Message)
		n := cfg.MaxWorkers
		if n <= 0 {
			n = 4
		}
		rc.Workers = w
		rc.Queues = map[string]river.QueueConfig{QueueMessages: {MaxWorkers: n}}
		if cfg.Delivery != nil && cfg.Failing != nil {
			river.AddWorker(w, cfg.Delivery)
			river.AddWorker(w, cfg.Failing)
			rc.Queues[QueueWebhooks] = river.QueueConfig{MaxWorkers: n}
		}
	}
	c, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Queue{Client: c, Now: now, Logger: cfg.Logger}, nil
}

// quieter logs River's own info lines (client started, leader elected, job
// counts every few seconds) as debug: they are the queue's heartbeat, not
// news for an operator. Its warnings and errors keep their level.
func quieter(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(infoAsDebug{l.Handler()}).With("component", "river")
}

type infoAsDebug struct{ slog.Handler }

func lower(l slog.Level) slog.Level {
	if l == slog.LevelInfo {
		return slog.LevelDebug
	}
	return l
}

func (h infoAsDebug) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, lower(l))
}

func (h infoAsDebug) Handle(ctx context.Context, r slog.Record) error {
	r.Level = lower(r.Level)
	return h.Handler.Handle(ctx, r)
}

func (h infoAsDebug) WithAttrs(attrs []slog.Attr) slog.Handler {
	return infoAsDebug{h.Handler.WithAttrs(attrs)}
}

func (h infoAsDebug) WithGroup(name string) slog.Handler {
	return infoAsDebug{h.Handler.WithGroup(name)}
}

// Enqueue inserts the jobs of notices in tx, the transaction of the change
// that causes them. A reminder is scheduled reminderHours before the start
// and left out when that moment has passed (booked inside the window) or
// the resource sends none. It runs inside the caller's transaction and
// never takes another connection from the pool (a transaction waiting for
// a second connection could starve the pool).
//
// hooks are the outgoing webhook deliveries of the same change, inserted
// in the same call (one round trip for both).
func (q *Queue) Enqueue(ctx context.Context, tx pgx.Tx, notices []booking.Notice, hooks []booking.WebhookTarget) error {
	if len(notices) == 0 && len(hooks) == 0 {
		return nil
	}
	now := q.Now()
	params := make([]river.InsertManyParams, 0, 1+len(hooks))
	// The notices of one change go in one job: the first immediate one
	// leads, the others follow it (Also), and the reminder waits in it
	// (Reminder). What cannot join — a notice of another booking, a second
	// reminder, a reminder with no immediate message — is a job of its own.
	var change *MessageArgs
	var reminders []booking.Notice
	for _, n := range notices {
		switch {
		case n.Kind == booking.NoticeReminder:
			reminders = append(reminders, n)
		case change == nil:
			c := MessageArgs{BookingID: n.BookingID}.one(partOf(n))
			change = &c
		case n.BookingID == change.BookingID:
			change.Also = append(change.Also, partOf(n))
		default:
			params = append(params, messageJob(MessageArgs{BookingID: n.BookingID}.one(partOf(n)), time.Time{}))
		}
	}
	for _, n := range reminders {
		at, ok := reminderAt(n, now)
		switch {
		case !ok:
		case change != nil && change.Reminder == nil && n.BookingID == change.BookingID:
			p := partOf(n)
			change.Reminder, change.RemindAt = &p, at
		default:
			params = append(params, messageJob(MessageArgs{BookingID: n.BookingID}.one(partOf(n)), at))
		}
	}
	if change != nil {
		params = append(params, messageJob(*change, time.Time{}))
	}
	deliveries, err := deliveryParams(hooks, now)
	if err != nil {
		return err
	}
	params = append(params, deliveries...)
	if len(params) == 0 {
		return nil
	}
	_, err = q.Client.InsertManyTx(ctx, tx, params)
	if err != nil {
		return fmt.Errorf("queue messages: %w", err)
	}
	return nil
}

// messageJob is the insert of message job a, run at (zero: now).
func messageJob(a MessageArgs, at time.Time) river.InsertManyParams {
	return river.InsertManyParams{Args: a,
		InsertOpts: &river.InsertOpts{Metadata: bookingMetadata(a.BookingID), ScheduledAt: at}}
}

// reminderAt is when the reminder of n is due: ReminderHours before the
// start; false when the resource sends none or that moment has passed.
func reminderAt(n booking.Notice, now time.Time) (time.Time, bool) {
	if n.ReminderHours <= 0 {
		return time.Time{}, false
	}
	at := n.StartsAt.Add(-time.Duration(n.ReminderHours) * time.Hour)
	return at, at.After(now)
}

func bookingMetadata(id string) []byte {
	b, _ := json.Marshal(map[string]string{"booking_id": id})
	return b
}

// Start works jobs until Stop.
func (q *Queue) Start(ctx context.Context) error { return q.Client.Start(ctx) }

// Stop waits for running jobs to finish (or ctx to end).
func (q *Queue) Stop(ctx context.Context) error {
	err := q.Client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return q.Client.StopAndCancel(context.Background())
	}
	return err
}

// Job states as the dashboard names them.
var (
	StatesQueued = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStateScheduled,
		rivertype.JobStatePending, rivertype.JobStateRunning}
	StatesFailed = []rivertype.JobState{rivertype.JobStateRetryable}
	StatesDead   = []rivertype.JobState{rivertype.JobStateDiscarded, rivertype.JobStateCancelled}
)
