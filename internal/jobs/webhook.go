package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/mailer"
	"github.com/bookingplatform/booking/internal/webhook"
)

// QueueWebhooks is the River queue of outgoing webhook deliveries.
const QueueWebhooks = "webhooks"

// DeliveryMaxAttempts is how many times a delivery is tried: with
// DeliveryRetryBase doubling up to six hours between attempts, the last
// one is made a little over three days after the first.
const DeliveryMaxAttempts = 24

// DeliveryRetryBase is the wait after the first failed attempt.
const DeliveryRetryBase = 10 * time.Second

// deliveryRetryCap bounds the wait between two attempts.
const deliveryRetryCap = 6 * time.Hour

// DeliveryArgs is the delivery of one event to one endpoint. Body is the
// payload as signed and sent; every attempt (and "send again") sends the
// same event id, so a receiver applies it once.
type DeliveryArgs struct {
	EndpointID string          `json:"endpoint_id"`
	BookingID  string          `json:"booking_id,omitempty"`
	EventID    string          `json:"event_id"`
	Type       string          `json:"type"`
	Body       json.RawMessage `json:"body"`
}

// Kind is River's name of the job type.
func (DeliveryArgs) Kind() string { return "webhook_delivery" }

// InsertOpts puts deliveries on their queue.
func (DeliveryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhooks, MaxAttempts: DeliveryMaxAttempts}
}

// EndpointFailingArgs tells ADMIN that an endpoint has been failing for
// booking.WebhookFailingAfter.
type EndpointFailingArgs struct {
	EndpointID string    `json:"endpoint_id"`
	Since      time.Time `json:"since"`
}

// Kind is River's name of the job type.
func (EndpointFailingArgs) Kind() string { return "webhook_endpoint_failing" }

// InsertOpts sends the alert once per run of failures.
func (EndpointFailingArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMessages, MaxAttempts: MessageMaxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// newEventID returns a Standard Webhooks message id.
func newEventID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "msg_" + hex.EncodeToString(b)
}

// eventBody is the payload of an event: {id, type, timestamp, data}.
func eventBody(id, typ string, at time.Time, data any) (json.RawMessage, error) {
	return json.Marshal(struct {
		ID        string    `json:"id"`
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      any       `json:"data"`
	}{id, typ, at.UTC(), data})
}

// deliveryParams are the insert parameters of the delivery jobs of hooks,
// one event id per event whatever the number of endpoints.
func deliveryParams(hooks []booking.WebhookTarget, now time.Time) ([]river.InsertManyParams, error) {
	ids := map[string]string{}
	bodies := map[string]json.RawMessage{}
	out := make([]river.InsertManyParams, 0, len(hooks))
	for _, h := range hooks {
		key := h.Event.Type + "|" + h.Event.Booking.ID
		id, ok := ids[key]
		if !ok {
			id = newEventID()
			ids[key] = id
			b := h.Event.Booking
			b.UpdatedAt = now.UTC()
			body, err := eventBody(id, h.Event.Type, now, b)
			if err != nil {
				return nil, err
			}
			bodies[key] = body
		}
		out = append(out, river.InsertManyParams{Args: DeliveryArgs{EndpointID: h.EndpointID,
			BookingID: h.Event.Booking.ID, EventID: id, Type: h.Event.Type, Body: bodies[key]},
			InsertOpts: &river.InsertOpts{Metadata: bookingMetadata(h.Event.Booking.ID)}})
	}
	return out, nil
}

// DeliveryStore is what a delivery job reads and records.
type DeliveryStore interface {
	EndpointForDelivery(ctx context.Context, id string) (*booking.DeliveryEndpoint, error)
	EarlierDeliveryPending(ctx context.Context, endpointID, bookingID string, jobID int64) (bool, error)
	RecordDelivery(ctx context.Context, d *booking.WebhookDelivery) (bool, error)
	FindWebhookDelivery(ctx context.Context, id int64) (*booking.WebhookDelivery, error)
	FindWebhookEndpoint(ctx context.Context, id string) (*booking.WebhookEndpoint, error)
}

