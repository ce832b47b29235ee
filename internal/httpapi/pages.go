package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/bookingplatform/booking/internal/auth"
	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/web"
)

// pageCSP is the Content-Security-Policy of HTML pages: scripts, styles and
// requests from this origin only, and no inline code anywhere.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// pages serves the browser pages: booking, return pages, staff sign-in and
// dashboard, and in demo mode the demo checkout.
type pages struct {
	s     *Server
	pages *web.Pages
}

// pageRoutes registers the browser pages and their static files.
func (s *Server) pageRoutes(mux *router) {
	ps, err := web.NewPages()
	if err != nil {
		panic(err) // the templates are embedded; every page is rendered in tests
	}
	p := &pages{s: s, pages: ps}
	s.htmlError = p.renderError

	static := staticHandler(web.Static())
	mux.Handle("GET /static/", http.StripPrefix("/static", static))
	mux.Handle("GET /favicon.ico", static)

	mux.Handle("GET /{$}", p.handle(p.handleBook))
	mux.Handle("GET /success", p.handle(p.handleSuccess))
	mux.Handle("GET /cancel", p.handle(p.handleCancel))
	mux.Handle("GET /manage/{id}", p.handle(p.handleManage))
	mux.Handle("GET /login", p.handle(p.handleLogin))
	dashboard := p.handle(p.handleDashboard)
	settings := p.handle(p.handleSettings)
	desk := p.handle(p.handleDesk)
	if s.Sessions != nil && s.Auth != nil {
		g := &auth.Guard{Sessions: s.Sessions, Store: s.Auth.Store, WriteError: s.WriteError}
		dashboard = g.Page("/login", dashboard)
		settings = g.Page("/login?next=%2Fsettings", settings)
		desk = g.Page("/login?next=%2Fdesk", desk)
	}
	mux.Handle("GET /dashboard", dashboard)
	mux.Handle("GET /settings", settings)
	mux.Handle("GET /desk", desk)

	if p.demo() {
		// The demo checkout delivers its events through this same mux, so
		// they take the real webhook route with its verification and ledger.
		p.demoRoutes(mux, s.observe(mux))
	}
}

// demo reports whether demo payments are on; never in production.
func (p *pages) demo() bool { return p.s.Demo != nil && !p.s.Production }

// staticHandler serves the embedded static files with strong ETags, so
// browsers revalidate cheaply and always see the files of the running build.
func staticHandler(files fs.FS) http.Handler {
	etags := map[string]string{}
	_ = fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		etags["/"+path] = `"` + hex.EncodeToString(sum[:8]) + `"`
		return nil
	})
	fsrv := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		etag, ok := etags[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if ct := mime.TypeByExtension(r.URL.Path[strings.LastIndexByte(r.URL.Path, '.'):]); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Cache-Control", "no-cache")
		fsrv.ServeHTTP(w, r)
	})
}

// handle adapts a page handler: pages get their own CSP, and an error is
// shown as an error page rather than JSON.
func (p *pages) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			p.renderError(w, r, err)
		}
	})
}

// render writes page name with status.
func (p *pages) render(w http.ResponseWriter, status int, name string, page web.Page) error {
	return p.renderCSP(w, status, name, page, pageCSP)
}

// renderCSP writes page name with status under the Content-Security-Policy csp.
func (p *pages) renderCSP(w http.ResponseWriter, status int, name string, page web.Page, csp string) error {
	page.Demo = p.demo()
	var buf bytes.Buffer
	if err := p.pages.Render(&buf, name, page); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
	return nil
}

type errorPage struct {
	Heading, Message, RequestID string
}

func (p *pages) renderError(w http.ResponseWriter, r *http.Request, err error) {
	id := RequestID(r.Context())
	status, body := errorResponse(err, id)
	if status >= 500 {
		p.s.Logger.ErrorContext(r.Context(), "page failed", "request_id", id, "path", r.URL.Path, "code", body.Error, "err", err)
	}
	e := errorPage{Heading: "Something went wrong", Message: body.Message, RequestID: id}
	switch {
	case status == http.StatusNotFound:
		e.Heading = "Page not found"
	case status == http.StatusServiceUnavailable:
		e.Heading, e.Message = "We'll be right back", "The service is briefly unavailable. Please try again in a minute."
	case status >= 500:
		e.Message = "Please try again in a moment."
	}
	if rerr := p.render(w, status, "error", web.Page{Title: e.Heading, Data: e}); rerr != nil {
		p.s.Logger.ErrorContext(r.Context(), "render error page", "request_id", id, "err", rerr)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
	}
}

type holdPage struct {
	HoldMinutes int
}

func (p *pages) holdMinutes() int {
	m := int(p.s.Booker.Hold.Minutes())
	if m <= 0 {
		m = 30
	}
	return m
}

func (p *pages) handleBook(w http.ResponseWriter, r *http.Request) error {
	return p.render(w, http.StatusOK, "book", web.Page{Title: "Book a time",
		Scripts: []string{"common.js", "book.js"}, Data: holdPage{HoldMinutes: p.holdMinutes()}})
}

