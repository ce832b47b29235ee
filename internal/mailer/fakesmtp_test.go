package mailer_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"testing"
)

// fakeSMTP is a small SMTP server on 127.0.0.1:0 for the cases a real one
// cannot be made to produce on demand: chosen replies, a server that never
// answers, TLS from the first byte.
type fakeSMTP struct {
	fakeOpts
	ln       net.Listener
	mu       sync.Mutex
	received []received
	sessions int
	authSeen bool
	wg       sync.WaitGroup
}

// fakeOpts is how a fakeSMTP behaves.
type fakeOpts struct {
	// Replies to each stage; empty means success.
	greeting, mailReply, rcptReply, dataReply, authReply string
	// hang accepts connections and never says anything.
	hang bool
	// tlsConfig enables STARTTLS, or TLS from the first byte with implicit.
	tlsConfig *tls.Config
	implicit  bool
	// auth advertises AUTH PLAIN LOGIN.
	auth bool
	// addr is the listen address; default 127.0.0.1:0.
	addr string
}

// received is one message a fakeSMTP accepted, or a session's state.
type received struct {
	from, to string
	data     []byte
	tls      bool
	authUser string
	authPass string
}

// startFake starts a fakeSMTP that listens and serves until the test ends.
func startFake(t *testing.T, opts fakeOpts) *fakeSMTP {
	t.Helper()
	s := &fakeSMTP{fakeOpts: opts}
	addr := opts.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s.ln = ln
	quit := make(chan struct{})
	t.Cleanup(func() {
		close(quit)
		_ = ln.Close()
		s.wg.Wait()
	})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer conn.Close()
				if s.hang {
					<-quit
					return
				}
				s.serve(conn)
			}()
		}
	}()
	return s
}

// port is the server's port.
func (s *fakeSMTP) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// messages returns what the server accepted.
func (s *fakeSMTP) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.received...)
}

// stats returns how many connections the server had and whether a client
// sent AUTH.
func (s *fakeSMTP) stats() (sessions int, authSeen bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions, s.authSeen
}

func (s *fakeSMTP) serve(conn net.Conn) {
	s.mu.Lock()
	s.sessions++
	s.mu.Unlock()
	isTLS := false
	if s.implicit {
		tc := tls.Server(conn, s.tlsConfig)
		if err := tc.Handshake(); err != nil {
			return
		}
		conn, isTLS = tc, true
	}
	tp := textproto.NewConn(conn)
	reply := func(def, custom string) {
		if custom != "" {
			_ = tp.PrintfLine("%s", custom)
			return
		}
		_ = tp.PrintfLine("%s", def)
	}
	reply("220 fake ESMTP", s.greeting)
	if s.greeting != "" {
		return
	}
	var cur received
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			lines := []string{"fake"}
			if s.tlsConfig != nil && !isTLS {
				lines = append(lines, "STARTTLS")
			}
			if s.auth {
				lines = append(lines, "AUTH PLAIN LOGIN")
			}
			lines = append(lines, "8BITMIME")
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				_ = tp.PrintfLine("250%s%s", sep, l)
			}
		case "HELO", "NOOP", "RSET":
			_ = tp.PrintfLine("250 ok")
		case "STARTTLS":
			_ = tp.PrintfLine("220 go ahead")
			tc := tls.Server(conn, s.tlsConfig)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, isTLS = tc, true
			tp = textproto.NewConn(conn)
		case "AUTH":
			s.mu.Lock()
			s.authSeen = true
			s.mu.Unlock()
			mech, initial, _ := strings.Cut(arg, " ")
			if !strings.EqualFold(mech, "PLAIN") {
				_ = tp.PrintfLine("504 only PLAIN here")
				continue
			}
			raw, _ := base64.StdEncoding.DecodeString(initial)
			parts := strings.Split(string(raw), "\x00")
			if len(parts) == 3 {
				cur.authUser, cur.authPass = parts[1], parts[2]
			}
			reply("235 2.7.0 authenticated", s.authReply)
		case "MAIL":
			cur.from = arg
			reply("250 2.1.0 ok", s.mailReply)
		case "RCPT":
			cur.to = arg
			reply("250 2.1.5 ok", s.rcptReply)
		case "DATA":
			_ = tp.PrintfLine("354 go ahead")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			if s.dataReply != "" {
				_ = tp.PrintfLine("%s", s.dataReply)
				continue
			}
			cur.data, cur.tls = data, isTLS
			s.mu.Lock()
			s.received = append(s.received, cur)
			s.mu.Unlock()
			_ = tp.PrintfLine("250 2.0.0 queued")
		case "QUIT":
			_ = tp.PrintfLine("221 bye")
			return
		default:
			_ = tp.PrintfLine("502 unknown command")
		}
	}
}

// testCert returns a server TLS configuration valid for 127.0.0.1 and a
// client one that trusts it (httptest's certificate).
func testCert(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return &tls.Config{Certificates: srv.TLS.Certificates, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
