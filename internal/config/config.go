// Package config reads the product's configuration from the environment (and
// an optional .env file loaded by the caller) and validates all of it at once.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bookingplatform/booking/internal/mailer"
)

// Config is the validated configuration of the server and commands.
type Config struct {
	DatabaseURL   string
	Port          int
	ListenAddr    string
	Env           string // development | production
	AppURL        string
	StripeSecret  string
	WebhookSecret []string // current first; a previous one while rolling
	StripeAPIBase string
	HoldMinutes   int
	TrustProxy    bool
	CookieSecure  bool
	LogLevel      slog.Level
	DBMaxConns    int32
	// JobWorkers is how many jobs each queue works at once (JOB_WORKERS).
	JobWorkers int
	// DatabaseDirectURL reaches PostgreSQL itself, not through a pooler:
	// migrations hold a session-level advisory lock. Empty: DatabaseURL.
	DatabaseDirectURL string
	// Pooler is "pgbouncer" when DatabaseURL goes through a PgBouncer in
	// transaction pooling mode, "" otherwise.
	Pooler        string
	MetricsAddr   string
	MetricsToken  string
	ShutdownGrace time.Duration
	// WebhookFloodPerMinute limits badly signed webhook requests per client address.
	WebhookFloodPerMinute int
	LoginPerMinute        int
	SessionIdle           time.Duration
	SessionLifetime       time.Duration
	BookingPerMinute      int
	DemoPayments          bool
	// SweepInterval is how often serve expires lapsed holds; 0 turns it off.
	SweepInterval time.Duration
	// RetentionDays, when positive, erases the customer data of bookings
	// that ended more than that many days ago; 0 (the default) keeps it.
	RetentionDays int
	// SMTP is where messages go (SMTP_URL); nil: no messages are sent
	// (development only).
	SMTP *mailer.Config
	// MailFrom is the sender of every message.
	MailFrom string
	// StaffNotifyEmail receives the staff alerts.
	StaffNotifyEmail string
	// WebhookAllowedNetworks are the networks outgoing webhooks may reach in
	// production although they are not public (WEBHOOK_ALLOWED_NETWORKS).
	WebhookAllowedNetworks []netip.Prefix
}

// DirectURL reaches PostgreSQL itself, for what needs a session of its
// own: migrations under their advisory lock, the resource cache's LISTEN.
func (c *Config) DirectURL() string {
	if c.DatabaseDirectURL != "" {
		return c.DatabaseDirectURL
	}
	return c.DatabaseURL
}

// Production reports whether APP_ENV is production.
func (c *Config) Production() bool { return c.Env == "production" }

