// Package mailtest lets tests read the email the product sent, from a real
// Mailpit (https://mailpit.axllent.org) that catches it: scripts/lib.sh's
// ensure_mailpit starts one with SMTP on 127.0.0.1:1025 and its API on
// http://127.0.0.1:8025 (MAILPIT_SMTP and MAILPIT_API override them).
//
// Each test sends to its own address from Recipient, so tests running in
// parallel, in any package, never see each other's mail, and reads it back
// with WaitFor. A test fails, never skips, when Mailpit is not running.
package mailtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/textproto"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// Default addresses of the Mailpit started by scripts/lib.sh.
const (
	DefaultSMTP = "127.0.0.1:1025"
	DefaultAPI  = "http://127.0.0.1:8025"
)

// Addr is Mailpit's SMTP address, host:port: MAILPIT_SMTP or DefaultSMTP.
func Addr() string {
	if v := os.Getenv("MAILPIT_SMTP"); v != "" {
		return v
	}
	return DefaultSMTP
}

// SMTPURL is an SMTP_URL for Mailpit: smtp://<Addr> (opportunistic STARTTLS
// on a loopback address, so plain SMTP in practice).
func SMTPURL() string {
	return "smtp://" + Addr()
}

// API is the base URL of Mailpit's HTTP API, without a trailing slash:
// MAILPIT_API or DefaultAPI.
func API() string {
	if v := os.Getenv("MAILPIT_API"); v != "" {
		return strings.TrimRight(v, "/")
	}
	return DefaultAPI
}

// Recipient returns an address no other test uses, under example.com,
// starting with a readable form of the test's name.
func Recipient(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		if b.Len() >= 40 {
			break
		}
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	var random [8]byte
	_, _ = rand.Read(random[:])
	name := strings.Trim(b.String(), "-")
	if name == "" {
		name = "test"
	}
	return name + "-" + hex.EncodeToString(random[:]) + "@example.com"
}

// Message is one message as Mailpit received it.
type Message struct {
	// ID is Mailpit's id of the message.
	ID string
	// MessageID is the Message-ID header without angle brackets.
	MessageID string
	// From is the sender's address (without display name).
	From string
	// To are the addresses of the To header.
	To []string
	// Subject is the decoded subject.
	Subject string
	// Text and HTML are the plain-text and HTML bodies, decoded.
	Text string
	HTML string
	// Headers are the message's top-level headers as Mailpit decodes
	// them, keyed by canonical name ("Message-Id", "Auto-Submitted").
	Headers map[string][]string
	// Attachments are the attached and inline files Mailpit lists, with
	// their content.
	Attachments []Attachment
	// Parts are the message's leaf MIME parts, parsed from Raw, with their
	// full headers (Content-Type parameters included) and decoded bodies.
	Parts []Part
	// Raw is the message as received.
	Raw []byte
}

