package httpapi_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/bookingplatform/booking/internal/app"
	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/pgtest"
	"github.com/bookingplatform/booking/internal/postgres"
)

// staffParams keep password hashing cheap in tests; production hashes use
// auth.DefaultParams.
var staffParams = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// staffMetricsToken opens GET /metrics on the staff test servers.
const staffMetricsToken = "metrics-token-for-tests-0123456789"

type staffOpts struct {
	db             *postgres.DB     // default: a fresh database
	loginPerMinute int              // default: 10000 (no per-address limit in the way)
	refunder       booking.Refunder // default: Stripe on stripe-mock
	checkouts      booking.CheckoutExpirer
	trustProxy     bool
	secureCookie   bool
	idleTimeout    time.Duration // default: the product's
	lifetime       time.Duration // default: the product's
}

// staffSetup is setup with the staff API switched on: sessions in the
// database, cheap password hashes, stripe-mock for refunds.
func staffSetup(t testing.TB, o staffOpts) *testBundle {
	t.Helper()
	if o.loginPerMinute == 0 {
		o.loginPerMinute = 10000
	}
	return setup(t, setupOpts{db: o.db, configure: func(opts *app.Options) {
		opts.NoStaff = false
		opts.Refunder, opts.Expirer = o.refunder, o.checkouts
		opts.TrustProxy, opts.MetricsToken, opts.LoginPerMinute = o.trustProxy, staffMetricsToken, o.loginPerMinute
		opts.Session = auth.SessionOpts{Secure: o.secureCookie, IdleTimeout: o.idleTimeout, Lifetime: o.lifetime}
		opts.HashParams = staffParams
	}})
}

var staffSeq atomic.Int64

// staffAccount is a staff user created for a test, with its password.
type staffAccount struct {
	booking.Staff
	password string
}

// staffCreate inserts an active account with a random password.
func staffCreate(t testing.TB, db *postgres.DB, role booking.Role) staffAccount {
	t.Helper()
	pw := "pw-" + auth.GeneratePassword()
	hash, err := auth.HashPassword(pw, staffParams)
	if err != nil {
		t.Fatal(err)
	}
	email := strings.ToLower(string(role)) + "-" + strconv.FormatInt(staffSeq.Add(1), 10) + "-" + time.Now().Format("150405.000000") + "@example.com"
	st, err := db.CreateStaff(context.Background(), booking.NewStaff{Email: email, Role: role, PasswordHash: hash})
	if err != nil {
		t.Fatalf("create staff: %v", err)
	}
	return staffAccount{Staff: *st, password: pw}
}

// staffClient is a browser-like client with its own cookie jar.
type staffClient struct {
	base string
	jar  *cookiejar.Jar
	hc   *http.Client
}

func newStaffClient(tb *testBundle) *staffClient {
	jar, _ := cookiejar.New(nil)
	return &staffClient{base: tb.srv.URL, jar: jar, hc: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
}

// do sends a request (JSON body when body is not nil) and decodes a JSON
// answer into out when out is not nil.
func (c *staffClient) do(t testing.TB, method, path string, body any, header http.Header, out any) *http.Response {
	t.Helper()
	return sendJSON(t, c.hc, method, c.base+path, body, header, out)
}

func (c *staffClient) login(t testing.TB, email, password string, out any) *http.Response {
	t.Helper()
	return c.do(t, http.MethodPost, "/auth/login", map[string]string{"email": email, "password": password}, nil, out)
}

// token is the client's session cookie value, or "".
func (c *staffClient) token() string {
	u, _ := url.Parse(c.base)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == auth.CookieName {
			return ck.Value
		}
	}
	return ""
}

// setToken replaces the client's session cookie.
func (c *staffClient) setToken(token string) {
	u, _ := url.Parse(c.base)
	c.jar.SetCookies(u, []*http.Cookie{{Name: auth.CookieName, Value: token, Path: "/"}})
}