// Vars documents every variable: name, default, meaning. The README and
// .env.example follow this list.
var Vars = []struct{ Name, Default, Help string }{
	{"DATABASE_URL", "postgres://postgres@127.0.0.1:5432/booking?sslmode=disable", "PostgreSQL connection string"},
	{"PORT", "3000", "HTTP port"},
	{"LISTEN_ADDR", "", "full listen address, overrides PORT (e.g. 127.0.0.1:3000)"},
	{"APP_ENV", "development", "development or production (NODE_ENV accepted as an alias)"},
	{"APP_URL", "http://localhost:$PORT", "public base URL used for Stripe return pages"},
	{"STRIPE_SECRET_KEY", "", "Stripe secret key (sk_...); required in production"},
	{"STRIPE_WEBHOOK_SECRET", "", "webhook signing secret (whsec_...); a second one after a comma while rolling"},
	{"STRIPE_API_BASE", "", "Stripe API base URL, e.g. http://127.0.0.1:12111 for stripe-mock"},
	{"HOLD_MINUTES", "30", "how long a pending booking holds its slot (30-1440, Stripe's Checkout minimum is 30)"},
	{"TRUST_PROXY", "false", "identify clients by X-Forwarded-For (only behind a trusted proxy)"},
	{"COOKIE_SECURE", "true in production", "mark session cookies Secure"},
	{"LOG_LEVEL", "info", "debug, info, warn or error"},
	{"DB_MAX_CONNS", "8", "connection pool size; a few per database CPU core is best, more only adds contention"},
	{"JOB_WORKERS", "4", "jobs worked at once per queue (messages, webhook deliveries) and process; a message holds its worker for an SMTP session, so this bounds the messages sent a second: raise it for bursts of bookings, within what the mail server accepts"},
	{"DB_POOLER", "", "pgbouncer when DATABASE_URL goes through a PgBouncer in transaction pooling mode (no prepared statements or session settings are relied on)"},
	{"DATABASE_DIRECT_URL", "DATABASE_URL", "PostgreSQL itself, for what needs a session: migrations (a session-level advisory lock) and the resource cache (LISTEN); required with DB_POOLER=pgbouncer"},
	{"METRICS_ADDR", "", "separate listen address for GET /metrics (e.g. 127.0.0.1:9090)"},
	{"METRICS_TOKEN", "", "bearer token that opens GET /metrics on the main listener"},
	{"SHUTDOWN_GRACE", "20s", "how long in-flight requests may finish on SIGTERM"},
	{"WEBHOOK_FLOOD_PER_MINUTE", "60", "badly signed webhook requests allowed per client address per minute"},
	{"LOGIN_PER_MINUTE", "5", "login attempts per client address per minute"},
	{"SESSION_IDLE_TIMEOUT", "30m", "a staff session unused for this long ends"},
	{"SESSION_LIFETIME", "12h", "a staff session ends this long after login, used or not"},
	{"BOOKING_PER_MINUTE", "20", "bookings (slot holds) per client address per minute; 0 turns the limit off"},
	{"SWEEP_INTERVAL", "30s", "how often serve expires lapsed holds (one replica at a time); 0 turns the sweep off"},
	{"DEMO_PAYMENTS", "true in development without STRIPE_SECRET_KEY", "local demo checkout instead of Stripe; refused in production"},
	{"SMTP_URL", "", "mail server: smtp://user:pass@host:587 (STARTTLS), smtps://…:465 (implicit TLS), smtp://127.0.0.1:1025?tls=none (Mailpit); required in production"},
	{"MAIL_FROM", "", "sender of the messages, e.g. \"Studio Bookings <bookings@example.com>\"; required with SMTP_URL"},
	{"STAFF_NOTIFY_EMAIL", "", "address of the staff alerts (new bookings, reviews, disputes, failing refunds); required in production"},
	{"RETENTION_DAYS", "0", "erase the customer data of bookings that ended more than this many days ago (hourly; 0 turns it off)"},
	{"WEBHOOK_ALLOWED_NETWORKS", "", "comma-separated CIDRs that outgoing webhooks may reach in production although they are private, loopback or link-local (receivers on an internal network); default none"},
	{"ENV_FILE", ".env", "file of KEY=value lines read at start; the environment wins over it"},
}

