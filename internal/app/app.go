// Package app wires the product together: the PostgreSQL store, the
// payment provider, the booking services and the HTTP server, and runs the
// background work of `booking serve`. cmd/booking and the tests build the
// product through it, so that both run the same wiring.
package app

import (
	"context"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/httpapi"
	"github.com/bookingplatform/booking/internal/jobs"
	"github.com/bookingplatform/booking/internal/payment"
	"github.com/bookingplatform/booking/internal/postgres"
	"github.com/bookingplatform/booking/internal/webhook"
)

// Provider is the payment provider: Stripe, demo payments, or a test double.
type Provider interface {
	booking.CheckoutCreator
	booking.SessionReader
}

// Options configures the product.
type Options struct {
	DB     *postgres.DB
	Logger *slog.Logger
	// ResourceListenURL reaches PostgreSQL directly (not through a
	// transaction-pooling PgBouncer) for the resource cache to LISTEN on;
	// empty leaves resources uncached.
	ResourceListenURL string
	// Now is the clock every rule reads (default time.Now).
	Now func() time.Time
	// Hold is how long a pending booking holds its slot (default 30 minutes).
	Hold time.Duration

	// Payments creates and reads Checkout Sessions. It also makes refunds
	// and expires sessions when it can (booking.Refunder,
	// booking.CheckoutExpirer), unless Refunder or Expirer say otherwise.
	Payments Provider
	Refunder booking.Refunder
	Expirer  booking.CheckoutExpirer
	// WebhookSecrets verify Stripe-Signature headers, current first.
	WebhookSecrets []string
	// Demo serves the demo checkout pages (development only).
	Demo *payment.Demo

	Version    string
	Production bool
	TrustProxy bool
	// Per-client-address limits, per minute; 0 means the defaults (60
	// badly signed webhooks, 5 logins) or, for bookings, no limit.
	WebhookFloodPerMinute int
	LoginPerMinute        int
	BookingPerMinute      int
	MetricsToken          string

	// Staff sessions and accounts. NoStaff leaves the staff API out.
	NoStaff        bool
	Session        auth.SessionOpts
	SessionCleanup time.Duration
	// HashParams hash staff passwords (nil: auth.DefaultParams); at most
	// HashConcurrency hashes run at once (default GOMAXPROCS), the others
	// wait up to HashWait (default 2 s) and are then refused.
	HashParams      *argon2id.Params
	HashConcurrency int
	HashWait        time.Duration

	// Messages: Mail sends them (nil: they are queued and recorded as not
	// sent); StaffEmail receives the staff alerts; AppURL is the base of
	// the links in them. PollOnly fetches jobs by polling, without LISTEN
	// (behind PgBouncer in transaction pooling mode); JobPoll is the
	// polling interval (default one second).
	Mail       jobs.Sender
	StaffEmail string
	AppURL     string
	// MailFrom is the sender address (MAIL_FROM), the ORGANIZER of the
	// calendar files the customer downloads from their booking page.
	MailFrom string
	PollOnly bool
	JobPoll  time.Duration
	// JobWorkers is how many jobs each queue works at once (default 4).
	JobWorkers int

	// Outgoing webhooks: in production only public addresses are reached,
	// and those of WebhookAllowedNetworks (WEBHOOK_ALLOWED_NETWORKS);
	// WebhookTimeout bounds one delivery (default 10 s); WebhookRetryBase is
	// the wait after a first failure (default 10 s, doubling; tests shorten
	// it).
	WebhookAllowedNetworks []netip.Prefix
	WebhookTimeout         time.Duration
	WebhookRetryBase       time.Duration
}

// App is the wired product.
type App struct {
	Server    *httpapi.Server
	Booker    *booking.Booker
	Fulfiller *booking.Fulfiller
	Desk      *booking.Desk
	Catalog   *booking.Catalog
	Overrides *booking.Overrides
	// Pools are the resource pools (any free court).
	Pools *booking.Pools
	// SelfService holds the customer's own changes to a booking (and
	// staff rescheduling).
	SelfService *booking.SelfService
	Refunds     *booking.Refunds
	Sweeper     *booking.Sweeper
	// Privacy exports and erases customer data; Run applies the
	// retention period with it.
	Privacy *booking.Privacy
	Checker *booking.Checker
	Metrics *httpapi.Metrics
	// Queue holds the message jobs; Run works them.
	Queue     *jobs.Queue
	logger    *slog.Logger
	db        *postgres.DB
	resources *postgres.ResourceCache
	listenURL string
}

