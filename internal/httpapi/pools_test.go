package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/pgtest"
)

// courts creates n courts of one price and a pool over them.
func courts(t *testing.T, tb *testBundle, n int) (*booking.Pool, []*booking.Resource) {
	t.Helper()
	var rs []*booking.Resource
	var ids []string
	for range n {
		r := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{Price: 2000})
		rs = append(rs, r)
		ids = append(ids, r.ID)
	}
	name, slug := "Tennis — any court", "tennis"
	p, err := tb.app.Pools.Create(context.Background(), booking.PoolPatch{Name: &name, Slug: &slug, ResourceIDs: &ids})
	if err != nil {
		t.Fatalf("create pool: %v", err)
	}
	return p, rs
}

func poolBody(poolID string, at time.Time) map[string]any {
	b := bookingBody("", at)
	delete(b, "resourceId")
	b["poolId"] = poolID
	return b
}

// race sends body n times at once and counts the answers by status.
func race(t *testing.T, tb *testBundle, n int, body any) map[int]int {
	t.Helper()
	raw, _ := json.Marshal(body)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := tb.rawDo(http.MethodPost, "/api/bookings", raw, nil)
			if err != nil {
				codes[i] = -1
				return
			}
			codes[i] = r.status
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	return count
}

// TestPoolRace: 50 concurrent bookings of one slot of a pool of 4 courts
// → exactly 4 succeed (each court held once), the rest 409, no 5xx.
func TestPoolRace(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{db: whSmallPoolDB(t)})
	p, rs := courts(t, tb, 4)
	at := pgtest.TestDay(time.UTC).Add(17 * time.Hour)
	const clients = 50
	count := race(t, tb, clients, poolBody(p.ID, at))
	if count[http.StatusCreated] != 4 || count[http.StatusConflict] != clients-4 {
		t.Errorf("answers %v, want 4 × 201 and %d × 409", count, clients-4)
	}
	for _, r := range rs {
		if n := pgtest.Count(t, tb.db, `SELECT count(*) FROM bookings WHERE resource_id = $1 AND holds_slot`, r.ID); n != 1 {
			t.Errorf("court %s holds %d bookings, want 1", r.ID, n)
		}
	}
	var a booking.PoolAvailability
	tb.doJSON(t, http.MethodGet, "/api/pools/"+p.ID+"/availability?date="+at.Format(time.DateOnly), nil, nil, &a)
	for _, s := range a.Slots {
		if s.StartsAt.Equal(at) {
			t.Errorf("full pool slot listed with %d members free", s.MembersFree)
		}
	}
}

func TestPoolBooking(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{})
	p, rs := courts(t, tb, 3)
	at := pgtest.TestDay(time.UTC).Add(10 * time.Hour)
	date := at.Format(time.DateOnly)
	free := func() int {
		var a booking.PoolAvailability
		tb.doJSON(t, http.MethodGet, "/api/pools/"+p.ID+"/availability?date="+date, nil, nil, &a)
		for _, s := range a.Slots {
			if s.StartsAt.Equal(at) {
				return s.MembersFree
			}
		}
		return 0
	}

	t.Run("ListedWithTerms", func(t *testing.T) {
		var out struct{ Items []booking.Pool }
		tb.doJSON(t, http.MethodGet, "/api/pools", nil, nil, &out)
		if len(out.Items) != 1 || out.Items[0].PriceAmount != 2000 || len(out.Items[0].ResourceIDs) != 3 {
			t.Errorf("pools %+v", out.Items)
		}
	})
	t.Run("AnyMemberThenNamedMember", func(t *testing.T) {
		if n := free(); n != 3 {
			t.Fatalf("members free %d, want 3", n)
		}
		var c createdBooking
		if resp := tb.doJSON(t, http.MethodPost, "/api/bookings", poolBody(p.ID, at), nil, &c); resp.StatusCode != http.StatusCreated {
			t.Fatalf("book pool: %d", resp.StatusCode)
		}
		if c.Booking.AmountTotal != 2000 {
			t.Errorf("amount %d", c.Booking.AmountTotal)
		}
		if n := free(); n != 2 {
			t.Errorf("members free %d, want 2", n)
		}
		// Name the member just taken: 409; another one: 201.
		body := poolBody(p.ID, at)
		body["resourceId"] = c.Booking.ResourceID
		var e apiError
		resp := tb.doJSON(t, http.MethodPost, "/api/bookings", body, nil, &e)
		checkAPIError(t, resp, e, http.StatusConflict, "slot_unavailable")
		for _, r := range rs {
			if r.ID != c.Booking.ResourceID {
				body["resourceId"] = r.ID
				break
			}
		}
		var c2 createdBooking
		if resp := tb.doJSON(t, http.MethodPost, "/api/bookings", body, nil, &c2); resp.StatusCode != http.StatusCreated {
			t.Fatalf("book named member: %d", resp.StatusCode)
		}
		if c2.Booking.ResourceID != body["resourceId"] {
			t.Errorf("booked %s, want the named member", c2.Booking.ResourceID)
		}
	})
	t.Run("Validation", func(t *testing.T) {
		cases := []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"Neither", poolBody("", at), "resourceId"},
			{"BadPool", poolBody("nope", at), "poolId"},
			{"UnknownPool", poolBody("00000000-0000-4000-8000-000000000000", at), "poolId"},
			{"NotAMember", func() map[string]any {
				b := poolBody(p.ID, at)
				b["resourceId"] = tb.resource.ID
				return b
			}(), "resourceId"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if c.body["poolId"] == "" {
					delete(c.body, "poolId")
				}
				var e apiError
				resp := tb.doJSON(t, http.MethodPost, "/api/bookings", c.body, nil, &e)
				checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
				if e.Fields[c.field] == "" {
					t.Errorf("fields %v, want %s", e.Fields, c.field)
				}
			})
		}
	})
}

