package httpapi

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/payment"
	"github.com/bookingplatform/booking/internal/web"
)

// demoRoutes registers the demo checkout: a page per demo Checkout Session
// whose buttons send signed, Stripe-shaped events to deliver, the server's
// own handler, on POST /webhook. Only registered in demo mode.
func (p *pages) demoRoutes(mux *router, deliver http.Handler) {
	mux.Handle("GET /demo/checkout/{session}", p.handle(p.handleDemoCheckout))
	mux.Handle("POST /demo/checkout/{session}", p.handle(func(w http.ResponseWriter, r *http.Request) error {
		return p.handleDemoAction(w, r, deliver)
	}))
}

// demoPage is the data of the demo checkout page.
type demoPage struct {
	bookingView
	SuccessURL string
	Error      string
}

// demoBooking finds the booking of the demo session in the path.
func (p *pages) demoBooking(r *http.Request) (string, *booking.Booking, error) {
	sid := r.PathValue("session")
	if !payment.IsDemoSession(sid) {
		return "", nil, booking.Errorf(booking.ENotFound, "This checkout session does not exist.")
	}
	b, err := p.s.Fulfiller.BookingBySession(r.Context(), sid)
	if booking.ErrorCode(err) == booking.ENotFound {
		return "", nil, booking.Errorf(booking.ENotFound, "This checkout session does not exist.")
	}
	return sid, b, err
}

func (p *pages) renderDemo(w http.ResponseWriter, r *http.Request, status int, sid string, b *booking.Booking, msg string) error {
	d := demoPage{bookingView: p.viewBooking(r, sid, b), SuccessURL: p.s.Demo.SuccessURL(sid), Error: msg}
	return p.renderCSP(w, status, "demo_checkout", web.Page{Title: "Demo checkout", Data: d}, p.demoCSP())
}

// demoCSP is the page CSP, with form-action widened to APP_URL's origin: the
// demo forms redirect to the success and cancel URLs there, as Stripe does.
func (p *pages) demoCSP() string {
	u, err := url.Parse(p.s.Demo.AppURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return pageCSP
	}
	return strings.Replace(pageCSP, "form-action 'self'", "form-action 'self' "+u.Scheme+"://"+u.Host, 1)
}

func (p *pages) handleDemoCheckout(w http.ResponseWriter, r *http.Request) error {
	sid, b, err := p.demoBooking(r)
	if err != nil {
		return err
	}
	return p.renderDemo(w, r, http.StatusOK, sid, b, "")
}

// demoAction is what one button of the demo checkout does: the events it
// sends, the booking states it applies to, and where the customer goes next.
type demoAction struct {
	from   []booking.Status
	events []payment.DemoEvent
	next   string // "success", "cancel" or "page"
}

var demoActions = map[string]demoAction{
	"pay": {
		from:   []booking.Status{booking.StatusPending},
		events: []payment.DemoEvent{{Type: booking.EventCheckoutCompleted, PaymentStatus: "paid"}},
		next:   "success",
	},
	"later": {
		from:   []booking.Status{booking.StatusPending},
		events: []payment.DemoEvent{{Type: booking.EventCheckoutCompleted, PaymentStatus: "unpaid"}},
		next:   "page",
	},
	"fail": {
		from: []booking.Status{booking.StatusPending},
		events: []payment.DemoEvent{
			{Type: booking.EventCheckoutCompleted, PaymentStatus: "unpaid"},
			{Type: booking.EventCheckoutAsyncFailed, PaymentStatus: "unpaid"},
		},
		next: "success",
	},
	"cancel": {
		from:   []booking.Status{booking.StatusPending},
		events: []payment.DemoEvent{{Type: booking.EventCheckoutExpired, PaymentStatus: "unpaid"}},
		next:   "cancel",
	},
	"async_succeeded": {
		from:   []booking.Status{booking.StatusAwaitingPayment},
		events: []payment.DemoEvent{{Type: booking.EventCheckoutAsyncSucceeded, PaymentStatus: "paid"}},
		next:   "success",
	},
	"async_failed": {
		from:   []booking.Status{booking.StatusAwaitingPayment},
		events: []payment.DemoEvent{{Type: booking.EventCheckoutAsyncFailed, PaymentStatus: "unpaid"}},
		next:   "success",
	},
}

// handleDemoAction sends the events of the chosen button through the real
// webhook route, then redirects as Stripe would. A button that no longer
// applies (the page was stale) just shows the page again.
func (p *pages) handleDemoAction(w http.ResponseWriter, r *http.Request, deliver http.Handler) error {
	sid, b, err := p.demoBooking(r)
	if err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		return &booking.Error{Code: booking.EValidation, Message: "The form could not be read.",
			Fields: map[string]string{"action": "Required."}}
	}
	a, ok := demoActions[r.PostForm.Get("action")]
	if !ok {
		return &booking.Error{Code: booking.EValidation, Message: "Unknown demo action.",
			Fields: map[string]string{"action": "Must be one of the page's buttons."}}
	}
	page := "/demo/checkout/" + url.PathEscape(sid)
	if !slices.Contains(a.from, b.Status) {
		http.Redirect(w, r, page, http.StatusSeeOther)
		return nil
	}
	for i, e := range a.events {
		ev, err := p.s.Demo.SignEvent(e, b)
		if err != nil {
			return err
		}
		status, body := deliverEvent(r, deliver, ev, i)
		if status != http.StatusOK {
			p.s.Logger.ErrorContext(r.Context(), "demo event not accepted", "request_id", RequestID(r.Context()),
				"event_id", ev.ID, "event_type", e.Type, "session_id", sid, "status", status, "body", body)
			return p.renderDemo(w, r, http.StatusBadGateway, sid, b,
				fmt.Sprintf("The webhook answered %d to %s; nothing was changed. Check the server log and try again.", status, e.Type))
		}
	}
	switch a.next {
	case "success":
		http.Redirect(w, r, p.s.Demo.SuccessURL(sid), http.StatusSeeOther)
	case "cancel":
		http.Redirect(w, r, p.s.Demo.CancelURL(b.ID), http.StatusSeeOther)
	default:
		http.Redirect(w, r, page, http.StatusSeeOther)
	}
	return nil
}

// deliverEvent POSTs a signed event to the server's own POST /webhook route
// in-process and returns the answer's status and body. The request id ties
// its log line to the demo request.
func deliverEvent(r *http.Request, h http.Handler, ev *payment.SignedEvent, n int) (int, string) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, "/webhook", bytes.NewReader(ev.Payload))
	if err != nil {
		return http.StatusInternalServerError, err.Error()
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Stripe-Signature", ev.Header)
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks) demo")
	if id := RequestID(r.Context()); id != "" && len(id) < 60 {
		req.Header.Set("X-Request-Id", id+"."+strconv.Itoa(n+1))
	}
	req.RemoteAddr = "127.0.0.1:0"
	rec := &bufferedResponse{header: http.Header{}}
	h.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.status, rec.body.String()
}

// bufferedResponse records an in-process response.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}
