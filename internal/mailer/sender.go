package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	stdmail "net/mail"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Default timeouts of a Sender.
const (
	DefaultDialTimeout = 10 * time.Second
	DefaultSendTimeout = 30 * time.Second
)

// SenderOpts are the optional settings of a Sender; the zero value means the
// defaults.
type SenderOpts struct {
	// DialTimeout bounds the TCP connection (and the TLS handshake of
	// smtps://). Default DefaultDialTimeout.
	DialTimeout time.Duration
	// SendTimeout bounds a whole Send: connection, STARTTLS, AUTH and the
	// mail transaction. Default DefaultSendTimeout.
	SendTimeout time.Duration
	// TLSConfig is the TLS configuration for STARTTLS and smtps://, e.g. to
	// trust a private certificate authority. ServerName defaults to the
	// configured host, MinVersion to TLS 1.2.
	TLSConfig *tls.Config
	// HELO is the name the client introduces itself with; default the
	// machine's host name.
	HELO string
	// NowFunc returns the time of the Date header; default time.Now.
	NowFunc func() time.Time
}

// Sender sends messages through one SMTP server from one address. It opens
// a connection per Send and is safe for concurrent use.
type Sender struct {
	cfg     Config
	from    *stdmail.Address
	opts    SenderOpts
	tlsConf *tls.Config
}

// NewSender returns a Sender for cfg (see ParseURL) sending from from
// (MAIL_FROM): an RFC 5322 address, "bookings@example.com" or
// "Example Bookings <bookings@example.com>".
func NewSender(cfg Config, from string, opts SenderOpts) (*Sender, error) {
	if cfg.Host == "" || cfg.Port < 1 || cfg.Port > 65535 {
		return nil, errors.New("new mail sender: SMTP host and port are required")
	}
	switch cfg.TLS {
	case TLSMandatory, TLSOpportunistic, TLSNone, TLSImplicit:
	default:
		return nil, fmt.Errorf("new mail sender: unknown TLS policy %q", cfg.TLS)
	}
	addr, err := ParseFrom(from)
	if err != nil {
		return nil, fmt.Errorf("new mail sender: %w", err)
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = DefaultSendTimeout
	}
	if opts.NowFunc == nil {
		opts.NowFunc = time.Now
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.TLSConfig != nil {
		tlsConf = opts.TLSConfig.Clone()
	}
	if tlsConf.ServerName == "" {
		tlsConf.ServerName = cfg.Host
	}
	if tlsConf.MinVersion == 0 {
		tlsConf.MinVersion = tls.VersionTLS12
	}
	return &Sender{cfg: cfg, from: addr, opts: opts, tlsConf: tlsConf}, nil
}

// ParseFrom validates a sender address (MAIL_FROM) as an RFC 5322 address
// with an optional display name.
func ParseFrom(from string) (*stdmail.Address, error) {
	addr, err := stdmail.ParseAddress(strings.TrimSpace(from))
	if err != nil {
		return nil, fmt.Errorf("MAIL_FROM %q is not an email address like \"Bookings <bookings@example.com>\": %w", from, err)
	}
	return addr, nil
}

// From is the sender address as it appears in the From header.
func (s *Sender) From() string { return s.from.String() }

// MessageID is the Message-ID header value (without angle brackets) of a
// message with the given Message.ID: that id when it is a valid dot-atom of
// at most 128 characters, otherwise a hash of it, then "@" and the sender's
// domain. The same id always gives the same Message-ID.
func (s *Sender) MessageID(id string) string { return messageID(id, s.from.Address) }

// Send sends m. It returns nil once the server has accepted the message,
// otherwise a *SendError (see IsPermanent). It gives up when ctx is done or
// after SendTimeout, whichever comes first.
func (s *Sender) Send(ctx context.Context, m *Message) error {
	msg, to, err := build(m, s.from, s.opts.NowFunc())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.SendTimeout)
	defer cancel()

	// go-mail bounds each command with its own timeout but does not watch
	// the context after the dial: closing the connection when the context
	// ends unblocks whatever it is waiting for.
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	closeAll := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	}
	stop := context.AfterFunc(ctx, closeAll)
	// go-mail leaves the connection open when the handshake fails after
	// the dial (e.g. no STARTTLS): whatever happened, close it at the end.
	defer func() {
		stop()
		closeAll()
	}()
	dial := func(dialCtx context.Context, network, address string) (net.Conn, error) {
		d := net.Dialer{Timeout: s.opts.DialTimeout}
		conn, err := d.DialContext(dialCtx, network, address)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		conns = append(conns, conn)
		mu.Unlock()
		if ctx.Err() != nil {
			_ = conn.Close()
			return nil, ctx.Err()
		}
		if s.cfg.TLS != TLSImplicit {
			return conn, nil
		}
		hsCtx, hsCancel := context.WithTimeout(dialCtx, s.opts.DialTimeout)
		defer hsCancel()
		tlsConn := tls.Client(conn, s.tlsConf)
		if err := tlsConn.HandshakeContext(hsCtx); err != nil {
			_ = conn.Close()
			return nil, err
		}
		return tlsConn, nil
	}

	client, err := s.client(dial)
	if err != nil {
		return classify(ctx, OpConnect, err, s.cfg.Password)
	}
	c, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return classify(ctx, OpConnect, err, s.cfg.Password)
	}
	defer func() { _ = c.Close() }()

	if err := c.Mail(envelope(s.from)); err != nil {
		return classify(ctx, OpMailFrom, err, s.cfg.Password)
	}
	if err := c.Rcpt(envelope(to)); err != nil {
		return classify(ctx, OpRcptTo, err, s.cfg.Password)
	}
	w, err := c.Data()
	if err != nil {
		return classify(ctx, OpData, err, s.cfg.Password)
	}
	if _, err := msg.WriteTo(w); err != nil {
		// No closing dot: closing the connection makes the server drop the
		// incomplete message rather than deliver it truncated.
		return classify(ctx, OpData, err, s.cfg.Password)
	}
	if err := w.Close(); err != nil {
		return classify(ctx, OpData, err, s.cfg.Password)
	}
	// The server has accepted the message: a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}

// client configures a go-mail client for one send over dial.
func (s *Sender) client(dial gomail.DialContextFunc) (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		// Per-command deadlines are a backstop: the context bounds the send.
		gomail.WithTimeout(s.opts.SendTimeout + time.Second),
		gomail.WithDialContextFunc(dial),
		gomail.WithTLSConfig(s.tlsConf),
	}
	switch s.cfg.TLS {
	case TLSMandatory:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case TLSNone, TLSImplicit:
		// smtps:// is already encrypted by dial: no STARTTLS on top.
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.opts.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.opts.HELO))
	}
	if s.cfg.Username != "" {
		// PLAIN and LOGIN refuse to run over an unencrypted connection to a
		// host other than localhost; the challenge-response mechanisms come
		// first.
		opts = append(opts,
			gomail.WithUsername(s.cfg.Username),
			gomail.WithPassword(s.cfg.Password),
			gomail.WithOpportunisticSMTPAuth(
				gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthCramMD5,
				gomail.SMTPAuthPlain, gomail.SMTPAuthLogin,
			))
	}
	return gomail.NewClient(s.cfg.Host, opts...)
}

// envelope is the SMTP envelope form of an address: <local@domain>.
func envelope(a *stdmail.Address) string {
	return (&stdmail.Address{Address: a.Address}).String()
}
