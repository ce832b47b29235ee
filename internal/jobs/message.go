package jobs

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/mailer"
	"github.com/bookingplatform/booking/internal/notify"
)

// MessageStore is what a message job reads and records.
type MessageStore interface {
	// FindState reads a booking with its money rows.
	FindState(ctx context.Context, id string) (*booking.State, error)
	// MessageSent reports whether (booking, kind, version) was sent.
	MessageSent(ctx context.Context, bookingID, kind string, version int64) (bool, error)
	// RecordMessage records a message the mail server accepted; a second
	// record of the same (booking, kind, version) is ignored.
	RecordMessage(ctx context.Context, m booking.SentMessage) error
	// AddManageToken stores the hash of a token that opens the booking's
	// manage page.
	AddManageToken(ctx context.Context, bookingID string, hash []byte) error
}

// Sender sends one message (internal/mailer.Sender).
type Sender interface {
	Send(ctx context.Context, m *mailer.Message) error
	From() string
}

// MessageWorker renders and sends message jobs.
type MessageWorker struct {
	river.WorkerDefaults[MessageArgs]
	Store     MessageStore
	Resources ResourceFinder
	// Sender is nil when no SMTP server is configured (development without
	// Mailpit): messages are then recorded as skipped, never sent.
	Sender Sender
	// StaffEmail receives the staff alerts; empty: none are sent.
	StaffEmail string
	// AppURL is the public base URL for links.
	AppURL  string
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *Metrics
}

// Timeout bounds one attempt: reading, rendering and an SMTP session per
// message it sends.
func (w *MessageWorker) Timeout(job *river.Job[MessageArgs]) time.Duration {
	return time.Minute * time.Duration(1+len(job.Args.Also))
}

// Work sends the messages of job's change in order, then waits (snoozes)
// until its reminder is due and sends that. A message no longer true (a
// confirmation of a booking cancelled meanwhile, a reminder of a moved
// booking) or sent already is skipped; a temporary failure ends the
// attempt, and the retry skips what was sent. A message that can never be
// sent (the customer's address refused) does not keep the others from
// going (the staff alert): the job ends cancelled, with that error, once
// they have. Once snoozed, the job sends only its reminder (River counts
// the snoozes in the job's metadata).
func (w *MessageWorker) Work(ctx context.Context, job *river.Job[MessageArgs]) error {
	a := job.Args
	if !snoozed(job.Metadata) {
		var never error
		for _, m := range a.immediate() {
			err := w.send(ctx, job, m)
			var cancel *rivertype.JobCancelError
			switch {
			case err == nil:
			case errors.As(err, &cancel):
				never = cmp.Or(never, err)
			default:
				return err
			}
		}
		if never != nil {
			return never
		}
	}
	if a.Reminder == nil {
		return nil
	}
	if wait := a.RemindAt.Sub(w.Now()); wait > 0 {
		return river.JobSnooze(wait)
	}
	return w.send(ctx, job, a.one(*a.Reminder))
}

// snoozed reports whether River snoozed the job before (see Work).
func snoozed(metadata []byte) bool {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(metadata, &m)
	return m.Snoozes > 0
}