// DeliveryWorker delivers webhook events, in order per booking and
// endpoint.
type DeliveryWorker struct {
	river.WorkerDefaults[DeliveryArgs]
	Store  DeliveryStore
	Client *webhook.Client
	// RetryBase is the wait after a first failure (DeliveryRetryBase when
	// 0; tests shorten it). Waits double up to six hours.
	RetryBase time.Duration
	Now       func() time.Time
	Logger    *slog.Logger
	// Metrics counts attempts and times their round trips (nil: none).
	Metrics *DeliveryMetrics
}

// Timeout bounds one attempt (the client's own timeout is shorter).
func (w *DeliveryWorker) Timeout(*river.Job[DeliveryArgs]) time.Duration { return time.Minute }

// NextRetry doubles the wait from RetryBase, up to six hours.
func (w *DeliveryWorker) NextRetry(job *river.Job[DeliveryArgs]) time.Time {
	return time.Now().Add(retryDelay(w.RetryBase, job.Attempt))
}

func retryDelay(base time.Duration, attempt int) time.Duration {
	if base <= 0 {
		base = DeliveryRetryBase
	}
	d := base
	for i := 1; i < attempt && d < deliveryRetryCap; i++ {
		d *= 2
	}
	return min(d, deliveryRetryCap)
}

// Work makes one attempt. A delivery waits (snoozes, without using an
// attempt) while an earlier one of the same booking to the same endpoint is
// unfinished; a disabled endpoint's deliveries are cancelled; a 2xx answer
// delivers, anything else is retried.
func (w *DeliveryWorker) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	a := job.Args
	log := w.Logger.With("endpoint_id", a.EndpointID, "event_id", a.EventID, "event", a.Type, "job_id", job.ID)
	ep, err := w.Store.EndpointForDelivery(ctx, a.EndpointID)
	if booking.ErrorCode(err) == booking.ENotFound {
		w.Metrics.count(a.Type, ResultCancelled)
		return river.JobCancel(errors.New("endpoint deleted"))
	}
	if err != nil {
		return err
	}
	if !ep.Enabled {
		log.InfoContext(ctx, "webhook not sent", "why", "endpoint disabled")
		w.Metrics.count(a.Type, ResultCancelled)
		return river.JobCancel(errors.New("endpoint disabled"))
	}
	if a.BookingID != "" {
		pending, err := w.Store.EarlierDeliveryPending(ctx, a.EndpointID, a.BookingID, job.ID)
		if err != nil {
			return err
		}
		if pending {
			return river.JobSnooze(min(retryDelay(w.RetryBase, 1), time.Second))
		}
	}
	last := job.Attempt >= job.MaxAttempts
	d, marked, err := w.attempt(ctx, ep, a, job.ID, job.Attempt, last)
	if err != nil {
		return err
	}
	if marked {
		if _, err := river.ClientFromContext[pgx.Tx](ctx).Insert(ctx,
			EndpointFailingArgs{EndpointID: a.EndpointID, Since: d.CreatedAt}, nil); err != nil {
			log.WarnContext(ctx, "webhook endpoint failing: alert not queued", "err", err)
		}
	}
	if d.Status == booking.DeliveryDelivered {
		return nil
	}
	return fmt.Errorf("webhook delivery failed: %s", d.Error)
}

// attempt sends a once, counts it and logs it; last says no retry follows
// a failure.
func (w *DeliveryWorker) attempt(ctx context.Context, ep *booking.DeliveryEndpoint, a DeliveryArgs, jobID int64,
	n int, last bool,
) (*booking.WebhookDelivery, bool, error) {
	res := w.Client.Send(ctx, webhook.Message{URL: ep.URL, Secret: ep.Secret, ID: a.EventID, Timestamp: w.Now(),
		Body: a.Body})
	d := &booking.WebhookDelivery{EndpointID: a.EndpointID, JobID: jobID, EventID: a.EventID, EventType: a.Type,
		Attempt: n, Status: booking.DeliveryFailed, HTTPStatus: res.Status, LatencyMS: int(res.Latency.Milliseconds()),
		Response: res.Response, CreatedAt: w.Now().UTC(), Body: a.Body}
	if a.BookingID != "" {
		d.BookingID = &a.BookingID
	}
	switch {
	case res.Err != nil:
		d.Error = res.Err.Error()
	case res.Delivered():
		d.Status = booking.DeliveryDelivered
	default:
		d.Error = fmt.Sprintf("answered %d", res.Status)
	}
	// Counted before it is recorded: the receiver got it either way.
	w.Metrics.attempted(a.Type, &res, last)
	marked, err := w.Store.RecordDelivery(ctx, d)
	if err != nil {
		return nil, false, err
	}
	w.Logger.InfoContext(ctx, "webhook attempt", "endpoint_id", a.EndpointID, "event_id", a.EventID,
		"event", a.Type, "status", d.Status, "http_status", d.HTTPStatus, "latency_ms", d.LatencyMS, "attempt", n)
	return d, marked, nil
}