// staffLogin creates an account of role and returns a client logged in as it.
func staffLogin(t testing.TB, tb *testBundle, role booking.Role) (*staffClient, staffAccount) {
	t.Helper()
	acct := staffCreate(t, tb.db, role)
	return staffLoginAs(t, tb, acct), acct
}

// staffLoginAs returns a new client logged in as acct.
func staffLoginAs(t testing.TB, tb *testBundle, acct staffAccount) *staffClient {
	t.Helper()
	c := newStaffClient(tb)
	if resp := c.login(t, acct.Email, acct.password, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("login as %s: status %d", acct.Role, resp.StatusCode)
	}
	return c
}

func staffCheckError(t testing.TB, what string, resp *http.Response, got apiError, status int, code string) {
	t.Helper()
	if resp.StatusCode != status || got.Error != code {
		t.Fatalf("%s: got %d %q (%s), want %d %q", what, resp.StatusCode, got.Error, got.Message, status, code)
	}
	if got.RequestID == "" || got.RequestID != resp.Header.Get("X-Request-Id") {
		t.Fatalf("%s: requestId %q, header %q", what, got.RequestID, resp.Header.Get("X-Request-Id"))
	}
}

func TestStaffLogin(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	ops := staffCreate(t, tb.db, booking.RoleOps)

	t.Run("success sets a session cookie and answers the user", func(t *testing.T) {
		c := newStaffClient(tb)
		var got struct {
			User map[string]any `json:"user"`
		}
		resp := c.login(t, ops.Email, ops.password, &got)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		want := map[string]any{"id": ops.ID, "email": ops.Email, "role": "OPS"}
		if len(got.User) != 3 || got.User["id"] != want["id"] || got.User["email"] != want["email"] || got.User["role"] != want["role"] {
			t.Fatalf("user %v, want %v", got.User, want)
		}
		var ck *http.Cookie
		for _, k := range resp.Cookies() {
			if k.Name == auth.CookieName {
				ck = k
			}
		}
		if ck == nil || ck.Value == "" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure {
			t.Fatalf("session cookie %+v", ck)
		}
		var me struct {
			User map[string]any `json:"user"`
		}
		if resp := c.do(t, http.MethodGet, "/auth/me", nil, nil, &me); resp.StatusCode != 200 || me.User["id"] != ops.ID {
			t.Fatalf("me: %d %v", resp.StatusCode, me.User)
		}
		if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM sessions WHERE token = $1`, c.token()); n != 1 {
			t.Fatalf("session rows for the token: %d, want 1", n)
		}
	})

	t.Run("email is case-insensitive", func(t *testing.T) {
		resp := newStaffClient(tb).login(t, "  "+strings.ToUpper(ops.Email)+" ", ops.password, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})

	t.Run("unknown email and wrong password answer alike", func(t *testing.T) {
		var a, b apiError
		ra := newStaffClient(tb).login(t, "nobody@example.com", ops.password, &a)
		rb := newStaffClient(tb).login(t, ops.Email, "wrong password!", &b)
		staffCheckError(t, "unknown email", ra, a, 401, "invalid_credentials")
		staffCheckError(t, "wrong password", rb, b, 401, "invalid_credentials")
		if a.Message != b.Message || len(a.Fields)+len(b.Fields) != 0 {
			t.Fatalf("answers differ: %+v vs %+v", a, b)
		}
		if len(ra.Cookies())+len(rb.Cookies()) != 0 {
			t.Fatal("a failed login set a cookie")
		}
	})

	t.Run("inactive account is refused with the right password", func(t *testing.T) {
		acct := staffCreate(t, tb.db, booking.RoleAdmin)
		off := false
		if _, err := tb.db.UpdateStaff(context.Background(), acct.ID, booking.StaffPatch{Active: &off}); err != nil {
			t.Fatal(err)
		}
		var e apiError
		staffCheckError(t, "inactive", newStaffClient(tb).login(t, acct.Email, acct.password, &e), e, 401, "invalid_credentials")
	})

	t.Run("missing fields and bad JSON", func(t *testing.T) {
		var e apiError
		resp := newStaffClient(tb).do(t, http.MethodPost, "/auth/login", map[string]string{"email": ""}, nil, &e)
		staffCheckError(t, "empty", resp, e, 422, "validation_failed")
		e = apiError{}
		resp = newStaffClient(tb).do(t, http.MethodPost, "/auth/login", map[string]any{"email": 1}, nil, &e)
		staffCheckError(t, "wrong type", resp, e, 400, "invalid_json")
	})

	t.Run("without a session staff routes answer 401", func(t *testing.T) {
		var e apiError
		resp := newStaffClient(tb).do(t, http.MethodGet, "/auth/me", nil, nil, &e)
		staffCheckError(t, "me", resp, e, 401, "unauthenticated")
		e = apiError{}
		c := newStaffClient(tb)
		c.setToken("not-a-session")
		resp = c.do(t, http.MethodGet, "/api/admin/bookings", nil, nil, &e)
		staffCheckError(t, "unknown token", resp, e, 401, "unauthenticated")
	})
}

func TestStaffSecureCookie(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{secureCookie: true})
	acct := staffCreate(t, tb.db, booking.RoleReadonly)
	resp := newStaffClient(tb).login(t, acct.Email, acct.password, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cs := resp.Cookies()
	if len(cs) != 1 || cs[0].Name != auth.SecureCookieName || !cs[0].Secure || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookies %+v", cs)
	}
}

func TestStaffLoginThrottle(t *testing.T) {
	t.Parallel()

	t.Run("per client address with Retry-After", func(t *testing.T) {
		t.Parallel()
		tb := staffSetup(t, staffOpts{loginPerMinute: 5, trustProxy: true})
		acct := staffCreate(t, tb.db, booking.RoleOps)
		c := newStaffClient(tb)
		from := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }
		body := map[string]string{"email": acct.Email, "password": "wrong password!"}
		for i := 0; i < 5; i++ {
			var e apiError
			resp := c.do(t, http.MethodPost, "/auth/login", body, from("203.0.113.7"), &e)
			staffCheckError(t, "attempt "+strconv.Itoa(i+1), resp, e, 401, "invalid_credentials")
		}
		var e apiError
		resp := c.do(t, http.MethodPost, "/auth/login", map[string]string{"email": acct.Email, "password": acct.password},
			from("203.0.113.7"), &e)
		staffCheckError(t, "6th attempt", resp, e, 429, "rate_limited")
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
			t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
		}
		// Another address is not limited (the account is locked by now,
		// so the answer is the uniform 401, not 429).
		e = apiError{}
		resp = c.do(t, http.MethodPost, "/auth/login", body, from("198.51.100.9"), &e)
		staffCheckError(t, "other address", resp, e, 401, "invalid_credentials")
	})

	t.Run("per account across replicas", func(t *testing.T) {
		t.Parallel()
		a := staffSetup(t, staffOpts{})
		b := staffSetup(t, staffOpts{db: a.db})
		victim := staffCreate(t, a.db, booking.RoleAdmin)
		other := staffCreate(t, a.db, booking.RoleAdmin)
		// Four failures on A, then a success on B resets the count.
		for i := 0; i < 4; i++ {
			if resp := newStaffClient(a).login(t, victim.Email, "wrong password!", nil); resp.StatusCode != 401 {
				t.Fatalf("failure %d: %d", i, resp.StatusCode)
			}
		}
		if resp := newStaffClient(b).login(t, victim.Email, victim.password, nil); resp.StatusCode != 200 {
			t.Fatalf("login before the limit: %d", resp.StatusCode)
		}
		// Five failures split over the two replicas lock the account.
		for i := 0; i < 5; i++ {
			srv := a
			if i%2 == 1 {
				srv = b
			}
			if resp := newStaffClient(srv).login(t, victim.Email, "wrong password!", nil); resp.StatusCode != 401 {
				t.Fatalf("failure %d: %d", i, resp.StatusCode)
			}
		}
		for _, srv := range []*testBundle{a, b} {
			var e apiError
			resp := newStaffClient(srv).login(t, victim.Email, victim.password, &e)
			staffCheckError(t, "locked account, right password", resp, e, 401, "invalid_credentials")
		}
		if n := pgtest.Count(t, a.db, `SELECT count(*) FROM staff_users WHERE id = $1 AND locked_until > now() + interval '10 minutes'`, victim.ID); n != 1 {
			t.Fatal("account not locked in the database")
		}
		if resp := newStaffClient(b).login(t, other.Email, other.password, nil); resp.StatusCode != 200 {
			t.Fatalf("another account is affected: %d", resp.StatusCode)
		}
		// Once the lock lapses the right password works again.
		if _, err := a.db.Pool.Exec(context.Background(), `UPDATE staff_users SET locked_until = now() - interval '1 second' WHERE id = $1`, victim.ID); err != nil {
			t.Fatal(err)
		}
		if resp := newStaffClient(a).login(t, victim.Email, victim.password, nil); resp.StatusCode != 200 {
			t.Fatalf("after the lock: %d", resp.StatusCode)
		}
		if n := pgtest.Count(t, a.db, `SELECT failed_logins FROM staff_users WHERE id = $1`, victim.ID); n != 0 {
			t.Fatalf("failed_logins %d after a success", n)
		}
	})
}

func TestStaffSessionFixation(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	acct := staffCreate(t, tb.db, booking.RoleOps)

	t.Run("a planted token is never adopted", func(t *testing.T) {
		c := newStaffClient(tb)
		c.setToken("planted-by-an-attacker")
		if resp := c.login(t, acct.Email, acct.password, nil); resp.StatusCode != 200 {
			t.Fatalf("login: %d", resp.StatusCode)
		}
		if tok := c.token(); tok == "" || tok == "planted-by-an-attacker" {
			t.Fatalf("token after login %q", tok)
		}
		if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM sessions WHERE token = 'planted-by-an-attacker'`); n != 0 {
			t.Fatal("the planted token was stored")
		}
	})

	t.Run("logging in again replaces the token", func(t *testing.T) {
		c := staffLoginAs(t, tb, acct)
		first := c.token()
		if resp := c.login(t, acct.Email, acct.password, nil); resp.StatusCode != 200 {
			t.Fatalf("second login: %d", resp.StatusCode)
		}
		second := c.token()
		if second == "" || second == first {
			t.Fatalf("token not renewed: %q → %q", first, second)
		}
		old := newStaffClient(tb)
		old.setToken(first)
		var e apiError
		staffCheckError(t, "old token", old.do(t, http.MethodGet, "/auth/me", nil, nil, &e), e, 401, "unauthenticated")
		if resp := c.do(t, http.MethodGet, "/auth/me", nil, nil, nil); resp.StatusCode != 200 {
			t.Fatalf("new token: %d", resp.StatusCode)
		}
	})
}

