package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookingplatform/booking/internal/booking"
)

const staffColumns = `id::text, email, role, active, locked_until, last_login_at, created_at, updated_at`

func scanStaff(row pgx.CollectableRow) (booking.Staff, error) {
	var s booking.Staff
	err := row.Scan(&s.ID, &s.Email, &s.Role, &s.Active, &s.LockedUntil, &s.LastLoginAt, &s.CreatedAt, &s.UpdatedAt)
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	for _, t := range []*time.Time{s.LockedUntil, s.LastLoginAt} {
		if t != nil {
			*t = t.UTC()
		}
	}
	return s, err
}

// staffError translates errors of staff queries: no row → not_found, a taken
// email → validation_failed on the email field.
func staffError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return booking.Errorf(booking.ENotFound, "User not found.")
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "staff_users_email_key" {
		return &booking.Error{Code: booking.EValidation, Message: "Some fields are invalid.",
			Fields: map[string]string{"email": "Already in use."}, Err: err}
	}
	return interpretError(err)
}

const findStaffSQL = `SELECT ` + staffColumns + ` FROM staff_users WHERE id = $1`

// FindStaff returns the staff account with id. Errors: not_found.
func (db *DB) FindStaff(ctx context.Context, id string) (*booking.Staff, error) {
	if !booking.IsUUID(id) {
		return nil, booking.Errorf(booking.ENotFound, "User not found.")
	}
	rows, _ := db.Pool.Query(ctx, findStaffSQL, id)
	s, err := pgx.CollectExactlyOneRow(rows, scanStaff)
	if err != nil {
		return nil, staffError(err)
	}
	return &s, nil
}

const findStaffCredentialsSQL = `
SELECT ` + staffColumns + `, password_hash, coalesce(locked_until > now(), false)
FROM staff_users WHERE email = $1`

// FindStaffCredentials returns the account with a normalised email, its
// password hash and whether it is locked now. Errors: not_found.
func (db *DB) FindStaffCredentials(ctx context.Context, email string) (*booking.StaffCredentials, error) {
	var c booking.StaffCredentials
	s := &c.Staff
	err := db.Pool.QueryRow(ctx, findStaffCredentialsSQL, email).Scan(&s.ID, &s.Email, &s.Role, &s.Active,
		&s.LockedUntil, &s.LastLoginAt, &s.CreatedAt, &s.UpdatedAt, &c.PasswordHash, &c.Locked)
	if err != nil {
		return nil, staffError(err)
	}
	return &c, nil
}

// recordLoginFailureSQL counts a failed login; the failure that reaches the
// limit locks the account and starts a new count. One statement, so
// concurrent failures on any number of replicas are all counted.
const recordLoginFailureSQL = `
UPDATE staff_users
SET failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
    locked_until  = CASE WHEN failed_logins + 1 >= $2 THEN now() + make_interval(secs => $3) ELSE locked_until END
WHERE id = $1`

// RecordLoginFailure counts a failed login of account id and locks it for
// lockFor once maxFailures consecutive failures are reached.
func (db *DB) RecordLoginFailure(ctx context.Context, id string, maxFailures int, lockFor time.Duration) error {
	_, err := db.Pool.Exec(ctx, recordLoginFailureSQL, id, maxFailures, lockFor.Seconds())
	return interpretError(err)
}

const recordLoginSuccessSQL = `
UPDATE staff_users SET failed_logins = 0, locked_until = NULL, last_login_at = now() WHERE id = $1`

// RecordLoginSuccess clears the failure count of account id and notes the login.
func (db *DB) RecordLoginSuccess(ctx context.Context, id string) error {
	_, err := db.Pool.Exec(ctx, recordLoginSuccessSQL, id)
	return interpretError(err)
}

const listStaffSQL = `SELECT ` + staffColumns + ` FROM staff_users ORDER BY email`

// ListStaff returns every staff account by email.
func (db *DB) ListStaff(ctx context.Context) ([]booking.Staff, error) {
	rows, _ := db.Pool.Query(ctx, listStaffSQL)
	s, err := pgx.CollectRows(rows, scanStaff)
	return s, interpretError(err)
}

const createStaffSQL = `
INSERT INTO staff_users (email, password_hash, role) VALUES ($1, $2, $3)
RETURNING ` + staffColumns

// CreateStaff inserts a staff account. Errors: validation_failed (email taken).
func (db *DB) CreateStaff(ctx context.Context, n booking.NewStaff) (*booking.Staff, error) {
	rows, _ := db.Pool.Query(ctx, createStaffSQL, n.Email, n.PasswordHash, string(n.Role))
	s, err := pgx.CollectExactlyOneRow(rows, scanStaff)
	if err != nil {
		return nil, staffError(err)
	}
	return &s, nil
}

const updateStaffSQL = `
UPDATE staff_users
SET role          = coalesce($2, role),
    active        = coalesce($3, active),
    password_hash = coalesce($4, password_hash),
    failed_logins = CASE WHEN $4::text IS NULL THEN failed_logins ELSE 0 END,
    locked_until  = CASE WHEN $4::text IS NULL THEN locked_until ELSE NULL END,
    updated_at    = now()
WHERE id = $1
RETURNING ` + staffColumns

// UpdateStaff changes account id. Errors: not_found.
func (db *DB) UpdateStaff(ctx context.Context, id string, p booking.StaffPatch) (*booking.Staff, error) {
	if !booking.IsUUID(id) {
		return nil, booking.Errorf(booking.ENotFound, "User not found.")
	}
	var role *string
	if p.Role != nil {
		r := string(*p.Role)
		role = &r
	}
	rows, _ := db.Pool.Query(ctx, updateStaffSQL, id, role, p.Active, p.PasswordHash)
	s, err := pgx.CollectExactlyOneRow(rows, scanStaff)
	if err != nil {
		return nil, staffError(err)
	}
	return &s, nil
}

// SessionStore returns the scs session store on the sessions table. With a
// positive cleanupInterval a goroutine deletes expired sessions that often;
// stop it with StopCleanup.
func (db *DB) SessionStore(cleanupInterval time.Duration) *pgxstore.PostgresStore {
	return pgxstore.NewWithCleanupInterval(db.Pool, cleanupInterval)
}
