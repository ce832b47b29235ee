package httpapi

import (
	"net/http"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
)

func (s *Server) handleStaffUsers(w http.ResponseWriter, r *http.Request) error {
	items, err := s.Accounts.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listAnswer[booking.Staff]{Items: items, Meta: listMeta{Count: len(items)}})
	return nil
}

func (s *Server) handleStaffUser(w http.ResponseWriter, r *http.Request) error {
	st, err := s.Accounts.Find(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": st})
	return nil
}

// handleStaffUserCreate creates an account. Without a password in the body
// one is generated and returned, once, in the answer.
func (s *Server) handleStaffUserCreate(w http.ResponseWriter, r *http.Request) error {
	var in auth.NewAccount
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	st, generated, err := s.Accounts.Create(r.Context(), in)
	if err != nil {
		return err
	}
	s.staffLog(r, "user.create", "user_id", st.ID, "role", st.Role)
	out := map[string]any{"user": st}
	if generated != "" {
		out["password"] = generated
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// handleStaffUserUpdate changes an account's role, active flag or password.
// Deactivating an account or setting its password ends its sessions (other
// than the caller's own).
func (s *Server) handleStaffUserUpdate(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var in auth.AccountChange
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	st, err := s.Accounts.Update(ctx, r.PathValue("id"), in, auth.StaffFrom(ctx))
	if err != nil {
		return err
	}
	ended := 0
	if !st.Active || in.Password != nil {
		if ended, err = auth.EndSessionsOf(ctx, s.Sessions, st.ID, s.Sessions.Token(ctx)); err != nil {
			return err
		}
	}
	s.staffLog(r, "user.update", "user_id", st.ID, "role", st.Role, "active", st.Active,
		"password_changed", in.Password != nil, "sessions_ended", ended)
	writeJSON(w, http.StatusOK, map[string]any{"user": st})
	return nil
}
