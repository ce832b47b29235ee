package booking

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Outgoing webhook event types (docs/adr/0010). EventBookingCreated is sent
// only to endpoints that ask for it: a hold that is never paid is noise to
// most receivers.
const (
	EventBookingCreated     = "booking.created"
	EventBookingConfirmed   = "booking.confirmed"
	EventBookingCancelled   = "booking.cancelled"
	EventBookingRefunded    = "booking.refunded"
	EventBookingRescheduled = "booking.rescheduled"
	EventBookingNeedsReview = "booking.needs_review"
	EventPaymentDisputed    = "payment.disputed"
	// EventWebhookTest is the type of the event "send test event" sends; no
	// endpoint subscribes to it.
	EventWebhookTest = "webhook.test"
)

// WebhookEventTypes are the event types an endpoint may subscribe to.
var WebhookEventTypes = []string{EventBookingCreated, EventBookingConfirmed, EventBookingCancelled,
	EventBookingRefunded, EventBookingRescheduled, EventBookingNeedsReview, EventPaymentDisputed}

// WebhookFailingAfter is how long an endpoint fails without a break before
// it is marked failing and ADMIN is told. It is never disabled for it.
const WebhookFailingAfter = 24 * time.Hour

// A WebhookEvent is an outgoing event a change of a booking causes, with
// the booking as the API returns it once the change is made.
type WebhookEvent struct {
	Type    string
	Booking Booking
}

// WebhookEvents returns the outgoing events plan p causes for the booking
// in st, with the booking as it is before p; like Notices, it reads what
// the plan does and decides nothing:
//   - entering confirmed, cancelled, refunded or needs_review: the event of
//     that status;
//   - a reschedule: booking.rescheduled;
//   - a new dispute: payment.disputed.
func WebhookEvents(st *State, p *Plan) []WebhookEvent {
	after := st.Booking
	if p.After != nil {
		after.Status = p.After.Status
	}
	if r := p.Reschedule; r != nil {
		after.StartsAt, after.EndsAt, after.Sequence = r.StartsAt.UTC(), r.EndsAt.UTC(), after.Sequence+1
	}
	var out []WebhookEvent
	if after.Status != st.Booking.Status {
		switch after.Status {
		case StatusConfirmed:
			out = append(out, WebhookEvent{Type: EventBookingConfirmed})
		case StatusCancelled:
			out = append(out, WebhookEvent{Type: EventBookingCancelled})
		case StatusRefunded:
			out = append(out, WebhookEvent{Type: EventBookingRefunded})
		case StatusNeedsReview:
			out = append(out, WebhookEvent{Type: EventBookingNeedsReview})
		}
	}
	if p.Reschedule != nil {
		out = append(out, WebhookEvent{Type: EventBookingRescheduled})
	}
	if p.Dispute != nil {
		out = append(out, WebhookEvent{Type: EventPaymentDisputed})
	}
	for i := range out {
		out[i].Booking = after
	}
	return out
}

// WebhookEndpoint is a receiver of outgoing webhooks.
type WebhookEndpoint struct {
	ID      string   `json:"id"`
	URL     string   `json:"url"`
	Events  []string `json:"events"`
	Enabled bool     `json:"enabled"`
	// Failing is set when deliveries failed without a break for
	// WebhookFailingAfter; FailingSince is the first failure of the current
	// run of failures. A success clears both.
	Failing      bool       `json:"failing"`
	FailingSince *time.Time `json:"failingSince"`
	CreatedAt    time.Time  `json:"createdAt"`
	UpdatedAt    time.Time  `json:"updatedAt"`
}

// Subscribes reports whether e is enabled and takes events of type typ.
func (e *WebhookEndpoint) Subscribes(typ string) bool {
	return e.Enabled && slices.Contains(e.Events, typ)
}

// DeliveryEndpoint is what a delivery needs of its endpoint, secret
// included; never shown.
type DeliveryEndpoint struct {
	URL, Secret string
	Enabled     bool
}

// NewWebhookEndpoint is what ADMIN sends to register an endpoint.
type NewWebhookEndpoint struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

// WebhookEndpointPatch changes an endpoint; nil fields stay.
type WebhookEndpointPatch struct {
	URL     *string   `json:"url"`
	Events  *[]string `json:"events"`
	Enabled *bool     `json:"enabled"`
}