// EndpointFailingWorker emails ADMIN (STAFF_NOTIFY_EMAIL) that an endpoint
// has failed for a day; its deliveries keep queuing.
type EndpointFailingWorker struct {
	river.WorkerDefaults[EndpointFailingArgs]
	Store      DeliveryStore
	Sender     Sender
	StaffEmail string
	AppURL     string
	Logger     *slog.Logger
}

// Work sends the alert.
func (w *EndpointFailingWorker) Work(ctx context.Context, job *river.Job[EndpointFailingArgs]) error {
	if w.Sender == nil || w.StaffEmail == "" {
		w.Logger.WarnContext(ctx, "webhook endpoint failing; no alert sent (no SMTP_URL or STAFF_NOTIFY_EMAIL)",
			"endpoint_id", job.Args.EndpointID)
		return nil
	}
	ep, err := w.Store.FindWebhookEndpoint(ctx, job.Args.EndpointID)
	if booking.ErrorCode(err) == booking.ENotFound {
		return nil
	}
	if err != nil {
		return err
	}
	text := fmt.Sprintf("The webhook endpoint %s has failed every delivery since %s.\n\n"+
		"Its deliveries keep queuing and are retried for three days each; nothing is disabled.\n"+
		"See its delivery log at %s/api/admin/webhook-endpoints/%s/deliveries, fix the receiver, "+
		"or disable the endpoint (PATCH {\"enabled\": false}).\n",
		ep.URL, job.Args.Since.UTC().Format(time.RFC3339), w.AppURL, ep.ID)
	m := &mailer.Message{ID: "webhook-failing." + ep.ID + "." + job.Args.Since.UTC().Format("20060102T150405"),
		To: w.StaffEmail, Subject: "Webhook endpoint failing: " + ep.URL, Text: text}
	if err := w.Sender.Send(ctx, m); err != nil {
		if mailer.IsPermanent(err) {
			return river.JobCancel(err)
		}
		return err
	}
	return nil
}

// WebhookDesk sends test events and sends logged deliveries again
// (booking.WebhookSender).
type WebhookDesk struct {
	Queue    *Queue
	Store    DeliveryStore
	Delivery *DeliveryWorker
}

// SendTest sends a webhook.test event to an endpoint now, whether it is
// enabled or not, and logs the attempt. Errors: not_found, unavailable.
func (d *WebhookDesk) SendTest(ctx context.Context, endpointID string) (*booking.WebhookDelivery, error) {
	if !booking.IsUUID(endpointID) {
		return nil, booking.Errorf(booking.ENotFound, "Webhook endpoint not found.")
	}
	ep, err := d.Store.EndpointForDelivery(ctx, endpointID)
	if err != nil {
		return nil, err
	}
	id := newEventID()
	body, err := eventBody(id, booking.EventWebhookTest, d.Delivery.Now(), map[string]string{
		"message": "A test event from the booking platform.", "endpointId": endpointID})
	if err != nil {
		return nil, err
	}
	out, _, err := d.Delivery.attempt(ctx, ep, DeliveryArgs{EndpointID: endpointID, EventID: id,
		Type: booking.EventWebhookTest, Body: body}, 0, 1, false)
	return out, err
}

// Resend queues a logged delivery again, with its event id and body.
// Errors: not_found, unavailable.
func (d *WebhookDesk) Resend(ctx context.Context, deliveryID int64) (int64, error) {
	old, err := d.Store.FindWebhookDelivery(ctx, deliveryID)
	if err != nil {
		return 0, err
	}
	a := DeliveryArgs{EndpointID: old.EndpointID, EventID: old.EventID, Type: old.EventType, Body: old.Body}
	var opts *river.InsertOpts
	if old.BookingID != nil {
		a.BookingID = *old.BookingID
		opts = &river.InsertOpts{Metadata: bookingMetadata(a.BookingID)}
	}
	res, err := d.Queue.Client.Insert(ctx, a, opts)
	if err != nil {
		return 0, fmt.Errorf("queue delivery: %w", err)
	}
	return res.Job.ID, nil
}

