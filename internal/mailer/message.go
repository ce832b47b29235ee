package mailer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	stdmail "net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Calendar methods of Message.ICSMethod (RFC 5546).
const (
	ICSMethodRequest = "REQUEST"
	ICSMethodCancel  = "CANCEL"
)

// ICSFileName is the name of the attached calendar file.
const ICSFileName = "invite.ics"

// Message is one email to one recipient.
type Message struct {
	// ID identifies the message for the caller, e.g. "<booking id>.confirmation.1".
	// The Message-ID header is derived from it (see Sender.MessageID), so a
	// retried send of the same message carries the same Message-ID.
	// Required.
	ID string
	// To is the recipient's address, "ada@example.com" (an RFC 5322
	// "Ada Lovelace <ada@example.com>" is accepted too).
	To string
	// ToName is the recipient's display name, e.g. the customer's name as
	// entered; any text, quoted and encoded as needed. Optional.
	ToName string
	// ReplyTo is an optional Reply-To address (e.g. the customer, on a staff
	// alert).
	ReplyTo string
	// Subject is the subject line; line breaks are folded into spaces.
	Subject string
	// Text is the plain-text body. Required.
	Text string
	// HTML is the HTML body; when set, the message is multipart/alternative
	// with Text first.
	HTML string
	// ICS is an optional iCalendar object (RFC 5545). It is sent twice, as
	// the way calendar-aware clients expect: as a
	// "text/calendar; method=...; charset=UTF-8" alternative beside the
	// text and HTML bodies, and as an attached invite.ics.
	ICS []byte
	// ICSMethod is the iTIP method of ICS, ICSMethodRequest or
	// ICSMethodCancel; it must match the METHOD inside ICS.
	ICSMethod string
}

// headerAutoSubmitted marks the message as machine-generated (RFC 3834) so
// auto-responders do not answer it.
const headerAutoSubmitted gomail.Header = "Auto-Submitted"

// build turns m into a go-mail message from sender, dated now. Every error
// is a permanent SendError naming the invalid field, never its value.
func build(m *Message, from *stdmail.Address, now time.Time) (*gomail.Msg, *stdmail.Address, error) {
	if m == nil {
		return nil, nil, invalidMessage("no message")
	}
	if strings.TrimSpace(m.ID) == "" {
		return nil, nil, invalidMessage("message id is empty")
	}
	to, err := parseRecipient(m.To)
	if err != nil {
		return nil, nil, invalidMessage("recipient address is invalid")
	}
	if name := oneLine(m.ToName); name != "" {
		to.Name = name
	}
	subject := oneLine(m.Subject)
	if subject == "" {
		return nil, nil, invalidMessage("subject is empty")
	}
	if strings.TrimSpace(m.Text) == "" {
		return nil, nil, invalidMessage("text body is empty")
	}
	if len(m.ICS) > 0 {
		if m.ICSMethod != ICSMethodRequest && m.ICSMethod != ICSMethodCancel {
			return nil, nil, invalidMessage("calendar method %q is not REQUEST or CANCEL", m.ICSMethod)
		}
		if !bytes.Contains(m.ICS, []byte("\r\nMETHOD:"+m.ICSMethod+"\r\n")) {
			return nil, nil, invalidMessage("calendar object does not carry METHOD:%s", m.ICSMethod)
		}
	}

	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent(), gomail.WithCharset(gomail.CharsetUTF8),
		gomail.WithEncoding(gomail.EncodingQP))
	msg.FromMailAddress(from)
	msg.ToMailAddress(to)
	if m.ReplyTo != "" {
		replyTo, err := stdmail.ParseAddress(m.ReplyTo)
		if err != nil {
			return nil, nil, invalidMessage("reply-to address is invalid")
		}
		msg.ReplyToMailAddress(replyTo)
	}
	msg.Subject(subject)
	msg.SetMessageIDWithValue(messageID(m.ID, from.Address))
	msg.SetDateWithValue(now)
	msg.SetGenHeader(headerAutoSubmitted, "auto-generated")
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	if len(m.ICS) > 0 {
		// go-mail appends "; charset=UTF-8". Base64 keeps the CRLF line
		// endings and folding of the calendar object byte for byte.
		msg.AddAlternativeString(gomail.ContentType("text/calendar; method="+m.ICSMethod), string(m.ICS),
			gomail.WithPartEncoding(gomail.EncodingB64))
		// The attachment is application/ics, as Gmail and others send it:
		// a client that acts on every text/calendar part would otherwise
		// see the invitation twice.
		if err := msg.AttachReader(ICSFileName, bytes.NewReader(m.ICS),
			gomail.WithFileContentType("application/ics")); err != nil {
			return nil, nil, invalidMessage("attach calendar: %v", err)
		}
	}
	return msg, to, nil
}

// parseRecipient parses one address, with or without a display name.
func parseRecipient(s string) (*stdmail.Address, error) {
	addr, err := stdmail.ParseAddress(strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	return addr, nil
}

// oneLine replaces every run of whitespace and control characters with one
// space, so no header value can carry a line break.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029'
	}), " ")
}

// messageID derives the Message-ID (without angle brackets) from the
// caller's id and the sender's domain: the id itself when it is a valid
// dot-atom of at most 128 characters, else the hex SHA-256 of it.
func messageID(id, fromAddress string) string {
	domain := "booking.invalid"
	if at := strings.LastIndex(fromAddress, "@"); at >= 0 && isDotAtom(fromAddress[at+1:]) {
		domain = fromAddress[at+1:]
	}
	left := id
	if len(left) > 128 || !isDotAtom(left) {
		sum := sha256.Sum256([]byte(id))
		left = hex.EncodeToString(sum[:16])
	}
	return left + "@" + domain
}

// isDotAtom reports whether s is an RFC 5322 dot-atom-text: atext
// characters in dot-separated non-empty runs.
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.':
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
