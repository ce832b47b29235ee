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
	"sync"
	"time"

	"github.com/joho/godotenv"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/config"
	"github.com/bookingplatform/booking/internal/httpapi"
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
	db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.PoolOpts{MaxConns: conns})
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
	db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.PoolOpts{MaxConns: cfg.DBMaxConns})
	if err != nil {
		return err
	}
	defer db.Close()
	if !*noMigrate {
		v, err := postgres.Migrate(ctx, db.Pool, log)
		if err != nil {
			return err
		}
		log.Info("schema ready", "version", v)
	}

	app, err := newApp(cfg, db, log)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              cfg.ListenAddr,
		Handler:           app.Handler(),
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
		mux.Handle("GET /metrics", promhttp.HandlerFor(app.Metrics.Registry, promhttp.HandlerOpts{}))
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
	log.Info("listening", "addr", ln.Addr().String(), "env", cfg.Env, "payments", mode, "version", version, "app_url", cfg.AppURL)
	// Background jobs: the hold sweep and the retry of failed automatic
	// refunds. They stop, and are waited for, before the pool closes.
	jobsCtx, stopJobs := context.WithCancel(ctx)
	var jobs sync.WaitGroup
	if cfg.SweepInterval > 0 {
		jobs.Go(func() { db.RunHoldSweep(jobsCtx, cfg.SweepInterval, log) })
		jobs.Go(func() { retryAutoRefunds(jobsCtx, app.Service, cfg.SweepInterval, log) })
	}
	defer func() { stopJobs(); jobs.Wait() }()

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

// retryAutoRefunds makes, every interval, the automatic refunds of late
// payments that failed when their event was processed (Stripe unreachable).
// The idempotency key per session keeps replicas doing it at the same time
// from refunding twice.
func retryAutoRefunds(ctx context.Context, svc *booking.Service, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Leave a fresh needs_review to the refund its own event is making.
		n, err := svc.RetryAutoRefunds(ctx, 2*time.Minute)
		switch {
		case err != nil && ctx.Err() == nil:
			log.WarnContext(ctx, "automatic refund retry failed", "err", err)
		case n > 0:
			log.InfoContext(ctx, "automatic refunds retried", "refunded", n)
		}
	}
}

// newApp wires the service and HTTP server from the configuration.
func newApp(cfg *config.Config, db *postgres.DB, log *slog.Logger) (*httpapi.Server, error) {
	var pay booking.Payments
	var demo *payment.Demo
	secrets := cfg.WebhookSecret
	if cfg.DemoPayments {
		if len(secrets) == 0 {
			secrets = []string{demoWebhookSecret()}
		}
		// The demo checkout signs with the secret the verifier tries first.
		demo = &payment.Demo{AppURL: cfg.AppURL, WebhookSecret: secrets[0]}
		pay = demo
	} else {
		pay = payment.NewStripe(payment.StripeOpts{SecretKey: cfg.StripeSecret, APIBase: cfg.StripeAPIBase, AppURL: cfg.AppURL})
	}
	if len(secrets) == 0 {
		log.Warn("STRIPE_WEBHOOK_SECRET is not set: every webhook will be rejected")
		secrets = []string{}
	}
	svc := &booking.Service{
		Store: db, Payments: pay, Logger: log,
		Hold: time.Duration(cfg.HoldMinutes) * time.Minute, Now: time.Now,
		ParseStored: payment.ParseStored, // applies refunds that arrived before their payment
	}
	refunder, _ := pay.(booking.Refunder)
	expirer, _ := pay.(booking.CheckoutExpirer) // Stripe; demo sessions refuse stale buttons themselves
	svc.Refunder = refunder                     // refunds late payments for a slot taken meanwhile
	app := &httpapi.Server{
		Service: svc, DB: db, Logger: log, Metrics: httpapi.NewMetrics(), Version: version,
		Verifier:     &payment.Verifier{Secrets: secrets},
		Production:   cfg.Production(),
		TrustProxy:   cfg.TrustProxy,
		WebhookFlood: httpapi.NewLimiter(cfg.WebhookFloodPerMinute),
		MetricsToken: cfg.MetricsToken,
		Sessions:     auth.NewSessions(db.SessionStore(5*time.Minute), auth.SessionOpts{Secure: cfg.CookieSecure, IdleTimeout: cfg.SessionIdle, Lifetime: cfg.SessionLifetime}, nil),
		Auth:         &auth.Authenticator{Store: db},
		Admin:        &booking.Admin{Store: db, Refunder: refunder, Checkouts: expirer, Logger: log},
		LoginLimiter: httpapi.NewLimiter(cfg.LoginPerMinute),
	}
	app.Demo = demo
	if cfg.BookingPerMinute > 0 {
		app.BookingLimiter = httpapi.NewLimiter(cfg.BookingPerMinute)
	}
	app.Metrics.Registry.MustRegister(db.PoolCollector())
	return app, nil
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
	v, err := postgres.MigrateURL(ctx, cfg.DatabaseURL, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema at version %d\n", v)
	return nil
}
