package mailer_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/mailer"
	"github.com/bookingplatform/booking/internal/mailtest"
)

const from = "Example Bookings <bookings@example.com>"

// testICS is a minimal calendar object of method REQUEST.
var testICS = []byte("BEGIN:VCALENDAR\r\nPRODID:-//test//EN\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\n" +
	"BEGIN:VEVENT\r\nUID:b1@booking\r\nDTSTAMP:20261120T083000Z\r\nDTSTART:20261204T090000Z\r\n" +
	"SUMMARY:Café – court 1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")

func message(to string) *mailer.Message {
	return &mailer.Message{
		ID:        "0b7c4f52.confirmation.0",
		To:        to,
		ToName:    "Ada Lovelace",
		Subject:   "Booking confirmed: Court 1 (BK-7Q2M4X)",
		Text:      "Hello Ada,\n\nYour booking is confirmed: 54,00 € — café.\n",
		HTML:      "<p>Hello Ada,</p><p>Your booking is confirmed: 54,00 € — café.</p>",
		ICS:       testICS,
		ICSMethod: mailer.ICSMethodRequest,
	}
}

// sender returns a Sender for cfg with short timeouts.
func sender(t *testing.T, cfg mailer.Config, opts mailer.SenderOpts) *mailer.Sender {
	t.Helper()
	if opts.SendTimeout == 0 {
		opts.SendTimeout = 5 * time.Second
	}
	s, err := mailer.NewSender(cfg, from, opts)
	if err != nil {
		t.Fatalf("new sender: %v", err)
	}
	return s
}

func local(port int, tls mailer.TLSPolicy) mailer.Config {
	return mailer.Config{Host: "127.0.0.1", Port: port, TLS: tls}
}

// checkNoSecrets fails when err's text holds the recipient or the password.
func checkNoSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains %q", err, s)
		}
	}
}

// The message goes out as multipart text + HTML with the calendar object
// as an inline text/calendar alternative and an attached invite.ics, under
// a Message-ID derived from the message's id.
func TestSendMessageStructure(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeOpts{})
	s := sender(t, local(srv.port(), mailer.TLSOpportunistic), mailer.SenderOpts{})
	to := "ada@example.com"
	if err := s.Send(t.Context(), message(to)); err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := s.Send(t.Context(), message(to)); err != nil {
		t.Fatalf("send again: %v", err)
	}
	got := srv.messages()
	if len(got) != 2 {
		t.Fatalf("server got %d messages, want 2", len(got))
	}
	if got[0].from != "<bookings@example.com>" && !strings.HasPrefix(got[0].from, "FROM:<bookings@example.com>") {
		t.Errorf("MAIL %q", got[0].from)
	}
	if !strings.Contains(got[0].to, "<ada@example.com>") {
		t.Errorf("RCPT %q", got[0].to)
	}
	var ids []string
	for _, m := range got {
		// The fake server reads the message with textproto: CRLF became LF.
		raw := "\n" + string(m.data)
		for _, h := range []string{
			"\nAuto-Submitted: auto-generated\n",
			"\nMessage-ID: <0b7c4f52.confirmation.0@example.com>\n",
			"\nFrom: \"Example Bookings\" <bookings@example.com>\n",
			"\nTo: \"Ada Lovelace\" <ada@example.com>\n",
			"\nSubject: Booking confirmed: Court 1 (BK-7Q2M4X)\n",
		} {
			if !strings.Contains(raw, h) {
				t.Errorf("message lacks header %q:\n%s", h, raw)
			}
		}
		ids = append(ids, s.MessageID("0b7c4f52.confirmation.0"))
		parts, err := mailtest.ParseParts(m.data)
		if err != nil {
			t.Fatalf("parse message: %v", err)
		}
		var types []string
		for _, p := range parts {
			types = append(types, p.MediaType+"/"+p.Disposition)
		}
		if want := "text/plain/ text/html/ text/calendar/ application/ics/attachment"; strings.Join(types, " ") != want {
			t.Fatalf("parts %v, want %s", types, want)
		}
		if !strings.Contains(string(parts[0].Body), "54,00 € — café") || !strings.Contains(string(parts[1].Body), "<p>Hello Ada,</p>") {
			t.Errorf("bodies: %q / %q", parts[0].Body, parts[1].Body)
		}
		cal := parts[2]
		if cal.Params["method"] != "REQUEST" || !strings.EqualFold(cal.Params["charset"], "UTF-8") {
			t.Errorf("calendar part Content-Type %q", cal.Header.Get("Content-Type"))
		}
		if string(cal.Body) != string(testICS) || string(parts[3].Body) != string(testICS) {
			t.Errorf("calendar parts differ from the calendar object:\n%q\n%q", cal.Body, parts[3].Body)
		}
		if parts[3].FileName != "invite.ics" {
			t.Errorf("attachment name %q", parts[3].FileName)
		}
	}
	if ids[0] != "0b7c4f52.confirmation.0@example.com" || ids[0] != ids[1] {
		t.Errorf("MessageID = %v", ids)
	}
}

