package postgres

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// sweepLockKey is the advisory lock that lets one replica sweep at a time.
const sweepLockKey int64 = 0x626b_686f_6c64_7377 // "bkholdsw"

// SweepBatch is how many lapsed holds one sweep transaction expires at most.
const SweepBatch = 500

const trySweepLockSQL = `SELECT pg_try_advisory_xact_lock($1)`

// expireLapsedSQL expires pending holds whose time is up. Rows locked by a
// transaction in flight (a payment being applied) are skipped, not waited
// for; the next sweep or the lazy release at booking time gets them.
const expireLapsedSQL = `
UPDATE bookings
SET status = 'expired', status_cause = 'system', status_cause_ref = 'hold_sweep', updated_at = now()
WHERE id IN (
    SELECT id FROM bookings
    WHERE status = 'pending' AND hold_expires_at <= now()
    ORDER BY hold_expires_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED)`

// ExpireLapsedHolds moves up to limit pending bookings whose hold lapsed to
// expired, under a transaction-scoped advisory lock: when another replica is
// sweeping, it returns ran=false and changes nothing. The audit trigger
// records each change with cause system/hold_sweep. Errors: unavailable.
func (db *DB) ExpireLapsedHolds(ctx context.Context, limit int) (expired int, ran bool, err error) {
	err = db.Transact(ctx, func(tx pgx.Tx) error {
		expired, ran = 0, false
		if err := tx.QueryRow(ctx, trySweepLockSQL, sweepLockKey).Scan(&ran); err != nil || !ran {
			return err
		}
		tag, err := tx.Exec(ctx, expireLapsedSQL, limit)
		expired = int(tag.RowsAffected())
		return err
	})
	return expired, ran, err
}

// SweepHolds expires every lapsed hold, batch by batch, and returns how many
// it expired. Errors: unavailable.
func (db *DB) SweepHolds(ctx context.Context) (int, error) {
	total := 0
	for {
		n, ran, err := db.ExpireLapsedHolds(ctx, SweepBatch)
		total += n
		if err != nil || !ran || n < SweepBatch {
			return total, err
		}
	}
}

// RunHoldSweep sweeps lapsed holds every interval until ctx is done. Lapsed
// holds never block a booking even without it (they are released lazily);
// the sweep makes their status and audit trail match the truth promptly.
func (db *DB) RunHoldSweep(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := db.SweepHolds(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.WarnContext(ctx, "hold sweep failed", "err", err)
		case n > 0:
			log.InfoContext(ctx, "hold sweep", "expired", n)
		}
	}
}