func TestStaffLogout(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	c, _ := staffLogin(t, tb, booking.RoleReadonly)
	tok := c.token()
	var got map[string]any
	resp := c.do(t, http.MethodPost, "/auth/logout", nil, nil, &got)
	if resp.StatusCode != 200 || len(got) != 1 || got["ok"] != true {
		t.Fatalf("logout: %d %v", resp.StatusCode, got)
	}
	cleared := false
	for _, k := range resp.Cookies() {
		cleared = cleared || (k.Name == auth.CookieName && k.Value == "" && k.MaxAge < 0)
	}
	if !cleared {
		t.Fatalf("cookie not cleared: %v", resp.Header["Set-Cookie"])
	}
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM sessions WHERE token = $1`, tok); n != 0 {
		t.Fatal("session still stored after logout")
	}
	replay := newStaffClient(tb)
	replay.setToken(tok)
	var e apiError
	staffCheckError(t, "old cookie", replay.do(t, http.MethodGet, "/api/admin/bookings", nil, nil, &e), e, 401, "unauthenticated")
}

func TestStaffSessionsSurviveRestartAndReplicas(t *testing.T) {
	t.Parallel()
	a := staffSetup(t, staffOpts{})
	c, acct := staffLogin(t, a, booking.RoleOps)
	a.srv.Close() // the replica that issued the session goes away
	b := staffSetup(t, staffOpts{db: a.db})
	other := newStaffClient(b)
	other.setToken(c.token())
	var me struct {
		User map[string]any `json:"user"`
	}
	if resp := other.do(t, http.MethodGet, "/auth/me", nil, nil, &me); resp.StatusCode != 200 || me.User["id"] != acct.ID {
		t.Fatalf("me on another replica: %d %v", resp.StatusCode, me.User)
	}
}

func TestStaffSessionTimeouts(t *testing.T) {
	t.Parallel()

	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		tb := staffSetup(t, staffOpts{idleTimeout: time.Second, lifetime: time.Hour})
		c, _ := staffLogin(t, tb, booking.RoleReadonly)
		if resp := c.do(t, http.MethodGet, "/auth/me", nil, nil, nil); resp.StatusCode != 200 {
			t.Fatalf("fresh session: %d", resp.StatusCode)
		}
		time.Sleep(1500 * time.Millisecond)
		var e apiError
		staffCheckError(t, "idle session", c.do(t, http.MethodGet, "/auth/me", nil, nil, &e), e, 401, "unauthenticated")
	})

	t.Run("absolute, however busy", func(t *testing.T) {
		t.Parallel()
		tb := staffSetup(t, staffOpts{idleTimeout: time.Hour, lifetime: 2 * time.Second})
		c, _ := staffLogin(t, tb, booking.RoleReadonly)
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline.Add(-300 * time.Millisecond)) {
			if resp := c.do(t, http.MethodGet, "/auth/me", nil, nil, nil); resp.StatusCode != 200 {
				t.Fatalf("session ended early: %d", resp.StatusCode)
			}
			time.Sleep(250 * time.Millisecond)
		}
		time.Sleep(time.Until(deadline) + 500*time.Millisecond)
		var e apiError
		staffCheckError(t, "expired session", c.do(t, http.MethodGet, "/auth/me", nil, nil, &e), e, 401, "unauthenticated")
	})
}

// Reading the staff API does not write the session each time: its last use
// is recorded once a thirtieth of the idle timeout has passed (a minute with
// the product's 30 minutes), and the idle timeout still ends it.
func TestStaffReadsLeaveTheSessionAlone(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	var shift atomic.Int64 // the test's clock runs ahead of the real one by this
	tb.api.Sessions.Now = func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }
	advance := func(d time.Duration) { shift.Add(int64(d)) }
	c, _ := staffLogin(t, tb, booking.RoleReadonly)
	// xmin changes whenever the row is written (an update is a new version).
	version := func() string {
		t.Helper()
		var v string
		if err := tb.db.Pool.QueryRow(t.Context(), `SELECT xmin::text FROM sessions`).Scan(&v); err != nil {
			t.Fatalf("session row: %v", err)
		}
		return v
	}
	get := func(path string) *http.Response {
		t.Helper()
		resp := c.do(t, http.MethodGet, path, nil, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return resp
	}

	v := version()
	for i := range 20 {
		advance(2 * time.Second) // 40 s in all: under a minute
		resp := get([]string{"/auth/me", "/api/admin/bookings", "/api/admin/payment-events"}[i%3])
		if sc := resp.Header.Get("Set-Cookie"); sc != "" {
			t.Fatalf("request %d set a cookie: %s", i, sc)
		}
	}
	if got := version(); got != v {
		t.Fatalf("20 reads within a minute wrote the session (xmin %s → %s)", v, got)
	}

	advance(30 * time.Second) // the last use recorded is now over a minute old
	get("/auth/me")
	if got := version(); got == v {
		t.Fatal("a read a minute after the last recorded use did not record it")
	}
	v = version()
	get("/auth/me")
	if got := version(); got != v {
		t.Fatal("the read right after recording the use wrote the session again")
	}

	// Unused for the idle timeout (counted from the last recorded use,
	// at most a minute before the last request): ended.
	advance(30 * time.Minute)
	var e apiError
	staffCheckError(t, "idle session", c.do(t, http.MethodGet, "/auth/me", nil, nil, &e), e, 401, "unauthenticated")
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM sessions`); n != 0 {
		t.Fatalf("sessions after the idle timeout: %d, want 0 (deleted)", n)
	}
}

