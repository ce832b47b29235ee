package postgres

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/booking"
)

// ResourceCache keeps resources in memory for the customer paths (every
// availability request and every booking reads one). It is only used while
// it listens on PostgreSQL for changes: a trigger on resources notifies
// ResourceChannel on every change, from any replica or from psql, and each
// notification empties the cache. A cache that is not listening (not
// started, or its connection lost until it is back) reads through to the
// database, so a missed notification never serves an old price. Entries
// also expire after ResourceCacheTTL, a backstop for a connection that
// died without anyone noticing yet.
//
// LISTEN needs a session of its own, so Listen takes a URL that reaches
// PostgreSQL directly (DATABASE_DIRECT_URL behind a transaction-pooling
// PgBouncer); NOTIFY is sent by the trigger inside the writing transaction
// and works through any pooler.
type ResourceCache struct {
	db  *DB
	log *slog.Logger

	mu      sync.Mutex
	live    bool
	gen     uint64 // bumped by every invalidation
	byID    map[string]cachedResource
	def     *cachedResource
	hits    uint64
	misses  uint64
	now     func() time.Time
	pingGap time.Duration
}

type cachedResource struct {
	r       booking.Resource
	expires time.Time
}

// ResourceChannel is the channel the resources trigger notifies.
const ResourceChannel = "resources_changed"

// ResourceCacheTTL bounds how long an entry is served without a look at
// the database, notifications or not.
const ResourceCacheTTL = time.Minute

// NewResourceCache returns a cache over db that reads through until Listen
// runs.
func NewResourceCache(db *DB, log *slog.Logger) *ResourceCache {
	return &ResourceCache{db: db, log: log, byID: map[string]cachedResource{}, now: time.Now, pingGap: 15 * time.Second}
}

// Invalidate empties the cache; a read already under way is not stored.
func (c *ResourceCache) Invalidate() {
	c.mu.Lock()
	c.gen++
	clear(c.byID)
	c.def = nil
	c.mu.Unlock()
}

// Live reports whether the cache is listening, and so serving from memory.
func (c *ResourceCache) Live() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}

// Stats returns how many reads were served from memory and from the
// database.
func (c *ResourceCache) Stats() (hits, misses uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

// lookup returns a live entry, or the generation a read must carry to be
// stored.
func (c *ResourceCache) lookup(get func() (cachedResource, bool)) (booking.Resource, bool, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live {
		c.misses++
		return booking.Resource{}, false, 0, false
	}
	if e, ok := get(); ok && c.now().Before(e.expires) {
		c.hits++
		return e.r, true, 0, true
	}
	c.misses++
	return booking.Resource{}, false, c.gen, true
}

// store keeps r if nothing was invalidated since generation gen was read.
func (c *ResourceCache) store(gen uint64, put func(cachedResource), r booking.Resource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live && c.gen == gen {
		put(cachedResource{r: r, expires: c.now().Add(ResourceCacheTTL)})
	}
}

// copyOf returns a resource the caller may change without touching the
// cache.
func copyOf(r booking.Resource) *booking.Resource {
	r.WeeklyHours = slices.Clone(r.WeeklyHours)
	return &r
}

// FindResource returns resource id. Errors: not_found.
func (c *ResourceCache) FindResource(ctx context.Context, id string) (*booking.Resource, error) {
	r, hit, gen, live := c.lookup(func() (cachedResource, bool) { e, ok := c.byID[id]; return e, ok })
	if hit {
		return copyOf(r), nil
	}
	found, err := c.db.FindResource(ctx, id)
	if err != nil || !live {
		return found, err
	}
	c.store(gen, func(e cachedResource) { c.byID[id] = e }, *found)
	return copyOf(*found), nil
}

// DefaultResource returns the resource of the default booking page.
// Errors: not_found.
func (c *ResourceCache) DefaultResource(ctx context.Context) (*booking.Resource, error) {
	r, hit, gen, live := c.lookup(func() (cachedResource, bool) {
		if c.def == nil {
			return cachedResource{}, false
		}
		return *c.def, true
	})
	if hit {
		return copyOf(r), nil
	}
	found, err := c.db.DefaultResource(ctx)
	if err != nil || !live {
		return found, err
	}
	c.store(gen, func(e cachedResource) { c.def = &e }, *found)
	return copyOf(*found), nil
}

// setLive turns serving from memory on or off; either way the cache starts
// empty, since changes may have been missed while it was off.
func (c *ResourceCache) setLive(live bool) {
	c.mu.Lock()
	c.live = live
	c.gen++
	clear(c.byID)
	c.def = nil
	c.mu.Unlock()
}

// Listen listens for resource changes on a connection of its own to url
// until ctx is done, reconnecting after a failure; the cache serves from
// memory only while a LISTEN is in place.
func (c *ResourceCache) Listen(ctx context.Context, url string) {
	backoff := time.Second
	for ctx.Err() == nil {
		err := c.listenOnce(ctx, url)
		c.setLive(false)
		if ctx.Err() != nil {
			return
		}
		c.log.WarnContext(ctx, "resource cache: listening for changes failed; reading through until it is back",
			"err", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

func (c *ResourceCache) listenOnce(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return errors.New(redactParseError(err))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	cfg.RuntimeParams["application_name"] = "booking resource cache"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = conn.Close(cctx)
		cancel()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+ResourceChannel); err != nil {
		return err
	}
	c.setLive(true)
	for {
		wctx, cancel := context.WithTimeout(ctx, c.pingGap)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			c.Invalidate()
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			// Quiet: make sure the connection is still there.
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}
