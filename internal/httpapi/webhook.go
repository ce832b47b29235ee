package httpapi

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/payment"
)

// webhookBodyLimit caps webhook bodies (SPEC §4); Stripe events are far smaller.
const webhookBodyLimit = 1 << 20

// webhookTimeout bounds the processing of one event; Stripe counts a slow
// answer as a failure and retries.
const webhookTimeout = 10 * time.Second

type webhookAnswer struct {
	Received bool   `json:"received"`
	Outcome  string `json:"outcome"`
}

// handleWebhook implements the acknowledgement policy of SPEC §5: 400 for
// anything that does not verify, 200 with the outcome once the event is in
// the ledger, 500 (nothing written) when processing fails so Stripe retries.
// Validly signed requests are never throttled.
func (s *Server) handleWebhook(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, webhookBodyLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.Metrics.webhookOutcome("rejected")
			s.WriteError(w, r, booking.Errorf(booking.EBodyTooLarge, "The body is larger than 1 MiB."))
			return
		}
		s.Metrics.webhookOutcome("rejected")
		s.WriteError(w, r, booking.Errorf(booking.EInvalidJSON, "The body could not be read."))
		return
	}
	s.Metrics.Received.Add(1)
	ev, err := s.Verifier.Verify(payload, r.Header.Get("Stripe-Signature"))
	if err != nil {
		s.Metrics.webhookOutcome("rejected")
		// Only requests that fail the signature check count towards the flood
		// limit: a validly signed request is never throttled.
		if errors.Is(err, payment.ErrSignature) {
			if ok, wait := s.WebhookFlood.Allow(s.clientAddr(r)); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
				s.WriteError(w, r, booking.Errorf(booking.ERateLimited, "Too many invalid webhook requests."))
				return
			}
		}
		code, msg := "invalid_signature", "The Stripe signature is missing, invalid or too old."
		if errors.Is(err, payment.ErrPayload) {
			code, msg = "invalid_payload", "The event payload could not be parsed."
		}
		s.Logger.WarnContext(ctx, "webhook rejected", "request_id", RequestID(ctx), "reason", code, "err", err)
		writeJSON(w, http.StatusBadRequest, errorBody{Error: code, Message: msg, RequestID: RequestID(ctx)})
		return
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), webhookTimeout)
	defer cancel()
	res, err := s.Fulfiller.HandleEvent(pctx, ev)
	if err != nil {
		s.Metrics.webhookOutcome("error")
		s.Logger.ErrorContext(ctx, "webhook processing failed", "request_id", RequestID(ctx),
			"event_id", ev.ID, "event_type", ev.Type, "session_id", ev.SessionID, "err", err)
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: booking.EInternal,
			Message: "The event could not be processed; it will be retried.", RequestID: RequestID(ctx)})
		return
	}
	s.Metrics.webhookOutcome(string(res.Outcome))
	switch res.Outcome {
	case booking.OutcomeProcessed, booking.OutcomeAmountMismatch, booking.OutcomeNeedsReview:
		s.Metrics.Transition(string(res.Status))
	}
	writeJSON(w, http.StatusOK, webhookAnswer{Received: true, Outcome: string(res.Outcome)})
}
