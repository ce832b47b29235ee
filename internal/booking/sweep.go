package booking

import (
	"context"
	"time"
)

// SweepStore runs the periodic clean-ups.
type SweepStore interface {
	// ExpireLapsedHolds moves up to limit pending bookings whose hold lapsed
	// before now to expired; ran is false when another replica is sweeping.
	ExpireLapsedHolds(ctx context.Context, now time.Time, limit int) (expired int, ran bool, err error)
	// PurgeIdempotencyKeys deletes up to limit idempotent answers created
	// before before.
	PurgeIdempotencyKeys(ctx context.Context, before time.Time, limit int) (int, error)
}

// Sweeper expires lapsed holds and forgets old idempotent answers. Lapsed
// holds never block a booking even without it (they are released lazily);
// the sweep makes their status and audit trail match the truth promptly.
type Sweeper struct {
	Store SweepStore
	Now   func() time.Time
}

// sweepBatch is how many rows one sweep transaction changes at most.
const sweepBatch = 500

// SweepHolds expires every lapsed hold, batch by batch, and returns how many
// it expired. Errors: unavailable.
func (s *Sweeper) SweepHolds(ctx context.Context) (int, error) {
	total := 0
	for {
		n, ran, err := s.Store.ExpireLapsedHolds(ctx, s.Now(), sweepBatch)
		total += n
		if err != nil || !ran || n < sweepBatch {
			return total, err
		}
	}
}

// PurgeIdempotencyKeys deletes the idempotent answers older than
// IdempotencyKeyTTL and returns how many. Errors: unavailable.
func (s *Sweeper) PurgeIdempotencyKeys(ctx context.Context) (int, error) {
	total := 0
	before := s.Now().Add(-IdempotencyKeyTTL)
	for {
		n, err := s.Store.PurgeIdempotencyKeys(ctx, before, sweepBatch)
		total += n
		if err != nil || n < sweepBatch {
			return total, err
		}
	}
}