// bookerStore reads resources through the cache.
type bookerStore struct {
	*postgres.DB
	res *postgres.ResourceCache
}

func (s bookerStore) FindResource(ctx context.Context, id string) (*booking.Resource, error) {
	return s.res.FindResource(ctx, id)
}

func (s bookerStore) DefaultResource(ctx context.Context) (*booking.Resource, error) {
	return s.res.DefaultResource(ctx)
}

// catalogStore reads resources from the database and empties this
// replica's cache on each change at once (the others hear of it through
// the trigger's notification).
type catalogStore struct {
	*postgres.DB
	res *postgres.ResourceCache
}

func (s catalogStore) CreateResource(ctx context.Context, r *booking.Resource, isDefault bool) (*booking.Resource, error) {
	out, err := s.DB.CreateResource(ctx, r, isDefault)
	s.res.Invalidate()
	return out, err
}

func (s catalogStore) UpdateResource(ctx context.Context, r *booking.Resource) (*booking.Resource, error) {
	out, err := s.DB.UpdateResource(ctx, r)
	s.res.Invalidate()
	return out, err
}

// overrideStore empties the resource cache after each change of a date
// override, like catalogStore.
type overrideStore struct {
	*postgres.DB
	res *postgres.ResourceCache
}

func (s overrideStore) CreateOverride(ctx context.Context, resourceID string, o *booking.DateOverride) (*booking.DateOverride, error) {
	out, err := s.DB.CreateOverride(ctx, resourceID, o)
	s.res.Invalidate()
	return out, err
}

func (s overrideStore) DeleteOverride(ctx context.Context, resourceID, id string) error {
	err := s.DB.DeleteOverride(ctx, resourceID, id)
	s.res.Invalidate()
	return err
}

