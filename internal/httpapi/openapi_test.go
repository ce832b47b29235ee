package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/app"
	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/httpapi"
	"github.com/bookingplatform/booking/internal/jobs"
	"github.com/bookingplatform/booking/internal/payment"
	"github.com/bookingplatform/booking/internal/pgtest"
)

// openAPIUndocumented lists the registered patterns the OpenAPI document
// deliberately leaves out.
var openAPIUndocumented = []string{
	// The catch-all answers 404 not_found to every unknown path; it is not
	// an operation.
	"/",
}

// openAPISubtrees maps subtree patterns (ending in "/") to the templated
// path that documents them.
var openAPISubtrees = map[string]string{
	"/static/": "/static/{file}",
}

// openAPIMethods are the operation keys of a path item.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// oaDoc is the parsed OpenAPI document.
type oaDoc map[string]any

func loadOpenAPI(t testing.TB) oaDoc {
	t.Helper()
	var doc oaDoc
	dec := json.NewDecoder(bytes.NewReader(httpapi.OpenAPIDocument()))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	return doc
}

// resolve follows a local JSON pointer such as #/components/schemas/Booking.
func (d oaDoc) resolve(ref string) (any, error) {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("$ref %q is not local", ref)
	}
	var cur any = map[string]any(d)
	for _, part := range strings.Split(p, "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: %q is not inside an object", ref, part)
		}
		if cur, ok = m[part]; !ok {
			return nil, fmt.Errorf("$ref %q does not resolve (no %q)", ref, part)
		}
	}
	return cur, nil
}

// deref returns v with a top-level $ref followed.
func (d oaDoc) deref(t testing.TB, v any) map[string]any {
	t.Helper()
	m, _ := v.(map[string]any)
	for i := 0; m != nil && i < 10; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		r, err := d.resolve(ref)
		if err != nil {
			t.Fatal(err)
		}
		m, _ = r.(map[string]any)
	}
	if m == nil {
		t.Fatalf("not an object: %v", v)
	}
	return m
}

// operations returns every documented operation keyed "METHOD /path".
func (d oaDoc) operations(t testing.TB) map[string]map[string]any {
	t.Helper()
	paths, ok := d["paths"].(map[string]any)
	if !ok {
		t.Fatal("openapi.json: no paths object")
	}
	out := map[string]map[string]any{}
	for path, item := range paths {
		im, ok := item.(map[string]any)
		if !ok {
			t.Fatalf("path %s is not an object", path)
		}
		for _, m := range openAPIMethods {
			if op, ok := im[m].(map[string]any); ok {
				out[strings.ToUpper(m)+" "+path] = op
			}
		}
	}
	return out
}

// documentedPattern turns a registered ServeMux pattern into the
// "METHOD /path" key of its documented operation.
func documentedPattern(t testing.TB, pattern string) string {
	t.Helper()
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		t.Fatalf("route %q has no method: register it with one, or list it in openAPIUndocumented", pattern)
	}
	switch {
	case strings.HasSuffix(path, "/{$}"):
		path = strings.TrimSuffix(path, "{$}")
	case path != "/" && strings.HasSuffix(path, "/"):
		sub, ok := openAPISubtrees[path]
		if !ok {
			t.Fatalf("subtree route %q: add its documented path to openAPISubtrees", pattern)
		}
		path = sub
	}
	return method + " " + path
}

// TestOpenAPIDocument checks the document itself: version, every $ref
// resolves, path parameters are declared both ways, operation ids are
// unique, tags and security schemes exist, statuses are valid, and the
// staff roles (x-roles) are those the server enforces.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi %v, want 3.1.0", doc["openapi"])
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		t.Error("info needs title and version")
	}

	// Every $ref, anywhere, resolves.
	refs := 0
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				refs++
				if _, err := doc.resolve(ref); err != nil {
					t.Errorf("%s: %v", at, err)
				}
			}
			for k, c := range x {
				walk(c, at+"/"+k)
			}
		case []any:
			for i, c := range x {
				walk(c, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(map[string]any(doc), "#")
	if refs == 0 {
		t.Error("no $ref at all: the walk is broken")
	}

	tags := map[string]bool{}
	for _, tg := range doc["tags"].([]any) {
		tags[tg.(map[string]any)["name"].(string)] = true
	}
	comps, _ := doc["components"].(map[string]any)
	schemes, _ := comps["securitySchemes"].(map[string]any)
	ids := map[string]string{}
	paramRE := regexp.MustCompile(`\{([^}]+)\}`)
	staff := map[string][]booking.Role{}
	for _, rt := range httpapi.StaffRoutes() {
		staff[rt.Method+" "+rt.Path] = rt.Roles
	}
	ops := doc.operations(t)
	for key, op := range ops {
		path := strings.SplitN(key, " ", 2)[1]
		id, _ := op["operationId"].(string)
		if id == "" {
			t.Errorf("%s: no operationId", key)
		} else if prev, dup := ids[id]; dup {
			t.Errorf("operationId %s used by %s and %s", id, prev, key)
		}
		ids[id] = key
		opTags, _ := op["tags"].([]any)
		if len(opTags) == 0 {
			t.Errorf("%s: no tag", key)
		}
		for _, tg := range opTags {
			if !tags[tg.(string)] {
				t.Errorf("%s: tag %v is not declared", key, tg)
			}
		}

		// Path parameters: every {name} declared as an "in: path",
		// required parameter, and no undeclared path parameter.
		declared := map[string]bool{}
		params, _ := op["parameters"].([]any)
		for _, p := range params {
			pm := doc.deref(t, p)
			if pm["in"] == "path" {
				if pm["required"] != true {
					t.Errorf("%s: path parameter %v must be required", key, pm["name"])
				}
				declared[pm["name"].(string)] = true
			}
			if pm["schema"] == nil {
				t.Errorf("%s: parameter %v has no schema", key, pm["name"])
			}
		}
		inPath := map[string]bool{}
		for _, m := range paramRE.FindAllStringSubmatch(path, -1) {
			inPath[m[1]] = true
			if !declared[m[1]] {
				t.Errorf("%s: path parameter {%s} is not declared", key, m[1])
			}
		}
		for name := range declared {
			if !inPath[name] {
				t.Errorf("%s: declares path parameter %s, which is not in the path", key, name)
			}
		}

		resps, _ := op["responses"].(map[string]any)
		if len(resps) == 0 {
			t.Errorf("%s: no responses", key)
		}
		for code, r := range resps {
			n, err := strconv.Atoi(code)
			if err != nil || n < 100 || n > 599 {
				t.Errorf("%s: response key %q is not a status code", key, code)
			}
			if doc.deref(t, r)["description"] == nil {
				t.Errorf("%s %s: response without description", key, code)
			}
		}

		var sec []any
		if s, ok := op["security"].([]any); ok {
			sec = s
		}
		for _, s := range sec {
			for name := range s.(map[string]any) {
				if schemes[name] == nil {
					t.Errorf("%s: security scheme %s is not declared", key, name)
				}
			}
		}

		// Staff routes: the cookie scheme, x-roles equal to the roles the
		// server enforces, 401 documented, and 403 whenever a role is left out.
		roles, isStaff := staff[key]
		xr, hasRoles := op["x-roles"].([]any)
		if isStaff != hasRoles {
			t.Errorf("%s: x-roles present=%v, staff route=%v", key, hasRoles, isStaff)
			continue
		}
		if !isStaff {
			continue
		}
		var got, want []string
		for _, r := range xr {
			got = append(got, r.(string))
		}
		for _, r := range roles {
			want = append(want, string(r))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: x-roles %v, the server allows %v", key, got, want)
		}
		if len(sec) != 2 || sec[0].(map[string]any)["staffSession"] == nil || sec[1].(map[string]any)["apiKey"] == nil {
			t.Errorf("%s: security must be staffSession, then apiKey", key)
		}
		if resps["401"] == nil {
			t.Errorf("%s: 401 not documented", key)
		}
		if len(roles) < len(booking.Roles) && resps["403"] == nil {
			t.Errorf("%s: 403 not documented though some roles are refused", key)
		}
	}
	for key := range staff {
		if ops[key] == nil {
			t.Errorf("staff route %s is not documented", key)
		}
	}
}

// openAPIBundle is a server with every feature on: staff API, bearer
// metrics, demo payments (so the demo pages are registered) and refunds
// through stripe-mock.
type openAPIBundle struct {
	*testBundle
	poolOnce sync.Once
	poolV    *booking.Pool
}

const oaMetricsToken = "openapi-metrics-token-0123456789"

func openAPISetup(t *testing.T) *openAPIBundle {
	t.Helper()
	refunds := payment.NewStripe(payment.StripeOpts{SecretKey: "sk_test_123", APIBase: stripeMockURL(),
		AppURL: "http://localhost:3000", Timeout: 5 * time.Second})
	db := pgtest.NewDB(t)
	tb := setup(t, setupOpts{db: db, demo: true, resource: pgtest.CreateResource(t, db, pgtest.ResourceOpts{Default: true}),
		configure: func(o *app.Options) {
			o.NoStaff, o.Refunder, o.HashParams = false, refunds, staffParams
			o.TrustProxy = true // X-Forwarded-For picks the client address of the rate limit cases
			o.MetricsToken, o.WebhookFloodPerMinute, o.LoginPerMinute = oaMetricsToken, 1, 20
		}})
	return &openAPIBundle{testBundle: tb}
}

// pool returns the bundle's pool over its resource, made on first use.
func (b *openAPIBundle) pool(t *testing.T) *booking.Pool {
	t.Helper()
	b.poolOnce.Do(func() {
		name, slug, ids := "Any room", "oa-pool", []string{b.resource.ID}
		p, err := b.app.Pools.Create(t.Context(), booking.PoolPatch{Name: &name, Slug: &slug, ResourceIDs: &ids})
		if err != nil {
			t.Fatalf("create pool: %v", err)
		}
		b.poolV = p
	})
	return b.poolV
}

// TestOpenAPIRoutes checks that the document describes exactly the
// registered routes: every registered pattern has its operation, and every
// documented operation is registered.
func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	b := openAPISetup(t)
	doc := loadOpenAPI(t)
	ops := doc.operations(t)
	routes := b.api.Routes()
	if len(routes) < 30 {
		t.Fatalf("only %d routes registered: %v", len(routes), routes)
	}
	registered := map[string]bool{}
	for _, pattern := range routes {
		if slices.Contains(openAPIUndocumented, pattern) {
			continue
		}
		key := documentedPattern(t, pattern)
		if registered[key] {
			t.Errorf("%s registered twice", key)
		}
		registered[key] = true
		if ops[key] == nil {
			t.Errorf("registered route %q has no operation %s in openapi.json", pattern, key)
		}
	}
	for key := range ops {
		if !registered[key] {
			t.Errorf("openapi.json documents %s, which the server does not register", key)
		}
	}
	for _, ex := range openAPIUndocumented {
		if !slices.Contains(routes, ex) {
			t.Errorf("openAPIUndocumented lists %q, which is not registered: remove it", ex)
		}
	}
}

