package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/booking"
)

// Outgoing webhooks (docs/adr/0010): endpoints, the log of delivery
// attempts, and what a delivery job reads. The delivery jobs themselves are
// River jobs inserted with the notices of a change (enqueueChange).

const webhookEndpointColumns = `e.id::text, e.url, e.events, e.enabled, e.failing_at IS NOT NULL, e.failing_since,
    e.created_at, e.updated_at`

func scanWebhookEndpoint(row pgx.CollectableRow) (booking.WebhookEndpoint, error) {
	var e booking.WebhookEndpoint
	err := row.Scan(&e.ID, &e.URL, &e.Events, &e.Enabled, &e.Failing, &e.FailingSince, &e.CreatedAt, &e.UpdatedAt)
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	if e.FailingSince != nil {
		t := e.FailingSince.UTC()
		e.FailingSince = &t
	}
	return e, err
}

func endpointError(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return booking.Errorf(booking.ENotFound, "Webhook endpoint not found.")
	}
	return interpretError(err)
}

const (
	createWebhookEndpointSQL = `
INSERT INTO webhook_endpoints AS e (url, events, secret, created_by) VALUES ($1, $2, $3, $4)
RETURNING ` + webhookEndpointColumns
	listWebhookEndpointsSQL  = `SELECT ` + webhookEndpointColumns + ` FROM webhook_endpoints e ORDER BY e.created_at, e.id`
	findWebhookEndpointSQL   = `SELECT ` + webhookEndpointColumns + ` FROM webhook_endpoints e WHERE e.id = $1`
	updateWebhookEndpointSQL = `
UPDATE webhook_endpoints AS e SET url = coalesce($2, url), events = coalesce($3, events),
    enabled = coalesce($4, enabled), updated_at = now()
WHERE e.id = $1
RETURNING ` + webhookEndpointColumns
	// enabledEndpointsSQL reads, inside the transaction of a change, the
	// endpoints its events may go to. webhook_endpoints holds a handful of
	// rows set by ADMIN; with none, the statement costs a scan of an empty
	// table in a pipeline the change sends anyway.
	enabledEndpointsSQL = `SELECT e.id::text, e.events FROM webhook_endpoints e WHERE e.enabled`
)

// CreateWebhookEndpoint stores an endpoint with its secret. Errors:
// unavailable.
func (db *DB) CreateWebhookEndpoint(ctx context.Context, n booking.NewWebhookEndpoint, secret, createdBy string) (*booking.WebhookEndpoint, error) {
	var by any
	if booking.IsUUID(createdBy) {
		by = createdBy
	}
	rows, _ := db.Pool.Query(ctx, createWebhookEndpointSQL, n.URL, n.Events, secret, by)
	e, err := pgx.CollectExactlyOneRow(rows, scanWebhookEndpoint)
	if err != nil {
		return nil, endpointError(err)
	}
	return &e, nil
}

// ListWebhookEndpoints returns every endpoint, oldest first.
func (db *DB) ListWebhookEndpoints(ctx context.Context) ([]booking.WebhookEndpoint, error) {
	rows, _ := db.Pool.Query(ctx, listWebhookEndpointsSQL)
	out, err := pgx.CollectRows(rows, scanWebhookEndpoint)
	if out == nil {
		out = []booking.WebhookEndpoint{}
	}
	return out, interpretError(err)
}

// FindWebhookEndpoint returns an endpoint. Errors: not_found.
func (db *DB) FindWebhookEndpoint(ctx context.Context, id string) (*booking.WebhookEndpoint, error) {
	if !booking.IsUUID(id) {
		return nil, endpointError(pgx.ErrNoRows)
	}
	rows, _ := db.Pool.Query(ctx, findWebhookEndpointSQL, id)
	e, err := pgx.CollectExactlyOneRow(rows, scanWebhookEndpoint)
	if err != nil {
		return nil, endpointError(err)
	}
	return &e, nil
}

