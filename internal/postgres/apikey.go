package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
)

const apiKeyColumns = `k.id::text, k.name, k.prefix, k.scopes, k.created_by::text, k.created_at, k.last_used_at, k.revoked_at`

func scanAPIKey(row pgx.CollectableRow) (auth.APIKey, error) {
	var k auth.APIKey
	var scopes []string
	err := row.Scan(&k.ID, &k.Name, &k.Prefix, &scopes, &k.CreatedBy, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt)
	for _, s := range scopes {
		k.Scopes = append(k.Scopes, auth.Scope(s))
	}
	k.CreatedAt = k.CreatedAt.UTC()
	for _, t := range []*time.Time{k.LastUsedAt, k.RevokedAt} {
		if t != nil {
			*t = t.UTC()
		}
	}
	return k, err
}

func apiKeyError(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return booking.Errorf(booking.ENotFound, "API key not found.")
	}
	return interpretError(err)
}

const createAPIKeySQL = `
INSERT INTO api_keys AS k (name, prefix, token_hash, scopes, created_by)
VALUES ($1, $2, $3, $4, $5)
RETURNING ` + apiKeyColumns

// CreateAPIKey stores a new key. Errors: unavailable.
func (db *DB) CreateAPIKey(ctx context.Context, n auth.NewAPIKey) (*auth.APIKey, error) {
	scopes := make([]string, len(n.Scopes))
	for i, s := range n.Scopes {
		scopes[i] = string(s)
	}
	rows, _ := db.Pool.Query(ctx, createAPIKeySQL, n.Name, n.Prefix, n.TokenHash, scopes, n.CreatedBy)
	k, err := pgx.CollectExactlyOneRow(rows, scanAPIKey)
	if err != nil {
		return nil, apiKeyError(err)
	}
	return &k, nil
}

const listAPIKeysSQL = `SELECT ` + apiKeyColumns + ` FROM api_keys k ORDER BY k.created_at DESC, k.id`

// ListAPIKeys returns every key, newest first.
func (db *DB) ListAPIKeys(ctx context.Context) ([]auth.APIKey, error) {
	rows, _ := db.Pool.Query(ctx, listAPIKeysSQL)
	items, err := pgx.CollectRows(rows, scanAPIKey)
	return items, interpretError(err)
}

const revokeAPIKeySQL = `
UPDATE api_keys k SET revoked_at = coalesce(k.revoked_at, $2)
WHERE k.id = $1
RETURNING ` + apiKeyColumns

// RevokeAPIKey revokes key id (revoking twice keeps the first time).
// Errors: not_found.
func (db *DB) RevokeAPIKey(ctx context.Context, id string, now time.Time) (*auth.APIKey, error) {
	if !booking.IsUUID(id) {
		return nil, booking.Errorf(booking.ENotFound, "API key not found.")
	}
	rows, _ := db.Pool.Query(ctx, revokeAPIKeySQL, id, now)
	k, err := pgx.CollectExactlyOneRow(rows, scanAPIKey)
	if err != nil {
		return nil, apiKeyError(err)
	}
	return &k, nil
}

const findAPIKeySQL = `
SELECT ` + apiKeyColumns + `, s.id::text, s.email, s.role, s.active, s.locked_until, s.last_login_at,
       s.created_at, s.updated_at
FROM api_keys k JOIN staff_users s ON s.id = k.created_by
WHERE k.token_hash = $1 AND k.revoked_at IS NULL AND s.active`

// FindAPIKey returns the unrevoked key with tokenHash and its active
// creator. Errors: not_found.
func (db *DB) FindAPIKey(ctx context.Context, tokenHash []byte) (*auth.KeyPrincipal, error) {
	rows, _ := db.Pool.Query(ctx, findAPIKeySQL, tokenHash)
	p, err := pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (auth.KeyPrincipal, error) {
		var p auth.KeyPrincipal
		var scopes []string
		k, s := &p.Key, &p.Staff
		err := row.Scan(&k.ID, &k.Name, &k.Prefix, &scopes, &k.CreatedBy, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt,
			&s.ID, &s.Email, &s.Role, &s.Active, &s.LockedUntil, &s.LastLoginAt, &s.CreatedAt, &s.UpdatedAt)
		for _, sc := range scopes {
			k.Scopes = append(k.Scopes, auth.Scope(sc))
		}
		return p, err
	})
	if err != nil {
		return nil, apiKeyError(err)
	}
	return &p, nil
}

const touchAPIKeySQL = `
UPDATE api_keys SET last_used_at = $2
WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $2::timestamptz - interval '1 minute')`

// TouchAPIKey records a use of key id at now, at most once a minute.
func (db *DB) TouchAPIKey(ctx context.Context, id string, now time.Time) error {
	_, err := db.Pool.Exec(ctx, touchAPIKeySQL, id, now)
	return interpretError(err)
}
