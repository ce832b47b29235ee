package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bookingplatform/booking/internal/booking"
)

// Scope is what an API key may do. Scopes nest: ScopeAdmin includes
// ScopeWrite, which includes ScopeRead.
type Scope string

// The scopes of API keys.
const (
	ScopeRead  Scope = "bookings:read"
	ScopeWrite Scope = "bookings:write"
	ScopeAdmin Scope = "admin"
)

// Scopes lists every scope, narrowest first.
var Scopes = []Scope{ScopeRead, ScopeWrite, ScopeAdmin}

func (s Scope) rank() int { return slices.Index(Scopes, s) }

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool { return s.rank() >= 0 }

// ScopeForRoles is the scope a key needs on a route that admits roles: a
// route open to READONLY needs bookings:read, one open to OPS needs
// bookings:write, an ADMIN-only route needs admin.
func ScopeForRoles(roles []booking.Role) Scope {
	switch {
	case slices.Contains(roles, booking.RoleReadonly):
		return ScopeRead
	case slices.Contains(roles, booking.RoleOps):
		return ScopeWrite
	default:
		return ScopeAdmin
	}
}

// Grants reports whether a key with scopes may act where need is required.
func Grants(scopes []Scope, need Scope) bool {
	for _, s := range scopes {
		if s.rank() >= need.rank() && need.rank() >= 0 {
			return true
		}
	}
	return false
}

