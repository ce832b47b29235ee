package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/bookingplatform/booking/internal/booking"
)

// SentLister lists the messages sent for a booking.
type SentLister interface {
	MessagesOf(ctx context.Context, bookingID string) ([]booking.SentMessage, error)
}

// Messages is the staff's view of the message queue.
type Messages struct {
	Queue *Queue
	Store SentLister
}

// List returns the message jobs in state (queued, failed or dead; all three
// when empty), newest first, at most limit; for one
// booking when bookingID is set. Errors: invalid, unavailable.
func (m *Messages) List(ctx context.Context, state, bookingID string, limit int) ([]booking.QueuedMessage, error) {
	// A job whose attempt failed waits for its retry as retryable, or as
	// available when the retry is due soon: "failed" is a waiting job with
	// errors, "queued" one without. A job snoozed until its reminder keeps
	// the errors of its first messages, sent since: errors from before the
	// reminder was due do not make it failed (as in view).
	const hasErrors = `cardinality(coalesce(errors, '{}')) > 0
AND NOT (coalesce((metadata->>'snoozes')::int, 0) > 0 AND args ? 'remind_at'
         AND (errors[cardinality(errors)]->>'at')::timestamptz < (args->>'remind_at')::timestamptz)`
	var states []rivertype.JobState
	var where string
	switch state {
	case booking.MessageQueued:
		states, where = StatesQueued, "NOT ("+hasErrors+")"
	case booking.MessageFailed:
		states, where = append(append([]rivertype.JobState{}, StatesQueued...), StatesFailed...), hasErrors
	case booking.MessageDead:
		states = StatesDead
	case "":
		states = append(append(append([]rivertype.JobState{}, StatesQueued...), StatesFailed...), StatesDead...)
	default:
		v := booking.ValidationError{}
		v.Add("state", "Must be queued, failed or dead.")
		return nil, v.Err()
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	p := river.NewJobListParams().Kinds(messageKinds...).States(states...).First(limit).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc)
	if where != "" {
		p = p.Where(where)
	}
	if bookingID != "" {
		if !booking.IsUUID(bookingID) {
			return nil, booking.Errorf(booking.ENotFound, "Booking not found.")
		}
		p = p.Metadata(string(bookingMetadata(bookingID)))
	}
	res, err := m.Queue.Client.JobList(ctx, p)
	if err != nil {
		return nil, booking.WrapError(booking.EUnavailable, "The message queue cannot be read now.", err)
	}
	out := make([]booking.QueuedMessage, 0, len(res.Jobs))
	for _, j := range res.Jobs {
		out = append(out, view(j))
	}
	return out, nil
}

// Sent lists the messages sent for a booking.
func (m *Messages) Sent(ctx context.Context, bookingID string) ([]booking.SentMessage, error) {
	if !booking.IsUUID(bookingID) {
		return nil, booking.Errorf(booking.ENotFound, "Booking not found.")
	}
	return m.Store.MessagesOf(ctx, bookingID)
}

// Retry makes a failed or dead message job due now ("send again"). A
// message sent meanwhile is not sent twice (the job finds its record).
// Errors: not_found, conflict (not a failed or dead message), unavailable.
func (m *Messages) Retry(ctx context.Context, idText string) (*booking.QueuedMessage, error) {
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 {
		return nil, booking.Errorf(booking.ENotFound, "Message not found.")
	}
	res, err := m.Queue.Client.JobList(ctx, river.NewJobListParams().IDs(id).Kinds(messageKinds...))
	if err != nil {
		return nil, booking.WrapError(booking.EUnavailable, "The message queue cannot be read now.", err)
	}
	if len(res.Jobs) == 0 {
		return nil, booking.Errorf(booking.ENotFound, "Message not found.")
	}
	if v := view(res.Jobs[0]); v.State != booking.MessageFailed && v.State != booking.MessageDead {
		return nil, booking.Errorf(booking.EConflict, "Only a failed or dead message can be sent again; this one is %s.",
			v.State)
	}
	j, err := m.Queue.Client.JobRetry(ctx, id)
	if err != nil {
		if errors.Is(err, river.ErrNotFound) {
			return nil, booking.Errorf(booking.ENotFound, "Message not found.")
		}
		return nil, booking.WrapError(booking.EUnavailable, "The message could not be queued again now.", err)
	}
	v := view(j)
	return &v, nil
}

func view(j *rivertype.JobRow) booking.QueuedMessage {
	var a MessageArgs
	_ = json.Unmarshal(j.EncodedArgs, &a)
	q := booking.QueuedMessage{JobID: j.ID, BookingID: a.BookingID, Kind: a.Message, Version: a.Version,
		State: stateName(j.State), Attempt: j.Attempt, MaxAttempts: j.MaxAttempts, ScheduledAt: j.ScheduledAt,
		CreatedAt: j.CreatedAt}
	errs := j.Errors
	if a.Reminder != nil && snoozed(j.Metadata) {
		// Its change's messages are done: it waits for the reminder, and
		// errors from before that was due are theirs.
		q.Kind, q.Version = a.Reminder.Message, a.Reminder.Version
		if n := len(errs); n > 0 && errs[n-1].At.Before(a.RemindAt) {
			errs = nil
		}
	} else {
		for _, p := range a.Also {
			q.Then = append(q.Then, p.Message)
		}
		if a.Reminder != nil {
			q.Then = append(q.Then, a.Reminder.Message)
		}
	}
	if n := len(errs); n > 0 {
		q.LastError = errs[n-1].Error
		if q.State == booking.MessageQueued {
			q.State = booking.MessageFailed
		}
	}
	return q
}

func stateName(s rivertype.JobState) string {
	switch s {
	case rivertype.JobStateRetryable:
		return booking.MessageFailed
	case rivertype.JobStateDiscarded, rivertype.JobStateCancelled:
		return booking.MessageDead
	case rivertype.JobStateCompleted:
		return booking.MessageDone
	}
	return booking.MessageQueued
}
