package mailtest

import (
	"fmt"
	"net/smtp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// sendRaw sends a raw message to Mailpit with the standard library's
// client. It may run in any goroutine.
func sendRaw(t *testing.T, to, raw string) {
	t.Helper()
	if err := smtp.SendMail(Addr(), nil, "sender@example.com", []string{to}, []byte(strings.ReplaceAll(raw, "\n", "\r\n"))); err != nil {
		t.Errorf("send to Mailpit at %s: %v", Addr(), err)
	}
}

const multipartMessage = `From: Sender <sender@example.com>
To: %s
Subject: =?utf-8?q?Caf=C3=A9?= test
Message-ID: <%s>
Auto-Submitted: auto-generated
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9 text
--inner
Content-Type: text/html; charset=UTF-8

<p>html</p>
--inner
Content-Type: text/calendar; method=REQUEST; charset=UTF-8
Content-Transfer-Encoding: base64

QkVHSU46VkNBTEVOREFSDQpFTkQ6VkNBTEVOREFSDQo=
--inner--
--outer
Content-Type: application/ics; name="invite.ics"
Content-Disposition: attachment; filename="invite.ics"
Content-Transfer-Encoding: base64

QkVHSU46VkNBTEVOREFSDQpFTkQ6VkNBTEVOREFSDQo=
--outer--
`

func TestWaitFor(t *testing.T) {
	t.Parallel()
	to := Recipient(t)
	id := strings.TrimSuffix(to, "@example.com") + "@test"
	sendRaw(t, to, fmt.Sprintf(multipartMessage, to, id))
	msgs := WaitFor(t, to, 1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.MessageID != id || m.Subject != "Café test" || m.From != "sender@example.com" || len(m.To) != 1 || m.To[0] != to {
		t.Errorf("message %q %q %q %v", m.MessageID, m.Subject, m.From, m.To)
	}
	if strings.TrimSpace(m.Text) != "Café text" || !strings.Contains(m.HTML, "<p>html</p>") {
		t.Errorf("bodies %q %q", m.Text, m.HTML)
	}
	if m.Header("auto-submitted") != "auto-generated" {
		t.Errorf("headers %v", m.Headers)
	}
	const ics = "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
	if len(m.Attachments) != 1 || m.Attachments[0].FileName != "invite.ics" || string(m.Attachments[0].Data) != ics || m.Attachments[0].Inline {
		t.Errorf("attachments %+v", m.Attachments)
	}
	cals := m.PartsOfType("text/calendar")
	if len(cals) != 1 || cals[0].Params["method"] != "REQUEST" || string(cals[0].Body) != ics {
		t.Errorf("calendar parts %+v", cals)
	}
	if got := len(m.Parts); got != 4 || m.Parts[3].Disposition != "attachment" {
		t.Errorf("parts %+v", m.Parts)
	}
	if len(m.Raw) == 0 {
		t.Error("no raw message")
	}
}

// Tests that send to their own Recipient never see each other's mail.
func TestRecipientsAreIsolated(t *testing.T) {
	t.Parallel()
	const n = 5
	addrs := make([]string, n)
	seen := map[string]bool{}
	for i := range addrs {
		addrs[i] = Recipient(t)
		if seen[addrs[i]] {
			t.Fatalf("Recipient returned %s twice", addrs[i])
		}
		seen[addrs[i]] = true
		if !strings.HasPrefix(addrs[i], "testrecipientsareisolated-") || !strings.HasSuffix(addrs[i], "@example.com") {
			t.Errorf("Recipient = %q", addrs[i])
		}
	}
	var wg sync.WaitGroup
	for i, to := range addrs {
		wg.Go(func() {
			for j := range i + 1 {
				sendRaw(t, to, fmt.Sprintf("From: a@example.com\nTo: %s\nSubject: %d\n\nbody\n", to, j))
			}
		})
	}
	wg.Wait()
	for i, to := range addrs {
		msgs := WaitFor(t, to, i+1, 10*time.Second)
		if len(msgs) != i+1 {
			t.Errorf("%s got %d messages, want %d", to, len(msgs), i+1)
		}
		if Count(t, to) != i+1 {
			t.Errorf("Count(%s) = %d, want %d", to, Count(t, to), i+1)
		}
	}
}

// fatalTB records a test failure instead of failing the real test.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// Without Mailpit, a test fails and says how to start it.
func TestFailsWithoutMailpit(t *testing.T) {
	t.Parallel()
	fake := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		connect(fake, "http://127.0.0.1:1")
	}()
	<-done
	if !strings.Contains(fake.msg, "Mailpit is not running at http://127.0.0.1:1") || !strings.Contains(fake.msg, "ensure_mailpit") {
		t.Errorf("failure message %q", fake.msg)
	}
}

// A message that does not arrive fails the test with the count.
func TestWaitForTimesOut(t *testing.T) {
	t.Parallel()
	fake := &fatalTB{TB: t}
	to := Recipient(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		WaitFor(fake, to, 1, 300*time.Millisecond)
	}()
	<-done
	if !strings.Contains(fake.msg, "0 of 1 expected messages to "+to) {
		t.Errorf("failure message %q", fake.msg)
	}
}