func TestStaffDeactivatedAndDemoted(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	admin, _ := staffLogin(t, tb, booking.RoleAdmin)
	opsAcct := staffCreate(t, tb.db, booking.RoleOps)
	ops1, ops2 := staffLoginAs(t, tb, opsAcct), staffLoginAs(t, tb, opsAcct)
	b := createTestBooking(t, tb)

	// A role change applies to open sessions at once.
	if resp := admin.do(t, http.MethodPatch, "/api/admin/users/"+opsAcct.ID, map[string]any{"role": "READONLY"}, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("demote: %d", resp.StatusCode)
	}
	var e apiError
	staffCheckError(t, "demoted cancel", ops1.do(t, http.MethodPost, "/api/admin/bookings/"+b.ID+"/cancel", nil, nil, &e), e, 403, "forbidden")

	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM sessions`); n != 3 {
		t.Fatalf("sessions before deactivation: %d, want 3", n)
	}
	var got struct {
		User booking.Staff `json:"user"`
	}
	if resp := admin.do(t, http.MethodPatch, "/api/admin/users/"+opsAcct.ID, map[string]any{"active": false}, nil, &got); resp.StatusCode != 200 || got.User.Active {
		t.Fatalf("deactivate: %d %+v", resp.StatusCode, got.User)
	}
	if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM sessions`); n != 1 {
		t.Fatalf("sessions after deactivation: %d, want 1 (the admin's)", n)
	}
	for i, c := range []*staffClient{ops1, ops2} {
		e = apiError{}
		staffCheckError(t, "deactivated session "+strconv.Itoa(i), c.do(t, http.MethodGet, "/auth/me", nil, nil, &e), e, 401, "unauthenticated")
	}
	e = apiError{}
	staffCheckError(t, "deactivated login", newStaffClient(tb).login(t, opsAcct.Email, opsAcct.password, &e), e, 401, "invalid_credentials")
	if resp := admin.do(t, http.MethodGet, "/auth/me", nil, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("the admin's own session ended: %d", resp.StatusCode)
	}

	// A session whose account disappeared from under it is refused too.
	other, otherAcct := staffLogin(t, tb, booking.RoleReadonly)
	if _, err := tb.db.Pool.Exec(context.Background(), `UPDATE staff_users SET active = false WHERE id = $1`, otherAcct.ID); err != nil {
		t.Fatal(err)
	}
	e = apiError{}
	resp := other.do(t, http.MethodGet, "/auth/me", nil, nil, &e)
	staffCheckError(t, "deactivated in the database", resp, e, 401, "unauthenticated")
	if other.token() != "" {
		t.Fatal("the refused session's cookie was not cleared")
	}
}

