package httpapi

import (
	"net/http"

	"github.com/bookingplatform/booking/internal/auth"
)

// keyScopes are the routes whose key scope differs from the one their roles
// imply (auth.ScopeForRoles): exports are reads, so bookings:read keys may
// run them although READONLY sessions may not.
var keyScopes = map[string]auth.Scope{
	"GET /api/admin/exports/bookings.csv": auth.ScopeRead,
	"GET /api/admin/exports/money.csv":    auth.ScopeRead,
}

// KeyScope is the scope an API key needs on a staff route.
func KeyScope(rt StaffRoute) auth.Scope {
	if s, ok := keyScopes[rt.Method+" "+rt.Path]; ok {
		return s
	}
	return auth.ScopeForRoles(rt.Roles)
}

// handleAPIKeys lists every API key, revoked ones included.
func (s *Server) handleAPIKeys(w http.ResponseWriter, r *http.Request) error {
	items, err := s.APIKeys.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listAnswer[auth.APIKey]{Items: items, Meta: listMeta{Count: len(items)}})
	return nil
}

// handleAPIKeyCreate makes a key; its token is in this answer only.
func (s *Server) handleAPIKeyCreate(w http.ResponseWriter, r *http.Request) error {
	var in auth.NewKey
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	k, token, err := s.APIKeys.Create(r.Context(), in, auth.StaffFrom(r.Context()))
	if err != nil {
		return err
	}
	s.staffLog(r, "api_key.create", "api_key_id", k.ID, "scopes", k.Scopes)
	writeJSON(w, http.StatusCreated, map[string]any{"apiKey": k, "token": token})
	return nil
}

// handleAPIKeyRevoke revokes a key at once.
func (s *Server) handleAPIKeyRevoke(w http.ResponseWriter, r *http.Request) error {
	k, err := s.APIKeys.Revoke(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	s.staffLog(r, "api_key.revoke", "api_key_id", k.ID)
	writeJSON(w, http.StatusOK, map[string]any{"apiKey": k})
	return nil
}
