package httpapi

import (
	"net/http"
	"strconv"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
)

// Outgoing webhooks (docs/adr/0010), for ADMIN. The endpoint's secret is in
// the answer to its creation only and is never logged.

// handleWebhookEndpoints lists the endpoints.
func (s *Server) handleWebhookEndpoints(w http.ResponseWriter, r *http.Request) error {
	items, err := s.Webhooks.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listAnswer[booking.WebhookEndpoint]{Items: items, Meta: listMeta{Count: len(items)}})
	return nil
}

// handleWebhookEndpointCreate registers an endpoint; its secret is in this
// answer only.
func (s *Server) handleWebhookEndpointCreate(w http.ResponseWriter, r *http.Request) error {
	var in booking.NewWebhookEndpoint
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	e, secret, err := s.Webhooks.Create(r.Context(), in, auth.StaffFrom(r.Context()))
	if err != nil {
		return err
	}
	s.staffLog(r, "webhook_endpoint.create", "endpoint_id", e.ID, "events", e.Events)
	writeJSON(w, http.StatusCreated, map[string]any{"endpoint": e, "secret": secret})
	return nil
}

// handleWebhookEndpointUpdate enables, disables or changes an endpoint.
func (s *Server) handleWebhookEndpointUpdate(w http.ResponseWriter, r *http.Request) error {
	var in booking.WebhookEndpointPatch
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	e, err := s.Webhooks.Update(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	s.staffLog(r, "webhook_endpoint.update", "endpoint_id", e.ID, "enabled", e.Enabled, "events", e.Events)
	writeJSON(w, http.StatusOK, map[string]any{"endpoint": e})
	return nil
}

// handleWebhookDeliveries lists an endpoint's latest delivery attempts.
func (s *Server) handleWebhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	v := booking.ValidationError{}
	limit := parseLimit(r.URL.Query(), v)
	if err := v.Err(); err != nil {
		return err
	}
	items, err := s.Webhooks.Deliveries(r.Context(), r.PathValue("id"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listAnswer[booking.WebhookDelivery]{Items: items, Meta: listMeta{Count: len(items)}})
	return nil
}

// handleWebhookEndpointTest sends a test event now and answers with the
// attempt (delivered or not: the answer is 200 either way).
func (s *Server) handleWebhookEndpointTest(w http.ResponseWriter, r *http.Request) error {
	d, err := s.Webhooks.SendTest(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	s.staffLog(r, "webhook_endpoint.test", "endpoint_id", d.EndpointID, "status", d.Status)
	writeJSON(w, http.StatusOK, map[string]any{"delivery": d})
	return nil
}

// handleWebhookDeliveryRetry queues a logged delivery again ("send again").
func (s *Server) handleWebhookDeliveryRetry(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return booking.Errorf(booking.ENotFound, "Delivery not found.")
	}
	jobID, err := s.Webhooks.Resend(r.Context(), id)
	if err != nil {
		return err
	}
	s.staffLog(r, "webhook_delivery.retry", "delivery_id", id, "job_id", jobID)
	writeJSON(w, http.StatusAccepted, map[string]any{"deliveryId": id, "jobId": jobID})
	return nil
}
