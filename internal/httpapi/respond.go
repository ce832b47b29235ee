package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/bookingplatform/booking/internal/booking"
)

// apiBodyLimit caps JSON request bodies (SPEC §4).
const apiBodyLimit = 64 << 10

// statusOf maps error codes to HTTP statuses: the one table of the API.
var statusOf = map[string]int{
	booking.EInvalidJSON:        http.StatusBadRequest,
	booking.EValidation:         http.StatusUnprocessableEntity,
	booking.EIdempotencyReused:  http.StatusUnprocessableEntity,
	booking.EUnauthenticated:    http.StatusUnauthorized,
	booking.EForbidden:          http.StatusForbidden,
	booking.ENotFound:           http.StatusNotFound,
	booking.ESlotUnavailable:    http.StatusConflict,
	booking.EIdempotencyPending: http.StatusConflict,
	booking.EConflict:           http.StatusConflict,
	booking.EQuoteChanged:       http.StatusConflict,
	booking.EPriceChanged:       http.StatusUnprocessableEntity,
	booking.EBodyTooLarge:       http.StatusRequestEntityTooLarge,
	booking.ERateLimited:        http.StatusTooManyRequests,
	booking.EPaymentProvider:    http.StatusBadGateway,
	booking.EUnavailable:        http.StatusServiceUnavailable,
	booking.EInternal:           http.StatusInternalServerError,
	"method_not_allowed":        http.StatusMethodNotAllowed,
	"invalid_credentials":       http.StatusUnauthorized,
}

type errorBody struct {
	Error     string            `json:"error"`
	Message   string            `json:"message"`
	RequestID string            `json:"requestId"`
	Fields    map[string]string `json:"fields,omitempty"`
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errorResponse returns the status and client-safe body for err. Internal
// errors get a generic message; their cause stays on the server.
func errorResponse(err error, requestID string) (int, errorBody) {
	var e *booking.Error
	if !errors.As(err, &e) || statusOf[e.Code] == 0 || e.Code == booking.EInternal {
		return http.StatusInternalServerError, errorBody{Error: booking.EInternal, Message: "Internal error.", RequestID: requestID}
	}
	return statusOf[e.Code], errorBody{Error: e.Code, Message: e.Message, RequestID: requestID, Fields: e.Fields}
}

// decodeJSON reads one JSON object from the body into dst: at most 64 KiB,
// no unknown fields, nothing after the object.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return booking.Errorf(booking.EInvalidJSON, "The body must be JSON (Content-Type: application/json).")
	}
	body := http.MaxBytesReader(w, r.Body, apiBodyLimit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return decodeError(err)
		}
		return booking.Errorf(booking.EInvalidJSON, "The body must hold a single JSON object.")
	}
	return nil
}

// decodeError turns a JSON decoding error into a client-safe invalid_json error.
func decodeError(err error) error {
	var mbe *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return booking.Errorf(booking.EBodyTooLarge, "The body is larger than %d bytes.", mbe.Limit)
	case errors.As(err, &syn):
		return booking.Errorf(booking.EInvalidJSON, "The body is not valid JSON (at byte %d).", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return &booking.Error{Code: booking.EInvalidJSON, Message: fmt.Sprintf("Wrong type for %s: expected %s.", field, typ.Type),
			Fields: map[string]string{field: "Expected " + typ.Type.String() + "."}}
	case errors.Is(err, io.EOF):
		return booking.Errorf(booking.EInvalidJSON, "The body is empty.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return booking.Errorf(booking.EInvalidJSON, "The body is truncated JSON.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &booking.Error{Code: booking.EInvalidJSON, Message: "Unknown field " + name + ".", Fields: map[string]string{name: "Unknown field."}}
	}
	return booking.WrapError(booking.EInvalidJSON, "The body is not valid JSON.", err)
}
