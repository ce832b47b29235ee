// Package postgres implements the booking store on PostgreSQL through pgx.
// SQL lives beside the method that runs it; driver errors are translated into
// booking errors once, in interpretError.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"

	"github.com/bookingplatform/booking/internal/booking"
)

// DB is the store: a pgx pool plus the queries of the product.
type DB struct {
	Pool *pgxpool.Pool
	// Notices queues the messages of each change in its transaction; nil
	// queues none.
	Notices NoticeQueue
}

// PoolOpts tunes the connection pool.
type PoolOpts struct {
	MaxConns int32
	// Pooler says the URL goes through a PgBouncer in transaction pooling
	// mode: statements are not prepared by name (each is parsed in the
	// round trip that runs it, its description cached) and no session
	// setting is sent at connection start (PgBouncer would refuse it; set
	// statement_timeout on the database role instead). Every statement the
	// product runs already fits transaction pooling: advisory locks are
	// transaction-scoped, no LISTEN, no session state across transactions.
	Pooler bool
}

// Open connects to PostgreSQL and checks the connection.
func Open(ctx context.Context, url string, opts PoolOpts) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", errors.New(redactParseError(err)))
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "booking"
	}
	if opts.Pooler {
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("connect to database: %w", err)
		}
		return ping(ctx, pool)
	}
	// A stuck statement must not hold a request forever.
	if _, ok := cfg.ConnConfig.RuntimeParams["statement_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = "15000"
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "30000"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return ping(ctx, pool)
}

// ping checks that pool reaches the database and wraps it.
func ping(ctx context.Context, pool *pgxpool.Pool) (*DB, error) {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return &DB{Pool: pool}, nil
}

// redactParseError keeps a connection string's password out of error text.
func redactParseError(error) string { return "invalid connection string" }

// Close closes the pool.
func (db *DB) Close() { db.Pool.Close() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	return interpretError(db.Pool.Ping(ctx))
}

// Transact runs fn in a transaction, committing when fn returns nil. A
// serialization failure or deadlock is retried a few times, with a short
// pause that ends early when ctx is done.
func (db *DB) Transact(ctx context.Context, fn func(tx pgx.Tx) error) error {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		err = pgx.BeginFunc(ctx, db.Pool, fn)
		if !retryable(err) {
			break
		}
		select {
		case <-ctx.Done():
			return interpretError(err)
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
	return interpretError(err)
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// Constraint names the store translates errors by.
const (
	constraintNoOverlap  = "bookings_no_overlap"
	constraintEventID    = "webhook_events_pkey"
	constraintStaffEmail = "staff_users_email_key"
	constraintSlug       = "resources_slug_key"
	// Raised by the bookings_count_places trigger (migration 00011) when a
	// shared slot has not enough places left: a slot conflict, like
	// constraintNoOverlap.
	constraintPlaces = "slot_places_capacity"
	// Raised by the bookings_respect_blocks trigger (migration 00021) when
	// a booking would hold time in a staff block: a slot conflict too.
	constraintBlocks = "resource_blocks_respected"
	// Raised by resource_blocks_respect_bookings when a new block meets a
	// booking that holds time (its id in the error's detail).
	constraintBlockBookings = "resource_blocks_bookings"
)

// slotTaken reports whether err is a rule refusing a booking its slot:
// the no-overlap constraint, a full shared slot, or a staff block.
func slotTaken(err error) bool {
	return isConstraint(err, "23P01", constraintNoOverlap) || isConstraint(err, "23P01", constraintPlaces) ||
		isConstraint(err, "23P01", constraintBlocks)
}

// isConstraint reports whether err is a violation of the named constraint
// with SQLSTATE code.
func isConstraint(err error, code, name string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code && pgErr.ConstraintName == name
}

// interpretError translates driver errors into booking errors, by SQLSTATE
// and constraint name: no rows → not_found, the overlap constraint →
// slot_unavailable, a unique key → conflict, a lost or refused connection, a
// closed pool or a cancelled statement → unavailable. Anything else is
// returned as is (internal).
func interpretError(err error) error {
	if err == nil {
		return nil
	}
	var be *booking.Error
	if errors.As(err, &be) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return booking.WrapError(booking.ENotFound, "Not found.", err)
	}
	unavailable := func() error {
		return booking.WrapError(booking.EUnavailable, "The service is temporarily unavailable.", err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case slotTaken(err):
			return booking.WrapError(booking.ESlotUnavailable, "This slot is no longer available.", err)
		case pgErr.Code == "23505":
			return booking.WrapError(booking.EConflict, "This already exists.", err)
		case strings.HasPrefix(pgErr.Code, "08"), // connection exceptions
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutdown, cannot connect now
			pgErr.Code == "57014", // statement timeout or cancel
			pgErr.Code == "53300": // too many connections
			return unavailable()
		}
		return err
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	switch {
	case pgconn.Timeout(err), errors.As(err, &netErr), errors.As(err, &connErr),
		errors.Is(err, net.ErrClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, puddle.ErrClosedPool), errors.Is(err, pgx.ErrTxClosed),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), pgconn.SafeToRetry(err):
		return unavailable()
	}
	return err
}

// genericPlanSQL makes the statements after it in its transaction run on
// their generic plan, without JIT compilation: a generic plan does not know
// its LIMIT and prices a page as a tenth of the rows it may read, far above
// jit_above_cost at a million bookings, and PostgreSQL would then compile
// it on every execution (1.4 s for the first page at a million, to run a
// plan that takes 3 ms).
const genericPlanSQL = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true), set_config('jit', 'off', true)`

// collectGeneric runs a list statement on PostgreSQL's generic plan, in a
// read-only transaction folded into the statement's round trip, and
// collects its rows.
//
// The list statements are written for a generic plan (one per filter
// shape, the keyset position a row comparison the index scan starts from)
// and the plan test checks each generic plan at volume. Left to choose,
// PostgreSQL keeps planning a statement anew for every execution while its
// generic plan looks dearer than its custom ones: for a first page, whose
// position is infinity, a custom plan expects every row of the filter to
// qualify and the generic plan a third of them, so it prices the same
// page-long index scan three times higher. At a million bookings the
// resource page was planned on every request (0.5–0.8 ms, more than
// running it) for the plan it would have had anyway.
func collectGeneric[T any](ctx context.Context, pool *pgxpool.Pool, sql string, args []any, scan pgx.RowToFunc[T]) ([]T, error) {
	var b pgx.Batch
	b.Queue("BEGIN READ ONLY")
	b.Queue(genericPlanSQL)
	b.Queue(sql, args...)
	b.Queue("COMMIT")
	// A failed statement leaves the transaction aborted on its connection,
	// which the pool then closes rather than hand out again.
	br := pool.SendBatch(ctx, &b)
	_, err := br.Exec()
	if err == nil {
		_, err = br.Exec()
	}
	var items []T
	if err == nil {
		rows, _ := br.Query()
		items, err = pgx.CollectRows(rows, scan)
	}
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return items, interpretError(err)
}