// TestOpenAPIServed checks GET /openapi.json: the embedded document, as
// JSON, with an ETag that revalidates.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	tb := setup(t, setupOpts{})
	res, err := tb.rawDo(http.MethodGet, "/openapi.json", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q", res.status, res.header.Get("Content-Type"))
	}
	if !bytes.Equal(res.body, httpapi.OpenAPIDocument()) {
		t.Fatal("served document differs from the embedded one")
	}
	etag := res.header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	res, err = tb.rawDo(http.MethodGet, "/openapi.json", nil, http.Header{"If-None-Match": {etag}})
	if err != nil {
		t.Fatal(err)
	}
	if res.status != http.StatusNotModified || len(res.body) != 0 {
		t.Fatalf("revalidation: status %d, %d bytes", res.status, len(res.body))
	}
}

// oaRequest is one request of the conformance table.
type oaRequest struct {
	path   string
	body   any         // JSON-encoded unless string, []byte or url.Values
	header http.Header // extra headers
	client *http.Client
}

// oaCase is one example request: the documented operation it exercises,
// who sends it, how it is built, and the status it must get.
type oaCase struct {
	op     string // "METHOD /documented/path"
	name   string
	as     string // "", "READONLY", "OPS", "ADMIN"
	build  func(t *testing.T) oaRequest
	status int
	// schemaRejects marks a request body the documented request schema must
	// refuse as well (required field missing, unknown field).
	schemaRejects bool
}

// newOAClient is a client with its own cookie jar that does not follow
// redirects.
func newOAClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (b *openAPIBundle) login(t *testing.T, acct staffAccount) *http.Client {
	t.Helper()
	c := newOAClient()
	st, _, _ := b.send(t, c, http.MethodPost, oaRequest{path: "/auth/login",
		body: map[string]string{"email": acct.Email, "password": acct.password}})
	if st != http.StatusOK {
		t.Fatalf("login as %s: status %d", acct.Role, st)
	}
	return c
}

// send sends one request and reads the whole answer.
func (b *openAPIBundle) send(t *testing.T, c *http.Client, method string, r oaRequest) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	ct := ""
	switch x := r.body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(x), "application/json"
	case []byte:
		rd, ct = bytes.NewReader(x), "application/json"
	case url.Values:
		rd, ct = strings.NewReader(x.Encode()), "application/x-www-form-urlencoded"
	default:
		j, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, b.srv.URL+r.path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, r.path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

