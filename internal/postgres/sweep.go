package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// sweepLockKey is the advisory lock that lets one replica sweep at a time.
const sweepLockKey int64 = 0x626b_686f_6c64_7377 // "bkholdsw"

// trySweepLockSQL takes a transaction-scoped advisory lock: released at
// commit, so it is safe behind a transaction-pooling PgBouncer.
const trySweepLockSQL = `SELECT pg_try_advisory_xact_lock($1)`

// expireLapsedSQL expires pending holds whose time is up. Rows locked by a
// transaction in flight (a payment being applied) are skipped, not waited
// for; the next sweep or the lazy release at booking time gets them.
const expireLapsedSQL = `
UPDATE bookings
SET status = 'expired', status_cause = 'system', status_cause_ref = 'hold_sweep', updated_at = now()
WHERE id IN (
    SELECT id FROM bookings
    WHERE status = 'pending' AND hold_expires_at <= $2
    ORDER BY hold_expires_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED)`

// ExpireLapsedHolds moves up to limit pending bookings whose hold lapsed
// before now to expired, under a transaction-scoped advisory lock: when
// another replica is sweeping, it returns ran=false and changes nothing. The
// audit trigger records each change with cause system/hold_sweep.
// Errors: unavailable.
func (db *DB) ExpireLapsedHolds(ctx context.Context, now time.Time, limit int) (expired int, ran bool, err error) {
	err = db.Transact(ctx, func(tx pgx.Tx) error {
		expired, ran = 0, false
		if err := tx.QueryRow(ctx, trySweepLockSQL, sweepLockKey).Scan(&ran); err != nil || !ran {
			return err
		}
		tag, err := tx.Exec(ctx, expireLapsedSQL, limit, now)
		expired = int(tag.RowsAffected())
		return err
	})
	return expired, ran, err
}

const purgeIdemKeysSQL = `
DELETE FROM idempotency_keys WHERE key_hash IN (
    SELECT key_hash FROM idempotency_keys WHERE created_at < $1 ORDER BY created_at LIMIT $2)`

// PurgeIdempotencyKeys deletes up to limit idempotent answers created
// before before. Errors: unavailable.
func (db *DB) PurgeIdempotencyKeys(ctx context.Context, before time.Time, limit int) (int, error) {
	tag, err := db.Pool.Exec(ctx, purgeIdemKeysSQL, before, limit)
	return int(tag.RowsAffected()), interpretError(err)
}