// WebhookDelivery is one attempt to deliver an event to an endpoint, as the
// delivery log shows it.
type WebhookDelivery struct {
	ID         int64     `json:"id"`
	EndpointID string    `json:"endpointId"`
	JobID      int64     `json:"jobId,omitempty"`
	EventID    string    `json:"eventId"`
	EventType  string    `json:"eventType"`
	BookingID  *string   `json:"bookingId"`
	Attempt    int       `json:"attempt"`
	Status     string    `json:"status"` // delivered, failed
	HTTPStatus int       `json:"httpStatus,omitempty"`
	LatencyMS  int       `json:"latencyMs"`
	Response   string    `json:"response"` // at most 1 KB of the answer
	Error      string    `json:"error,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	// Body is the payload that was signed and sent.
	Body []byte `json:"-"`
}

// Delivery statuses.
const (
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// WebhookStore keeps endpoints and the delivery log.
type WebhookStore interface {
	CreateWebhookEndpoint(ctx context.Context, n NewWebhookEndpoint, secret, createdBy string) (*WebhookEndpoint, error)
	ListWebhookEndpoints(ctx context.Context) ([]WebhookEndpoint, error)
	FindWebhookEndpoint(ctx context.Context, id string) (*WebhookEndpoint, error)
	UpdateWebhookEndpoint(ctx context.Context, id string, p WebhookEndpointPatch) (*WebhookEndpoint, error)
	ListWebhookDeliveries(ctx context.Context, endpointID string, limit int) ([]WebhookDelivery, error)
}

// WebhookSender sends a test event now and queues a logged delivery again
// (internal/jobs).
type WebhookSender interface {
	SendTest(ctx context.Context, endpointID string) (*WebhookDelivery, error)
	Resend(ctx context.Context, deliveryID int64) (jobID int64, err error)
}

// Webhooks is ADMIN's management of outgoing webhooks.
type Webhooks struct {
	Store  WebhookStore
	Sender WebhookSender
	// CheckURL refuses a URL the delivery client would refuse (in
	// production: an address that is private, loopback, link-local… and
	// not in WEBHOOK_ALLOWED_NETWORKS); nil checks only the shape.
	CheckURL func(ctx context.Context, u string) error
}

// NewWebhookSecret returns a signing secret: whsec_ and the base64 of 32
// random bytes (Standard Webhooks).
func NewWebhookSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func (w *Webhooks) checkURL(ctx context.Context, raw string, v ValidationError) {
	u, err := url.Parse(raw)
	switch {
	case raw == "" || len(raw) > 2000:
		v.Add("url", "Must be an http or https URL of at most 2000 characters.")
		return
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil:
		v.Add("url", "Must be an http or https URL without user information.")
		return
	}
	if w.CheckURL != nil {
		if err := w.CheckURL(ctx, raw); err != nil {
			v.Add("url", "This address is not allowed: "+err.Error()+".")
		}
	}
}

func checkEvents(events []string, v ValidationError) []string {
	if len(events) == 0 {
		v.Add("events", "Choose at least one event.")
		return nil
	}
	var out []string
	for _, e := range events {
		e = strings.TrimSpace(e)
		if !slices.Contains(WebhookEventTypes, e) {
			v.Add("events", "Unknown event "+e+"; events are "+strings.Join(WebhookEventTypes, ", ")+".")
			return nil
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

// Create registers an endpoint and returns it with its secret, which is
// shown this once. Errors: validation_failed, unavailable.
func (w *Webhooks) Create(ctx context.Context, n NewWebhookEndpoint, by *Staff) (*WebhookEndpoint, string, error) {
	v := ValidationError{}
	n.URL = strings.TrimSpace(n.URL)
	w.checkURL(ctx, n.URL, v)
	n.Events = checkEvents(n.Events, v)
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	secret := NewWebhookSecret()
	var createdBy string
	if by != nil {
		createdBy = by.ID
	}
	e, err := w.Store.CreateWebhookEndpoint(ctx, n, secret, createdBy)
	if err != nil {
		return nil, "", err
	}
	return e, secret, nil
}

// List returns every endpoint, oldest first.
func (w *Webhooks) List(ctx context.Context) ([]WebhookEndpoint, error) {
	return w.Store.ListWebhookEndpoints(ctx)
}

// Update enables, disables or changes an endpoint. Errors: not_found,
// validation_failed, unavailable.
func (w *Webhooks) Update(ctx context.Context, id string, p WebhookEndpointPatch) (*WebhookEndpoint, error) {
	v := ValidationError{}
	if p.URL != nil {
		u := strings.TrimSpace(*p.URL)
		p.URL = &u
		w.checkURL(ctx, u, v)
	}
	if p.Events != nil {
		ev := checkEvents(*p.Events, v)
		p.Events = &ev
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return w.Store.UpdateWebhookEndpoint(ctx, id, p)
}

// Deliveries returns the latest delivery attempts of an endpoint, newest
// first. Errors: not_found, unavailable.
func (w *Webhooks) Deliveries(ctx context.Context, endpointID string, limit int) ([]WebhookDelivery, error) {
	if _, err := w.Store.FindWebhookEndpoint(ctx, endpointID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	return w.Store.ListWebhookDeliveries(ctx, endpointID, limit)
}

// SendTest sends a test event to an endpoint now and returns the attempt.
// Errors: not_found, unavailable.
func (w *Webhooks) SendTest(ctx context.Context, endpointID string) (*WebhookDelivery, error) {
	return w.Sender.SendTest(ctx, endpointID)
}

// Resend queues a logged delivery again, with the same event id and body
// (a receiver that has it already ignores it). Errors: not_found,
// unavailable.
func (w *Webhooks) Resend(ctx context.Context, deliveryID int64) (int64, error) {
	return w.Sender.Resend(ctx, deliveryID)
}

// WebhookTarget is an event to deliver to one endpoint.
type WebhookTarget struct {
	EndpointID string
	Event      WebhookEvent
}

// WebhookTargets pairs each event with every enabled endpoint that takes
// its type.
func WebhookTargets(events []WebhookEvent, endpoints []WebhookEndpoint) []WebhookTarget {
	var out []WebhookTarget
	for _, ev := range events {
		for i := range endpoints {
			if endpoints[i].Subscribes(ev.Type) {
				out = append(out, WebhookTarget{EndpointID: endpoints[i].ID, Event: ev})
			}
		}
	}
	return out
}
