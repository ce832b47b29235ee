// Package booking holds the domain of the booking platform: resources, bookings,
// their lifecycle, slot and price rules, and the flows that tie them to a store
// and a payment provider. It imports no database, HTTP or Stripe code.
package booking

import (
	"errors"
	"fmt"
)

// Error codes shared with the HTTP API (SPEC §4).
const (
	EInvalidJSON        = "invalid_json"
	EValidation         = "validation_failed"
	EUnauthenticated    = "unauthenticated"
	EForbidden          = "forbidden"
	ENotFound           = "not_found"
	ESlotUnavailable    = "slot_unavailable"
	EBodyTooLarge       = "body_too_large"
	ERateLimited        = "rate_limited"
	EPaymentProvider    = "payment_provider_error"
	EUnavailable        = "unavailable"
	EIdempotencyReused  = "idempotency_key_reused"
	EIdempotencyPending = "idempotency_key_in_use"
	EConflict           = "conflict"
	EInternal           = "internal"
	// EQuoteChanged: the refund of a cancellation is no longer the amount
	// the customer confirmed (the cut-off passed meanwhile); they see the
	// new quote and confirm again.
	EQuoteChanged = "quote_changed"
	// EPriceChanged: a booking cannot move to a slot whose price differs
	// from what was paid.
	EPriceChanged = "price_changed"
)

// Error is the one error type of the application. Code and Message (and Fields)
// are safe to show to a client; Err is the cause and never leaves the server.
type Error struct {
	Code    string
	Message string
	Fields  map[string]string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted client-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with code and message around cause.
func WrapError(code, message string, cause error) *Error {
	return &Error{Code: code, Message: message, Err: cause}
}

// ErrorCode returns the code of the first *Error in err's chain, or EInternal.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ValidationError collects field problems; it is nil-safe to add to.
type ValidationError map[string]string

// Add records a problem with field.
func (v ValidationError) Add(field, msg string) {
	if _, ok := v[field]; !ok {
		v[field] = msg
	}
}

// Err returns nil when there were no problems, else a validation_failed *Error.
func (v ValidationError) Err() error {
	if len(v) == 0 {
		return nil
	}
	return &Error{Code: EValidation, Message: "Some fields are invalid.", Fields: v}
}