// Load reads and validates the configuration. All problems are reported
// together, one per line, in the returned error.
func Load(getenv func(string) string) (*Config, error) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := &Config{}

	c.Env = get("APP_ENV", get("NODE_ENV", "development"))
	if c.Env != "development" && c.Env != "production" {
		bad("APP_ENV: must be development or production, got %q", c.Env)
	}
	c.DatabaseURL = get("DATABASE_URL", Vars[0].Default)
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad("DATABASE_URL: must be a postgres:// or postgresql:// URL")
	}
	c.Port = intVar(get("PORT", "3000"), 1, 65535, "PORT", bad)
	c.ListenAddr = get("LISTEN_ADDR", fmt.Sprintf(":%d", c.Port))
	c.AppURL = strings.TrimRight(get("APP_URL", fmt.Sprintf("http://localhost:%d", c.Port)), "/")
	if u, err := url.Parse(c.AppURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("APP_URL: must be an absolute http(s) URL")
	} else if c.Production() && u.Scheme != "https" {
		bad("APP_URL: must use https in production")
	}
	c.StripeSecret = get("STRIPE_SECRET_KEY", "")
	if c.StripeSecret != "" && !strings.HasPrefix(c.StripeSecret, "sk_") && !strings.HasPrefix(c.StripeSecret, "rk_") {
		bad("STRIPE_SECRET_KEY: must start with sk_ or rk_")
	}
	for _, s := range strings.Split(get("STRIPE_WEBHOOK_SECRET", ""), ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !strings.HasPrefix(s, "whsec_") {
			bad("STRIPE_WEBHOOK_SECRET: each secret must start with whsec_")
			break
		}
		c.WebhookSecret = append(c.WebhookSecret, s)
	}
	if len(c.WebhookSecret) > 2 {
		bad("STRIPE_WEBHOOK_SECRET: at most two secrets (current, previous)")
	}
	c.StripeAPIBase = strings.TrimRight(get("STRIPE_API_BASE", ""), "/")
	if c.StripeAPIBase != "" {
		if u, err := url.Parse(c.StripeAPIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("STRIPE_API_BASE: must be an absolute http(s) URL")
		} else if c.Production() && u.Scheme != "https" {
			bad("STRIPE_API_BASE: must use https in production")
		}
	}
	if c.Production() {
		if c.StripeSecret == "" {
			bad("STRIPE_SECRET_KEY: required in production")
		}
		if len(c.WebhookSecret) == 0 {
			bad("STRIPE_WEBHOOK_SECRET: required in production")
		}
		if truthy(get("DEMO_PAYMENTS", "")) {
			bad("DEMO_PAYMENTS: demo payments cannot be enabled in production")
		}
	} else {
		c.DemoPayments = boolVar(get("DEMO_PAYMENTS", strconv.FormatBool(c.StripeSecret == "")), "DEMO_PAYMENTS", bad)
		if !c.DemoPayments && c.StripeSecret == "" {
			bad("STRIPE_SECRET_KEY: required when DEMO_PAYMENTS is false")
		}
	}
	c.HoldMinutes = intVar(get("HOLD_MINUTES", "30"), 30, 1440, "HOLD_MINUTES", bad)
	c.TrustProxy = boolVar(get("TRUST_PROXY", "false"), "TRUST_PROXY", bad)
	c.CookieSecure = boolVar(get("COOKIE_SECURE", strconv.FormatBool(c.Production())), "COOKIE_SECURE", bad)
	if c.Production() && !c.CookieSecure {
		bad("COOKIE_SECURE: cannot be false in production")
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL", "info"))); err != nil {
		bad("LOG_LEVEL: must be debug, info, warn or error")
	}
	c.DBMaxConns = int32(intVar(get("DB_MAX_CONNS", "8"), 2, 1000, "DB_MAX_CONNS", bad))
	c.JobWorkers = intVar(get("JOB_WORKERS", "4"), 1, 200, "JOB_WORKERS", bad)
	switch c.Pooler = get("DB_POOLER", ""); c.Pooler {
	case "", "none":
		c.Pooler = ""
	case "pgbouncer":
	default:
		bad("DB_POOLER: must be pgbouncer or empty, got %q", c.Pooler)
	}
	c.DatabaseDirectURL = get("DATABASE_DIRECT_URL", "")
	if c.DatabaseDirectURL != "" {
		if u, err := url.Parse(c.DatabaseDirectURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("DATABASE_DIRECT_URL: must be a postgres:// or postgresql:// URL")
		}
	} else if c.Pooler == "pgbouncer" {
		bad("DATABASE_DIRECT_URL: required with DB_POOLER=pgbouncer (migrations and LISTEN need a session a transaction pooler cannot keep)")
	}
	c.MetricsAddr = get("METRICS_ADDR", "")
	c.MetricsToken = get("METRICS_TOKEN", "")
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		bad("METRICS_TOKEN: must be at least 16 characters")
	}
	grace, err := time.ParseDuration(get("SHUTDOWN_GRACE", "20s"))
	if err != nil || grace < 0 || grace > 10*time.Minute {
		bad("SHUTDOWN_GRACE: must be a duration up to 10m, like 20s")
	}
	c.ShutdownGrace = grace
	c.WebhookFloodPerMinute = intVar(get("WEBHOOK_FLOOD_PER_MINUTE", "60"), 1, 100000, "WEBHOOK_FLOOD_PER_MINUTE", bad)
	c.SessionIdle = durationVar(get("SESSION_IDLE_TIMEOUT", "30m"), time.Minute, 24*time.Hour, "SESSION_IDLE_TIMEOUT", bad)
	c.SessionLifetime = durationVar(get("SESSION_LIFETIME", "12h"), time.Minute, 30*24*time.Hour, "SESSION_LIFETIME", bad)
	if c.SessionIdle > c.SessionLifetime {
		bad("SESSION_IDLE_TIMEOUT: must not be longer than SESSION_LIFETIME")
	}
	c.BookingPerMinute = intVar(get("BOOKING_PER_MINUTE", "20"), 0, 100000, "BOOKING_PER_MINUTE", bad)
	c.LoginPerMinute = intVar(get("LOGIN_PER_MINUTE", "5"), 1, 10000, "LOGIN_PER_MINUTE", bad)
	sweep, err := time.ParseDuration(get("SWEEP_INTERVAL", "30s"))
	if err != nil || (sweep != 0 && (sweep < time.Second || sweep > time.Hour)) {
		bad("SWEEP_INTERVAL: must be 0 or a duration from 1s to 1h, like 30s")
	}
	c.SweepInterval = sweep
	c.RetentionDays = intVar(get("RETENTION_DAYS", "0"), 0, 36500, "RETENTION_DAYS", bad)
	if raw := get("SMTP_URL", ""); raw != "" {
		m, err := mailer.ParseURL(raw)
		if err != nil {
			bad("%s", err.Error())
		} else {
			c.SMTP = &m
		}
	} else if c.Production() {
		bad("SMTP_URL: required in production (customers get their confirmations by email)")
	}
	c.MailFrom = get("MAIL_FROM", "")
	if c.MailFrom != "" {
		if _, err := mailer.ParseFrom(c.MailFrom); err != nil {
			bad("MAIL_FROM: must be an address, e.g. bookings@example.com or \"Studio <bookings@example.com>\"")
		}
	} else if c.SMTP != nil || c.Production() {
		bad("MAIL_FROM: required with SMTP_URL")
	}
	c.StaffNotifyEmail = get("STAFF_NOTIFY_EMAIL", "")
	if c.StaffNotifyEmail != "" {
		if a, err := mailer.ParseFrom(c.StaffNotifyEmail); err != nil || a.Name != "" {
			bad("STAFF_NOTIFY_EMAIL: must be a plain address, e.g. staff@example.com")
		}
	} else if c.Production() {
		bad("STAFF_NOTIFY_EMAIL: required in production")
	}

	for f := range strings.SplitSeq(get("WEBHOOK_ALLOWED_NETWORKS", ""), ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			bad("WEBHOOK_ALLOWED_NETWORKS: %q is not a CIDR such as 10.0.0.0/8", f)
			continue
		}
		c.WebhookAllowedNetworks = append(c.WebhookAllowedNetworks, p.Masked())
	}

	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return c, nil
}

func intVar(s string, lo, hi int, name string, bad func(string, ...any)) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		bad("%s: must be a whole number from %d to %d, got %q", name, lo, hi, s)
		return lo
	}
	return n
}

func durationVar(s string, lo, hi time.Duration, name string, bad func(string, ...any)) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil || d < lo || d > hi {
		bad("%s: must be a duration from %s to %s, like 30m, got %q", name, lo, hi, s)
		return lo
	}
	return d
}

func boolVar(s, name string, bad func(string, ...any)) bool {
	b, err := strconv.ParseBool(s)
	if err != nil {
		bad("%s: must be true or false, got %q", name, s)
	}
	return b
}

func truthy(s string) bool { b, _ := strconv.ParseBool(strings.TrimSpace(s)); return b }