func (p *pages) handleLogin(w http.ResponseWriter, r *http.Request) error {
	return p.render(w, http.StatusOK, "login", web.Page{Title: "Staff sign-in", Staff: true,
		Scripts: []string{"common.js", "login.js"}})
}

type statusOption struct{ Value, Label string }

type dashboardPage struct {
	Statuses []statusOption
}

func (p *pages) handleDashboard(w http.ResponseWriter, r *http.Request) error {
	d := dashboardPage{}
	for _, st := range booking.Statuses {
		d.Statuses = append(d.Statuses, statusOption{Value: string(st), Label: statusLabel(st)})
	}
	return p.render(w, http.StatusOK, "dashboard", web.Page{Title: "Dashboard", Staff: true, Nav: "dashboard",
		Scripts: []string{"common.js", "dashboard.js"}, Data: d})
}

// settingsPage is what the settings page offers to choose from: the event
// types an outgoing webhook endpoint may subscribe to and the scopes of an
// API key, as the API accepts them.
type settingsPage struct {
	EventTypes []string
	Scopes     []auth.Scope
}

// handleSettings serves ADMIN's settings: resources and their rules, API
// keys and outgoing webhooks. Like the dashboard it is served to any signed-in
// staff member; its script tells other roles they cannot change settings,
// and the API routes behind it keep their own role checks.
func (p *pages) handleSettings(w http.ResponseWriter, r *http.Request) error {
	return p.render(w, http.StatusOK, "settings", web.Page{Title: "Settings", Staff: true, Nav: "settings",
		Scripts: []string{"common.js", "settings.js"},
		Data:    settingsPage{EventTypes: booking.WebhookEventTypes, Scopes: auth.Scopes}})
}

// statusLabel is the human name of a booking status.
func statusLabel(s booking.Status) string {
	switch s {
	case booking.StatusAwaitingPayment:
		return "Awaiting payment"
	case booking.StatusPaymentFailed:
		return "Payment failed"
	case booking.StatusNeedsReview:
		return "Needs review"
	}
	if s == "" {
		return ""
	}
	return strings.ToUpper(string(s[:1])) + string(s[1:])
}

// bookingView is a booking as the customer pages show it.
type bookingView struct {
	SessionID   string
	Found       bool
	Reference   string
	Resource    string
	Email       string
	Slot        web.Slot
	Amount      string
	Status      string
	StatusLabel string
}

// viewBooking describes b for a page, with its resource's name and zone.
func (p *pages) viewBooking(r *http.Request, sessionID string, b *booking.Booking) bookingView {
	name, tz := "Booking", "UTC"
	if res, err := p.s.Catalog.Resource(r.Context(), b.ResourceID); err == nil {
		name, tz = res.Name, res.Timezone
	}
	return bookingView{
		SessionID: sessionID, Found: true, Reference: b.Reference, Resource: name, Email: b.Customer.Email,
		Slot: web.SlotIn(b.StartsAt, b.EndsAt, tz), Amount: web.Money(b.AmountTotal, b.Currency),
		Status: string(b.Status), StatusLabel: statusLabel(b.Status),
	}
}

// handleSuccess is the page Stripe's success_url leads to (through
// /checkout/return): the booking and its status, which success.js keeps
// checking until the payment is settled.
func (p *pages) handleSuccess(w http.ResponseWriter, r *http.Request) error {
	sid := r.URL.Query().Get("session_id")
	page := web.Page{Title: "Your booking", Scripts: []string{"common.js", "success.js"}}
	notFound := func() error {
		page.Data = bookingView{SessionID: sid, Status: "not_found"}
		return p.render(w, http.StatusNotFound, "success", page)
	}
	if sid == "" || len(sid) > 255 {
		return notFound()
	}
	b, err := p.s.Fulfiller.BookingBySession(r.Context(), sid)
	if booking.ErrorCode(err) == booking.ENotFound {
		return notFound()
	}
	if err != nil {
		return err
	}
	page.Data = p.viewBooking(r, sid, b)
	return p.render(w, http.StatusOK, "success", page)
}

// wantsHTML reports whether a request comes from a browser navigation: it
// accepts text/html and does not ask for JSON. API clients (Accept:
// application/json, */* or nothing) get JSON.
func wantsHTML(r *http.Request) bool {
	accept := strings.ToLower(r.Header.Get("Accept"))
	return strings.Contains(accept, "text/html") && !strings.Contains(accept, "application/json")
}

// successPath is the page a browser lands on after the checkout.
func successPath(sessionID string) string {
	return "/success?session_id=" + url.QueryEscape(sessionID)
}

// handleDesk serves the front desk: the week calendar of a resource, and
// bookings and blocks made by staff. Any signed-in staff member sees the
// calendar; its script offers the forms to ADMIN and OPS.
func (p *pages) handleDesk(w http.ResponseWriter, r *http.Request) error {
	return p.render(w, http.StatusOK, "desk", web.Page{Title: "Front desk", Staff: true, Nav: "desk",
		Scripts: []string{"common.js", "desk.js"}})
}