func TestMessageID(t *testing.T) {
	t.Parallel()
	s := sender(t, local(1, mailer.TLSNone), mailer.SenderOpts{})
	if got := s.MessageID("b1.confirmation.0"); got != "b1.confirmation.0@example.com" {
		t.Errorf("MessageID = %q", got)
	}
	odd := s.MessageID("booking 1 <confirmation>")
	if odd != s.MessageID("booking 1 <confirmation>") || strings.ContainsAny(strings.TrimSuffix(odd, "@example.com"), " <>@") {
		t.Errorf("MessageID of an id with spaces = %q", odd)
	}
	if s.MessageID("a") == s.MessageID("b") {
		t.Error("two ids give one Message-ID")
	}
}

// A message without text and HTML goes out as a single text part.
func TestSendTextOnly(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeOpts{})
	s := sender(t, local(srv.port(), mailer.TLSOpportunistic), mailer.SenderOpts{})
	m := &mailer.Message{ID: "x1", To: "ops@example.com", Subject: "Line one\r\nBcc: evil@example.com", Text: "Just text."}
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatalf("send: %v", err)
	}
	raw := string(srv.messages()[0].data)
	if !strings.Contains(raw, "Subject: Line one Bcc: evil@example.com\n") || strings.Contains(raw, "\nBcc:") {
		t.Errorf("the subject's line break reached the header:\n%s", raw)
	}
	parts, err := mailtest.ParseParts([]byte(raw))
	if err != nil || len(parts) != 1 || parts[0].MediaType != "text/plain" {
		t.Errorf("parts = %+v, %v; want one text/plain", parts, err)
	}
}

// An invalid message is a permanent error, found before any connection.
func TestSendInvalidMessage(t *testing.T) {
	t.Parallel()
	s := sender(t, local(1, mailer.TLSNone), mailer.SenderOpts{})
	valid := message("ada@example.com")
	tests := []struct {
		name   string
		mutate func(*mailer.Message)
	}{
		{"no id", func(m *mailer.Message) { m.ID = " " }},
		{"bad recipient", func(m *mailer.Message) { m.To = "ada.example.com" }},
		{"two recipients", func(m *mailer.Message) { m.To = "ada@example.com, bob@example.com" }},
		{"no subject", func(m *mailer.Message) { m.Subject = "\r\n" }},
		{"no text", func(m *mailer.Message) { m.Text = "" }},
		{"bad reply-to", func(m *mailer.Message) { m.ReplyTo = "nope" }},
		{"unknown calendar method", func(m *mailer.Message) { m.ICSMethod = "PUBLISH" }},
		{"method differs from the calendar", func(m *mailer.Message) { m.ICSMethod = mailer.ICSMethodCancel }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := *valid
			tc.mutate(&m)
			err := s.Send(t.Context(), &m)
			if err == nil {
				t.Fatal("send succeeded")
			}
			var se *mailer.SendError
			if !errors.As(err, &se) || se.Op != mailer.OpMessage || !mailer.IsPermanent(err) {
				t.Errorf("error %v (%#v), want a permanent message error", err, se)
			}
			checkNoSecrets(t, err, "ada@example.com", "ada.example.com", "bob@example.com")
		})
	}
	if err := s.Send(t.Context(), nil); !mailer.IsPermanent(err) {
		t.Errorf("send nil = %v, want a permanent error", err)
	}
}