// createBooking books a slot days ahead through the API.
func (b *openAPIBundle) createBooking(t *testing.T, days, hour int) createdBooking {
	t.Helper()
	var c createdBooking
	st, _, raw := b.send(t, newOAClient(), http.MethodPost, oaRequest{path: "/api/bookings", body: bookingBody(b.resource.ID, futureSlot(days, hour))})
	if st != http.StatusCreated {
		t.Fatalf("book: status %d: %s", st, raw)
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOpenAPIConformance sends an example request for every documented
// operation (happy path and main error cases) to a real server and checks
// each answer against the document: the status is documented for the
// operation, the Content-Type is one it lists, documented headers are set,
// and JSON bodies satisfy the response schema.
func TestOpenAPIConformance(t *testing.T) {
	t.Parallel()
	b := openAPISetup(t)
	doc := loadOpenAPI(t)
	ops := doc.operations(t)

	accounts := map[string]staffAccount{}
	clients := map[string]*http.Client{"": newOAClient()}
	for _, role := range booking.Roles {
		accounts[string(role)] = staffCreate(t, b.db, role)
		clients[string(role)] = b.login(t, accounts[string(role)])
	}

	seq := 0
	uniq := func() string { seq++; return strconv.Itoa(seq) }
	day := 2
	nextDay := func() int { day++; return day }
	fixed := func(path string) func(*testing.T) oaRequest {
		return func(*testing.T) oaRequest { return oaRequest{path: path} }
	}
	withBody := func(path string, body any) func(*testing.T) oaRequest {
		return func(*testing.T) oaRequest { return oaRequest{path: path, body: body} }
	}
	crossSite := http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}
	fromAddr := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }
	unknownID := "00000000-0000-4000-8000-000000000000"
	tooBig := `{"pad":"` + strings.Repeat("x", 65<<10) + `"}`
	badSig := func(ip string) func(*testing.T) oaRequest {
		return func(*testing.T) oaRequest {
			return oaRequest{path: "/webhook", body: `{"id":"evt_x","type":"checkout.session.completed"}`,
				header: http.Header{"Stripe-Signature": {"t=1,v1=bad"}, "X-Forwarded-For": {ip}}}
		}
	}
	signed := func(path string) func(*testing.T) oaRequest {
		return func(*testing.T) oaRequest {
			ev := sessionEvent{ID: "evt_oa_" + uniq(), Type: booking.EventCheckoutCompleted, SessionID: "cs_test_unknown",
				BookingID: unknownID, Amount: 5000, Currency: "eur"}
			p := ev.payload()
			return oaRequest{path: path, body: p, header: http.Header{"Stripe-Signature": {sign(p, testSecret)}}}
		}
	}
	demoSession := func(t *testing.T) string {
		c := b.createBooking(t, nextDay(), 11)
		return *c.Booking.StripeSessionID
	}
	resourceBody := func() map[string]any {
		return map[string]any{"slug": "oa-" + uniq(), "name": "Court", "priceAmount": 2500, "currency": "eur",
			"durationMinutes": 30, "timezone": "Europe/Paris",
			"weeklyHours": []map[string]any{{"weekday": 1, "start": "08:00", "end": "12:00"}}}
	}
	var openAPIETag, staticETag string

	cases := []oaCase{
		// Public API and health.
		{op: "GET /health", build: fixed("/health"), status: 200},
		{op: "GET /livez", build: fixed("/livez"), status: 200},
		{op: "GET /openapi.json", build: fixed("/openapi.json"), status: 200},
		{op: "GET /openapi.json", name: "revalidated", status: 304, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/openapi.json", header: http.Header{"If-None-Match": {openAPIETag}}}
		}},
		{op: "GET /api/resources", build: fixed("/api/resources"), status: 200},
		{op: "GET /api/resources/{id}/availability", status: 200, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/api/resources/" + b.resource.ID + "/availability?date=" + futureSlot(3, 0).Format(time.DateOnly)}
		}},
		{op: "GET /api/resources/{id}/availability", name: "bad date", status: 422, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/api/resources/" + b.resource.ID + "/availability?date=tomorrow"}
		}},
		{op: "GET /api/resources/{id}/availability", name: "unknown", status: 404,
			build: fixed("/api/resources/" + unknownID + "/availability?date=2030-01-01")},
		{op: "GET /api/resources/{id}/availability", name: "month", status: 200, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/api/resources/" + b.resource.ID + "/availability?from=" + futureSlot(1, 0).Format(time.DateOnly) +
				"&to=" + futureSlot(31, 0).Format(time.DateOnly)}
		}},
		{op: "GET /api/resources/{id}/availability", name: "month too long", status: 422,
			build: fixed("/api/resources/" + b.resource.ID + "/availability?from=2030-01-01&to=2030-03-31")},
		{op: "GET /api/pools", build: fixed("/api/pools"), status: 200},
		{op: "GET /api/pools/{id}/availability", status: 200, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/api/pools/" + b.pool(t).ID + "/availability?date=" + futureSlot(3, 0).Format(time.DateOnly)}
		}},
		{op: "GET /api/pools/{id}/availability", name: "unknown", status: 404,
			build: fixed("/api/pools/" + unknownID + "/availability?date=2030-01-01")},
		{op: "POST /api/bookings", name: "pool", status: 201, build: func(t *testing.T) oaRequest {
			body := bookingBody("", futureSlot(nextDay(), 9))
			delete(body, "resourceId")
			body["poolId"] = b.pool(t).ID
			return oaRequest{path: "/api/bookings", body: body}
		}},
		{op: "POST /api/bookings", status: 201, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/api/bookings", body: bookingBody(b.resource.ID, futureSlot(nextDay(), 9)),
				header: http.Header{"Idempotency-Key": {"oa-" + uniq()}}}
		}},
		{op: "POST /api/bookings", name: "slot taken", status: 409, build: func(t *testing.T) oaRequest {
			d := nextDay()
			b.createBooking(t, d, 9)
			return oaRequest{path: "/api/bookings", body: bookingBody(b.resource.ID, futureSlot(d, 9))}
		}},
		{op: "POST /api/bookings", name: "missing fields", status: 422, schemaRejects: true,
			build: withBody("/api/bookings", map[string]any{"resourceId": "", "startsAt": ""})},
		{op: "POST /api/bookings", name: "unknown field", status: 400, schemaRejects: true, build: func(*testing.T) oaRequest {
			body := bookingBody(b.resource.ID, futureSlot(nextDay(), 9))
			body["price"] = 1
			return oaRequest{path: "/api/bookings", body: body}
		}},
		{op: "POST /api/bookings", name: "bad JSON", status: 400, build: withBody("/api/bookings", `{"resourceId":`)},
		{op: "POST /api/bookings", name: "too large", status: 413, build: withBody("/api/bookings", tooBig)},
		{op: "POST /api/bookings", name: "cross-origin", status: 403, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/api/bookings", body: bookingBody(b.resource.ID, futureSlot(nextDay(), 9)), header: crossSite}
		}},
		{op: "GET /api/bookings/{id}", status: 200, build: func(t *testing.T) oaRequest {
			c := b.createBooking(t, nextDay(), 10)
			return oaRequest{path: "/api/bookings/" + c.Booking.ID + "?token=" + url.QueryEscape(c.CustomerToken)}
		}},
		{op: "GET /api/bookings/{id}", name: "no token", status: 404, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/api/bookings/" + b.createBooking(t, nextDay(), 10).Booking.ID}
		}},
		// Self-service.
		{op: "GET /api/bookings/{id}/cancel-quote", status: 200, build: func(t *testing.T) oaRequest {
			bk := oaConfirmed(t, b, "oa-quote")
			return oaRequest{path: "/api/bookings/" + bk.ID + "/cancel-quote?token=" + bk.Reference}
		}},
		{op: "GET /api/bookings/{id}/cancel-quote", name: "wrong token", status: 404, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/api/bookings/" + b.createBooking(t, nextDay(), 12).Booking.ID + "/cancel-quote?token=nope"}
		}},
		{op: "POST /api/bookings/{id}/cancel", status: 200, build: func(t *testing.T) oaRequest {
			bk := oaConfirmed(t, b, "oa-cancel-"+uniq())
			return oaRequest{path: "/api/bookings/" + bk.ID + "/cancel?token=" + bk.Reference, body: map[string]any{"expectedRefundAmount": 5000}}
		}},
		{op: "POST /api/bookings/{id}/cancel", name: "not paid, no body", status: 200, build: func(t *testing.T) oaRequest {
			c := b.createBooking(t, nextDay(), 12)
			return oaRequest{path: "/api/bookings/" + c.Booking.ID + "/cancel?token=" + url.QueryEscape(c.CustomerToken)}
		}},
		{op: "POST /api/bookings/{id}/cancel", name: "quote changed", status: 409, build: func(t *testing.T) oaRequest {
			bk := oaConfirmed(t, b, "oa-cancel-"+uniq())
			return oaRequest{path: "/api/bookings/" + bk.ID + "/cancel?token=" + bk.Reference, body: map[string]any{"expectedRefundAmount": 1}}
		}},
		{op: "POST /api/bookings/{id}/cancel", name: "unknown field", status: 400, schemaRejects: true, build: func(t *testing.T) oaRequest {
			bk := oaConfirmed(t, b, "oa-cancel-"+uniq())
			return oaRequest{path: "/api/bookings/" + bk.ID + "/cancel?token=" + bk.Reference, body: map[string]any{"refund": 1}}
		}},
		{op: "POST /api/bookings/{id}/cancel", name: "wrong token", status: 404, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/api/bookings/" + oaConfirmed(t, b, "oa-cancel-"+uniq()).ID + "/cancel?token=nope"}
		}},
		{op: "POST /api/bookings/{id}/cancel", name: "cross-origin", status: 403, build: func(t *testing.T) oaRequest {
			bk := oaConfirmed(t, b, "oa-cancel-"+uniq())
			return oaRequest{path: "/api/bookings/" + bk.ID + "/cancel?token=" + bk.Reference, header: crossSite}
		}},
		{op: "POST /api/bookings/{id}/reschedule", status: 200, build: func(t *testing.T) oaRequest {
			bk := oaConfirmed(t, b, "oa-move-"+uniq())
			return oaRequest{path: "/api/bookings/" + bk.ID + "/reschedule?token=" + bk.Reference,
				body: map[string]any{"startsAt": bk.StartsAt.AddDate(1, 0, 0).Format(time.RFC3339)}}
		}},
		{op: "POST /api/bookings/{id}/reschedule", name: "slot taken", status: 409, build: func(t *testing.T) oaRequest {
			bk, other := oaConfirmed(t, b, "oa-move-"+uniq()), oaConfirmed(t, b, "oa-move-"+uniq())
			return oaRequest{path: "/api/bookings/" + bk.ID + "/reschedule?token=" + bk.Reference,
				body: map[string]any{"startsAt": other.StartsAt.Format(time.RFC3339)}}
		}},
		{op: "POST /api/bookings/{id}/reschedule", name: "not a slot", status: 422, build: func(t *testing.T) oaRequest {
			bk := oaConfirmed(t, b, "oa-move-"+uniq())
			return oaRequest{path: "/api/bookings/" + bk.ID + "/reschedule?token=" + bk.Reference,
				body: map[string]any{"startsAt": bk.StartsAt.Add(90 * time.Minute).Format(time.RFC3339)}}
		}},
		{op: "POST /api/bookings/{id}/reschedule", name: "unknown field", status: 400, schemaRejects: true, build: func(t *testing.T) oaRequest {
			bk := oaConfirmed(t, b, "oa-move-"+uniq())
			return oaRequest{path: "/api/bookings/" + bk.ID + "/reschedule?token=" + bk.Reference,
				body: map[string]any{"startsAt": bk.StartsAt.AddDate(1, 0, 0).Format(time.RFC3339), "price": 1}}
		}},
		{op: "POST /api/bookings/{id}/reschedule", name: "too large", status: 413, build: func(t *testing.T) oaRequest {
			bk := oaConfirmed(t, b, "oa-move-"+uniq())
			return oaRequest{path: "/api/bookings/" + bk.ID + "/reschedule?token=" + bk.Reference, body: tooBig}
		}},
		{op: "GET /api/bookings/{id}/calendar.ics", status: 200, build: func(t *testing.T) oaRequest {
			bk := oaConfirmed(t, b, "oa-cal-"+uniq())
			return oaRequest{path: "/api/bookings/" + bk.ID + "/calendar.ics?token=" + bk.Reference}
		}},
		{op: "GET /api/bookings/{id}/calendar.ics", name: "not confirmed", status: 409, build: func(t *testing.T) oaRequest {
			c := b.createBooking(t, nextDay(), 12)
			return oaRequest{path: "/api/bookings/" + c.Booking.ID + "/calendar.ics?token=" + url.QueryEscape(c.CustomerToken)}
		}},
		{op: "GET /api/bookings/{id}/calendar.ics", name: "unknown", status: 404, build: fixed("/api/bookings/" + unknownID + "/calendar.ics?token=x")},
		{op: "POST /create-checkout-session", status: 200, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/create-checkout-session", body: map[string]string{"firstName": "Ada", "lastName": "Lovelace",
				"email": "ada@example.com", "date": futureSlot(nextDay(), 0).Format(time.DateOnly), "time": "14:00"}}
		}},
		{op: "POST /create-checkout-session", name: "invalid", status: 422, schemaRejects: true,
			build: withBody("/create-checkout-session", map[string]string{"firstName": "Ada", "date": "soon"})},
		{op: "POST /create-checkout-session", name: "bad JSON", status: 400, build: withBody("/create-checkout-session", `[1]`)},
		{op: "GET /checkout/return", status: 200, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/checkout/return?session_id=" + url.QueryEscape(demoSession(t))}
		}},
		{op: "GET /checkout/return", name: "browser", status: 303, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/checkout/return?session_id=" + url.QueryEscape(demoSession(t)),
				header: http.Header{"Accept": {browserAccept}}}
		}},
		{op: "GET /checkout/return", name: "no session", status: 422, build: fixed("/checkout/return")},
		{op: "GET /checkout/return", name: "unknown session", status: 404, build: fixed("/checkout/return?session_id=cs_test_nope")},

		// Webhook.
		{op: "POST /webhook", status: 200, build: signed("/webhook")},
		{op: "POST /webhooks/stripe", status: 200, build: signed("/webhooks/stripe")},
		{op: "POST /webhook", name: "bad signature", status: 400, build: badSig("198.51.100.1")},
		{op: "POST /webhooks/stripe", name: "no signature", status: 400, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/webhooks/stripe", body: `{}`, header: fromAddr("198.51.100.2")}
		}},
		{op: "POST /webhook", name: "too large", status: 413, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/webhook", body: strings.Repeat(" ", 1<<20+1)}
		}},
		{op: "POST /webhook", name: "flood", status: 429, build: func(t *testing.T) oaRequest {
			if st, _, _ := b.send(t, clients[""], http.MethodPost, badSig("198.51.100.3")(t)); st != 400 {
				t.Fatalf("first bad signature: %d", st)
			}
			return badSig("198.51.100.3")(t)
		}},
		{op: "GET /metrics", status: 200, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/metrics", header: http.Header{"Authorization": {"Bearer " + oaMetricsToken}}}
		}},
		{op: "GET /metrics", name: "no token", status: 401, build: fixed("/metrics")},

		// Staff sessions.
		{op: "POST /auth/login", status: 200, build: func(*testing.T) oaRequest {
			a := accounts["READONLY"]
			return oaRequest{path: "/auth/login", body: map[string]string{"email": a.Email, "password": a.password}, client: newOAClient()}
		}},
		{op: "POST /auth/login", name: "wrong", status: 401,
			build: withBody("/auth/login", map[string]string{"email": "nobody@example.com", "password": "wrong-password"})},
		{op: "POST /auth/login", name: "missing", status: 422, schemaRejects: true,
			build: withBody("/auth/login", map[string]string{"email": "nobody@example.com"})},
		{op: "POST /auth/login", name: "bad JSON", status: 400, build: withBody("/auth/login", `{"email":1}`)},
		{op: "POST /auth/login", name: "too large", status: 413, build: withBody("/auth/login", tooBig)},
		{op: "POST /auth/login", name: "cross-origin", status: 403, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/auth/login", body: map[string]string{"email": "a@example.com", "password": "x"}, header: crossSite}
		}},
		{op: "POST /auth/login", name: "throttled", status: 429, build: func(t *testing.T) oaRequest {
			r := oaRequest{path: "/auth/login", body: map[string]string{"email": "nobody@example.com", "password": "wrong-password"},
				header: fromAddr("203.0.113.7")}
			// Failed attempts until the address is throttled (20 a minute,
			// refilled over time: a slow machine may need one or two more);
			// the documented request is the next one.
			for i := 0; i < 40; i++ {
				switch st, _, _ := b.send(t, newOAClient(), http.MethodPost, r); {
				case st == 429 && i >= 20:
					return r
				case st != 401:
					t.Fatalf("attempt %d: %d", i, st)
				}
			}
			t.Fatal("40 failed logins from one address were never throttled")
			return r
		}},
		{op: "GET /auth/me", as: "READONLY", build: fixed("/auth/me"), status: 200},
		{op: "GET /auth/me", name: "no session", build: fixed("/auth/me"), status: 401},
		{op: "POST /auth/logout", status: 200, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/auth/logout", client: b.login(t, staffCreate(t, b.db, booking.RoleReadonly))}
		}},
		{op: "POST /auth/logout", name: "no session", build: fixed("/auth/logout"), status: 401},

		// Staff lists.
		{op: "GET /api/admin/bookings", as: "READONLY", status: 200, build: func(t *testing.T) oaRequest {
			createTestBooking(t, b.testBundle)
			createTestBooking(t, b.testBundle)
			return oaRequest{path: "/api/admin/bookings?status=pending&limit=1"}
		}},
		{op: "GET /api/admin/bookings", name: "bad status", as: "READONLY", build: fixed("/api/admin/bookings?status=paid"), status: 422},
		{op: "GET /api/admin/bookings", name: "no session", build: fixed("/api/admin/bookings"), status: 401},
		{op: "GET /reservations", as: "OPS", build: fixed("/reservations?from=2000-01-01&to=2100-01-01"), status: 200},
		{op: "GET /reservations", name: "bad limit", as: "OPS", build: fixed("/reservations?limit=0"), status: 422},
		{op: "GET /api/admin/payment-events", as: "READONLY", build: fixed("/api/admin/payment-events?limit=1"), status: 200},
		{op: "GET /api/admin/payment-events", name: "bad cursor", as: "READONLY", build: fixed("/api/admin/payment-events?cursor=zz"), status: 422},
		{op: "GET /api/admin/bookings", name: "resource and customer", as: "READONLY", status: 200, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/api/admin/bookings?resourceId=" + b.resource.ID + "&email=Test%40Example.com&limit=1"}
		}},
		{op: "GET /api/admin/bookings", name: "bad email", as: "READONLY", build: fixed("/api/admin/bookings?email=nobody"), status: 422},
		{op: "GET /reservations", name: "resource in a range", as: "OPS", status: 200, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/reservations?resourceId=" + b.resource.ID + "&from=2000-01-01"}
		}},
		{op: "GET /reservations", name: "bad resource", as: "OPS", build: fixed("/reservations?resourceId=room"), status: 422},
		{op: "GET /payments", as: "ADMIN", build: fixed("/payments?outcome=unmatched"), status: 200},
		{op: "GET /payments", name: "range", as: "ADMIN", build: fixed("/payments?from=2000-01-01&to=2100-01-01T00:00:00Z"), status: 200},
		{op: "GET /api/admin/payment-events", name: "bad range", as: "READONLY", build: fixed("/api/admin/payment-events?from=2030-01-02&to=2030-01-01"), status: 422},
		{op: "GET /payments", name: "no session", build: fixed("/payments"), status: 401},

		// Staff actions.
		{op: "POST /api/admin/bookings/{id}/cancel", as: "OPS", status: 200, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/api/admin/bookings/" + createTestBooking(t, b.testBundle).ID + "/cancel"}
		}},
		{op: "POST /api/admin/bookings/{id}/cancel", name: "not cancellable", as: "OPS", status: 409, build: func(t *testing.T) oaRequest {
			bk := pgtest.CreateBooking(t, b.db, b.resource, pgtest.BookingOpts{Status: booking.StatusExpired})
			return oaRequest{path: "/api/admin/bookings/" + bk.ID + "/cancel"}
		}},
		{op: "POST /api/admin/bookings/{id}/cancel", name: "refund", as: "OPS", status: 200, build: func(t *testing.T) oaRequest {
			bk := pgtest.CreateBooking(t, b.db, b.resource, pgtest.BookingOpts{Status: booking.StatusConfirmed, PaymentIntent: "pi_oa_" + uniq()})
			return oaRequest{path: "/api/admin/bookings/" + bk.ID + "/cancel"}
		}},
		{op: "GET /api/admin/bookings/{id}", as: "READONLY", status: 200, build: func(t *testing.T) oaRequest {
			bk := pgtest.CreateBooking(t, b.db, b.resource, pgtest.BookingOpts{Status: booking.StatusConfirmed, PaymentIntent: "pi_oa_" + uniq()})
			return oaRequest{path: "/api/admin/bookings/" + bk.ID}
		}},
		{op: "GET /api/admin/bookings/{id}", name: "unknown", as: "READONLY", build: fixed("/api/admin/bookings/" + unknownID), status: 404},
		{op: "POST /api/admin/bookings/{id}/accept", as: "OPS", status: 200, build: func(t *testing.T) oaRequest {
			bk := pgtest.CreateBooking(t, b.db, b.resource, pgtest.BookingOpts{Status: booking.StatusConfirmed, PaymentIntent: "pi_oa_" + uniq()})
			if _, err := b.db.Pool.Exec(t.Context(), `UPDATE bookings SET status = 'needs_review' WHERE id = $1`, bk.ID); err != nil {
				t.Fatal(err)
			}
			return oaRequest{path: "/api/admin/bookings/" + bk.ID + "/accept"}
		}},
		{op: "POST /api/admin/bookings/{id}/accept", name: "not under review", as: "OPS", status: 409, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/api/admin/bookings/" + createTestBooking(t, b.testBundle).ID + "/accept"}
		}},
		{op: "POST /api/admin/bookings/{id}/accept", name: "readonly", as: "READONLY", build: fixed("/api/admin/bookings/" + unknownID + "/accept"), status: 403},
		{op: "POST /api/admin/bookings/{id}/cancel", name: "unknown", as: "ADMIN", build: fixed("/api/admin/bookings/" + unknownID + "/cancel"), status: 404},
		{op: "POST /api/admin/bookings/{id}/cancel", name: "readonly", as: "READONLY", build: fixed("/api/admin/bookings/" + unknownID + "/cancel"), status: 403},
		{op: "POST /api/admin/bookings/{id}/cancel", name: "no session", build: fixed("/api/admin/bookings/" + unknownID + "/cancel"), status: 401},
		{op: "POST /api/admin/bookings/{id}/reschedule", as: "OPS", status: 200, build: func(t *testing.T) oaRequest {
			bk := oaConfirmed(t, b, "oa-staff-move-"+uniq())
			return oaRequest{path: "/api/admin/bookings/" + bk.ID + "/reschedule",
				body: map[string]any{"startsAt": bk.StartsAt.AddDate(1, 0, 0).Format(time.RFC3339), "override": true}}
		}},
		{op: "POST /api/admin/bookings/{id}/reschedule", name: "not confirmed", as: "OPS", status: 409, build: func(t *testing.T) oaRequest {
			bk := createTestBooking(t, b.testBundle)
			return oaRequest{path: "/api/admin/bookings/" + bk.ID + "/reschedule",
				body: map[string]any{"startsAt": bk.StartsAt.AddDate(1, 0, 0).Format(time.RFC3339)}}
		}},
		{op: "POST /api/admin/bookings/{id}/reschedule", name: "unknown", as: "OPS", status: 404,
			build: withBody("/api/admin/bookings/"+unknownID+"/reschedule", map[string]any{"startsAt": "2030-01-01T10:00:00Z"})},
		{op: "POST /api/admin/bookings/{id}/reschedule", name: "readonly", as: "READONLY", status: 403,
			build: withBody("/api/admin/bookings/"+unknownID+"/reschedule", map[string]any{"startsAt": "2030-01-01T10:00:00Z"})},
		{op: "POST /api/admin/payment-events/{id}/replay", as: "OPS", status: 200, build: func(t *testing.T) oaRequest {
			r := signed("/webhook")(t)
			if st, _, raw := b.send(t, clients[""], http.MethodPost, r); st != 200 {
				t.Fatalf("deliver: %d %s", st, raw)
			}
			var ev struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(r.body.([]byte), &ev)
			return oaRequest{path: "/api/admin/payment-events/" + ev.ID + "/replay"}
		}},
		{op: "POST /api/admin/payment-events/{id}/replay", name: "unknown", as: "ADMIN", build: fixed("/api/admin/payment-events/evt_nope/replay"), status: 404},
		{op: "POST /api/admin/payment-events/{id}/replay", name: "readonly", as: "READONLY", build: fixed("/api/admin/payment-events/evt_nope/replay"), status: 403},

		// Messages.
		// The staff desk.
		{op: "POST /api/admin/desk/bookings", as: "OPS", status: 201, build: withBody("/api/admin/desk/bookings", map[string]any{
			"resourceId": b.resource.ID, "startsAt": "2036-03-04T10:00:00Z", "payment": "venue", "note": "Walk-in",
			"customer": map[string]any{"firstName": "Walk", "lastName": "In", "email": "walkin@example.com"}})},
		{op: "POST /api/admin/desk/bookings", name: "link", as: "OPS", status: 201, build: withBody("/api/admin/desk/bookings", map[string]any{
			"resourceId": b.resource.ID, "startsAt": "2036-03-04T12:00:00Z", "payment": "link", "linkHours": 2,
			"customer": map[string]any{"firstName": "Phone", "lastName": "Call", "email": "phone@example.com"}})},
		{op: "POST /api/admin/desk/bookings", name: "no payment", as: "OPS", status: 422, build: withBody("/api/admin/desk/bookings", map[string]any{
			"resourceId": b.resource.ID, "startsAt": "2036-03-04T14:00:00Z",
			"customer": map[string]any{"firstName": "Walk", "lastName": "In", "email": "walkin@example.com"}}), schemaRejects: true},
		{op: "POST /api/admin/desk/bookings", name: "readonly", as: "READONLY", status: 403, build: withBody("/api/admin/desk/bookings", map[string]any{})},
		{op: "GET /api/admin/resources/{id}/schedule", as: "READONLY", status: 200, build: fixed("/api/admin/resources/" + b.resource.ID + "/schedule?from=2036-03-02&days=7")},
		{op: "GET /api/admin/resources/{id}/schedule", name: "bad days", as: "READONLY", status: 422, build: fixed("/api/admin/resources/" + b.resource.ID + "/schedule?days=90"), schemaRejects: true},
		{op: "GET /api/admin/resources/{id}/schedule", name: "unknown", as: "READONLY", status: 404, build: fixed("/api/admin/resources/" + unknownID + "/schedule")},
		{op: "POST /api/admin/resources/{id}/blocks", as: "OPS", status: 201, build: withBody("/api/admin/resources/"+b.resource.ID+"/blocks",
			map[string]any{"startsAt": "2036-03-05T08:00:00Z", "endsAt": "2036-03-05T12:00:00Z", "reason": "Floor repair"})},
		{op: "POST /api/admin/resources/{id}/blocks", name: "over a booking", as: "OPS", status: 409, build: withBody("/api/admin/resources/"+b.resource.ID+"/blocks",
			map[string]any{"startsAt": "2036-03-04T09:00:00Z", "endsAt": "2036-03-04T11:00:00Z"})},
		{op: "POST /api/admin/resources/{id}/blocks", name: "backwards", as: "OPS", status: 422, build: withBody("/api/admin/resources/"+b.resource.ID+"/blocks",
			map[string]any{"startsAt": "2036-03-06T12:00:00Z", "endsAt": "2036-03-06T08:00:00Z"})},
		{op: "DELETE /api/admin/resources/{id}/blocks/{blockId}", as: "OPS", status: 204, build: func(t *testing.T) oaRequest {
			var k struct {
				Block booking.Block `json:"block"`
			}
			st, _, raw := b.send(t, clients["OPS"], http.MethodPost, oaRequest{path: "/api/admin/resources/" + b.resource.ID + "/blocks",
				body: map[string]any{"startsAt": "2036-03-07T08:00:00Z", "endsAt": "2036-03-07T09:00:00Z"}})
			if st != 201 || json.Unmarshal(raw, &k) != nil {
				t.Fatalf("block: %d %s", st, raw)
			}
			return oaRequest{path: "/api/admin/resources/" + b.resource.ID + "/blocks/" + k.Block.ID}
		}},
		{op: "DELETE /api/admin/resources/{id}/blocks/{blockId}", name: "unknown", as: "OPS", status: 404, build: fixed("/api/admin/resources/" + b.resource.ID + "/blocks/" + unknownID)},
		{op: "POST /api/admin/bookings/{id}/notes", as: "OPS", status: 201, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/api/admin/bookings/" + createTestBooking(t, b.testBundle).ID + "/notes", body: map[string]any{"body": "Asked for a window seat."}}
		}},
		{op: "POST /api/admin/bookings/{id}/notes", name: "empty", as: "OPS", status: 422, build: withBody("/api/admin/bookings/"+unknownID+"/notes", map[string]any{"body": ""})},
		{op: "POST /api/admin/bookings/{id}/notes", name: "unknown", as: "OPS", status: 404, build: withBody("/api/admin/bookings/"+unknownID+"/notes", map[string]any{"body": "x"})},
		{op: "GET /api/admin/bookings/{id}/notes", as: "READONLY", status: 200, build: func(t *testing.T) oaRequest {
			bk := createTestBooking(t, b.testBundle)
			if _, err := b.db.AddNote(t.Context(), bk.ID, accounts["OPS"].ID, "Regular customer."); err != nil {
				t.Fatal(err)
			}
			return oaRequest{path: "/api/admin/bookings/" + bk.ID + "/notes"}
		}},
		{op: "GET /api/admin/bookings/{id}/notes", name: "unknown", as: "READONLY", status: 404, build: fixed("/api/admin/bookings/" + unknownID + "/notes")},

		// Calendar feeds and customer data.
		{op: "POST /api/admin/resources/{id}/calendar-key", as: "ADMIN", status: 201, build: fixed("/api/admin/resources/" + b.resource.ID + "/calendar-key")},
		{op: "POST /api/admin/resources/{id}/calendar-key", name: "ops", as: "OPS", status: 403, build: fixed("/api/admin/resources/" + b.resource.ID + "/calendar-key")},
		{op: "GET /calendar/{file}", name: "wrong key", build: fixed("/calendar/" + b.resource.ID + ".ics?key=nope"), status: 404},
		{op: "GET /calendar/{file}", status: 200, build: func(t *testing.T) oaRequest {
			var k struct {
				Key string `json:"key"`
			}
			st, _, raw := b.send(t, clients["ADMIN"], http.MethodPost, oaRequest{path: "/api/admin/resources/" + b.resource.ID + "/calendar-key"})
			if st != 201 || json.Unmarshal(raw, &k) != nil {
				t.Fatalf("calendar key: %d %s", st, raw)
			}
			return oaRequest{path: "/calendar/" + b.resource.ID + ".ics?key=" + k.Key}
		}},
		{op: "GET /api/admin/customers/export", as: "ADMIN", status: 200, build: fixed("/api/admin/customers/export?email=someone@example.com")},
		{op: "GET /api/admin/customers/export", name: "bad address", as: "ADMIN", status: 422, build: fixed("/api/admin/customers/export?email=nope")},
		{op: "POST /api/admin/customers/erase", as: "ADMIN", status: 200, build: withBody("/api/admin/customers/erase", map[string]any{"email": "gone@example.com"})},
		{op: "POST /api/admin/customers/erase", name: "ops", as: "OPS", status: 403, build: withBody("/api/admin/customers/erase", map[string]any{"email": "gone@example.com"})},

		{op: "GET /api/admin/messages", as: "READONLY", build: fixed("/api/admin/messages?state=queued&limit=5"), status: 200},
		{op: "GET /api/admin/messages", name: "bad state", as: "READONLY", build: fixed("/api/admin/messages?state=lost"), status: 422,
			schemaRejects: true},
		{op: "POST /api/admin/messages/{id}/retry", as: "OPS", status: 200, build: func(t *testing.T) oaRequest {
			bk := createTestBooking(t, b.testBundle)
			res, err := b.app.Queue.Client.Insert(t.Context(), jobs.MessageArgs{BookingID: bk.ID, Message: booking.NoticeConfirmation}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.app.Queue.Client.JobCancel(t.Context(), res.Job.ID); err != nil {
				t.Fatal(err)
			}
			return oaRequest{path: "/api/admin/messages/" + strconv.FormatInt(res.Job.ID, 10) + "/retry"}
		}},
		{op: "POST /api/admin/messages/{id}/retry", name: "queued", as: "OPS", status: 409, build: func(t *testing.T) oaRequest {
			bk := createTestBooking(t, b.testBundle)
			res, err := b.app.Queue.Client.Insert(t.Context(), jobs.MessageArgs{BookingID: bk.ID, Message: booking.NoticeConfirmation}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return oaRequest{path: "/api/admin/messages/" + strconv.FormatInt(res.Job.ID, 10) + "/retry"}
		}},
		{op: "POST /api/admin/messages/{id}/retry", name: "unknown", as: "OPS", build: fixed("/api/admin/messages/999999/retry"), status: 404},
		{op: "POST /api/admin/messages/{id}/retry", name: "readonly", as: "READONLY", build: fixed("/api/admin/messages/1/retry"), status: 403},
		{op: "GET /api/admin/bookings/{id}/messages", as: "READONLY", status: 200, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/api/admin/bookings/" + createTestBooking(t, b.testBundle).ID + "/messages"}
		}},
		{op: "GET /api/admin/bookings/{id}/messages", name: "unknown", as: "READONLY", build: fixed("/api/admin/bookings/not-an-id/messages"), status: 404},

		// Resources.
		{op: "GET /api/admin/resources", as: "READONLY", build: fixed("/api/admin/resources"), status: 200},
		{op: "POST /api/admin/resources", as: "ADMIN", status: 201, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/api/admin/resources", body: resourceBody()}
		}},
		{op: "POST /api/admin/resources", name: "missing fields", as: "ADMIN", status: 422, schemaRejects: true,
			build: withBody("/api/admin/resources", map[string]any{"name": "Court"})},
		{op: "POST /api/admin/resources", name: "unknown field", as: "ADMIN", status: 400, schemaRejects: true, build: func(*testing.T) oaRequest {
			body := resourceBody()
			body["id"] = unknownID
			return oaRequest{path: "/api/admin/resources", body: body}
		}},
		{op: "POST /api/admin/resources", name: "too large", as: "ADMIN", build: withBody("/api/admin/resources", tooBig), status: 413},
		{op: "POST /api/admin/resources", name: "ops", as: "OPS", status: 403, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/api/admin/resources", body: resourceBody()}
		}},
		{op: "PATCH /api/admin/resources/{id}", as: "ADMIN", status: 200, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/api/admin/resources/" + b.resource.ID, body: map[string]any{"description": "Updated " + uniq()}}
		}},
		{op: "PATCH /api/admin/resources/{id}", name: "invalid", as: "ADMIN", status: 422, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/api/admin/resources/" + b.resource.ID, body: map[string]any{"durationMinutes": 1}}
		}},
		{op: "PATCH /api/admin/resources/{id}", name: "unknown", as: "ADMIN", build: withBody("/api/admin/resources/"+unknownID, map[string]any{"name": "X"}), status: 404},
		{op: "GET /api/admin/pools", as: "ADMIN", status: 200, build: fixed("/api/admin/pools")},
		{op: "POST /api/admin/pools", as: "ADMIN", status: 201, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/api/admin/pools", body: map[string]any{"slug": "oa-pool-" + uniq(), "name": "Any room",
				"resourceIds": []string{b.resource.ID}}}
		}},
		{op: "POST /api/admin/pools", name: "terms differ", as: "ADMIN", status: 422, build: func(t *testing.T) oaRequest {
			other := pgtest.CreateResource(t, b.db, pgtest.ResourceOpts{Price: 999})
			return oaRequest{path: "/api/admin/pools", body: map[string]any{"slug": "oa-pool-" + uniq(), "name": "Mixed",
				"resourceIds": []string{b.resource.ID, other.ID}}}
		}},
		{op: "PATCH /api/admin/pools/{id}", as: "ADMIN", status: 200, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/api/admin/pools/" + b.pool(t).ID, body: map[string]any{"name": "Any room " + uniq()}}
		}},
		{op: "PATCH /api/admin/pools/{id}", name: "unknown", as: "ADMIN", status: 404,
			build: withBody("/api/admin/pools/"+unknownID, map[string]any{"name": "X"})},
		{op: "POST /api/admin/resources/{id}/overrides", as: "ADMIN", status: 201, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/api/admin/resources/" + b.resource.ID + "/overrides", body: map[string]any{"from": "2033-12-24",
				"to": "2033-12-26", "closed": true, "note": "Holidays"}}
		}},
		{op: "POST /api/admin/resources/{id}/overrides", name: "special hours", as: "ADMIN", status: 201, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/api/admin/resources/" + b.resource.ID + "/overrides", body: map[string]any{"from": "2033-12-31",
				"hours": []map[string]string{{"start": "10:00", "end": "14:00"}}}}
		}},
		{op: "POST /api/admin/resources/{id}/overrides", name: "invalid", as: "ADMIN", status: 422, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/api/admin/resources/" + b.resource.ID + "/overrides", body: map[string]any{"from": "2034-01-05", "closed": false}}
		}},
		{op: "DELETE /api/admin/resources/{id}/overrides/{overrideId}", as: "ADMIN", status: 204, build: func(t *testing.T) oaRequest {
			o, err := b.db.CreateOverride(t.Context(), b.resource.ID, &booking.DateOverride{From: "2034-02-01", To: "2034-02-01",
				Closed: true, Hours: []booking.TimeSpan{}})
			if err != nil {
				t.Fatal(err)
			}
			return oaRequest{path: "/api/admin/resources/" + b.resource.ID + "/overrides/" + o.ID}
		}},
		{op: "DELETE /api/admin/resources/{id}/overrides/{overrideId}", name: "unknown", as: "ADMIN", status: 404,
			build: fixed("/api/admin/resources/" + unknownID + "/overrides/" + unknownID)},

		// Users.
		{op: "GET /api/admin/users", as: "ADMIN", build: fixed("/api/admin/users"), status: 200},
		{op: "GET /api/admin/api-keys", as: "ADMIN", build: fixed("/api/admin/api-keys"), status: 200},
		{op: "POST /api/admin/api-keys", as: "ADMIN", status: 201,
			build: withBody("/api/admin/api-keys", map[string]any{"name": "Accounting", "scopes": []string{"bookings:read"}})},
		{op: "POST /api/admin/api-keys", name: "unknown scope", as: "ADMIN", status: 422, schemaRejects: true,
			build: withBody("/api/admin/api-keys", map[string]any{"name": "Accounting", "scopes": []string{"everything"}})},
		{op: "DELETE /api/admin/api-keys/{id}", as: "ADMIN", status: 200, build: func(t *testing.T) oaRequest {
			k, _, err := b.api.APIKeys.Create(t.Context(), auth.NewKey{Name: "oa", Scopes: []auth.Scope{auth.ScopeRead}}, oaAdmin(accounts))
			if err != nil {
				t.Fatal(err)
			}
			return oaRequest{path: "/api/admin/api-keys/" + k.ID}
		}},
		{op: "DELETE /api/admin/api-keys/{id}", name: "unknown", as: "ADMIN", build: fixed("/api/admin/api-keys/" + unknownID), status: 404},
		{op: "GET /api/admin/exports/bookings.csv", as: "OPS", build: fixed("/api/admin/exports/bookings.csv?from=2000-01-01"), status: 200},
		{op: "GET /api/admin/exports/bookings.csv", name: "bad status", as: "OPS", build: fixed("/api/admin/exports/bookings.csv?status=nope"), status: 422},
		{op: "GET /api/admin/exports/money.csv", name: "with a key", status: 200, build: func(t *testing.T) oaRequest {
			_, token, err := b.api.APIKeys.Create(t.Context(), auth.NewKey{Name: "oa", Scopes: []auth.Scope{auth.ScopeRead}}, oaAdmin(accounts))
			if err != nil {
				t.Fatal(err)
			}
			return oaRequest{path: "/api/admin/exports/money.csv", header: http.Header{"Authorization": {"Bearer " + token}}}
		}},
		// Outgoing webhooks, to a local receiver.
		{op: "GET /api/admin/webhook-endpoints", as: "ADMIN", build: fixed("/api/admin/webhook-endpoints"), status: 200},
		{op: "POST /api/admin/webhook-endpoints", as: "ADMIN", status: 201, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/api/admin/webhook-endpoints", body: map[string]any{"url": oaHookSink(t) + "/in",
				"events": []string{"booking.confirmed", "booking.cancelled"}}}
		}},
		{op: "POST /api/admin/webhook-endpoints", name: "unknown event", as: "ADMIN", status: 422, schemaRejects: true,
			build: withBody("/api/admin/webhook-endpoints", map[string]any{"url": "https://example.com/in", "events": []string{"booking.everything"}})},
		{op: "PATCH /api/admin/webhook-endpoints/{id}", as: "ADMIN", status: 200, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/api/admin/webhook-endpoints/" + oaHookEndpoint(t, b), body: map[string]any{"enabled": false}}
		}},
		{op: "PATCH /api/admin/webhook-endpoints/{id}", name: "unknown", as: "ADMIN", status: 404,
			build: withBody("/api/admin/webhook-endpoints/"+unknownID, map[string]any{"enabled": false})},
		{op: "GET /api/admin/webhook-endpoints/{id}/deliveries", as: "ADMIN", status: 200, build: func(t *testing.T) oaRequest {
			id := oaHookEndpoint(t, b)
			if _, err := b.api.Webhooks.SendTest(t.Context(), id); err != nil {
				t.Fatal(err)
			}
			return oaRequest{path: "/api/admin/webhook-endpoints/" + id + "/deliveries?limit=10"}
		}},
		{op: "GET /api/admin/webhook-endpoints/{id}/deliveries", name: "unknown", as: "ADMIN", status: 404,
			build: fixed("/api/admin/webhook-endpoints/" + unknownID + "/deliveries")},
		{op: "POST /api/admin/webhook-endpoints/{id}/test", as: "ADMIN", status: 200, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/api/admin/webhook-endpoints/" + oaHookEndpoint(t, b) + "/test"}
		}},
		{op: "POST /api/admin/webhook-deliveries/{id}/retry", as: "ADMIN", status: 202, build: func(t *testing.T) oaRequest {
			d, err := b.api.Webhooks.SendTest(t.Context(), oaHookEndpoint(t, b))
			if err != nil {
				t.Fatal(err)
			}
			return oaRequest{path: "/api/admin/webhook-deliveries/" + strconv.FormatInt(d.ID, 10) + "/retry"}
		}},
		{op: "POST /api/admin/webhook-deliveries/{id}/retry", name: "unknown", as: "ADMIN", status: 404,
			build: fixed("/api/admin/webhook-deliveries/987654321/retry")},
		{op: "GET /api/admin/users", name: "ops", as: "OPS", build: fixed("/api/admin/users"), status: 403},
		{op: "GET /api/admin/users/{id}", as: "ADMIN", status: 200, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/api/admin/users/" + accounts["OPS"].ID}
		}},
		{op: "GET /api/admin/users/{id}", name: "unknown", as: "ADMIN", build: fixed("/api/admin/users/" + unknownID), status: 404},
		{op: "POST /api/admin/users", as: "ADMIN", status: 201, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/api/admin/users", body: map[string]any{"email": "oa-" + uniq() + "@example.com", "role": "READONLY"}}
		}},
		{op: "POST /api/admin/users", name: "bad role", as: "ADMIN", status: 422, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/api/admin/users", body: map[string]any{"email": "oa-" + uniq() + "@example.com", "role": "ROOT"}}
		}},
		{op: "PATCH /api/admin/users/{id}", as: "ADMIN", status: 200, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/api/admin/users/" + staffCreate(t, b.db, booking.RoleReadonly).ID, body: map[string]any{"role": "OPS"}}
		}},
		{op: "PATCH /api/admin/users/{id}", name: "own role", as: "ADMIN", status: 409, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/api/admin/users/" + accounts["ADMIN"].ID, body: map[string]any{"role": "READONLY"}}
		}},
		{op: "PATCH /api/admin/users/{id}", name: "unknown", as: "ADMIN", build: withBody("/api/admin/users/"+unknownID, map[string]any{"active": false}), status: 404},
		{op: "GET /admin/metrics", as: "OPS", build: fixed("/admin/metrics"), status: 200},
		{op: "GET /admin/metrics", name: "readonly", as: "READONLY", build: fixed("/admin/metrics"), status: 403},

		// Pages.
		{op: "GET /", build: fixed("/"), status: 200},
		{op: "GET /success", status: 200, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/success?session_id=" + url.QueryEscape(demoSession(t))}
		}},
		{op: "GET /success", name: "unknown", build: fixed("/success?session_id=cs_test_nope"), status: 404},
		{op: "GET /cancel", build: fixed("/cancel"), status: 200},
		{op: "GET /cancel", name: "abandoned checkout", status: 200, build: func(t *testing.T) oaRequest {
			c := b.createBooking(t, nextDay(), 13)
			key := booking.CheckoutCancelKey(booking.HashToken(c.CustomerToken))
			return oaRequest{path: "/cancel?booking=" + c.Booking.ID + "&key=" + url.QueryEscape(key)}
		}},
		{op: "GET /manage/{id}", status: 200, build: func(t *testing.T) oaRequest {
			bk := oaConfirmed(t, b, "oa-page-"+uniq())
			return oaRequest{path: "/manage/" + bk.ID + "?token=" + bk.Reference}
		}},
		{op: "GET /manage/{id}", name: "wrong token", status: 404, build: fixed("/manage/" + unknownID + "?token=x")},
		{op: "GET /login", build: fixed("/login"), status: 200},
		{op: "GET /dashboard", as: "READONLY", build: fixed("/dashboard"), status: 200},
		{op: "GET /dashboard", name: "signed out", build: fixed("/dashboard"), status: 303},
		{op: "GET /settings", as: "ADMIN", build: fixed("/settings"), status: 200},
		{op: "GET /settings", name: "readonly", as: "READONLY", build: fixed("/settings"), status: 200},
		{op: "GET /settings", name: "signed out", build: fixed("/settings"), status: 303},
		{op: "GET /desk", as: "OPS", build: fixed("/desk"), status: 200},
		{op: "GET /desk", name: "signed out", build: fixed("/desk"), status: 303},
		{op: "GET /demo/checkout/{session}", status: 200, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/demo/checkout/" + demoSession(t)}
		}},
		{op: "GET /demo/checkout/{session}", name: "unknown", build: fixed("/demo/checkout/cs_demo_nope"), status: 404},
		{op: "POST /demo/checkout/{session}", status: 303, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/demo/checkout/" + demoSession(t), body: url.Values{"action": {"pay"}}}
		}},
		{op: "POST /demo/checkout/{session}", name: "unknown action", status: 422, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/demo/checkout/" + demoSession(t), body: url.Values{"action": {"steal"}}}
		}},
		{op: "POST /demo/checkout/{session}", name: "unknown session", status: 404,
			build: withBody("/demo/checkout/cs_demo_00", url.Values{"action": {"pay"}})},
		{op: "POST /demo/checkout/{session}", name: "cross-origin", status: 403, build: func(t *testing.T) oaRequest {
			return oaRequest{path: "/demo/checkout/" + demoSession(t), body: url.Values{"action": {"pay"}}, header: crossSite}
		}},
		{op: "GET /static/{file}", build: fixed("/static/site.css"), status: 200},
		{op: "GET /static/{file}", name: "script", build: fixed("/static/book.js"), status: 200},
		{op: "GET /static/{file}", name: "revalidated", status: 304, build: func(*testing.T) oaRequest {
			return oaRequest{path: "/static/site.css", header: http.Header{"If-None-Match": {staticETag}}}
		}},
		{op: "GET /static/{file}", name: "unknown", build: fixed("/static/nope.css"), status: 404},
		{op: "GET /favicon.ico", build: fixed("/favicon.ico"), status: 200},
	}

	covered := map[string]bool{}
	for i, c := range cases {
		name := c.op
		if c.name != "" {
			name += " " + c.name
		}
		ok := t.Run(fmt.Sprintf("%02d %s", i, name), func(t *testing.T) {
			op := ops[c.op]
			if op == nil {
				t.Fatalf("%s is not documented", c.op)
			}
			method, tmpl, _ := strings.Cut(c.op, " ")
			r := c.build(t)
			if !matchesTemplate(tmpl, r.path) {
				t.Fatalf("request path %s does not match %s", r.path, tmpl)
			}
			if c.schemaRejects || c.status < 300 {
				b.checkRequestBody(t, doc, op, r.body, c.schemaRejects)
			}
			client := r.client
			if client == nil {
				client = clients[c.as]
			}
			status, header, raw := b.send(t, client, method, r)
			if status != c.status {
				t.Fatalf("status %d, want %d: %.300s", status, c.status, raw)
			}
			switch c.op {
			case "GET /openapi.json":
				openAPIETag = header.Get("ETag")
			case "GET /static/{file}":
				if staticETag == "" {
					staticETag = header.Get("ETag")
				}
			}
			checkResponse(t, doc, op, status, header, raw)
		})
		if ok {
			covered[c.op] = true
		}
	}
	var missing []string
	for key := range ops {
		if !covered[key] {
			missing = append(missing, key)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("operations without a passing example request: %v", missing)
	}
}