func TestStaffCSRF(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	c, _ := staffLogin(t, tb, booking.RoleOps)
	b := createTestBooking(t, tb)
	path := "/api/admin/bookings/" + b.ID + "/cancel"

	cases := []struct {
		name   string
		header http.Header
	}{
		{"cross-site fetch metadata", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}},
		{"foreign origin only", http.Header{"Origin": {"https://evil.example"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var e apiError
			staffCheckError(t, "cancel", c.do(t, http.MethodPost, path, nil, tc.header, &e), e, 403, "forbidden")
			if s := tb.status(t, b.ID); s != booking.StatusPending {
				t.Fatalf("status %s after a refused cross-origin request", s)
			}
		})
	}
	t.Run("cross-site login is refused", func(t *testing.T) {
		acct := staffCreate(t, tb.db, booking.RoleAdmin)
		var e apiError
		resp := newStaffClient(tb).do(t, http.MethodPost, "/auth/login", map[string]string{"email": acct.Email, "password": acct.password},
			http.Header{"Sec-Fetch-Site": {"cross-site"}}, &e)
		staffCheckError(t, "login", resp, e, 403, "forbidden")
	})
	t.Run("same origin is served", func(t *testing.T) {
		resp := c.do(t, http.MethodPost, path, nil, http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {tb.srv.URL}}, nil)
		if resp.StatusCode != 200 || tb.status(t, b.ID) != booking.StatusCancelled {
			t.Fatalf("same-origin cancel: %d", resp.StatusCode)
		}
	})
}