func TestPoolAdmin(t *testing.T) {
	t.Parallel()
	tb := staffSetup(t, staffOpts{})
	admin, _ := staffLogin(t, tb, booking.RoleAdmin)
	ops, _ := staffLogin(t, tb, booking.RoleOps)
	a := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{Price: 2000})
	b := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{Price: 2000})
	dear := pgtest.CreateResource(t, tb.db, pgtest.ResourceOpts{Price: 2500})

	var e apiError
	resp := admin.do(t, http.MethodPost, "/api/admin/pools", map[string]any{"name": "Courts", "slug": "courts",
		"resourceIds": []string{a.ID, dear.ID}}, nil, &e)
	checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
	if e.Fields["resourceIds"] == "" {
		t.Errorf("fields %v, want resourceIds", e.Fields)
	}
	resp = ops.do(t, http.MethodPost, "/api/admin/pools", map[string]any{"name": "Courts", "slug": "courts",
		"resourceIds": []string{a.ID}}, nil, &e)
	checkAPIError(t, resp, e, http.StatusForbidden, "forbidden")

	var out struct{ Pool booking.Pool }
	if resp := admin.do(t, http.MethodPost, "/api/admin/pools", map[string]any{"name": "Courts", "slug": "courts",
		"resourceIds": []string{a.ID}}, nil, &out); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	resp = admin.do(t, http.MethodPost, "/api/admin/pools", map[string]any{"name": "Again", "slug": "courts",
		"resourceIds": []string{a.ID}}, nil, &e)
	checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")

	var upd struct{ Pool booking.Pool }
	if resp := admin.do(t, http.MethodPatch, "/api/admin/pools/"+out.Pool.ID,
		map[string]any{"resourceIds": []string{b.ID, a.ID}}, nil, &upd); resp.StatusCode != http.StatusOK {
		t.Fatalf("update: %d", resp.StatusCode)
	}
	if len(upd.Pool.ResourceIDs) != 2 || upd.Pool.ResourceIDs[0] != b.ID || upd.Pool.Name != "Courts" {
		t.Errorf("updated pool %+v", upd.Pool)
	}
	resp = admin.do(t, http.MethodPatch, "/api/admin/pools/"+out.Pool.ID,
		map[string]any{"resourceIds": []string{b.ID, dear.ID}}, nil, &e)
	checkAPIError(t, resp, e, http.StatusUnprocessableEntity, "validation_failed")
	resp = admin.do(t, http.MethodPatch, "/api/admin/pools/00000000-0000-4000-8000-000000000000",
		map[string]any{"name": "X"}, nil, &e)
	checkAPIError(t, resp, e, http.StatusNotFound, "not_found")

	var list struct{ Items []booking.Pool }
	admin.do(t, http.MethodGet, "/api/admin/pools", nil, nil, &list)
	if len(list.Items) != 1 || len(list.Items[0].ResourceIDs) != 2 {
		t.Errorf("list %+v", list.Items)
	}
}
