// Package web holds the product's browser pages: the HTML templates and the
// static CSS, JavaScript and icons they use, embedded in the binary. The pages
// load no inline script or style, so they run under a strict
// Content-Security-Policy.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

//go:embed static
var staticFiles embed.FS

//go:embed templates
var templateFiles embed.FS

// Static returns the static files (site.css, *.js, icons) at its root.
func Static() fs.FS {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}

// Page is what every page template receives.
type Page struct {
	Title   string
	Demo    bool     // show the demo-mode banner
	Scripts []string // static JavaScript files, loaded deferred
	Staff   bool     // a staff page: the header links to the dashboard
	Nav     string   // the staff navigation entry of this page: "dashboard", "desk", "settings"
	Data    any
}

// Pages renders the page templates, each inside the shared layout.
type Pages struct {
	t map[string]*template.Template
}

// NewPages parses every template in templates/ other than the layout.
func NewPages() (*Pages, error) {
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	ps := &Pages{t: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		ps.t[name] = t
	}
	return ps, nil
}

// Render writes page name. It renders into a buffer first, so a template
// error never leaves a half-written page.
func (ps *Pages) Render(w io.Writer, name string, p Page) error {
	t, ok := ps.t[name]
	if !ok {
		return fmt.Errorf("no page template %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	_, err := buf.WriteTo(w)
	return err
}

var funcs = template.FuncMap{
	"money": Money,
}

// zeroDecimal lists currencies whose minor unit is the unit itself (Stripe's list).
var zeroDecimal = map[string]bool{
	"BIF": true, "CLP": true, "DJF": true, "GNF": true, "JPY": true, "KMF": true, "KRW": true,
	"MGA": true, "PYG": true, "RWF": true, "UGX": true, "VND": true, "VUV": true, "XAF": true,
	"XOF": true, "XPF": true,
}

var currencySymbols = map[string]string{"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}

// Money formats an amount in minor units, e.g. Money(5000, "eur") is "€50.00".
func Money(amount int64, currency string) string {
	cur := strings.ToUpper(currency)
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	var num string
	if zeroDecimal[cur] {
		num = group(amount)
	} else {
		num = group(amount/100) + "." + fmt.Sprintf("%02d", amount%100)
	}
	if sym, ok := currencySymbols[cur]; ok {
		return sign + sym + num
	}
	return sign + num + " " + cur
}

// group writes n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Slot describes a booked time range for display in the resource's zone.
type Slot struct {
	Date     string // Monday 3 March 2031
	Time     string // 09:00–10:00
	Timezone string // Europe/Paris
}

// SlotIn formats [start, end) in the IANA zone tz (UTC when unknown).
func SlotIn(start, end time.Time, tz string) Slot {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		loc, tz = time.UTC, "UTC"
	}
	s, e := start.In(loc), end.In(loc)
	return Slot{
		Date:     s.Format("Monday 2 January 2006"),
		Time:     s.Format("15:04") + "–" + e.Format("15:04"),
		Timezone: tz,
	}
}