// New wires the product from o.
func New(o Options) *App {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Hold <= 0 {
		o.Hold = 30 * time.Minute
	}
	if o.Refunder == nil {
		o.Refunder, _ = o.Payments.(booking.Refunder)
	}
	if o.Expirer == nil {
		o.Expirer, _ = o.Payments.(booking.CheckoutExpirer)
	}
	log, db := o.Logger, o.DB
	refunds := booking.NewRefunds(db, o.Refunder, log, o.Now)
	resources := postgres.NewResourceCache(db, log)
	a := &App{
		Booker: &booking.Booker{Store: bookerStore{db, resources}, Checkouts: o.Payments, Expirer: o.Expirer, Logger: log, Hold: o.Hold,
			Now: o.Now, Venue: db},
		Catalog: &booking.Catalog{Store: catalogStore{db, resources}},
		// Overrides are read with their resource: a change empties this
		// replica's resource cache at once (the others by notification).
		Overrides: &booking.Overrides{Store: overrideStore{db, resources}},
		// Pools read their members through the resource cache.
		Pools: &booking.Pools{Store: bookerStore{db, resources}, Now: o.Now},
		Fulfiller: &booking.Fulfiller{Store: db, Sessions: o.Payments, Parse: payment.ParseStored, Refunds: refunds,
			Logger: log, Now: o.Now},
		Desk: &booking.Desk{Store: db, Refunds: refunds, Checkouts: o.Expirer, Logger: log, Now: o.Now},
		SelfService: &booking.SelfService{Store: bookerStore{db, resources}, Refunds: refunds, Checkouts: o.Expirer,
			Logger: log, Now: o.Now},
		Refunds:   refunds,
		Sweeper:   &booking.Sweeper{Store: db, Now: o.Now},
		Privacy:   &booking.Privacy{Store: db, Now: o.Now},
		Checker:   &booking.Checker{Store: db, Now: o.Now},
		Metrics:   httpapi.NewMetrics(),
		logger:    log,
		db:        db,
		resources: resources,
		listenURL: o.ResourceListenURL,
	}
	a.Booker.Pools = a.Pools.Store
	a.Metrics.Registry.MustRegister(db.PoolCollector())
	worker := &jobs.MessageWorker{Store: db, Resources: resources, Sender: o.Mail, StaffEmail: o.StaffEmail,
		AppURL: strings.TrimRight(o.AppURL, "/"), Now: o.Now, Logger: log, Metrics: jobs.NewMetrics(a.Metrics.Registry)}
	policy := webhook.Policy{Public: o.Production, Allowed: o.WebhookAllowedNetworks}
	delivery := &jobs.DeliveryWorker{Store: db, Client: webhook.NewClient(policy, o.WebhookTimeout),
		RetryBase: o.WebhookRetryBase, Now: o.Now, Logger: log, Metrics: jobs.NewDeliveryMetrics(a.Metrics.Registry)}
	failing := &jobs.EndpointFailingWorker{Store: db, Sender: o.Mail, StaffEmail: o.StaffEmail,
		AppURL: strings.TrimRight(o.AppURL, "/"), Logger: log}
	q, err := jobs.New(db.Pool, o.Now, jobs.Config{Message: worker, Delivery: delivery, Failing: failing,
		PollOnly: o.PollOnly, FetchPollInterval: o.JobPoll, MaxWorkers: o.JobWorkers, Logger: log})
	if err != nil {
		// Only a River configuration error, fixed in this file.
		panic(err)
	}
	a.Queue = q
	db.Notices = q
	a.Metrics.Registry.MustRegister(jobs.OldestQueuedCollector(db), jobs.WebhookBacklogCollector(db))
	flood := o.WebhookFloodPerMinute
	if flood <= 0 {
		flood = 60
	}
	s := &httpapi.Server{
		Booker: a.Booker, Fulfiller: a.Fulfiller, Catalog: a.Catalog, Overrides: a.Overrides, Pools: a.Pools, DB: db,
		Verifier: &payment.Verifier{Secrets: o.WebhookSecrets}, Logger: log, Metrics: a.Metrics,
		Version: o.Version, Production: o.Production, TrustProxy: o.TrustProxy,
		WebhookFlood: httpapi.NewLimiter(flood), MetricsToken: o.MetricsToken, Demo: o.Demo,
		SelfService: a.SelfService, Calendar: httpapi.CalendarOpts{AppURL: o.AppURL, Organizer: o.MailFrom},
		Calendars: &booking.CalendarFeeds{Store: bookerStore{db, resources}, Now: o.Now},
		Privacy:   a.Privacy,
		Planner:   &booking.Planner{Store: bookerStore{db, resources}, Now: o.Now},
	}
	if o.BookingPerMinute > 0 {
		s.BookingLimiter = httpapi.NewLimiter(o.BookingPerMinute)
	}
	if !o.NoStaff {
		n := o.HashConcurrency
		if n <= 0 {
			n = runtime.GOMAXPROCS(0)
		}
		wait := o.HashWait
		if wait <= 0 {
			wait = 2 * time.Second
		}
		hasher := auth.NewHasher(n, wait)
		login := o.LoginPerMinute
		if login <= 0 {
			login = 5
		}
		s.Sessions = auth.NewSessions(db.SessionStore(o.SessionCleanup), o.Session, nil)
		s.Auth = &auth.Authenticator{Store: db, Params: o.HashParams, Hasher: hasher}
		s.Accounts = &auth.Accounts{Store: db, Params: o.HashParams, Hasher: hasher}
		s.Desk = a.Desk
		s.Checker = a.Checker
		s.LoginLimiter = httpapi.NewLimiter(login)
		s.APIKeys = &auth.APIKeys{Store: db, Now: o.Now}
		s.Exports = &booking.Exporter{Store: db}
	}
	s.Messages = &jobs.Messages{Queue: q, Store: db}
	s.Webhooks = &booking.Webhooks{Store: db, Sender: &jobs.WebhookDesk{Queue: q, Store: db, Delivery: delivery},
		CheckURL: policy.CheckURL}
	a.Server = s
	return a
}

