package auth

import (
	"context"

	"github.com/alexedwards/argon2id"

	"github.com/bookingplatform/booking/internal/booking"
)

// AccountStore is what staff account administration needs from the database.
type AccountStore interface {
	ListStaff(ctx context.Context) ([]booking.Staff, error)
	FindStaff(ctx context.Context, id string) (*booking.Staff, error)
	CreateStaff(ctx context.Context, s booking.NewStaff) (*booking.Staff, error)
	UpdateStaff(ctx context.Context, id string, p booking.StaffPatch) (*booking.Staff, error)
}

// Accounts administers staff accounts: the rules on emails, roles and
// passwords, and the hashing of passwords.
type Accounts struct {
	Store  AccountStore
	Params *argon2id.Params // nil: DefaultParams
	Hasher *Hasher          // bounds concurrent hashing; nil: unbounded
}

// List returns every staff account by email.
func (a *Accounts) List(ctx context.Context) ([]booking.Staff, error) {
	items, err := a.Store.ListStaff(ctx)
	if items == nil {
		items = []booking.Staff{}
	}
	return items, err
}

// Find returns the account with id. Errors: not_found.
func (a *Accounts) Find(ctx context.Context, id string) (*booking.Staff, error) {
	return a.Store.FindStaff(ctx, id)
}

// NewAccount is a staff account to create; without a password one is
// generated and returned once.
type NewAccount struct {
	Email    string       `json:"email"`
	Role     booking.Role `json:"role"`
	Password *string      `json:"password"`
}

// Create creates an account and returns it with the generated password, if
// one was generated. Errors: validation_failed (also for an email in use),
// unavailable.
func (a *Accounts) Create(ctx context.Context, in NewAccount) (*booking.Staff, string, error) {
	v := booking.ValidationError{}
	email := booking.NormalizeEmail(in.Email)
	booking.ValidateStaffEmail(v, "email", email)
	if !in.Role.Valid() {
		v.Add("role", "Must be ADMIN, OPS or READONLY.")
	}
	var password, generated string
	if in.Password != nil {
		password = *in.Password
		booking.ValidatePassword(v, "password", password)
	} else {
		generated = GeneratePassword()
		password = generated
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	hash, err := a.hash(ctx, password)
	if err != nil {
		return nil, "", err
	}
	st, err := a.Store.CreateStaff(ctx, booking.NewStaff{Email: email, Role: in.Role, PasswordHash: hash})
	if err != nil {
		return nil, "", err
	}
	return st, generated, nil
}

// AccountChange changes an account's role, active flag or password.
type AccountChange struct {
	Role     *booking.Role `json:"role"`
	Active   *bool         `json:"active"`
	Password *string       `json:"password"`
}

// Update applies c to account id on behalf of me: nobody can change their
// own role or deactivate their own account. Errors: not_found,
// validation_failed, conflict, unavailable.
func (a *Accounts) Update(ctx context.Context, id string, c AccountChange, me *booking.Staff) (*booking.Staff, error) {
	if id == me.ID && ((c.Role != nil && *c.Role != me.Role) || (c.Active != nil && !*c.Active)) {
		return nil, booking.Errorf(booking.EConflict, "You cannot change the role of, or deactivate, your own account.")
	}
	v := booking.ValidationError{}
	if c.Role != nil && !c.Role.Valid() {
		v.Add("role", "Must be ADMIN, OPS or READONLY.")
	}
	if c.Password != nil {
		booking.ValidatePassword(v, "password", *c.Password)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	p := booking.StaffPatch{Role: c.Role, Active: c.Active}
	if c.Password != nil {
		hash, err := a.hash(ctx, *c.Password)
		if err != nil {
			return nil, err
		}
		p.PasswordHash = &hash
	}
	return a.Store.UpdateStaff(ctx, id, p)
}

func (a *Accounts) hash(ctx context.Context, password string) (string, error) {
	var out string
	err := a.Hasher.Do(ctx, func() error {
		var err error
		out, err = HashPassword(password, a.Params)
		return err
	})
	return out, err
}
