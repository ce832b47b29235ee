// Package auth authenticates staff: argon2id password hashes, the login check
// with its per-account throttle, the PostgreSQL-backed cookie session manager,
// and the middleware that requires a session and a role.
package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/bookingplatform/booking/internal/booking"
)

// DefaultParams are the argon2id parameters of new password hashes: 64 MiB,
// one pass, two lanes (the argon2id package's defaults, above OWASP's minimum
// of 46 MiB for one pass), about a fifth of a second per login on one core.
func DefaultParams() *argon2id.Params {
	return &argon2id.Params{Memory: 64 * 1024, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32}
}

// HashPassword returns the argon2id hash of password in PHC string form;
// nil params means DefaultParams.
func HashPassword(password string, params *argon2id.Params) (string, error) {
	if params == nil {
		params = DefaultParams()
	}
	h, err := argon2id.CreateHash(password, params)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// Hasher bounds how many password hashes (argon2id, DefaultParams: 64 MiB
// each) run at once, so that a burst of logins cannot take the server's
// memory: at most N at a time, the others wait up to Wait and are then
// refused as unavailable (503, with Retry-After). A nil Hasher does not
// bound anything.
type Hasher struct {
	sem  chan struct{}
	wait time.Duration
}

// NewHasher allows n concurrent hashes (at least 1); others wait up to wait.
func NewHasher(n int, wait time.Duration) *Hasher {
	return &Hasher{sem: make(chan struct{}, max(n, 1)), wait: wait}
}

// ErrBusy is the answer when every hashing slot stayed busy for the wait.
func errBusy() error {
	return booking.Errorf(booking.EUnavailable, "Too many sign-ins at once. Please try again in a moment.")
}

// Do runs fn in a hashing slot. Errors: unavailable (no slot in time, or
// ctx done first), and those of fn.
func (h *Hasher) Do(ctx context.Context, fn func() error) error {
	if h == nil {
		return fn()
	}
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.sem <- struct{}{}:
	case <-t.C:
		return errBusy()
	case <-ctx.Done():
		return errBusy()
	}
	defer func() { <-h.sem }()
	return fn()
}

// GeneratePassword returns a random password of 160 bits, URL-safe.
func GeneratePassword() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Store is what logins need from the database. internal/postgres implements it.
type Store interface {
	FindStaff(ctx context.Context, id string) (*booking.Staff, error)
	// FindStaffCredentials finds an account by normalised email. Errors: not_found.
	FindStaffCredentials(ctx context.Context, email string) (*booking.StaffCredentials, error)
	RecordLoginFailure(ctx context.Context, id string, maxFailures int, lockFor time.Duration) error
	RecordLoginSuccess(ctx context.Context, id string) error
}

// Authenticator checks staff logins. Every failed login, whatever its reason,
// answers the same invalid_credentials error after one password comparison,
// so neither the answer nor its timing tells whether an email has an account.
type Authenticator struct {
	Store Store
	// Params hash new passwords and the stand-in hash compared for unknown
	// emails (nil: DefaultParams).
	Params *argon2id.Params
	// MaxFailures consecutive wrong passwords lock an account for LockFor
	// (defaults 5 and 15 minutes). The count lives in the database, so the
	// lock holds on every replica.
	MaxFailures int
	LockFor     time.Duration
	// Hasher bounds concurrent password comparisons; nil: unbounded.
	Hasher *Hasher

	dummyOnce sync.Once
	dummy     string
}

// maxLoginPasswordLen bounds the work a login request can ask for.
const maxLoginPasswordLen = 1024

func errInvalidCredentials() error {
	return booking.Errorf(booking.EInvalidCredentials, "The email or password is incorrect.")
}

func (a *Authenticator) dummyHash() string {
	a.dummyOnce.Do(func() {
		h, err := HashPassword(GeneratePassword(), a.Params)
		if err == nil {
			a.dummy = h
		}
	})
	return a.dummy
}

// Login checks an email and password. It returns the account, or
// invalid_credentials for an unknown email, a wrong password, an inactive
// account or a locked one. A wrong password counts towards the account's lock.
// Errors: invalid_credentials, unavailable.
func (a *Authenticator) Login(ctx context.Context, email, password string) (*booking.Staff, error) {
	email = booking.NormalizeEmail(email)
	if len(password) > maxLoginPasswordLen || len(email) > 254 {
		return nil, errInvalidCredentials()
	}
	cred, err := a.Store.FindStaffCredentials(ctx, email)
	if err != nil {
		if booking.ErrorCode(err) != booking.ENotFound {
			return nil, err
		}
		// Spend the same time as for a real account.
		if err := a.Hasher.Do(ctx, func() error {
			_, _ = argon2id.ComparePasswordAndHash(password, a.dummyHash())
			return nil
		}); err != nil {
			return nil, err
		}
		return nil, errInvalidCredentials()
	}
	var ok bool
	err = a.Hasher.Do(ctx, func() error {
		var err error
		if ok, err = argon2id.ComparePasswordAndHash(password, cred.PasswordHash); err != nil {
			return fmt.Errorf("compare password of staff %s: %w", cred.Staff.ID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch {
	case cred.Locked:
		return nil, errInvalidCredentials()
	case !ok:
		maxFailures, lockFor := a.MaxFailures, a.LockFor
		if maxFailures <= 0 {
			maxFailures = 5
		}
		if lockFor <= 0 {
			lockFor = 15 * time.Minute
		}
		if err := a.Store.RecordLoginFailure(context.WithoutCancel(ctx), cred.Staff.ID, maxFailures, lockFor); err != nil {
			return nil, err
		}
		return nil, errInvalidCredentials()
	case !cred.Staff.Active:
		return nil, errInvalidCredentials()
	}
	if err := a.Store.RecordLoginSuccess(ctx, cred.Staff.ID); err != nil {
		return nil, err
	}
	return &cred.Staff, nil
}