// APIKey is an API key as staff see it; the token is shown once, at creation.
type APIKey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scopes     []Scope    `json:"scopes"`
	CreatedBy  string     `json:"createdBy"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
}

// KeyPrincipal is who a presented key acts for: the key and the active
// staff account that created it.
type KeyPrincipal struct {
	Key   APIKey
	Staff booking.Staff
}

// NewAPIKey is a key to store.
type NewAPIKey struct {
	Name      string
	Prefix    string
	TokenHash []byte
	Scopes    []Scope
	CreatedBy string
}

// KeyStore is what API keys need from the database.
type KeyStore interface {
	CreateAPIKey(ctx context.Context, k NewAPIKey) (*APIKey, error)
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
	RevokeAPIKey(ctx context.Context, id string, now time.Time) (*APIKey, error)
	// FindAPIKey returns the unrevoked key with the token hash and its
	// creator, if active. Errors: not_found.
	FindAPIKey(ctx context.Context, tokenHash []byte) (*KeyPrincipal, error)
	// TouchAPIKey sets the key's last use to now unless it was set less
	// than a minute before.
	TouchAPIKey(ctx context.Context, id string, now time.Time) error
}

// TokenPrefix starts every API key token, so that secret scanners can
// recognise a leaked one.
const TokenPrefix = "bk_live_"

// HashToken is the stored form of an API key token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// APIKeys administers API keys.
type APIKeys struct {
	Store KeyStore
	Now   func() time.Time
}

// NewKey is a key to create.
type NewKey struct {
	Name   string  `json:"name"`
	Scopes []Scope `json:"scopes"`
}

// Create makes a key for staff member by and returns it with its token,
// which is not stored and cannot be shown again. Errors:
// validation_failed, unavailable.
func (a *APIKeys) Create(ctx context.Context, in NewKey, by *booking.Staff) (*APIKey, string, error) {
	v := booking.ValidationError{}
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		v.Add("name", "Required, at most 100 characters.")
	}
	if len(in.Scopes) == 0 {
		v.Add("scopes", "At least one of bookings:read, bookings:write, admin.")
	}
	var scopes []Scope
	for _, s := range in.Scopes {
		if !s.Valid() {
			v.Add("scopes", "Each must be bookings:read, bookings:write or admin.")
			break
		}
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	k, err := a.Store.CreateAPIKey(ctx, NewAPIKey{Name: name, Prefix: token[:len(TokenPrefix)+6],
		TokenHash: HashToken(token), Scopes: scopes, CreatedBy: by.ID})
	if err != nil {
		return nil, "", err
	}
	return k, token, nil
}

// List returns every key, revoked ones included, newest first.
func (a *APIKeys) List(ctx context.Context) ([]APIKey, error) {
	items, err := a.Store.ListAPIKeys(ctx)
	if items == nil {
		items = []APIKey{}
	}
	return items, err
}

// Revoke revokes key id at once (a revoked key stays listed). Errors:
// not_found, unavailable.
func (a *APIKeys) Revoke(ctx context.Context, id string) (*APIKey, error) {
	return a.Store.RevokeAPIKey(ctx, id, a.Now())
}

// KeyLimiter limits requests per key.
type KeyLimiter interface {
	Allow(key string) (bool, time.Duration)
}

type keyCtx struct{}

// KeyFrom returns the API key a request is authenticated with, or nil for
// a session.
func KeyFrom(ctx context.Context) *APIKey {
	k, _ := ctx.Value(keyCtx{}).(*APIKey)
	return k
}

// bearerToken returns the token of an Authorization: Bearer header.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	return strings.TrimSpace(h[7:]), true
}

// HasBearer reports whether r carries an Authorization: Bearer header.
func HasBearer(r *http.Request) bool {
	_, ok := bearerToken(r)
	return ok
}

// requireKey authenticates a request by its API key: an unknown or revoked
// key, or one whose creator is no longer active, is unauthenticated; a key
// over its rate is rate_limited; a key without the scope, or whose creator
// no longer has one of roles, is forbidden. The request then runs as the
// creator, with the key in its context; any cookie is dropped, so a bearer
// request never touches a session.
func (g *Guard) requireKey(w http.ResponseWriter, r *http.Request, token string, need Scope, roles []booking.Role, next http.Handler) {
	ctx := r.Context()
	if g.Keys == nil || !strings.HasPrefix(token, TokenPrefix) {
		g.WriteError(w, r, booking.Errorf(booking.EUnauthenticated, "Unknown or revoked API key."))
		return
	}
	p, err := g.Keys.FindAPIKey(ctx, HashToken(token))
	if err != nil {
		if booking.ErrorCode(err) == booking.ENotFound {
			err = booking.Errorf(booking.EUnauthenticated, "Unknown or revoked API key.")
		}
		g.WriteError(w, r, err)
		return
	}
	if g.KeyLimiter != nil {
		if ok, wait := g.KeyLimiter.Allow(p.Key.ID); !ok {
			w.Header().Set("Retry-After", strconvCeil(wait))
			g.WriteError(w, r, booking.Errorf(booking.ERateLimited, "Too many requests with this API key. Please slow down."))
			return
		}
	}
	if !Grants(p.Key.Scopes, need) || !slices.Contains(roles, p.Staff.Role) {
		g.WriteError(w, r, booking.Errorf(booking.EForbidden, "This API key's scopes do not allow this."))
		return
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	if t := now(); p.Key.LastUsedAt == nil || t.Sub(*p.Key.LastUsedAt) >= time.Minute {
		if err := g.Keys.TouchAPIKey(ctx, p.Key.ID, t); err != nil {
			g.WriteError(w, r, err)
			return
		}
	}
	r = r.Clone(context.WithValue(WithStaff(ctx, &p.Staff), keyCtx{}, &p.Key))
	r.Header.Del("Cookie")
	// The session manager still wraps the handler (handlers such as logout
	// expect it); with no cookie it loads an empty session and saves none.
	g.Sessions.LoadAndSave(next).ServeHTTP(w, r)
}

func strconvCeil(d time.Duration) string {
	return strconv.Itoa(max(1, int((d+time.Second-1)/time.Second)))
}

// RequireScoped is Require for a route that API keys may also use: a
// request with an Authorization: Bearer header is authenticated by its key
// alone (see requireKey) and needs scope need; any other request needs a
// session, as with Require.
func (g *Guard) RequireScoped(need Scope, roles ...booking.Role) func(http.Handler) http.Handler {
	session := g.Require(roles...)
	return func(next http.Handler) http.Handler {
		withSession := session(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if token, ok := bearerToken(r); ok {
				g.requireKey(w, r, token, need, roles, next)
				return
			}
			withSession.ServeHTTP(w, r)
		})
	}
}