// send sends the one message of a, unless it is no longer true or sent
// already.
func (w *MessageWorker) send(ctx context.Context, job *river.Job[MessageArgs], a MessageArgs) error {
	kind := notify.Kind(a.Message)
	if !kind.Valid() {
		return river.JobCancel(fmt.Errorf("unknown message kind %q", a.Message))
	}
	log := w.Logger.With("booking_id", a.BookingID, "message", a.Message, "version", a.Version, "job_id", job.ID)
	// What no configuration can send ends here, before any read.
	if kind.ForStaff() && w.StaffEmail == "" {
		log.DebugContext(ctx, "message not sent", "why", "no staff address (STAFF_NOTIFY_EMAIL)")
		return nil
	}
	if w.Sender == nil {
		log.DebugContext(ctx, "message not sent", "why", "no SMTP server configured (SMTP_URL)")
		w.Metrics.skipped(a.Message)
		return nil
	}
	st, err := w.Store.FindState(ctx, a.BookingID)
	if err != nil {
		if booking.ErrorCode(err) == booking.ENotFound {
			return river.JobCancel(errors.New("booking not found"))
		}
		return err
	}
	b := &st.Booking
	if why := stale(kind, a, b, w.Now()); why != "" {
		log.InfoContext(ctx, "message not sent", "why", why)
		w.Metrics.skipped(a.Message)
		return nil
	}
	if sent, err := w.Store.MessageSent(ctx, a.BookingID, a.Message, a.Version); err != nil {
		return err
	} else if sent {
		return nil
	}
	if !kind.ForStaff() && booking.IsErased(b.Customer.Email) {
		// The customer's data was erased (GDPR): nothing goes to them.
		log.InfoContext(ctx, "message not sent", "why", "customer data erased")
		w.Metrics.skipped(a.Message)
		return nil
	}
	to := b.Customer.Email
	toName := strings.TrimSpace(b.Customer.FirstName + " " + b.Customer.LastName)
	if kind.ForStaff() {
		to, toName = w.StaffEmail, ""
	}
	r, err := w.Resources.FindResource(ctx, b.ResourceID)
	if err != nil {
		return err
	}
	data := notify.Data{Booking: w.notifyBooking(b, r), PreviousStartsAt: a.PreviousStartsAt, PreviousEndsAt: a.PreviousEndsAt}
	if kind == notify.KindPaymentLink {
		data.Booking.PayURL, data.Booking.PayBy = b.CheckoutURL, b.HoldExpiresAt
		if strings.HasPrefix(b.CheckoutURL, "/") { // demo payments: a page of this server
			data.Booking.PayURL = w.AppURL + b.CheckoutURL
		}
	}
	if !kind.ForStaff() {
		token := newToken()
		if err := w.Store.AddManageToken(ctx, b.ID, booking.HashToken(token)); err != nil {
			return err
		}
		data.Booking.ManageURL = w.AppURL + "/manage/" + b.ID + "?token=" + token
	} else {
		data.Staff = w.staffData(st, kind, a)
	}
	subject, text, html, err := notify.Render(kind, data, data.Booking.Language)
	if err != nil {
		return river.JobCancel(err)
	}
	m := &mailer.Message{
		ID: b.ID + "." + a.Message + "." + strconv.FormatInt(a.Version, 10), To: to, ToName: toName,
		Subject: subject, Text: text, HTML: html,
	}
	if kind.ForStaff() {
		m.ReplyTo = b.Customer.Email
	}
	if method := calendarMethod(kind); method != "" {
		cb := data.Booking
		if method == notify.MethodCancel {
			cb.Sequence++ // a cancellation supersedes the last file sent
		}
		ics, err := notify.ICS(cb, method, notify.ICSOpts{Organizer: w.Sender.From(), Stamp: w.Now()})
		if err != nil {
			return river.JobCancel(err)
		}
		m.ICS, m.ICSMethod = ics, method
	}
	if err := w.Sender.Send(ctx, m); err != nil {
		permanent := mailer.IsPermanent(err)
		w.Metrics.failed(a.Message, permanent)
		log.WarnContext(ctx, "message failed", "permanent", permanent, "attempt", job.Attempt, "err", err)
		if permanent {
			return river.JobCancel(err)
		}
		return err
	}
	w.Metrics.sent(a.Message)
	log.InfoContext(ctx, "message sent", "to", mailer.RedactAddress(to))
	// The record is what stops a second send: it must outlive a cancelled
	// job context.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return w.Store.RecordMessage(rctx, booking.SentMessage{BookingID: b.ID, Kind: a.Message, Version: a.Version,
		Recipient: to, Subject: subject, MessageID: m.ID, JobID: job.ID, SentAt: w.Now()})
}

