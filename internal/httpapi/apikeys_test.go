package httpapi_test

import (
	"crypto/sha256"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/app"
	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/httpapi"
	"github.com/bookingplatform/booking/internal/pgtest"
)

// keySetup is staffSetup with a per-key limit of keyPerMinute.
func keySetup(t *testing.T, keyPerMinute int) *testBundle {
	t.Helper()
	return setup(t, setupOpts{configure: func(opts *app.Options) {
		opts.NoStaff = false
		opts.LoginPerMinute, opts.HashParams = 10000, staffParams
	}, server: func(s *httpapi.Server) {
		if keyPerMinute > 0 {
			s.KeyLimiter = httpapi.NewLimiter(keyPerMinute)
		}
	}})
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

type keyCreated struct {
	APIKey auth.APIKey `json:"apiKey"`
	Token  string      `json:"token"`
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	tb := keySetup(t, 0)
	admin, acct := staffLogin(t, tb, booking.RoleAdmin)

	var created keyCreated
	resp := admin.do(t, "POST", "/api/admin/api-keys", map[string]any{"name": "Accounting", "scopes": []string{"bookings:write"}}, nil, &created)
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(created.Token, auth.TokenPrefix) || created.APIKey.CreatedBy != acct.ID {
		t.Fatalf("create: %d %+v", resp.StatusCode, created)
	}
	token := created.Token

	t.Run("the token is stored only as its hash and shown once", func(t *testing.T) {
		h := sha256.Sum256([]byte(token))
		var n int
		if err := tb.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM api_keys WHERE token_hash = $1`, h[:]).Scan(&n); err != nil || n != 1 {
			t.Fatalf("hash rows %d, %v", n, err)
		}
		var dump string
		if err := tb.db.Pool.QueryRow(t.Context(), `SELECT string_agg(k::text, ',') FROM api_keys k`).Scan(&dump); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(dump, token[len(auth.TokenPrefix)+6:]) {
			t.Fatal("the token is stored in clear")
		}
		req, _ := http.NewRequest("GET", tb.srv.URL+"/api/admin/api-keys", nil)
		for _, c := range admin.jar.Cookies(req.URL) {
			req.AddCookie(c)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || strings.Contains(string(raw), token) || !strings.Contains(string(raw), created.APIKey.Prefix) {
			t.Fatalf("list: %d %s", r.StatusCode, raw)
		}
	})

	bk := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{})
	t.Run("a key acts without cookies, also with browser headers, and its use is recorded", func(t *testing.T) {
		crossSite := bearer(token)
		crossSite.Set("Sec-Fetch-Site", "cross-site")
		crossSite.Set("Origin", "https://elsewhere.example")
		var out struct{ Booking booking.Booking }
		c := newStaffClient(tb)
		if r := c.do(t, "POST", "/api/admin/bookings/"+bk.ID+"/cancel", nil, crossSite, &out); r.StatusCode != 200 || out.Booking.Status != booking.StatusCancelled {
			t.Fatalf("cancel with key: %d %+v", r.StatusCode, out)
		}
		var audit string
		if err := tb.db.Pool.QueryRow(t.Context(), `SELECT cause_ref FROM booking_audit WHERE booking_id = $1 ORDER BY id DESC LIMIT 1`, bk.ID).Scan(&audit); err != nil || !strings.Contains(audit, acct.ID) {
			t.Fatalf("audit cause %q (%v), want the key's creator %s", audit, err, acct.ID)
		}
		var used *time.Time
		if err := tb.db.Pool.QueryRow(t.Context(), `SELECT last_used_at FROM api_keys WHERE id = $1`, created.APIKey.ID).Scan(&used); err != nil || used == nil {
			t.Fatalf("last used %v, %v", used, err)
		}
		if strings.Contains(tb.logs.String(), token) {
			t.Fatal("the token is in the log")
		}
	})

	t.Run("a bearer request with a cookie is still checked for its origin", func(t *testing.T) {
		h := bearer(token)
		h.Set("Sec-Fetch-Site", "cross-site")
		h.Set("Origin", "https://elsewhere.example")
		var e apiError
		r := admin.do(t, "POST", "/api/admin/bookings/"+bk.ID+"/cancel", nil, h, &e)
		staffCheckError(t, "cross-site with cookie", r, e, 403, "forbidden")
	})

	t.Run("an unknown or malformed key is unauthenticated", func(t *testing.T) {
		for _, tok := range []string{auth.TokenPrefix + "nope", "garbage", token + "x"} {
			var e apiError
			r := newStaffClient(tb).do(t, "GET", "/api/admin/bookings", nil, bearer(tok), &e)
			staffCheckError(t, "unknown key", r, e, 401, "unauthenticated")
		}
	})

	t.Run("a key of a deactivated account stops working", func(t *testing.T) {
		other := staffCreate(t, tb.db, booking.RoleAdmin)
		_, tok, err := tb.api.APIKeys.Create(t.Context(), auth.NewKey{Name: "x", Scopes: []auth.Scope{auth.ScopeAdmin}}, &other.Staff)
		if err != nil {
			t.Fatal(err)
		}
		if r := newStaffClient(tb).do(t, "GET", "/api/admin/users", nil, bearer(tok), nil); r.StatusCode != 200 {
			t.Fatalf("before: %d", r.StatusCode)
		}
		if r := admin.do(t, "PATCH", "/api/admin/users/"+other.ID, map[string]any{"active": false}, nil, nil); r.StatusCode != 200 {
			t.Fatalf("deactivate: %d", r.StatusCode)
		}
		var e apiError
		r := newStaffClient(tb).do(t, "GET", "/api/admin/users", nil, bearer(tok), &e)
		staffCheckError(t, "deactivated", r, e, 401, "unauthenticated")
	})

	t.Run("a key never acts above its creator's current role", func(t *testing.T) {
		other := staffCreate(t, tb.db, booking.RoleAdmin)
		_, tok, err := tb.api.APIKeys.Create(t.Context(), auth.NewKey{Name: "x", Scopes: []auth.Scope{auth.ScopeAdmin}}, &other.Staff)
		if err != nil {
			t.Fatal(err)
		}
		if r := admin.do(t, "PATCH", "/api/admin/users/"+other.ID, map[string]any{"role": "READONLY"}, nil, nil); r.StatusCode != 200 {
			t.Fatalf("demote: %d", r.StatusCode)
		}
		var e apiError
		r := newStaffClient(tb).do(t, "GET", "/api/admin/users", nil, bearer(tok), &e)
		staffCheckError(t, "demoted creator", r, e, 403, "forbidden")
	})

	t.Run("invalid keys are refused", func(t *testing.T) {
		for _, body := range []map[string]any{{"name": "", "scopes": []string{"admin"}}, {"name": "x", "scopes": []string{}},
			{"name": "x", "scopes": []string{"root"}}} {
			var e apiError
			r := admin.do(t, "POST", "/api/admin/api-keys", body, nil, &e)
			staffCheckError(t, fmt.Sprint(body), r, e, 422, "validation_failed")
		}
	})

	t.Run("a revoked key is unauthenticated at once", func(t *testing.T) {
		var out struct{ APIKey auth.APIKey }
		if r := admin.do(t, "DELETE", "/api/admin/api-keys/"+created.APIKey.ID, nil, nil, &out); r.StatusCode != 200 || out.APIKey.RevokedAt == nil {
			t.Fatalf("revoke: %d %+v", r.StatusCode, out)
		}
		var e apiError
		r := newStaffClient(tb).do(t, "GET", "/api/admin/bookings", nil, bearer(token), &e)
		staffCheckError(t, "revoked", r, e, 401, "unauthenticated")
	})
}

func TestAPIKeyRateLimit(t *testing.T) {
	t.Parallel()
	tb := keySetup(t, 3)
	acct := staffCreate(t, tb.db, booking.RoleAdmin)
	_, a, _ := tb.api.APIKeys.Create(t.Context(), auth.NewKey{Name: "a", Scopes: []auth.Scope{auth.ScopeRead}}, &acct.Staff)
	_, b, _ := tb.api.APIKeys.Create(t.Context(), auth.NewKey{Name: "b", Scopes: []auth.Scope{auth.ScopeRead}}, &acct.Staff)
	for i := range 3 {
		if r := newStaffClient(tb).do(t, "GET", "/api/admin/bookings", nil, bearer(a), nil); r.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, r.StatusCode)
		}
	}
	var e apiError
	r := newStaffClient(tb).do(t, "GET", "/api/admin/bookings", nil, bearer(a), &e)
	staffCheckError(t, "over the limit", r, e, 429, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if r := newStaffClient(tb).do(t, "GET", "/api/admin/bookings", nil, bearer(b), nil); r.StatusCode != 200 {
		t.Fatalf("another key is limited too: %d", r.StatusCode)
	}
}

// TestExports streams a few thousand bookings and their money as CSV, with
// filters, local times and cells defused against spreadsheet formulas.
func TestExports(t *testing.T) {
	t.Parallel()
	tb := keySetup(t, 0)
	ops, _ := staffLogin(t, tb, booking.RoleOps)
	const n = 5000
	// Cancelled bookings hold no slot, so they may share times.
	if _, err := tb.db.Pool.Exec(t.Context(), `
INSERT INTO bookings (reference, resource_id, starts_at, ends_at, status, amount_total, currency, hold_expires_at,
    customer_first_name, customer_last_name, customer_email, customer_token_hash, status_cause, status_cause_ref)
SELECT 'EXP' || i, $1, timestamptz '2030-03-30 22:00:00+00' + i * interval '1 minute',
       timestamptz '2030-03-30 22:30:00+00' + i * interval '1 minute', 'cancelled', 2500, 'eur', now(),
       CASE WHEN i = 1 THEN '=HYPERLINK("http://evil")' ELSE 'Ann' END, 'Lee', 'c' || i || '@example.com',
       sha256(i::text::bytea), 'system', 'test'
FROM generate_series(1, $2) i`, tb.resource.ID, n); err != nil {
		t.Fatal(err)
	}
	paid := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{Status: booking.StatusConfirmed, PaymentIntent: "pi_export"})

	get := func(t *testing.T, path string) [][]string {
		t.Helper()
		req, _ := http.NewRequest("GET", tb.srv.URL+path, nil)
		for _, c := range ops.jar.Cookies(req.URL) {
			req.AddCookie(c)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
			raw, _ := io.ReadAll(r.Body)
			t.Fatalf("%s: %d %s", path, r.StatusCode, raw)
		}
		recs, err := csv.NewReader(r.Body).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}

	all := get(t, "/api/admin/exports/bookings.csv?status=cancelled")
	if len(all) != n+1 || strings.Join(all[0], ",") != strings.Join(booking.BookingExportColumns, ",") {
		t.Fatalf("%d records, header %v", len(all), all[0])
	}
	col := func(name string) int {
		for i, c := range booking.BookingExportColumns {
			if c == name {
				return i
			}
		}
		t.Fatalf("no column %s", name)
		return -1
	}
	first := all[1]
	if first[col("customerFirstName")] != `'=HYPERLINK("http://evil")` {
		t.Errorf("formula not defused: %q", first[col("customerFirstName")])
	}
	if first[col("startsAtUtc")] != "2030-03-30T22:01:00Z" || first[col("timezone")] != tb.resource.Timezone {
		t.Errorf("first row %v", first)
	}
	loc, _ := time.LoadLocation(tb.resource.Timezone)
	if want := time.Date(2030, 3, 30, 22, 1, 0, 0, time.UTC).In(loc).Format("2006-01-02T15:04:05"); first[col("startsAtLocal")] != want {
		t.Errorf("local start %q, want %q", first[col("startsAtLocal")], want)
	}

	if got := get(t, "/api/admin/exports/bookings.csv?from=2030-03-30T22:00:00Z&to=2030-03-30T23:00:00Z&resourceId="+tb.resource.ID); len(got) != 60 {
		t.Errorf("an hour of starts: %d records, want 59 and the header", len(got))
	}
	money := get(t, "/api/admin/exports/money.csv")
	if len(money) != 2 || money[1][0] != "payment" || money[1][3] != paid.ID || money[1][2] != "pi_export" {
		t.Errorf("money %v", money)
	}
	if got := get(t, "/api/admin/exports/money.csv?status=cancelled"); len(got) != 1 {
		t.Errorf("money of cancelled bookings: %v", got)
	}
}