// TestStaffLogRedaction drives logins, cookie requests, webhooks and a Stripe
// refund, then checks that no password, cookie, webhook secret, signature or
// Stripe key appears in any log line.
func TestStaffLogRedaction(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	acct := staffCreate(t, tb.db, booking.RoleAdmin)
	wrongPassword := "Wrong-Secret-Password-0451"

	c := newStaffClient(tb)
	c.login(t, acct.Email, wrongPassword, nil)
	c.login(t, wrongPassword, acct.password, nil) // password typed into the email field
	if resp := c.login(t, acct.Email, acct.password, nil); resp.StatusCode != 200 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	token := c.token()
	c.do(t, http.MethodGet, "/api/admin/bookings", nil, nil, nil)
	c.do(t, http.MethodGet, "/auth/me?x="+token, nil, nil, nil)

	newPassword := "Brand-New-Password-9917"
	target := staffCreate(t, tb.db, booking.RoleOps)
	c.do(t, http.MethodPatch, "/api/admin/users/"+target.ID, map[string]any{"password": newPassword}, nil, nil)
	var created struct {
		Password string `json:"password"`
	}
	c.do(t, http.MethodPost, "/api/admin/users", map[string]any{"email": "gen-" + acct.Email, "role": "OPS"}, nil, &created)
	if created.Password == "" {
		t.Fatal("no generated password")
	}

	b := staffConfirmedBooking(t, tb, "pi_redaction_1")
	payload := paidEvent("evt_redaction_1", createTestBooking(t, tb)).payload()
	sig := sign(payload, testSecret)
	tb.deliver(t, payload, sig)
	tb.deliver(t, payload, sign(payload, "whsec_wrong_secret_value"))
	if resp := c.do(t, http.MethodPost, "/api/admin/bookings/"+b.ID+"/cancel", nil, nil, nil); resp.StatusCode != 200 {
		t.Fatalf("refund: %d", resp.StatusCode)
	}
	c.do(t, http.MethodPost, "/auth/logout", nil, nil, nil)

	logs := tb.logs.String()
	for _, want := range []string{`"msg":"staff login"`, `"msg":"staff login failed"`, `"msg":"refund made"`, `"msg":"staff action"`} {
		if !strings.Contains(logs, want) {
			t.Fatalf("logs lack %s; the test would prove nothing", want)
		}
	}
	secrets := map[string]string{
		"password": acct.password, "wrong password": wrongPassword, "new password": newPassword,
		"generated password": created.Password, "session token": token, "webhook secret": testSecret,
		"signature": sig, "stripe key": "sk_test_123", "password hash": "$argon2id$",
	}
	for name, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the %s appears in the logs", name)
		}
	}
	for _, word := range []string{"Cookie", "Set-Cookie", "Stripe-Signature"} {
		if strings.Contains(logs, word) {
			t.Errorf("logs mention %s", word)
		}
	}
}

// staffConfirmedBooking inserts a confirmed booking with its payment row.
func staffConfirmedBooking(t testing.TB, tb *testBundle, paymentIntent string) *booking.Booking {
	t.Helper()
	return pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{Status: booking.StatusConfirmed, PaymentIntent: paymentIntent})
}