// UpdateWebhookEndpoint changes an endpoint. Errors: not_found.
func (db *DB) UpdateWebhookEndpoint(ctx context.Context, id string, p booking.WebhookEndpointPatch) (*booking.WebhookEndpoint, error) {
	if !booking.IsUUID(id) {
		return nil, endpointError(pgx.ErrNoRows)
	}
	var events any
	if p.Events != nil {
		events = *p.Events
	}
	rows, _ := db.Pool.Query(ctx, updateWebhookEndpointSQL, id, p.URL, events, p.Enabled)
	e, err := pgx.CollectExactlyOneRow(rows, scanWebhookEndpoint)
	if err != nil {
		return nil, endpointError(err)
	}
	return &e, nil
}

// readEndpoints reads the rows of enabledEndpointsSQL.
func readEndpoints(rows pgx.Rows) ([]booking.WebhookEndpoint, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (booking.WebhookEndpoint, error) {
		e := booking.WebhookEndpoint{Enabled: true}
		err := row.Scan(&e.ID, &e.Events)
		return e, err
	})
}

// Delivery jobs.

const (
	// endpointForDeliverySQL: what a delivery job needs of its endpoint.
	endpointForDeliverySQL = `SELECT e.url, e.secret, e.enabled FROM webhook_endpoints e WHERE e.id = $1`
	// earlierDeliveryPendingSQL: whether an earlier delivery job of the same
	// booking to the same endpoint has not finished (order per booking and
	// endpoint), by river_job_webhook_pending_idx (migration 00022).
	earlierDeliveryPendingSQL = `
SELECT EXISTS (SELECT 1 FROM river_job
WHERE kind = 'webhook_delivery' AND state IN ('available', 'scheduled', 'pending', 'running', 'retryable')
  AND args ->> 'endpoint_id' = $1::text AND args ->> 'booking_id' = $2::text AND id < $3)`
	recordDeliverySQL = `
INSERT INTO webhook_deliveries (endpoint_id, job_id, event_id, event_type, booking_id, attempt, status, http_status,
    latency_ms, response, error, body, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
RETURNING id`
	// endpointSucceededSQL ends a run of failures (writes only when there is
	// one).
	endpointSucceededSQL = `
UPDATE webhook_endpoints SET failing_since = NULL, failing_at = NULL
WHERE id = $1 AND (failing_since IS NOT NULL OR failing_at IS NOT NULL)`
	// endpointFailedSQL starts or extends a run of failures and marks the
	// endpoint failing once the run is $3 long; it returns true only to the
	// attempt that marked it (the row is locked and read before, as one
	// statement cannot see its own update), so ADMIN is told once per run.
	endpointFailedSQL = `
UPDATE webhook_endpoints e SET failing_since = coalesce(o.failing_since, $2),
    failing_at = CASE WHEN o.failing_at IS NULL AND coalesce(o.failing_since, $2) <= $2 - $3::interval
        THEN $2 ELSE o.failing_at END
FROM (SELECT id, failing_since, failing_at FROM webhook_endpoints WHERE id = $1 FOR UPDATE) o
WHERE e.id = o.id
RETURNING o.failing_at IS NULL AND e.failing_at IS NOT NULL`
	deliveryColumns = `d.id, d.endpoint_id::text, coalesce(d.job_id, 0), d.event_id, d.event_type, d.booking_id::text,
    d.attempt, d.status, coalesce(d.http_status, 0), d.latency_ms, d.response, d.error, d.created_at, d.body`
	listWebhookDeliveriesSQL = `SELECT ` + deliveryColumns + ` FROM webhook_deliveries d
WHERE d.endpoint_id = $1 ORDER BY d.id DESC LIMIT $2`
	findWebhookDeliverySQL = `SELECT ` + deliveryColumns + ` FROM webhook_deliveries d WHERE d.id = $1`
	// webhookBacklogSQL: the enabled endpoints marked failing, and how long
	// the oldest delivery not yet made (queued, snoozed behind an earlier
	// one, running or waiting for its next attempt) has waited since it was
	// queued (0 when none is), for the metrics.
	webhookBacklogSQL = `
SELECT (SELECT count(*) FROM webhook_endpoints WHERE enabled AND failing_at IS NOT NULL)::int,
    (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 FROM river_job
     WHERE state IN ('available', 'scheduled', 'pending', 'running', 'retryable') AND queue = 'webhooks'
       AND kind = 'webhook_delivery')`
)