// stale says why the message of a is no longer to be sent to b at now, or "".
func stale(kind notify.Kind, a MessageArgs, b *booking.Booking, now time.Time) string {
	switch kind {
	case notify.KindConfirmation, notify.KindReschedule:
		if b.Status != booking.StatusConfirmed {
			return "the booking is " + string(b.Status) + " now"
		}
		if int64(b.Sequence) != a.Version {
			return "the booking changed since"
		}
	case notify.KindPaymentLink:
		switch {
		case b.Status != booking.StatusPending:
			return "the booking is " + string(b.Status) + " now"
		case !now.Before(b.HoldExpiresAt):
			return "the payment link has lapsed"
		case b.CheckoutURL == "":
			return "the booking has no payment link"
		}
	case notify.KindReminder:
		switch {
		case b.Status != booking.StatusConfirmed:
			return "the booking is " + string(b.Status) + " now"
		case int64(b.Sequence) != a.Version:
			return "the booking moved since"
		case !now.Before(b.StartsAt):
			return "the booking has started"
		}
	}
	return ""
}

func calendarMethod(kind notify.Kind) string {
	switch kind {
	case notify.KindConfirmation, notify.KindReschedule:
		return notify.MethodRequest
	case notify.KindCancellation, notify.KindRefund:
		return notify.MethodCancel
	}
	return ""
}

func (w *MessageWorker) notifyBooking(b *booking.Booking, r *booking.Resource) notify.Booking {
	return notify.Booking{
		ID: b.ID, Reference: b.Reference, Status: string(b.Status), ResourceName: r.Name, Location: r.Location,
		Timezone: r.Timezone, StartsAt: b.StartsAt, EndsAt: b.EndsAt, AmountTotal: b.AmountTotal,
		AmountPaid: b.AmountPaid, AmountRefunded: b.AmountRefunded, Currency: b.Currency,
		FirstName: b.Customer.FirstName, LastName: b.Customer.LastName, Email: b.Customer.Email,
		Sequence: b.Sequence, Language: notify.DefaultLanguage,
	}
}

func (w *MessageWorker) staffData(st *booking.State, kind notify.Kind, a MessageArgs) notify.Staff {
	s := notify.Staff{BookingURL: w.AppURL + "/dashboard#booking/" + st.Booking.ID, Reason: st.Booking.ReviewReason}
	if kind == notify.KindStaffDispute {
		for _, dp := range st.Disputes {
			if dp.ID == a.Ref {
				s.DisputeAmount, s.DisputeReason, s.DisputeStatus = dp.Amount, dp.Reason, dp.Status
			}
		}
	}
	if kind == notify.KindStaffRefundFailing {
		for _, r := range st.Owed {
			if r.ID == a.Version && r.LastError != "" {
				s.Reason = r.LastError
			}
		}
	}
	return s
}

func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Metrics counts messages.
type Metrics struct {
	Sent    *prometheus.CounterVec
	Failed  *prometheus.CounterVec
	Skipped *prometheus.CounterVec
}

// NewMetrics returns the message counters, registered on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "booking_messages_sent_total",
			Help: "Messages the mail server accepted, by kind."}, []string{"kind"}),
		Failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "booking_messages_failed_total",
			Help: "Failed send attempts, by kind; permanent failures are not retried."}, []string{"kind", "permanent"}),
		Skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "booking_messages_skipped_total",
			Help: "Messages not sent because they were no longer true (or no SMTP server is configured), by kind."},
			[]string{"kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.Sent, m.Failed, m.Skipped)
	}
	return m
}

func (m *Metrics) sent(kind string) {
	if m != nil {
		m.Sent.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) failed(kind string, permanent bool) {
	if m != nil {
		m.Failed.WithLabelValues(kind, strconv.FormatBool(permanent)).Inc()
	}
}

func (m *Metrics) skipped(kind string) {
	if m != nil {
		m.Skipped.WithLabelValues(kind).Inc()
	}
}

// QueueAger reads how long the oldest message due to be sent has waited.
type QueueAger interface {
	OldestQueuedMessage(ctx context.Context) (time.Duration, error)
}

// OldestQueuedCollector exports that age as a gauge, read at each scrape
// (bounded by a short timeout; -1 when it cannot be read).
func OldestQueuedCollector(db QueueAger) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "booking_messages_oldest_queued_seconds",
		Help: "How long the oldest message due to be sent has waited (0: none waits; -1: unknown)."},
		func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			d, err := db.OldestQueuedMessage(ctx)
			if err != nil {
				return -1
			}
			return d.Seconds()
		})
}