// oaAdmin is the ADMIN account of the conformance test, to make API keys for.
func oaAdmin(accounts map[string]staffAccount) *booking.Staff {
	st := accounts["ADMIN"].Staff
	return &st
}

// oaConfirmed inserts a paid, confirmed booking (30 days ahead, on the
// default resource) whose customer token is its reference, made from tag.
func oaConfirmed(t *testing.T, b *openAPIBundle, tag string) *booking.Booking {
	t.Helper()
	token := strings.NewReplacer("-", "", "_", "").Replace(tag)
	bk := pgtest.CreateBooking(t, b.db, b.resource, pgtest.BookingOpts{Status: booking.StatusConfirmed,
		PaymentIntent: "pi_" + token, Token: token})
	bk.Reference = token // the tests below open it with this
	return bk
}

// matchesTemplate reports whether path (query ignored) matches an OpenAPI
// path template.
func matchesTemplate(tmpl, path string) bool {
	path, _, _ = strings.Cut(path, "?")
	re := "^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(tmpl), `[^/]+`) + "$"
	return regexp.MustCompile(re).MatchString(path)
}

// checkRequestBody validates a request body against the operation's
// documented request schema: it must pass, or, with reject, fail.
func (b *openAPIBundle) checkRequestBody(t *testing.T, doc oaDoc, op map[string]any, body any, reject bool) {
	t.Helper()
	rb, ok := op["requestBody"]
	if !ok {
		if body != nil && !reject {
			t.Fatal("the request has a body but the operation documents none")
		}
		return
	}
	content := doc.deref(t, rb)["content"].(map[string]any)
	var value any
	var schema any
	switch x := body.(type) {
	case url.Values:
		form := map[string]any{}
		for k := range x {
			form[k] = x.Get(k)
		}
		value, schema = form, content["application/x-www-form-urlencoded"].(map[string]any)["schema"]
	case nil:
		if doc.deref(t, rb)["required"] == true && !reject {
			t.Fatal("the operation requires a body")
		}
		return
	default:
		raw, ok := x.([]byte)
		if !ok {
			if s, isStr := x.(string); isStr {
				raw = []byte(s)
			} else {
				raw, _ = json.Marshal(x)
			}
		}
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&value); err != nil {
			t.Fatalf("request body: %v", err)
		}
		schema = content["application/json"].(map[string]any)["schema"]
	}
	errs := validateSchema(doc, schema, value, "body")
	switch {
	case reject && len(errs) == 0:
		t.Fatal("the server refuses this body but the documented request schema accepts it")
	case !reject && len(errs) > 0:
		t.Fatalf("the server accepts this body but the documented request schema refuses it: %v", errs)
	}
}