// Replies of the server: 5xx to the mail transaction is permanent, the
// rest temporary, and no error shows the recipient or the password.
func TestSendServerReplies(t *testing.T) {
	t.Parallel()
	const password = "Zq9pw-secret"
	tests := []struct {
		name      string
		srv       fakeOpts
		op        string
		code      int
		permanent bool
	}{
		{"unknown recipient", fakeOpts{rcptReply: "550 5.1.1 <rcpt-x@example.com>: Recipient address rejected: User unknown"}, mailer.OpRcptTo, 550, true},
		{"mailbox full for now", fakeOpts{rcptReply: "452 4.2.2 <rcpt-x@example.com> mailbox full"}, mailer.OpRcptTo, 452, false},
		{"greylisted", fakeOpts{rcptReply: "450 4.7.1 greylisted, try again"}, mailer.OpRcptTo, 450, false},
		{"sender refused", fakeOpts{mailReply: "553 5.7.1 sender not allowed"}, mailer.OpMailFrom, 553, true},
		{"message too large", fakeOpts{dataReply: "552 5.3.4 message too big"}, mailer.OpData, 552, true},
		{"spam filter busy", fakeOpts{dataReply: "451 4.3.0 try later"}, mailer.OpData, 451, false},
		{"server busy", fakeOpts{greeting: "421 4.3.2 too busy"}, mailer.OpConnect, 421, false},
		{"server refuses service", fakeOpts{greeting: "554 5.7.1 no service for you"}, mailer.OpConnect, 554, false},
		{"wrong password", fakeOpts{auth: true, authReply: "535 5.7.8 authentication failed for " + password}, mailer.OpConnect, 535, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := tc.srv
			opts.auth = true
			srv := startFake(t, opts)
			cfg := local(srv.port(), mailer.TLSOpportunistic)
			cfg.Username, cfg.Password = "apikey", password
			err := sender(t, cfg, mailer.SenderOpts{}).Send(t.Context(), message("rcpt-x@example.com"))
			if err == nil {
				t.Fatal("send succeeded")
			}
			var se *mailer.SendError
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v is not a *mailer.SendError", err, err)
			}
			if se.Op != tc.op || se.Code != tc.code || se.Permanent != tc.permanent || mailer.IsPermanent(err) != tc.permanent {
				t.Errorf("error %v: op %q code %d permanent %v; want %q %d %v", err, se.Op, se.Code, se.Permanent, tc.op, tc.code, tc.permanent)
			}
			checkNoSecrets(t, err, "rcpt-x@example.com", password)
			if strings.Contains(tc.srv.rcptReply, "rcpt-x") && !strings.Contains(err.Error(), "r***@example.com") {
				t.Errorf("error %q does not show the masked recipient", err)
			}
			if errors.Unwrap(err) != nil && strings.Contains(errors.Unwrap(err).Error(), "rcpt-x@") {
				t.Errorf("wrapped error %q shows the recipient", errors.Unwrap(err))
			}
		})
	}
}

// Nothing listening is a temporary error, at once.
func TestSendConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	s := sender(t, local(port, mailer.TLSOpportunistic), mailer.SenderOpts{DialTimeout: time.Second, SendTimeout: 2 * time.Second})
	start := time.Now()
	err = s.Send(t.Context(), message("ada@example.com"))
	if err == nil {
		t.Fatal("send succeeded")
	}
	if mailer.IsPermanent(err) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %v, want a temporary connection refused", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
	checkNoSecrets(t, err, "ada@example.com")
}

// A server that accepts the connection and never answers costs the send
// timeout, no more, and is temporary.
func TestSendTimeout(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeOpts{hang: true})
	s := sender(t, local(srv.port(), mailer.TLSOpportunistic), mailer.SenderOpts{SendTimeout: 300 * time.Millisecond})
	start := time.Now()
	err := s.Send(t.Context(), message("ada@example.com"))
	if err == nil {
		t.Fatal("send succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v, want about the 300ms timeout", d)
	}
	if mailer.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want a temporary deadline", err)
	}
}

// Cancelling the context stops a send at once.
func TestSendHonoursTheContext(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeOpts{hang: true})
	s := sender(t, local(srv.port(), mailer.TLSOpportunistic), mailer.SenderOpts{SendTimeout: time.Minute})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	err := s.Send(ctx, message("ada@example.com"))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v after the cancellation", d)
	}
	if !errors.Is(err, context.Canceled) || mailer.IsPermanent(err) {
		t.Errorf("error %v, want a temporary cancellation", err)
	}
}

