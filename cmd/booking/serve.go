package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/joho/godotenv"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bookingplatform/booking/internal/app"
	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/config"
	"github.com/bookingplatform/booking/internal/mailer"
	"github.com/bookingplatform/booking/internal/payment"
	"github.com/bookingplatform/booking/internal/postgres"
)

// withDotEnv returns getenv backed by an optional .env file (path from
// ENV_FILE, default ".env"); the real environment wins over the file.
func withDotEnv(getenv func(string) string) (func(string) string, error) {
	path := getenv("ENV_FILE")
	explicit := path != ""
	if !explicit {
		path = ".env"
	}
	vals, err := godotenv.Read(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !explicit {
			return getenv, nil
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return vals[k]
	}, nil
}

// loadConfig reads .env and the environment; problems come one per line.
func loadConfig(getenv func(string) string) (*config.Config, error) {
	ge, err := withDotEnv(getenv)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(ge)
	if err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

// openStore loads the configuration and opens a small pool for a one-shot
// command; the caller closes the store.
func openStore(ctx context.Context, getenv func(string) string, conns int32) (*config.Config, *postgres.DB, error) {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return nil, nil, err
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.PoolOpts{MaxConns: conns, Pooler: cfg.Pooler != ""})
	if err != nil {
		return nil, nil, err
	}
	return cfg, db, nil
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	noMigrate := fs.Bool("no-migrate", false, "do not apply pending migrations at start")
	if err := fs.Parse(args); err != nil {
		return usageError{}
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(stdout, cfg.LogLevel)
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit(runtime.GOMAXPROCS(0)))
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.PoolOpts{MaxConns: cfg.DBMaxConns, Pooler: cfg.Pooler != ""})
	if err != nil {
		return err
	}
	defer db.Close()
	if !*noMigrate {
		// Migrations hold a session-level advisory lock: on PostgreSQL
		// itself, never through a transaction pooler.
		var v int64
		if cfg.DatabaseDirectURL != "" {
			v, err = postgres.MigrateURL(ctx, cfg.DatabaseDirectURL, log)
		} else {
			v, err = postgres.Migrate(ctx, db.Pool, log)
		}
		if err != nil {
			return err
		}
		log.Info("schema ready", "version", v)
	}

	a, err := newApp(cfg, db, log)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              cfg.ListenAddr,
		Handler:           a.Server.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	servers := []*http.Server{srv}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if cfg.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(a.Metrics.Registry, promhttp.HandlerOpts{}))
		msrv := &http.Server{Addr: cfg.MetricsAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.MetricsAddr, err)
		}
		servers = append(servers, msrv)
		go func() { errc <- msrv.Serve(mln) }()
	}
	mode := "stripe"
	if cfg.DemoPayments {
		mode = "demo"
	}
	log.Info("listening", "addr", ln.Addr().String(), "env", cfg.Env, "payments", mode, "version", version, "app_url", cfg.AppURL,
		"memory_limit_mib", debug.SetMemoryLimit(-1)>>20)
	// Background work: the hold sweep, owed refunds, the money check for
	// the metrics, the purge of old idempotency keys. It stops, and is
	// waited for, before the pool closes.
	jobsCtx, stopJobs := context.WithCancel(ctx)
	jobsDone := make(chan struct{})
	go func() {
		defer close(jobsDone)
		a.Run(jobsCtx, app.Background{Every: cfg.SweepInterval, Retention: time.Duration(cfg.RetentionDays) * 24 * time.Hour})
	}()
	defer func() { stopJobs(); <-jobsDone }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", cfg.ShutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			log.Error("shutdown", "err", err)
		}
	}
	log.Info("stopped")
	return nil
}

// defaultMemoryLimit is the soft memory limit (runtime/debug.SetMemoryLimit)
// of `booking serve` when the environment sets no GOMEMLIMIT: room for every
// password hash that may run at once (procs of them, auth.DefaultParams'
// memory each, see app.Options.HashConcurrency) and 128 MiB for the rest of
// the server, which sits at 25-45 MiB. Without a limit the collector lets
// the heap double before collecting (GOGC=100), and in a login storm it grew
// into the garbage of finished hashes: peaks from 280 to 413 MiB with two
// hashes in flight. The limit only makes the collector run sooner near it;
// it refuses no allocation.
func defaultMemoryLimit(procs int) int64 {
	return int64(max(procs, 1))*int64(auth.DefaultParams().Memory)<<10 + 128<<20
}

// newApp wires the product from the configuration: Stripe, or demo
// payments in development without Stripe keys.
func newApp(cfg *config.Config, db *postgres.DB, log *slog.Logger) (*app.App, error) {
	o := app.Options{
		DB: db, Logger: log, ResourceListenURL: cfg.DirectURL(), Hold: time.Duration(cfg.HoldMinutes) * time.Minute, Version: version,
		WebhookSecrets: cfg.WebhookSecret, Production: cfg.Production(), TrustProxy: cfg.TrustProxy,
		WebhookFloodPerMinute: cfg.WebhookFloodPerMinute, LoginPerMinute: cfg.LoginPerMinute,
		BookingPerMinute: cfg.BookingPerMinute, MetricsToken: cfg.MetricsToken,
		Session:        auth.SessionOpts{Secure: cfg.CookieSecure, IdleTimeout: cfg.SessionIdle, Lifetime: cfg.SessionLifetime},
		SessionCleanup: 5 * time.Minute,
	}
	if cfg.DemoPayments {
		if len(o.WebhookSecrets) == 0 {
			o.WebhookSecrets = []string{demoWebhookSecret()}
		}
		// The demo checkout signs with the secret the verifier tries first.
		o.Demo = &payment.Demo{AppURL: cfg.AppURL, WebhookSecret: o.WebhookSecrets[0]}
		o.Payments = o.Demo
	} else {
		o.Payments = payment.NewStripe(payment.StripeOpts{SecretKey: cfg.StripeSecret, APIBase: cfg.StripeAPIBase, AppURL: cfg.AppURL})
	}
	if len(o.WebhookSecrets) == 0 {
		log.Warn("STRIPE_WEBHOOK_SECRET is not set: every webhook will be rejected")
	}
	o.AppURL, o.StaffEmail, o.PollOnly = cfg.AppURL, cfg.StaffNotifyEmail, cfg.Pooler == "pgbouncer"
	o.MailFrom, o.JobWorkers = cfg.MailFrom, cfg.JobWorkers
	o.WebhookAllowedNetworks = cfg.WebhookAllowedNetworks
	if cfg.SMTP != nil {
		sender, err := mailer.NewSender(*cfg.SMTP, cfg.MailFrom, mailer.SenderOpts{})
		if err != nil {
			return nil, fmt.Errorf("mail: %w", err)
		}
		o.Mail = sender
		log.Info("messages are sent through " + cfg.SMTP.String())
	} else {
		log.Warn("SMTP_URL is not set: messages are queued but not sent")
	}
	return app.New(o), nil
}

// demoWebhookSecret is a per-process secret for demo payments.
func demoWebhookSecret() string {
	return "whsec_demo_" + randomHex(16)
}

func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return usageError{}
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	v, err := postgres.MigrateURL(ctx, cfg.DirectURL(), log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema at version %d\n", v)
	return nil
}