// checkResponse checks one answer against the operation's documented
// responses.
func checkResponse(t *testing.T, doc oaDoc, op map[string]any, status int, header http.Header, raw []byte) {
	t.Helper()
	resps := op["responses"].(map[string]any)
	r, ok := resps[strconv.Itoa(status)]
	if !ok {
		var codes []string
		for k := range resps {
			codes = append(codes, k)
		}
		sort.Strings(codes)
		t.Fatalf("status %d is not documented (documented: %v)", status, codes)
	}
	resp := doc.deref(t, r)
	if hs, ok := resp["headers"].(map[string]any); ok {
		for name := range hs {
			if header.Get(name) == "" {
				t.Errorf("documented header %s is missing", name)
			}
		}
	}
	content, ok := resp["content"].(map[string]any)
	if !ok {
		return
	}
	mt, _, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", header.Get("Content-Type"), err)
	}
	media, ok := content[mt].(map[string]any)
	if !ok {
		var types []string
		for k := range content {
			types = append(types, k)
		}
		sort.Strings(types)
		t.Fatalf("Content-Type %s is not documented for %d (documented: %v)", mt, status, types)
	}
	if mt != "application/json" {
		return
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("body is not JSON: %v: %.200s", err, raw)
	}
	if errs := validateSchema(doc, media["schema"], v, "body"); len(errs) > 0 {
		t.Fatalf("body does not match the documented schema:\n  %s\nbody: %.500s", strings.Join(errs, "\n  "), raw)
	}
}

