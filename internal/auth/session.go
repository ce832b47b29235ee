package auth

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/bookingplatform/booking/internal/booking"
)

// SessionOpts configures staff sessions.
type SessionOpts struct {
	// Secure marks the cookie Secure (and names it with the __Host- prefix,
	// which browsers only accept over HTTPS). On in production.
	Secure bool
	// IdleTimeout ends a session unused for that long (default 30 minutes).
	IdleTimeout time.Duration
	// Lifetime ends a session that long after login, used or not (default 12 hours).
	Lifetime time.Duration
}

// Cookie names of the staff session.
const (
	CookieName       = "booking_session"
	SecureCookieName = "__Host-booking_session"
)

// sessionStaffKey holds the staff account id in the session.
const sessionStaffKey = "staff_id"

// NewSessions returns the staff session manager over store: an HttpOnly,
// SameSite=Lax cookie holding only a random token, the data in the store.
// errorFunc answers requests whose session cannot be loaded or saved.
func NewSessions(store scs.Store, o SessionOpts, errorFunc func(http.ResponseWriter, *http.Request, error)) *scs.SessionManager {
	sm := scs.New()
	sm.Store = store
	sm.IdleTimeout = o.IdleTimeout
	if sm.IdleTimeout <= 0 {
		sm.IdleTimeout = 30 * time.Minute
	}
	sm.Lifetime = o.Lifetime
	if sm.Lifetime <= 0 {
		sm.Lifetime = 12 * time.Hour
	}
	sm.Cookie.Name = CookieName
	if o.Secure {
		sm.Cookie.Name = SecureCookieName
	}
	sm.Cookie.HttpOnly = true
	sm.Cookie.Secure = o.Secure
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Path = "/"
	sm.Cookie.Persist = false // a browser session cookie; the server enforces the timeouts
	if errorFunc != nil {
		sm.ErrorFunc = errorFunc
	}
	return sm
}

// StartSession makes the session of ctx a login of staff id under a new
// token: the token a client had before (possibly planted by someone else) is
// deleted, so a login never adopts an existing session.
func StartSession(ctx context.Context, sm *scs.SessionManager, staffID string) error {
	if err := sm.RenewToken(ctx); err != nil {
		return err
	}
	sm.Put(ctx, sessionStaffKey, staffID)
	return nil
}

// EndSessionsOf deletes every session of staff id from the store, except
// the one with token keep (the caller's own, or ""), and returns how many it
// deleted.
func EndSessionsOf(ctx context.Context, sm *scs.SessionManager, staffID, keep string) (int, error) {
	n := 0
	err := sm.Iterate(ctx, func(ctx context.Context) error {
		if sm.GetString(ctx, sessionStaffKey) != staffID || (keep != "" && sm.Token(ctx) == keep) {
			return nil
		}
		n++
		return sm.Destroy(ctx)
	})
	return n, err
}

type staffKey struct{}

// WithStaff returns ctx carrying the authenticated staff member.
func WithStaff(ctx context.Context, s *booking.Staff) context.Context {
	return context.WithValue(ctx, staffKey{}, s)
}

// StaffFrom returns the authenticated staff member of ctx, or nil.
func StaffFrom(ctx context.Context) *booking.Staff {
	s, _ := ctx.Value(staffKey{}).(*booking.Staff)
	return s
}

// Guard protects staff routes.
type Guard struct {
	Sessions *scs.SessionManager
	Store    Store
	// WriteError answers a refused request (unauthenticated, forbidden, or a
	// store error).
	WriteError func(http.ResponseWriter, *http.Request, error)
	// Keys, when set, authenticates Authorization: Bearer API keys on the
	// routes wrapped by RequireScoped; KeyLimiter limits each key's
	// requests; Now stamps their last use (default time.Now).
	Keys       KeyStore
	KeyLimiter KeyLimiter
	Now        func() time.Time
}

// Session wraps next with the loading and saving of the staff session, and
// nothing else (for the login route).
func (g *Guard) Session(next http.Handler) http.Handler { return g.Sessions.LoadAndSave(next) }

// Page wraps an HTML page for staff: a browser without a staff session is
// sent to loginURL instead (303), so the page never loads only to find its
// API calls refused. The API routes behind the page keep their own checks.
func (g *Guard) Page(loginURL string, next http.Handler) http.Handler {
	return g.Sessions.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.Sessions.GetString(r.Context(), sessionStaffKey) == "" {
			http.Redirect(w, r, loginURL, http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// Require wraps next so that it runs only for an active staff member with one
// of roles: without a session (or with one of an account that no longer
// exists or was deactivated) the answer is unauthenticated and the session is
// ended; with another role it is forbidden. The account is read on every
// request, so a role change or deactivation takes effect at once.
func (g *Guard) Require(roles ...booking.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return g.Sessions.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			id := g.Sessions.GetString(ctx, sessionStaffKey)
			if id == "" {
				g.WriteError(w, r, booking.Errorf(booking.EUnauthenticated, "Please log in."))
				return
			}
			st, err := g.Store.FindStaff(ctx, id)
			if err != nil && booking.ErrorCode(err) != booking.ENotFound {
				g.WriteError(w, r, err)
				return
			}
			if st == nil || !st.Active {
				if err := g.Sessions.Destroy(ctx); err != nil {
					g.WriteError(w, r, err)
					return
				}
				g.WriteError(w, r, booking.Errorf(booking.EUnauthenticated, "Please log in."))
				return
			}
			if !slices.Contains(roles, st.Role) {
				g.WriteError(w, r, booking.Errorf(booking.EForbidden, "Your role does not allow this."))
				return
			}
			next.ServeHTTP(w, r.WithContext(WithStaff(ctx, st)))
		}))
	}
}