// Background is the periodic work of `booking serve`; every replica runs
// it, and each piece is safe to run on several at once.
type Background struct {
	// Every is how often holds are swept and owed refunds retried; 0
	// turns the sweep off (owed refunds are then retried every 30 s).
	Every time.Duration
	// CheckEvery is how often the money rules are checked for the metrics
	// (default one minute; the fast, index-backed checks).
	CheckEvery time.Duration
	// Retention, when positive, erases the customer data of bookings
	// that ended longer ago (RETENTION_DAYS), checked every RetentionEvery
	// (default one hour) in batches of 500.
	Retention      time.Duration
	RetentionEvery time.Duration
}

// Run runs the background work until ctx is done, then waits for it to stop.
func (a *App) Run(ctx context.Context, b Background) {
	var wg sync.WaitGroup
	log := a.logger
	if a.listenURL != "" {
		wg.Go(func() { a.resources.Listen(ctx, a.listenURL) })
	}
	if err := a.Queue.Start(ctx); err != nil {
		log.ErrorContext(ctx, "job queue did not start: messages wait for another replica", "err", err)
	} else {
		wg.Go(func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := a.Queue.Stop(sctx); err != nil {
				log.Warn("job queue stop", "err", err)
			}
		})
	}
	if b.Every > 0 {
		wg.Go(func() {
			every(ctx, b.Every, func() {
				if n, err := a.Sweeper.SweepHolds(ctx); err != nil && ctx.Err() == nil {
					log.WarnContext(ctx, "hold sweep failed", "err", err)
				} else if n > 0 {
					log.InfoContext(ctx, "hold sweep", "expired", n)
				}
			})
		})
	}
	// Owed refunds are made whatever the sweep does (SPEC §3.1 M2).
	refundEvery := b.Every
	if refundEvery <= 0 {
		refundEvery = 30 * time.Second
	}
	wg.Go(func() { a.Refunds.Run(ctx, refundEvery) })
	check := b.CheckEvery
	if check <= 0 {
		check = time.Minute
	}
	wg.Go(func() {
		a.checkMoney(ctx)
		every(ctx, check, func() { a.checkMoney(ctx) })
	})
	wg.Go(func() {
		every(ctx, time.Hour, func() {
			if n, err := a.Sweeper.PurgeIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "idempotency key purge failed", "err", err)
			} else if n > 0 {
				log.InfoContext(ctx, "idempotency keys purged", "deleted", n)
			}
		})
	})
	if b.Retention > 0 {
		retain := b.RetentionEvery
		if retain <= 0 {
			retain = time.Hour
		}
		wg.Go(func() {
			a.eraseEnded(ctx, b.Retention)
			every(ctx, retain, func() { a.eraseEnded(ctx, b.Retention) })
		})
	}
	wg.Wait()
}

// retentionBatch is how many bookings one retention transaction erases.
const retentionBatch = 500

// eraseEnded erases, batch by batch, the customer data of the bookings
// that ended more than retention ago. Each batch is one transaction that
// skips the bookings another replica is erasing, so replicas share the
// work; the totals are logged, never an address.
func (a *App) eraseEnded(ctx context.Context, retention time.Duration) {
	var total booking.Erasure
	for ctx.Err() == nil {
		e, err := a.Privacy.EraseEnded(ctx, retention, retentionBatch)
		if err != nil {
			if ctx.Err() == nil {
				a.logger.WarnContext(ctx, "retention erasure failed", "err", err, "erased_bookings", total.Bookings)
			}
			return
		}
		total.Bookings += e.Bookings
		total.Messages += e.Messages
		total.Tokens += e.Tokens
		total.Events += e.Events
		if e.Bookings > 0 {
			a.logger.InfoContext(ctx, "retention erasure progress", "bookings", total.Bookings, "messages", total.Messages,
				"events", total.Events)
		}
		if e.Bookings < retentionBatch {
			break
		}
	}
}

// checkMoney runs the fast checks of the money rules for the metrics.
func (a *App) checkMoney(ctx context.Context) {
	r, err := a.Checker.Check(ctx, false)
	if err != nil {
		if ctx.Err() == nil {
			a.logger.WarnContext(ctx, "money check failed", "err", err)
		}
		return
	}
	a.Metrics.SetCheck(r)
	if len(r.Violations) > 0 {
		a.logger.ErrorContext(ctx, "money rules violated; run `booking check` for the list", "violations", len(r.Violations))
	}
}

// every calls fn every interval until ctx is done.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