var (
	uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	dateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// validateSchema checks v against the subset of JSON Schema the document
// uses: $ref, allOf, oneOf, type (one or a list), const, enum, format (date-time,
// date, uuid), pattern, required, properties, additionalProperties, items.
// It returns one line per problem.
func validateSchema(doc oaDoc, schema any, v any, at string) []string {
	s, ok := schema.(map[string]any)
	if !ok {
		return []string{at + ": schema is not an object"}
	}
	var errs []string
	if ref, ok := s["$ref"].(string); ok {
		target, err := doc.resolve(ref)
		if err != nil {
			return []string{at + ": " + err.Error()}
		}
		errs = append(errs, validateSchema(doc, target, v, at)...)
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, sub := range all {
			errs = append(errs, validateSchema(doc, sub, v, at)...)
		}
	}
	if one, ok := s["oneOf"].([]any); ok {
		matched := 0
		for _, sub := range one {
			if len(validateSchema(doc, sub, v, at)) == 0 {
				matched++
			}
		}
		if matched != 1 {
			errs = append(errs, fmt.Sprintf("%s: matches %d of the oneOf schemas, want 1", at, matched))
		}
	}
	if ty, ok := s["type"]; ok {
		var types []string
		switch x := ty.(type) {
		case string:
			types = []string{x}
		case []any:
			for _, e := range x {
				types = append(types, e.(string))
			}
		}
		if !slices.ContainsFunc(types, func(want string) bool { return jsonTypeIs(v, want) }) {
			return append(errs, fmt.Sprintf("%s: %s, want type %v", at, jsonTypeName(v), types))
		}
	}
	if c, ok := s["const"]; ok && !jsonEqual(c, v) {
		errs = append(errs, fmt.Sprintf("%s: %v, want %v", at, v, c))
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return jsonEqual(e, v) }) {
		errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", at, v, enum))
	}
	if str, ok := v.(string); ok {
		switch s["format"] {
		case "date-time":
			if _, err := time.Parse(time.RFC3339, str); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %q is not an RFC 3339 timestamp", at, str))
			}
		case "date":
			if !dateRE.MatchString(str) {
				errs = append(errs, fmt.Sprintf("%s: %q is not a date", at, str))
			}
		case "uuid":
			if !uuidRE.MatchString(str) {
				errs = append(errs, fmt.Sprintf("%s: %q is not a UUID", at, str))
			}
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			errs = append(errs, fmt.Sprintf("%s: %q does not match %s", at, str, p))
		}
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, name := range req {
				if _, ok := obj[name.(string)]; !ok {
					errs = append(errs, fmt.Sprintf("%s: required %q is missing", at, name))
				}
			}
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k]; ok {
				errs = append(errs, validateSchema(doc, ps, obj[k], at+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					errs = append(errs, fmt.Sprintf("%s: %q is not allowed", at, k))
				}
			case map[string]any:
				errs = append(errs, validateSchema(doc, ap, obj[k], at+"."+k)...)
			}
		}
	}
	if arr, ok := v.([]any); ok {
		if items, ok := s["items"]; ok {
			for i, e := range arr {
				errs = append(errs, validateSchema(doc, items, e, at+"["+strconv.Itoa(i)+"]")...)
			}
		}
	}
	return errs
}