func TestSendTLS(t *testing.T) {
	t.Parallel()
	serverTLS, clientTLS := testCert(t)
	tests := []struct {
		name    string
		srv     fakeOpts
		policy  mailer.TLSPolicy
		trust   bool
		wantErr bool
		wantTLS bool
	}{
		{"implicit TLS", fakeOpts{tlsConfig: serverTLS, implicit: true, auth: true}, mailer.TLSImplicit, true, false, true},
		{"STARTTLS when mandatory", fakeOpts{tlsConfig: serverTLS, auth: true}, mailer.TLSMandatory, true, false, true},
		{"STARTTLS when offered", fakeOpts{tlsConfig: serverTLS, auth: true}, mailer.TLSOpportunistic, true, false, true},
		{"plain when not offered", fakeOpts{auth: true}, mailer.TLSOpportunistic, true, false, false},
		{"plain when asked", fakeOpts{tlsConfig: serverTLS, auth: true}, mailer.TLSNone, true, false, false},
		{"mandatory but not offered", fakeOpts{auth: true}, mailer.TLSMandatory, true, true, false},
		{"untrusted certificate", fakeOpts{tlsConfig: serverTLS, implicit: true, auth: true}, mailer.TLSImplicit, false, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startFake(t, tc.srv)
			cfg := local(srv.port(), tc.policy)
			cfg.Username, cfg.Password = "apikey", "Zq9pw-secret"
			opts := mailer.SenderOpts{}
			if tc.trust {
				opts.TLSConfig = clientTLS
			}
			err := sender(t, cfg, opts).Send(t.Context(), message("ada@example.com"))
			if tc.wantErr {
				if err == nil || mailer.IsPermanent(err) {
					t.Fatalf("send = %v, want a temporary error", err)
				}
				checkNoSecrets(t, err, "ada@example.com", "Zq9pw-secret")
				return
			}
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			got := srv.messages()
			if len(got) != 1 || got[0].tls != tc.wantTLS {
				t.Fatalf("messages %d, TLS %v; want 1, %v", len(got), got[0].tls, tc.wantTLS)
			}
			if got[0].authUser != "apikey" || got[0].authPass != "Zq9pw-secret" {
				t.Errorf("AUTH PLAIN %q/%q", got[0].authUser, got[0].authPass)
			}
		})
	}
}

// Credentials are not sent in plain text to a host that is not local.
func TestSendNoPlainTextPasswordToARemoteHost(t *testing.T) {
	t.Parallel()
	// 127.0.0.2 is a loopback address, but not one the SMTP library treats
	// as local: it stands for a remote host here.
	srv := startFake(t, fakeOpts{auth: true, addr: "127.0.0.2:0"})
	cfg := mailer.Config{Host: "127.0.0.2", Port: srv.port(), TLS: mailer.TLSNone, Username: "apikey", Password: "Zq9pw-secret"}
	err := sender(t, cfg, mailer.SenderOpts{}).Send(t.Context(), message("ada@example.com"))
	if err == nil || mailer.IsPermanent(err) {
		t.Fatalf("send = %v, want a temporary error", err)
	}
	if sessions, authSeen := srv.stats(); sessions != 1 || authSeen {
		t.Errorf("server saw %d sessions, AUTH %v; want 1 session without AUTH", sessions, authSeen)
	}
	checkNoSecrets(t, err, "ada@example.com", "Zq9pw-secret")
}

// One Sender serves concurrent sends.
func TestSendConcurrently(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeOpts{})
	s := sender(t, local(srv.port(), mailer.TLSOpportunistic), mailer.SenderOpts{})
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() { errs <- s.Send(t.Context(), message("ada@example.com")) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(srv.messages()); n != 10 {
		t.Errorf("server got %d messages, want 10", n)
	}
}

func TestNewSender(t *testing.T) {
	t.Parallel()
	ok := mailer.Config{Host: "smtp.example.com", Port: 587, TLS: mailer.TLSMandatory}
	for _, tc := range []struct {
		name string
		cfg  mailer.Config
		from string
		ok   bool
	}{
		{"address", ok, "bookings@example.com", true},
		{"name and address", ok, `"Example, Inc." <bookings@example.com>`, true},
		{"not an address", ok, "bookings", false},
		{"two addresses", ok, "a@example.com, b@example.com", false},
		{"no host", mailer.Config{Port: 587, TLS: mailer.TLSMandatory}, "bookings@example.com", false},
		{"no TLS policy", mailer.Config{Host: "smtp.example.com", Port: 587}, "bookings@example.com", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := mailer.NewSender(tc.cfg, tc.from, mailer.SenderOpts{})
			if (err == nil) != tc.ok {
				t.Fatalf("NewSender = %v, want ok %v", err, tc.ok)
			}
			if err == nil && !strings.Contains(s.From(), "bookings@example.com") {
				t.Errorf("From() = %q", s.From())
			}
		})
	}
}

func TestRedactAddress(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"alice@example.com": "a***@example.com",
		"é@example.com":     "é***@example.com",
		"@example.com":      "***@example.com",
		"nobody":            "***",
	} {
		if got := mailer.RedactAddress(in); got != want {
			t.Errorf("RedactAddress(%q) = %q, want %q", in, got, want)
		}
	}
}