// EndpointForDelivery reads an endpoint's URL and secret. Errors: not_found.
func (db *DB) EndpointForDelivery(ctx context.Context, id string) (*booking.DeliveryEndpoint, error) {
	var e booking.DeliveryEndpoint
	err := db.Pool.QueryRow(ctx, endpointForDeliverySQL, id).Scan(&e.URL, &e.Secret, &e.Enabled)
	if err != nil {
		return nil, endpointError(err)
	}
	return &e, nil
}

// EarlierDeliveryPending reports whether a delivery job of the same booking
// and endpoint inserted before job jobID has not finished yet.
func (db *DB) EarlierDeliveryPending(ctx context.Context, endpointID, bookingID string, jobID int64) (bool, error) {
	var pending bool
	err := db.Pool.QueryRow(ctx, earlierDeliveryPendingSQL, endpointID, bookingID, jobID).Scan(&pending)
	return pending, interpretError(err)
}

// RecordDelivery logs an attempt and keeps the endpoint's run of failures:
// it returns true when this failure made the endpoint failing (the run
// reached booking.WebhookFailingAfter), so that ADMIN is told once.
func (db *DB) RecordDelivery(ctx context.Context, d *booking.WebhookDelivery) (bool, error) {
	var bookingID any
	if d.BookingID != nil {
		bookingID = *d.BookingID
	}
	var status any
	if d.HTTPStatus != 0 {
		status = d.HTTPStatus
	}
	var jobID any
	if d.JobID != 0 {
		jobID = d.JobID
	}
	var marked bool
	err := db.Transact(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, recordDeliverySQL, d.EndpointID, jobID, d.EventID, d.EventType, bookingID, d.Attempt,
			d.Status, status, d.LatencyMS, d.Response, d.Error, d.Body, d.CreatedAt).Scan(&d.ID)
		if err != nil {
			return err
		}
		if d.Status == booking.DeliveryDelivered {
			_, err = tx.Exec(ctx, endpointSucceededSQL, d.EndpointID)
			return err
		}
		err = tx.QueryRow(ctx, endpointFailedSQL, d.EndpointID, d.CreatedAt, booking.WebhookFailingAfter).Scan(&marked)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	return marked, err
}

func scanDelivery(row pgx.CollectableRow) (booking.WebhookDelivery, error) {
	var d booking.WebhookDelivery
	err := row.Scan(&d.ID, &d.EndpointID, &d.JobID, &d.EventID, &d.EventType, &d.BookingID, &d.Attempt, &d.Status,
		&d.HTTPStatus, &d.LatencyMS, &d.Response, &d.Error, &d.CreatedAt, &d.Body)
	d.CreatedAt = d.CreatedAt.UTC()
	return d, err
}

// ListWebhookDeliveries returns an endpoint's latest attempts, newest first.
func (db *DB) ListWebhookDeliveries(ctx context.Context, endpointID string, limit int) ([]booking.WebhookDelivery, error) {
	rows, _ := db.Pool.Query(ctx, listWebhookDeliveriesSQL, endpointID, limit)
	out, err := pgx.CollectRows(rows, scanDelivery)
	if out == nil {
		out = []booking.WebhookDelivery{}
	}
	return out, interpretError(err)
}

// FindWebhookDelivery returns a logged attempt. Errors: not_found.
func (db *DB) FindWebhookDelivery(ctx context.Context, id int64) (*booking.WebhookDelivery, error) {
	rows, _ := db.Pool.Query(ctx, findWebhookDeliverySQL, id)
	d, err := pgx.CollectExactlyOneRow(rows, scanDelivery)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, booking.Errorf(booking.ENotFound, "Delivery not found.")
	}
	if err != nil {
		return nil, interpretError(err)
	}
	return &d, nil
}

// WebhookBacklog returns the number of enabled endpoints marked failing
// and how long the oldest delivery not yet made has waited since it was
// queued.
func (db *DB) WebhookBacklog(ctx context.Context) (failing int, oldest time.Duration, err error) {
	var secs float64
	err = db.Pool.QueryRow(ctx, webhookBacklogSQL).Scan(&failing, &secs)
	return failing, time.Duration(secs * float64(time.Second)), interpretError(err)
}
