package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
)

// staffRoutes registers the login route and every route of StaffRoutes, each
// behind the session middleware and its role check. Only these routes load
// or save sessions; the webhook and the public API never touch them.
func (s *Server) staffRoutes(mux *router) {
	if s.Sessions == nil || s.Auth == nil || s.Accounts == nil || s.Desk == nil {
		return
	}
	if s.LoginLimiter == nil {
		s.LoginLimiter = NewLimiter(5)
	}
	s.Sessions.ErrorFunc = s.sessionError
	if s.KeyLimiter == nil {
		s.KeyLimiter = NewLimiter(600)
	}
	g := &auth.Guard{Sessions: s.Sessions, Store: s.Auth.Store, WriteError: s.WriteError, KeyLimiter: s.KeyLimiter}
	if s.APIKeys != nil {
		g.Keys, g.Now = s.APIKeys.Store, s.APIKeys.Now
	}
	mux.Handle("POST /auth/login", g.Session(s.Handle(s.handleLogin)))
	for _, rt := range StaffRoutes() {
		h := rt.handle
		mux.Handle(rt.Method+" "+rt.Path, g.RequireScoped(KeyScope(rt), rt.Roles...)(s.Handle(func(w http.ResponseWriter, r *http.Request) error {
			return h(s, w, r)
		})))
	}
}

// sessionError answers a request whose session could not be loaded or saved.
func (s *Server) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	if booking.ErrorCode(err) == booking.EInternal {
		err = booking.WrapError(booking.EUnavailable, "The service is temporarily unavailable.", err)
	}
	s.WriteError(w, r, err)
}

// sessionUser is the account as the login, me and page scripts see it.
type sessionUser struct {
	ID    string       `json:"id"`
	Email string       `json:"email"`
	Role  booking.Role `json:"role"`
}

func userAnswer(st *booking.Staff) map[string]sessionUser {
	return map[string]sessionUser{"user": {ID: st.ID, Email: st.Email, Role: st.Role}}
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// handleLogin checks the credentials and starts a session under a new token.
// Attempts are limited per client address; failures also count towards the
// account's lock, kept in the database.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if ok, wait := s.LoginLimiter.Allow(s.clientAddr(r)); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		return booking.Errorf(booking.ERateLimited, "Too many login attempts. Please wait and try again.")
	}
	var in loginRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	v := booking.ValidationError{}
	if strings.TrimSpace(in.Email) == "" {
		v.Add("email", "Required.")
	}
	if in.Password == "" {
		v.Add("password", "Required.")
	}
	if err := v.Err(); err != nil {
		return err
	}
	st, err := s.Auth.Login(ctx, in.Email, in.Password)
	if err != nil {
		if booking.ErrorCode(err) == booking.EInvalidCredentials {
			// Neither the email nor the password is logged: people type one
			// into the other's field.
			s.Logger.WarnContext(ctx, "staff login failed", "request_id", RequestID(ctx), "client", s.clientAddr(r))
		}
		return err
	}
	if err := auth.StartSession(ctx, s.Sessions, st.ID); err != nil {
		return err
	}
	s.Logger.InfoContext(ctx, "staff login", "request_id", RequestID(ctx), "staff_id", st.ID, "role", st.Role)
	writeJSON(w, http.StatusOK, userAnswer(st))
	return nil
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, userAnswer(auth.StaffFrom(r.Context())))
	return nil
}

// handleLogout deletes the session from the store and clears the cookie.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := auth.StaffFrom(ctx)
	if err := s.Sessions.Destroy(ctx); err != nil {
		return err
	}
	s.Logger.InfoContext(ctx, "staff logout", "request_id", RequestID(ctx), "staff_id", st.ID)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}
