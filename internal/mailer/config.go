package mailer

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// TLSPolicy says how the connection to the SMTP server is encrypted.
type TLSPolicy string

// The TLS policies. TLSImplicit is the smtps:// scheme; the other three apply
// to smtp:// and govern STARTTLS.
const (
	// TLSMandatory requires STARTTLS: a server that does not offer it is an
	// error, never a plain-text fallback.
	TLSMandatory TLSPolicy = "mandatory"
	// TLSOpportunistic uses STARTTLS when the server offers it and sends in
	// plain text otherwise.
	TLSOpportunistic TLSPolicy = "opportunistic"
	// TLSNone never uses STARTTLS. Credentials are then only sent to a
	// loopback server or through a mechanism that does not reveal them.
	TLSNone TLSPolicy = "none"
	// TLSImplicit speaks TLS from the first byte (smtps://, usually port 465).
	TLSImplicit TLSPolicy = "implicit"
)

// Default ports of the two schemes.
const (
	DefaultPortSubmission = 587
	DefaultPortImplicit   = 465
)

// Config is where and how to reach the SMTP server. Build it with ParseURL;
// String never shows the password.
type Config struct {
	// Host is the server's host name or IP address.
	Host string
	// Port is the server's TCP port.
	Port int
	// Username and Password authenticate with SMTP AUTH when Username is not
	// empty.
	Username string
	Password string
	// TLS is the encryption policy.
	TLS TLSPolicy
}

// ParseURL reads SMTP_URL:
//
//	smtp://[user[:password]@]host[:port][?tls=none|opportunistic|mandatory]
//	smtps://[user[:password]@]host[:port]
//
// smtp:// upgrades the connection with STARTTLS and defaults to port 587;
// smtps:// uses TLS from the start (implicit TLS) and defaults to port 465.
// The user name and password are optional and percent-encoded (an "@" in a
// password is written %40); both are needed to authenticate.
//
// The STARTTLS policy of smtp:// is mandatory for every host except a
// loopback one (localhost, 127.0.0.0/8, ::1), where it is opportunistic so
// a local Mailpit without TLS works. The query parameter tls overrides it:
// tls=mandatory (refuse a server without STARTTLS), tls=opportunistic (use
// STARTTLS when offered) or tls=none (never; for a trusted relay on a private
// network, e.g. smtp://mailpit:1025?tls=none in Docker Compose). Without TLS,
// credentials are only sent to a loopback host or with a challenge-response
// mechanism (CRAM-MD5, SCRAM) that does not reveal them.
//
// Error messages name the part of the URL that is wrong and never contain
// the password.
func ParseURL(raw string) (Config, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Config{}, errors.New("SMTP_URL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the input, or parts of it, in its errors: with
		// credentials in the URL, only say what to check.
		var urlErr *url.Error
		if !strings.Contains(raw, "@") && errors.As(err, &urlErr) {
			return Config{}, fmt.Errorf("SMTP_URL is not a valid URL: %v", urlErr.Err)
		}
		return Config{}, errors.New("SMTP_URL is not a valid URL (check the scheme, host and port, and percent-encode special characters in the user name and password)")
	}
	if strings.Contains(u.Path+u.RawQuery+u.Fragment, "@") {
		// An unescaped /, ? or # in the password ended the host part early.
		return Config{}, errors.New("SMTP_URL is not a valid URL (percent-encode special characters such as / ? # @ in the user name and password)")
	}
	var cfg Config
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		cfg.Port = DefaultPortSubmission
	case "smtps":
		cfg.Port = DefaultPortImplicit
		cfg.TLS = TLSImplicit
	case "":
		return Config{}, errors.New("SMTP_URL has no scheme: it starts with smtp:// (STARTTLS) or smtps:// (implicit TLS)")
	default:
		return Config{}, fmt.Errorf("SMTP_URL has the scheme %q: use smtp:// (STARTTLS) or smtps:// (implicit TLS)", u.Scheme)
	}
	if u.Opaque != "" {
		return Config{}, errors.New("SMTP_URL must have the form smtp://host:port (the // is missing)")
	}
	cfg.Host = u.Hostname()
	if cfg.Host == "" {
		return Config{}, errors.New("SMTP_URL has no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Config{}, errors.New("SMTP_URL has an invalid port: want 1-65535")
		}
		cfg.Port = n
	}
	if u.Path != "" && u.Path != "/" {
		return Config{}, errors.New("SMTP_URL has a path; it takes none")
	}
	if u.Fragment != "" {
		return Config{}, errors.New("SMTP_URL has a fragment (#...); it takes none (percent-encode a # in the password as %23)")
	}
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
		if cfg.Username == "" {
			return Config{}, errors.New("SMTP_URL has a password but no user name")
		}
		if cfg.Password == "" {
			return Config{}, errors.New("SMTP_URL has a user name but no password")
		}
	}
	q := u.Query()
	for key := range q {
		if key != "tls" {
			return Config{}, fmt.Errorf("SMTP_URL has the unknown parameter %q; the only one is tls", key)
		}
	}
	if q.Has("tls") {
		if cfg.TLS == TLSImplicit {
			return Config{}, errors.New("SMTP_URL: smtps:// always uses TLS; the tls parameter only applies to smtp://")
		}
		policy := TLSPolicy(strings.ToLower(q.Get("tls")))
		if !slices.Contains([]TLSPolicy{TLSNone, TLSOpportunistic, TLSMandatory}, policy) {
			return Config{}, fmt.Errorf("SMTP_URL has tls=%q: want none, opportunistic or mandatory", q.Get("tls"))
		}
		cfg.TLS = policy
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSMandatory
		if isLoopback(cfg.Host) {
			cfg.TLS = TLSOpportunistic
		}
	}
	return cfg, nil
}

// Addr is the server's address, host:port.
func (c Config) Addr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// String is the configuration as a URL, with the password masked.
func (c Config) String() string {
	u := url.URL{Scheme: "smtp", Host: c.Addr()}
	if c.TLS == TLSImplicit {
		u.Scheme = "smtps"
	} else if c.TLS != "" {
		u.RawQuery = "tls=" + string(c.TLS)
	}
	if c.Username != "" {
		u.User = url.UserPassword(c.Username, "xxxxx")
	}
	return u.String()
}

// GoString masks the password in %#v too.
func (c Config) GoString() string {
	return fmt.Sprintf("mail.Config(%s)", c.String())
}

// isLoopback reports whether host is localhost or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
