package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/httpapi"
	"github.com/bookingplatform/booking/internal/jobs"
	"github.com/bookingplatform/booking/internal/pgtest"
)

// matrixRow is one row of the role matrix in docs/ROUTES.md.
type matrixRow struct {
	method, path string
	// want is the expected status with no session, then as READONLY, OPS, ADMIN.
	want [4]int
}

// matrixPrincipals are the columns of the matrix after Method and Path.
var matrixPrincipals = []booking.Role{"", booking.RoleReadonly, booking.RoleOps, booking.RoleAdmin}

// readRoleMatrix parses the table between the role-matrix markers.
func readRoleMatrix(t *testing.T) []matrixRow {
	t.Helper()
	raw, err := os.ReadFile("../../docs/ROUTES.md")
	if err != nil {
		t.Fatalf("read docs/ROUTES.md: %v", err)
	}
	doc := string(raw)
	start := strings.Index(doc, "<!-- role-matrix:start -->")
	end := strings.Index(doc, "<!-- role-matrix:end -->")
	if start < 0 || end < start {
		t.Fatal("docs/ROUTES.md: role-matrix markers not found")
	}
	var rows []matrixRow
	for i, line := range strings.Split(doc[start:end], "\n")[1:] {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		if len(cells) != 6 {
			t.Fatalf("docs/ROUTES.md matrix line %d: %d cells, want 6: %q", i, len(cells), line)
		}
		if i == 0 {
			if want := []string{"Method", "Path", "No session", "READONLY", "OPS", "ADMIN"}; !slices.Equal(cells, want) {
				t.Fatalf("matrix header %q, want %q", cells, want)
			}
			continue
		}
		if strings.HasPrefix(cells[0], "---") {
			continue
		}
		r := matrixRow{method: cells[0], path: cells[1]}
		for k := 0; k < 4; k++ {
			n, err := strconv.Atoi(cells[2+k])
			if err != nil {
				t.Fatalf("matrix %s %s: status %q", r.method, r.path, cells[2+k])
			}
			r.want[k] = n
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		t.Fatal("docs/ROUTES.md: empty role matrix")
	}
	return rows
}

// TestStaffRoleMatrix checks that docs/ROUTES.md lists exactly the staff
// routes of httpapi.StaffRoutes with their roles, then sends every row's
// request with no session and as each role and expects the documented status.
func TestStaffRoleMatrix(t *testing.T) {
	t.Parallel()
	rows := readRoleMatrix(t)

	routes := map[string][]booking.Role{}
	for _, rt := range httpapi.StaffRoutes() {
		routes[rt.Method+" "+rt.Path] = rt.Roles
	}
	seen := map[string]bool{}
	for _, r := range rows {
		key := r.method + " " + r.path
		roles, ok := routes[key]
		if !ok {
			t.Fatalf("docs/ROUTES.md lists %s, which the server does not register", key)
		}
		if seen[key] {
			t.Fatalf("docs/ROUTES.md lists %s twice", key)
		}
		seen[key] = true
		if r.want[0] != http.StatusUnauthorized {
			t.Errorf("%s: no-session column says %d, the server answers 401", key, r.want[0])
		}
		for k, role := range matrixPrincipals[1:] {
			allowed := slices.Contains(roles, role)
			got := r.want[k+1]
			if allowed != (got >= 200 && got < 300) || (!allowed && got != http.StatusForbidden) {
				t.Errorf("%s: %s column says %d but the role is allowed=%v", key, role, got, allowed)
			}
		}
	}
	for key := range routes {
		if !seen[key] {
			t.Errorf("docs/ROUTES.md lacks the staff route %s", key)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	tb := staffSetup(t, staffOpts{})
	accounts := map[booking.Role]staffAccount{}
	for _, role := range booking.Roles {
		accounts[role] = staffCreate(t, tb.db, role)
	}
	// A stored event to replay.
	paid := createTestBooking(t, tb)
	if r := tb.deliverEvent(t, paidEvent("evt_matrix_1", paid)); r.status != 200 {
		t.Fatalf("deliver: %+v", r)
	}
	var seq int
	uniq := func() string { seq++; return strconv.Itoa(seq) }

	// request builds a fresh request for a row: fixtures are created per
	// request so that every allowed call can succeed.
	request := map[string]func(t *testing.T) (string, any){
		"GET /auth/me":            func(*testing.T) (string, any) { return "/auth/me", nil },
		"POST /auth/logout":       func(*testing.T) (string, any) { return "/auth/logout", nil },
		"GET /api/admin/bookings": func(*testing.T) (string, any) { return "/api/admin/bookings?status=pending&limit=5", nil },
		"GET /reservations":       func(*testing.T) (string, any) { return "/reservations?limit=5", nil },
		"GET /api/admin/payment-events": func(*testing.T) (string, any) {
			return "/api/admin/payment-events?type=checkout.session.completed", nil
		},
		"GET /payments":                func(*testing.T) (string, any) { return "/payments?outcome=processed", nil },
		"GET /api/admin/bookings/{id}": func(*testing.T) (string, any) { return "/api/admin/bookings/" + paid.ID, nil },
		"POST /api/admin/bookings/{id}/cancel": func(t *testing.T) (string, any) {
			return "/api/admin/bookings/" + createTestBooking(t, tb).ID + "/cancel", nil
		},
		"POST /api/admin/bookings/{id}/accept": func(t *testing.T) (string, any) {
			b := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{Status: booking.StatusConfirmed, PaymentIntent: "pi_matrix_" + uniq()})
			if _, err := tb.db.Pool.Exec(t.Context(), `UPDATE bookings SET status = 'needs_review' WHERE id = $1`, b.ID); err != nil {
				t.Fatal(err)
			}
			return "/api/admin/bookings/" + b.ID + "/accept", nil
		},
		"POST /api/admin/bookings/{id}/reschedule": func(t *testing.T) (string, any) {
			b := pgtest.CreateBooking(t, tb.db, tb.resource, pgtest.BookingOpts{Status: booking.StatusConfirmed, PaymentIntent: "pi_matrix_" + uniq()})
			to := b.StartsAt.AddDate(1, 0, 0)
			return "/api/admin/bookings/" + b.ID + "/reschedule", map[string]any{"startsAt": to.Format(time.RFC3339)}
		},
		"POST /api/admin/payment-events/{id}/replay": func(*testing.T) (string, any) {
			return "/api/admin/payment-events/evt_matrix_1/replay", nil
		},
		"GET /api/admin/resources": func(*testing.T) (string, any) { return "/api/admin/resources", nil },
		"POST /api/admin/resources": func(*testing.T) (string, any) {
			return "/api/admin/resources", map[string]any{"slug": "matrix-" + uniq(), "name": "Court", "priceAmount": 2500,
				"currency": "eur", "durationMinutes": 30, "timezone": "Europe/Paris",
				"weeklyHours": []map[string]any{{"weekday": 1, "start": "08:00", "end": "12:00"}}}
		},
		"PATCH /api/admin/resources/{id}": func(*testing.T) (string, any) {
			return "/api/admin/resources/" + tb.resource.ID, map[string]any{"description": "Updated " + uniq()}
		},
		"POST /api/admin/resources/{id}/overrides": func(*testing.T) (string, any) {
			// Each role's request closes another day (overrides never overlap).
			day := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, seq)
			uniq()
			return "/api/admin/resources/" + tb.resource.ID + "/overrides",
				map[string]any{"from": day.Format(time.DateOnly), "closed": true, "note": "Matrix"}
		},
		"DELETE /api/admin/resources/{id}/overrides/{overrideId}": func(t *testing.T) (string, any) {
			day := time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, seq)
			uniq()
			o, err := tb.db.CreateOverride(t.Context(), tb.resource.ID, &booking.DateOverride{
				From: day.Format(time.DateOnly), To: day.Format(time.DateOnly), Closed: true, Hours: []booking.TimeSpan{}})
			if err != nil {
				t.Fatal(err)
			}
			return "/api/admin/resources/" + tb.resource.ID + "/overrides/" + o.ID, nil
		},
		"GET /api/admin/pools": func(*testing.T) (string, any) { return "/api/admin/pools", nil },
		"POST /api/admin/pools": func(*testing.T) (string, any) {
			return "/api/admin/pools", map[string]any{"slug": "matrix-pool-" + uniq(), "name": "Courts",
				"resourceIds": []string{tb.resource.ID}}
		},
		"PATCH /api/admin/pools/{id}": func(t *testing.T) (string, any) {
			name, slug, ids := "Courts", "matrix-pool-"+uniq(), []string{tb.resource.ID}
			p, err := tb.app.Pools.Create(t.Context(), booking.PoolPatch{Name: &name, Slug: &slug, ResourceIDs: &ids})
			if err != nil {
				t.Fatal(err)
			}
			return "/api/admin/pools/" + p.ID, map[string]any{"name": "Renamed " + uniq()}
		},
		"GET /api/admin/users":      func(*testing.T) (string, any) { return "/api/admin/users", nil },
		"GET /api/admin/users/{id}": func(*testing.T) (string, any) { return "/api/admin/users/" + accounts[booking.RoleOps].ID, nil },
		"POST /api/admin/users": func(*testing.T) (string, any) {
			return "/api/admin/users", map[string]any{"email": "new-" + uniq() + "@example.com", "role": "READONLY"}
		},
		"PATCH /api/admin/users/{id}": func(t *testing.T) (string, any) {
			return "/api/admin/users/" + staffCreate(t, tb.db, booking.RoleReadonly).ID, map[string]any{"role": "OPS"}
		},
		"GET /admin/metrics":      func(*testing.T) (string, any) { return "/admin/metrics", nil },
		"GET /api/admin/messages": func(*testing.T) (string, any) { return "/api/admin/messages?state=dead", nil },
		"POST /api/admin/resources/{id}/calendar-key": func(*testing.T) (string, any) {
			return "/api/admin/resources/" + tb.resource.ID + "/calendar-key", nil
		},
		"GET /api/admin/customers/export": func(*testing.T) (string, any) {
			return "/api/admin/customers/export?email=test@example.com", nil
		},
		"POST /api/admin/customers/erase": func(*testing.T) (string, any) {
			return "/api/admin/customers/erase", map[string]any{"email": "erase-" + uniq() + "@example.com"}
		},
		"POST /api/admin/desk/bookings": func(*testing.T) (string, any) {
			// Each request books its own day, paid at the venue.
			at := time.Date(2033, 1, 3, 9, 0, 0, 0, time.UTC).AddDate(0, 0, seq)
			uniq()
			return "/api/admin/desk/bookings", map[string]any{"resourceId": tb.resource.ID, "startsAt": at.Format(time.RFC3339),
				"payment": "venue", "customer": map[string]any{"firstName": "Walk", "lastName": "In", "email": "walkin@example.com"}}
		},
		"GET /api/admin/resources/{id}/schedule": func(*testing.T) (string, any) {
			return "/api/admin/resources/" + tb.resource.ID + "/schedule?from=2033-01-03", nil
		},
		"POST /api/admin/resources/{id}/blocks": func(*testing.T) (string, any) {
			at := time.Date(2034, 1, 3, 9, 0, 0, 0, time.UTC).AddDate(0, 0, seq)
			uniq()
			return "/api/admin/resources/" + tb.resource.ID + "/blocks", map[string]any{"startsAt": at.Format(time.RFC3339),
				"endsAt": at.Add(time.Hour).Format(time.RFC3339), "reason": "Maintenance"}
		},
		"DELETE /api/admin/resources/{id}/blocks/{blockId}": func(t *testing.T) (string, any) {
			at := time.Date(2035, 1, 3, 9, 0, 0, 0, time.UTC).AddDate(0, 0, seq)
			uniq()
			k, err := tb.db.AddBlock(t.Context(), booking.Block{ResourceID: tb.resource.ID, StartsAt: at, EndsAt: at.Add(time.Hour)},
				accounts[booking.RoleAdmin].ID, at.AddDate(-1, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			return "/api/admin/resources/" + tb.resource.ID + "/blocks/" + k.ID, nil
		},
		"GET /api/admin/bookings/{id}/notes": func(*testing.T) (string, any) {
			return "/api/admin/bookings/" + paid.ID + "/notes", nil
		},
		"POST /api/admin/bookings/{id}/notes": func(*testing.T) (string, any) {
			return "/api/admin/bookings/" + paid.ID + "/notes", map[string]any{"body": "Called to confirm " + uniq()}
		},
		"GET /api/admin/bookings/{id}/messages": func(*testing.T) (string, any) {
			return "/api/admin/bookings/" + paid.ID + "/messages", nil
		},
		"POST /api/admin/messages/{id}/retry": func(t *testing.T) (string, any) {
			// A dead message: inserted, then cancelled (no worker runs here).
			res, err := tb.app.Queue.Client.Insert(t.Context(), jobs.MessageArgs{BookingID: paid.ID,
				Message: booking.NoticeConfirmation, Version: int64(100 + seq)}, nil)
			uniq()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tb.app.Queue.Client.JobCancel(t.Context(), res.Job.ID); err != nil {
				t.Fatal(err)
			}
			return "/api/admin/messages/" + strconv.FormatInt(res.Job.ID, 10) + "/retry", nil
		},
	}
	keyAdmin := accounts[booking.RoleAdmin]
	request["GET /api/admin/api-keys"] = func(*testing.T) (string, any) { return "/api/admin/api-keys", nil }
	request["POST /api/admin/api-keys"] = func(*testing.T) (string, any) {
		return "/api/admin/api-keys", map[string]any{"name": "matrix " + uniq(), "scopes": []string{"bookings:read"}}
	}
	request["DELETE /api/admin/api-keys/{id}"] = func(t *testing.T) (string, any) {
		k, _ := matrixKey(t, tb, keyAdmin, auth.ScopeRead)
		return "/api/admin/api-keys/" + k.ID, nil
	}
	request["GET /api/admin/exports/bookings.csv"] = func(*testing.T) (string, any) {
		return "/api/admin/exports/bookings.csv?status=confirmed&resourceId=" + tb.resource.ID, nil
	}
	request["GET /api/admin/exports/money.csv"] = func(*testing.T) (string, any) {
		return "/api/admin/exports/money.csv?from=2020-01-01", nil
	}
	// Outgoing webhooks: a local receiver that accepts everything.
	hookSink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hookSink.Close)
	hookEndpoint := func(t *testing.T) *booking.WebhookEndpoint {
		e, err := tb.db.CreateWebhookEndpoint(t.Context(), booking.NewWebhookEndpoint{URL: hookSink.URL,
			Events: []string{booking.EventBookingConfirmed}}, booking.NewWebhookSecret(), "")
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	request["GET /api/admin/webhook-endpoints"] = func(*testing.T) (string, any) { return "/api/admin/webhook-endpoints", nil }
	request["POST /api/admin/webhook-endpoints"] = func(*testing.T) (string, any) {
		return "/api/admin/webhook-endpoints", map[string]any{"url": hookSink.URL + "/" + uniq(),
			"events": []string{booking.EventBookingConfirmed}}
	}
	request["PATCH /api/admin/webhook-endpoints/{id}"] = func(t *testing.T) (string, any) {
		return "/api/admin/webhook-endpoints/" + hookEndpoint(t).ID, map[string]any{"enabled": false}
	}
	request["GET /api/admin/webhook-endpoints/{id}/deliveries"] = func(t *testing.T) (string, any) {
		return "/api/admin/webhook-endpoints/" + hookEndpoint(t).ID + "/deliveries", nil
	}
	request["POST /api/admin/webhook-endpoints/{id}/test"] = func(t *testing.T) (string, any) {
		return "/api/admin/webhook-endpoints/" + hookEndpoint(t).ID + "/test", nil
	}
	request["POST /api/admin/webhook-deliveries/{id}/retry"] = func(t *testing.T) (string, any) {
		d, err := tb.app.Server.Webhooks.SendTest(t.Context(), hookEndpoint(t).ID)
		if err != nil {
			t.Fatal(err)
		}
		return "/api/admin/webhook-deliveries/" + strconv.FormatInt(d.ID, 10) + "/retry", nil
	}
	for key := range routes {
		if request[key] == nil {
			t.Fatalf("no request for %s in the matrix test", key)
		}
	}

	cells := 0
	for _, r := range rows {
		for k, role := range matrixPrincipals {
			name := fmt.Sprintf("%s %s as %s", r.method, r.path, map[bool]string{true: "no session", false: string(role)}[role == ""])
			t.Run(name, func(t *testing.T) {
				path, body := request[r.method+" "+r.path](t)
				c := newStaffClient(tb)
				if role != "" {
					c = staffLoginAs(t, tb, accounts[role])
				}
				var e apiError
				resp := c.do(t, r.method, path, body, nil, &e)
				if resp.StatusCode != r.want[k] {
					t.Fatalf("status %d (%s: %s), want %d", resp.StatusCode, e.Error, e.Message, r.want[k])
				}
				switch r.want[k] {
				case http.StatusUnauthorized:
					staffCheckError(t, name, resp, e, 401, "unauthenticated")
				case http.StatusForbidden:
					staffCheckError(t, name, resp, e, 403, "forbidden")
				}
			})
			cells++
		}
	}
	if want := len(rows) * len(matrixPrincipals); cells != want || len(rows) != len(routes) {
		t.Fatalf("walked %d cells of %d rows, want %d cells of %d routes", cells, len(rows), want, len(routes))
	}

	// API keys (made by an ADMIN, so that only the scope limits them): a
	// key may do what its scope grants (httpapi.KeyScope) and answers as the
	// ADMIN column; anything else is 403. No key at all is 401 (above).
	keys := map[auth.Scope]string{}
	for _, sc := range auth.Scopes {
		_, keys[sc] = matrixKey(t, tb, keyAdmin, sc)
	}
	for _, rt := range httpapi.StaffRoutes() {
		key := rt.Method + " " + rt.Path
		var adminWant int
		for _, r := range rows {
			if r.method+" "+r.path == key {
				adminWant = r.want[3]
			}
		}
		for _, sc := range auth.Scopes {
			want := http.StatusForbidden
			if auth.Grants([]auth.Scope{sc}, httpapi.KeyScope(rt)) {
				want = adminWant
			}
			t.Run(fmt.Sprintf("%s with a %s key", key, sc), func(t *testing.T) {
				path, body := request[key](t)
				var e apiError
				resp := newStaffClient(tb).do(t, rt.Method, path, body, http.Header{"Authorization": {"Bearer " + keys[sc]}}, &e)
				if resp.StatusCode != want {
					t.Fatalf("status %d (%s: %s), want %d", resp.StatusCode, e.Error, e.Message, want)
				}
				if want == http.StatusForbidden {
					staffCheckError(t, key, resp, e, 403, "forbidden")
				}
			})
		}
	}
}

// matrixKey makes an API key of scope for acct and returns it with its token.
func matrixKey(t *testing.T, tb *testBundle, acct staffAccount, scope auth.Scope) (*auth.APIKey, string) {
	t.Helper()
	k, token, err := tb.api.APIKeys.Create(t.Context(), auth.NewKey{Name: "matrix " + string(scope), Scopes: []auth.Scope{scope}}, &acct.Staff)
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return k, token
}