// Header returns the first value of the top-level header name, or "".
func (m Message) Header(name string) string {
	for k, v := range m.Headers {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// PartsOfType returns the leaf parts whose media type is mediaType
// (e.g. "text/calendar"), in message order.
func (m Message) PartsOfType(mediaType string) []Part {
	var parts []Part
	for _, p := range m.Parts {
		if strings.EqualFold(p.MediaType, mediaType) {
			parts = append(parts, p)
		}
	}
	return parts
}

// Attachment is a file Mailpit lists for a message.
type Attachment struct {
	PartID      string
	FileName    string
	ContentType string
	ContentID   string
	// Inline is true for an inline (embedded) file, false for an attachment.
	Inline bool
	// Data is the file's decoded content.
	Data []byte
}

// Part is one leaf MIME part of a message.
type Part struct {
	// Header is the part's MIME header.
	Header textproto.MIMEHeader
	// MediaType is the lower-case media type, e.g. "text/calendar".
	MediaType string
	// Params are the Content-Type parameters, keys in lower case
	// (e.g. "method", "charset").
	Params map[string]string
	// Disposition is "inline", "attachment" or "" (no Content-Disposition),
	// FileName its filename parameter.
	Disposition string
	FileName    string
	// Body is the content with its transfer encoding removed.
	Body []byte
}

// WaitFor polls Mailpit until at least n messages to the address to have
// arrived and returns all of them, oldest first. It fails the test when
// Mailpit is not running or fewer than n messages arrive within timeout.
func WaitFor(t testing.TB, to string, n int, timeout time.Duration) []Message {
	t.Helper()
	c := newClient(t)
	deadline := time.Now().Add(timeout)
	for {
		summaries, err := c.search(to)
		if err != nil {
			t.Fatalf("mailtest: search Mailpit for a recipient: %v", err)
		}
		if len(summaries) >= n {
			msgs := make([]Message, 0, len(summaries))
			for _, s := range summaries {
				m, err := c.message(s.ID)
				if err != nil {
					t.Fatalf("mailtest: read message %s from Mailpit: %v", s.ID, err)
				}
				msgs = append(msgs, m)
			}
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailtest: %d of %d expected messages to %s arrived in Mailpit within %s (inbox: %s)",
				len(summaries), n, to, timeout, API())
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("mailtest: test ended while waiting for mail to %s", to)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Count returns how many messages to the address to Mailpit holds now,
// e.g. to check after a pause that nothing more was sent. It fails the test
// when Mailpit is not running.
func Count(t testing.TB, to string) int {
	t.Helper()
	summaries, err := newClient(t).search(to)
	if err != nil {
		t.Fatalf("mailtest: search Mailpit for a recipient: %v", err)
	}
	return len(summaries)
}

// client talks to Mailpit's API for one test.
type client struct {
	base string
	http *http.Client
	ctx  context.Context
}

// newClient checks that Mailpit answers and fails the test if not.
func newClient(t testing.TB) *client {
	t.Helper()
	return connect(t, API())
}

// connect checks that the Mailpit API at base answers and fails the test
// if not.
func connect(t testing.TB, base string) *client {
	t.Helper()
	c := &client{base: base, http: &http.Client{Timeout: 10 * time.Second}, ctx: t.Context()}
	var info struct{ Version string }
	if err := c.getJSON("/api/v1/info", &info); err != nil {
		t.Fatalf("mailtest: Mailpit is not running at %s (%v); start it with scripts/test.sh or "+
			"`. scripts/lib.sh && ensure_mailpit`, or set MAILPIT_API and MAILPIT_SMTP", c.base, err)
	}
	return c
}

// summary is an entry of GET /api/v1/search.
type summary struct {
	ID      string
	Created time.Time
	To      []struct{ Address string }
}

// search lists the messages to the address to, oldest first.
func (c *client) search(to string) ([]summary, error) {
	q := url.Values{}
	q.Set("query", fmt.Sprintf("to:%q", to))
	q.Set("limit", "1000")
	var res struct{ Messages []summary }
	if err := c.getJSON("/api/v1/search?"+q.Encode(), &res); err != nil {
		return nil, err
	}
	// The search matches substrings; keep exact recipients only.
	var out []summary
	for _, s := range res.Messages {
		if slices.ContainsFunc(s.To, func(a struct{ Address string }) bool { return strings.EqualFold(a.Address, to) }) {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b summary) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// message reads one message with its headers, files, raw source and parts.
func (c *client) message(id string) (Message, error) {
	var res struct {
		ID          string
		MessageID   string
		From        struct{ Address string }
		To          []struct{ Address string }
		Subject     string
		Text        string
		HTML        string
		Inline      []attachmentJSON
		Attachments []attachmentJSON
	}
	path := "/api/v1/message/" + url.PathEscape(id)
	if err := c.getJSON(path, &res); err != nil {
		return Message{}, err
	}
	m := Message{ID: res.ID, MessageID: res.MessageID, From: res.From.Address, Subject: res.Subject, Text: res.Text, HTML: res.HTML}
	for _, a := range res.To {
		m.To = append(m.To, a.Address)
	}
	if err := c.getJSON(path+"/headers", &m.Headers); err != nil {
		return Message{}, err
	}
	for _, list := range []struct {
		files  []attachmentJSON
		inline bool
	}{{res.Inline, true}, {res.Attachments, false}} {
		for _, a := range list.files {
			data, err := c.get(path + "/part/" + url.PathEscape(a.PartID))
			if err != nil {
				return Message{}, err
			}
			m.Attachments = append(m.Attachments, Attachment{
				PartID: a.PartID, FileName: a.FileName, ContentType: a.ContentType,
				ContentID: a.ContentID, Inline: list.inline, Data: data,
			})
		}
	}
	raw, err := c.get(path + "/raw")
	if err != nil {
		return Message{}, err
	}
	m.Raw = raw
	if m.Parts, err = ParseParts(raw); err != nil {
		return Message{}, fmt.Errorf("parse MIME parts: %w", err)
	}
	return m, nil
}

// attachmentJSON is a file in GET /api/v1/message/{ID}.
type attachmentJSON struct {
	PartID      string
	FileName    string
	ContentType string
	ContentID   string
}

func (c *client) getJSON(path string, v any) error {
	body, err := c.get(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

func (c *client) get(path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", strings.SplitN(path, "?", 2)[0], resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// ParseParts parses a raw message (RFC 5322) and returns the leaf parts of
// its MIME tree, in order, with their transfer encoding removed.
func ParseParts(raw []byte) ([]Part, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return walk(textproto.MIMEHeader(msg.Header), msg.Body)
}

func walk(h textproto.MIMEHeader, body io.Reader) ([]Part, error) {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=us-ascii"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, fmt.Errorf("content type %q: %w", ct, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		var parts []Part
		r := multipart.NewReader(body, params["boundary"])
		for {
			p, err := r.NextRawPart()
			if err == io.EOF {
				return parts, nil
			}
			if err != nil {
				return nil, err
			}
			children, err := walk(p.Header, p)
			if err != nil {
				return nil, err
			}
			parts = append(parts, children...)
		}
	}
	decoded := body
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		decoded = base64.NewDecoder(base64.StdEncoding, body) // ignores line breaks
	case "quoted-printable":
		decoded = quotedprintable.NewReader(body)
	}
	data, err := io.ReadAll(decoded)
	if err != nil {
		return nil, fmt.Errorf("decode %s part: %w", mediaType, err)
	}
	p := Part{Header: h, MediaType: mediaType, Params: params, Body: data}
	if cd := h.Get("Content-Disposition"); cd != "" {
		if disp, dparams, err := mime.ParseMediaType(cd); err == nil {
			p.Disposition, p.FileName = disp, dparams["filename"]
		}
	}
	return []Part{p}, nil
}
