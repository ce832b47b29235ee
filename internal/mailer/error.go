package mailer

import (
	"context"
	"errors"
	"fmt"
	"net/textproto"
	"regexp"
	"strings"
)

// The stages of a send, as named in SendError.Op.
const (
	OpMessage  = "message"   // building the message: it is invalid
	OpConnect  = "connect"   // dial, greeting, EHLO, STARTTLS, AUTH
	OpMailFrom = "mail from" // MAIL FROM: the server refused the sender
	OpRcptTo   = "rcpt to"   // RCPT TO: the server refused the recipient
	OpData     = "data"      // DATA and the message content
)

// SendError is every error Sender.Send returns. Its text names the stage and
// the server's reply but never a recipient address (masked as a***@example.com)
// or the SMTP password.
type SendError struct {
	// Op is the stage that failed (OpMessage, OpConnect, ...).
	Op string
	// Code is the server's SMTP reply code, 0 when there was none.
	Code int
	// Permanent is true when sending the same message again cannot succeed:
	// a 5xx reply to MAIL FROM, RCPT TO or DATA, or an invalid message.
	Permanent bool
	// detail is the cause's text, with addresses and the password masked.
	detail string
	// cause is the underlying error when its text needed no masking
	// (network errors, context errors), for errors.Is and errors.As.
	cause error
}

// Error reads "smtp <op> (permanent|temporary): <detail>", with addresses
// and the password masked in the detail.
func (e *SendError) Error() string {
	kind := "temporary"
	if e.Permanent {
		kind = "permanent"
	}
	return fmt.Sprintf("smtp %s (%s): %s", e.Op, kind, e.detail)
}

// Unwrap returns the cause when it can be shown as it is: network and
// context errors. A server reply is only in the text, masked.
func (e *SendError) Unwrap() error { return e.cause }

// IsPermanent reports whether err says the message can never be delivered
// as it is: the server answered 5xx to MAIL FROM, RCPT TO or DATA (an unknown
// recipient, a refused sender, a message too large), or the message itself is
// invalid. Anything else (connection refused, timeout, a 4xx reply, failed
// STARTTLS or authentication, a cancelled context) is temporary: the same
// message may go through later, so a job queue retries it. A nil error is not
// permanent.
func IsPermanent(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Permanent
}

// invalidMessage is the permanent error of a message Send cannot build.
func invalidMessage(format string, args ...any) *SendError {
	return &SendError{Op: OpMessage, Permanent: true, detail: fmt.Sprintf(format, args...)}
}

// classify turns an error of stage op into a SendError. ctx is the send's
// context: when it is done, its error (deadline or cancellation) is the
// cause, whatever the closed connection made the SMTP library report.
// secret is masked from the text (the SMTP password).
func classify(ctx context.Context, op string, err error, secret string) *SendError {
	se := &SendError{Op: op}
	if ctxErr := ctx.Err(); ctxErr != nil {
		cause := context.Cause(ctx)
		se.detail = fmt.Sprintf("%v (after: %s)", cause, redact(err.Error(), secret))
		se.cause = cause
		return se
	}
	var tpErr *textproto.Error
	if errors.As(err, &tpErr) {
		se.Code = tpErr.Code
		// A 5xx reply is final for this message only inside the mail
		// transaction; during connect (EHLO, STARTTLS, AUTH) it is a server
		// or configuration problem that a later attempt may not have.
		se.Permanent = op != OpConnect && tpErr.Code >= 500 && tpErr.Code < 600
	}
	text := err.Error()
	se.detail = redact(text, secret)
	if se.detail == text && tpErr == nil {
		se.cause = err
	}
	return se
}

// addressPattern matches what looks like an email address in free text
// (server replies quote the recipient, e.g. "550 5.1.1 <bob@example.com>").
var addressPattern = regexp.MustCompile(`[^\s<>()\[\]"',;:]+@[^\s<>()\[\]"',;:]+`)

// redact masks every email address in text and, when secret is at least
// four bytes long, every occurrence of secret.
func redact(text, secret string) string {
	if len(secret) >= 4 {
		text = strings.ReplaceAll(text, secret, "xxxxx")
	}
	return addressPattern.ReplaceAllStringFunc(text, RedactAddress)
}

// RedactAddress masks an email address for logs and error messages: the
// first character of the local part and the domain stay, so
// "alice@example.com" becomes "a***@example.com". A string without "@"
// becomes "***".
func RedactAddress(addr string) string {
	at := strings.LastIndex(addr, "@")
	if at < 0 {
		return "***"
	}
	local, domain := addr[:at], addr[at+1:]
	if local == "" {
		return "***@" + domain
	}
	first := []rune(local)[0]
	return string(first) + "***@" + domain
}
