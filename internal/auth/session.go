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

// Sessions is the staff session manager. It keeps the idle timeout itself:
// scs would save every session on every request to move its idle deadline —
// a durable write to the store for each read of a dashboard. Here the last
// use is written at most once per a thirtieth of the idle timeout (a minute
// by default; API keys record their last use the same way), and a session
// ends once its last recorded use is the idle timeout old: never later than
// the timeout after its last request, at most that thirtieth earlier.
type Sessions struct {
	*scs.SessionManager
	// Idle ends a session unused for that long.
	Idle time.Duration
	// Now tells the time (default time.Now).
	Now func() time.Time
}

// sessionSeenKey holds when the session's use was last recorded (Unix
// milliseconds).
const sessionSeenKey = "seen_at"

// NewSessions returns the staff session manager over store: an HttpOnly,
// SameSite=Lax cookie holding only a random token, the data in the store.
// errorFunc answers requests whose session cannot be loaded or saved.
func NewSessions(store scs.Store, o SessionOpts, errorFunc func(http.ResponseWriter, *http.Request, error)) *Sessions {
	sm := scs.New()
	sm.Store = store
	idle := o.IdleTimeout
	if idle <= 0 {
		idle = 30 * time.Minute
	}
	sm.IdleTimeout = 0 // kept by Sessions.active, see Sessions
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
	return &Sessions{SessionManager: sm, Idle: idle}
}

func (s *Sessions) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// active returns the staff id of the session loaded in ctx, or "" when it
// has none or has been unused for the idle timeout (then it is destroyed).
// It records the use when the last one recorded is a thirtieth of the idle
// timeout old or older, so most requests leave the session unmodified and
// nothing is written. A session without a recorded use (made before uses
// were recorded) counts as used now; the store's own expiry still bounds it.
func (s *Sessions) active(ctx context.Context) (string, error) {
	id := s.GetString(ctx, sessionStaffKey)
	if id == "" {
		return "", nil
	}
	now := s.now()
	ms, ok := s.Get(ctx, sessionSeenKey).(int64)
	if ok && now.Sub(time.UnixMilli(ms)) >= s.Idle {
		return "", s.Destroy(ctx)
	}
	if !ok || now.Sub(time.UnixMilli(ms)) >= s.Idle/30 {
		s.Put(ctx, sessionSeenKey, now.UnixMilli())
	}
	return id, nil
}

// StartSession makes the session of ctx a login of staff id under a new
// token: the token a client had before (possibly planted by someone else) is
// deleted, so a login never adopts an existing session.
func StartSession(ctx context.Context, sm *Sessions, staffID string) error {
	if err := sm.RenewToken(ctx); err != nil {
		return err
	}
	sm.Put(ctx, sessionStaffKey, staffID)
	sm.Put(ctx, sessionSeenKey, sm.now().UnixMilli())
	return nil
}

// EndSessionsOf deletes every session of staff id from the store, except
// the one with token keep (the caller's own, or ""), and returns how many it
// deleted.
func EndSessionsOf(ctx context.Context, sm *Sessions, staffID, keep string) (int, error) {
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
	Sessions *Sessions
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
		id, err := g.Sessions.active(r.Context())
		if err != nil {
			g.WriteError(w, r, err)
			return
		}
		if id == "" {
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
			id, err := g.Sessions.active(ctx)
			if err != nil {
				g.WriteError(w, r, err)
				return
			}
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