func jsonTypeIs(v any, want string) bool {
	switch x := v.(type) {
	case nil:
		return want == "null"
	case bool:
		return want == "boolean"
	case string:
		return want == "string"
	case json.Number:
		if want == "number" {
			return true
		}
		_, err := x.Int64()
		return want == "integer" && err == nil
	case []any:
		return want == "array"
	case map[string]any:
		return want == "object"
	}
	return false
}

func jsonTypeName(v any) string {
	for _, ty := range []string{"null", "boolean", "string", "integer", "number", "array", "object"} {
		if jsonTypeIs(v, ty) {
			return ty
		}
	}
	return fmt.Sprintf("%T", v)
}

func jsonEqual(a, b any) bool {
	if na, ok := a.(json.Number); ok {
		if nb, ok := b.(json.Number); ok {
			return na.String() == nb.String()
		}
	}
	return reflect.DeepEqual(a, b)
}

// TestOpenAPIValidator checks the schema validator on known good and bad
// values, so that a passing conformance test means something.
func TestOpenAPIValidator(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	decode := func(s string) any {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	errRef := map[string]any{"$ref": "#/components/schemas/Error"}
	list := map[string]any{"$ref": "#/components/schemas/StaffBookingList"}
	for _, c := range []struct {
		schema map[string]any
		body   string
		ok     bool
	}{
		{errRef, `{"error":"not_found","message":"No.","requestId":"abc"}`, true},
		{errRef, `{"error":"validation_failed","message":"No.","requestId":"abc","fields":{"a":"b"}}`, true},
		{errRef, `{"error":"not_found","message":"No."}`, false},
		{errRef, `{"error":1,"message":"No.","requestId":"abc"}`, false},
		{errRef, `{"error":"x","message":"No.","requestId":"abc","fields":{"a":1}}`, false},
		{errRef, `[]`, false},
		{list, `{"items":[],"meta":{"count":0}}`, true},
		{list, `{"items":[],"meta":{"count":1.5}}`, false},
		{list, `{"items":[{"id":"x"}],"meta":{"count":1}}`, false},
		{map[string]any{"$ref": "#/components/schemas/BookingStatus"}, `"confirmed"`, true},
		{map[string]any{"$ref": "#/components/schemas/BookingStatus"}, `"paid"`, false},
		{map[string]any{"$ref": "#/components/schemas/Customer"}, `{"firstName":"A","lastName":"B","email":"c@d.e","x":1}`, false},
		{map[string]any{"$ref": "#/components/schemas/User"}, `{"id":"00000000-0000-4000-8000-000000000000","email":"a","role":"OPS","active":true,` +
			`"lockedUntil":null,"lastLoginAt":"2030-01-01T00:00:00Z","createdAt":"2030-01-01T00:00:00Z","updatedAt":"yesterday"}`, false},
	} {
		errs := validateSchema(doc, c.schema, decode(c.body), "body")
		if (len(errs) == 0) != c.ok {
			t.Errorf("%v on %s: errors %v, want ok=%v", c.schema["$ref"], c.body, errs, c.ok)
		}
	}
}

// listParamInvalid is a value each documented query parameter of the staff
// lists refuses.
var listParamInvalid = map[string]string{
	"status": "paid", "resourceId": "room-1", "email": "nobody", "from": "yesterday", "to": "2030-13-01",
	"limit": "0", "cursor": "!!!", "type": strings.Repeat("t", 101), "outcome": strings.Repeat("o", 101),
}

// TestOpenAPIListParameters checks the query parameters documented for the
// staff lists against the server: each one is read and validated (an
// invalid value is answered 422 naming it).
func TestOpenAPIListParameters(t *testing.T) {
	t.Parallel()
	b := openAPISetup(t)
	doc := loadOpenAPI(t)
	ops := doc.operations(t)
	c := b.login(t, staffCreate(t, b.db, booking.RoleReadonly))
	for _, key := range []string{"GET /api/admin/bookings", "GET /reservations", "GET /api/admin/payment-events", "GET /payments"} {
		op := ops[key]
		if op == nil {
			t.Fatalf("%s is not documented", key)
		}
		params, _ := op["parameters"].([]any)
		var names []string
		for _, p := range params {
			pm := doc.deref(t, p)
			if pm["in"] != "query" {
				continue
			}
			name := pm["name"].(string)
			names = append(names, name)
			bad, ok := listParamInvalid[name]
			if !ok {
				t.Errorf("%s documents %s: add a value it refuses to listParamInvalid", key, name)
				continue
			}
			path := strings.SplitN(key, " ", 2)[1] + "?" + url.Values{name: {bad}}.Encode()
			st, _, raw := b.send(t, c, http.MethodGet, oaRequest{path: path})
			var e struct {
				Error  string            `json:"error"`
				Fields map[string]string `json:"fields"`
			}
			_ = json.Unmarshal(raw, &e)
			if st != http.StatusUnprocessableEntity || e.Fields[name] == "" {
				t.Errorf("%s: %d %s, want 422 naming %s", path, st, raw, name)
			}
		}
		if len(names) < 6 {
			t.Errorf("%s documents only %v", key, names)
		}
	}
}

// oaHookSink starts a receiver that accepts every webhook and returns its
// URL.
func oaHookSink(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// oaHookEndpoint registers an endpoint to a local receiver and returns its
// id.
func oaHookEndpoint(t *testing.T, b *openAPIBundle) string {
	t.Helper()
	e, _, err := b.api.Webhooks.Create(t.Context(), booking.NewWebhookEndpoint{URL: oaHookSink(t),
		Events: []string{booking.EventBookingConfirmed}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.ID
}