// Results of a delivery attempt, the result label of
// booking_webhook_deliveries_total.
const (
	// ResultDelivered: the receiver answered 2xx.
	ResultDelivered = "delivered"
	// ResultFailed: a non-2xx answer, a timeout or a refused or failed
	// connection; the delivery is retried (a test event is not).
	ResultFailed = "failed"
	// ResultGivenUp: the last attempt failed; River discards the job and
	// only "send again" from the log delivers the event now.
	ResultGivenUp = "given_up"
	// ResultCancelled: not sent, the endpoint being disabled or deleted.
	ResultCancelled = "cancelled"
)

// DeliveryMetrics counts outgoing webhook deliveries.
type DeliveryMetrics struct {
	Deliveries *prometheus.CounterVec
	Seconds    prometheus.Histogram
}

// NewDeliveryMetrics returns the delivery metrics, registered on reg.
func NewDeliveryMetrics(reg prometheus.Registerer) *DeliveryMetrics {
	m := &DeliveryMetrics{
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "booking_webhook_deliveries_total",
			Help: "Outgoing webhook delivery attempts, by event type and result (delivered, failed: retried, " +
				"given_up: the last attempt failed, cancelled: endpoint disabled or deleted)."},
			[]string{"event", "result"}),
		Seconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "booking_webhook_delivery_seconds",
			Help:    "Round trip of an outgoing webhook request, connect to answer (or to the error or timeout).",
			Buckets: []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15}}),
	}
	if reg != nil {
		reg.MustRegister(m.Deliveries, m.Seconds)
	}
	return m
}

func (m *DeliveryMetrics) count(event, result string) {
	if m != nil {
		m.Deliveries.WithLabelValues(event, result).Inc()
	}
}

// attempted counts an attempt that got res; last says no retry follows a
// failure. An attempt that made no request (a secret or URL that cannot
// be used) has no round trip to time.
func (m *DeliveryMetrics) attempted(event string, res *webhook.Result, last bool) {
	if m == nil {
		return
	}
	switch {
	case res.Delivered():
		m.count(event, ResultDelivered)
	case last:
		m.count(event, ResultGivenUp)
	default:
		m.count(event, ResultFailed)
	}
	if res.Latency > 0 {
		m.Seconds.Observe(res.Latency.Seconds())
	}
}

// WebhookBacklogReader reads the figures of the outgoing webhook gauges.
type WebhookBacklogReader interface {
	// WebhookBacklog returns the number of enabled endpoints marked
	// failing and how long the oldest delivery not yet made has waited
	// since it was queued.
	WebhookBacklog(ctx context.Context) (failing int, oldest time.Duration, err error)
}

// WebhookBacklogCollector exports booking_webhook_endpoints_failing and
// booking_webhook_oldest_pending_seconds, read at each scrape in one
// statement (bounded by a short timeout; -1 both when it cannot be read).
func WebhookBacklogCollector(db WebhookBacklogReader) prometheus.Collector {
	return &backlogCollector{db: db,
		failing: prometheus.NewDesc("booking_webhook_endpoints_failing",
			"Enabled webhook endpoints marked failing: every attempt failed for a day (-1: unknown).", nil, nil),
		oldest: prometheus.NewDesc("booking_webhook_oldest_pending_seconds",
			"How long the oldest webhook delivery not yet made (queued, waiting its turn or retried) has waited "+
				"since it was queued (0: none waits; -1: unknown).", nil, nil),
	}
}

type backlogCollector struct {
	db              WebhookBacklogReader
	failing, oldest *prometheus.Desc
}

func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.failing
	ch <- c.oldest
}

func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	failing, oldest, err := c.db.WebhookBacklog(ctx)
	f, o := float64(failing), oldest.Seconds()
	if err != nil {
		f, o = -1, -1
	}
	ch <- prometheus.MustNewConstMetric(c.failing, prometheus.GaugeValue, f)
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, o)
}
