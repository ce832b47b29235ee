package booking

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// EInvalidCredentials is the answer to a failed staff login, whatever the
// reason (unknown email, wrong password, inactive or locked account).
const EInvalidCredentials = "invalid_credentials"

// Role is what a staff member may do (SPEC §4 "Staff").
type Role string

// Staff roles.
const (
	RoleAdmin    Role = "ADMIN"
	RoleOps      Role = "OPS"
	RoleReadonly Role = "READONLY"
)

// Roles lists every role, most powerful first.
var Roles = []Role{RoleAdmin, RoleOps, RoleReadonly}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	return r == RoleAdmin || r == RoleOps || r == RoleReadonly
}

// Staff is a staff account. The password hash is never part of it.
type Staff struct {
	ID          string     `json:"id"`
	Email       string     `json:"email"`
	Role        Role       `json:"role"`
	Active      bool       `json:"active"`
	LockedUntil *time.Time `json:"lockedUntil"`
	LastLoginAt *time.Time `json:"lastLoginAt"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
}

// StaffCredentials is what a login checks: the account, its password hash and
// whether it is locked after too many failures.
type StaffCredentials struct {
	Staff        Staff
	PasswordHash string
	Locked       bool
}

// NewStaff is an account to create; PasswordHash is already hashed.
type NewStaff struct {
	Email        string
	Role         Role
	PasswordHash string
}

// StaffPatch changes an account; nil fields are left alone. A new password
// hash also clears the failure counter and any lock.
type StaffPatch struct {
	Role         *Role
	Active       *bool
	PasswordHash *string
}

// NormalizeEmail trims and lower-cases an email address for storage and lookup.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidateStaffEmail checks a normalised staff email address.
func ValidateStaffEmail(v ValidationError, field, email string) {
	switch {
	case email == "":
		v.Add(field, "Required.")
	case len(email) > 254:
		v.Add(field, "Must be at most 254 characters.")
	default:
		a, err := mail.ParseAddress(email)
		if err != nil || a.Address != email {
			v.Add(field, "Must be a valid email address.")
		}
	}
}

// Password length bounds for staff accounts.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// ValidatePassword checks a new staff password.
func ValidatePassword(v ValidationError, field, pw string) {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinPasswordLen:
		v.Add(field, "Must be at least 12 characters.")
	case len(pw) > MaxPasswordLen:
		v.Add(field, "Must be at most 256 bytes.")
	case strings.ContainsFunc(pw, isControl):
		v.Add(field, "Must not contain control characters.")
	}
}
