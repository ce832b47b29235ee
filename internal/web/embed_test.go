package web

import (
	"io/fs"
	"strings"
	"testing"
	"time"
)

func TestMoney(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		amount   int64
		currency string
		want     string
	}{
		{5000, "eur", "€50.00"},
		{123456789, "usd", "$1,234,567.89"},
		{5, "gbp", "£0.05"},
		{1500, "jpy", "¥1,500"},
		{2500, "sek", "25.00 SEK"},
		{-1050, "eur", "-€10.50"},
	} {
		if got := Money(c.amount, c.currency); got != c.want {
			t.Errorf("Money(%d, %q) = %q, want %q", c.amount, c.currency, got, c.want)
		}
	}
}

func TestSlotIn(t *testing.T) {
	t.Parallel()
	start := time.Date(2031, 3, 30, 7, 0, 0, 0, time.UTC) // the day Paris moves to summer time
	got := SlotIn(start, start.Add(time.Hour), "Europe/Paris")
	want := Slot{Date: "Sunday 30 March 2031", Time: "09:00–10:00", Timezone: "Europe/Paris"}
	if got != want {
		t.Errorf("SlotIn = %+v, want %+v", got, want)
	}
	if got := SlotIn(start, start.Add(time.Hour), "Nowhere/Else"); got.Timezone != "UTC" || got.Time != "07:00–08:00" {
		t.Errorf("unknown zone: %+v, want UTC", got)
	}
}

func TestPagesRender(t *testing.T) {
	t.Parallel()
	ps, err := NewPages()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"book", "success", "cancel", "login", "dashboard", "desk", "settings", "demo_checkout", "error"} {
		if _, ok := ps.t[name]; !ok {
			t.Errorf("no template %s", name)
		}
	}
	var b strings.Builder
	if err := ps.Render(&b, "login", Page{Title: "Staff sign-in", Staff: true, Scripts: []string{"common.js", "login.js"}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<title>Staff sign-in · Booking</title>", `<script src="/static/login.js" defer></script>`, `<link rel="stylesheet" href="/static/site.css">`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("login page lacks %q", want)
		}
	}
	if err := ps.Render(&b, "nope", Page{}); err == nil {
		t.Error("rendering an unknown page succeeded")
	}
}

// TestNoInlineCode keeps the templates within the pages' CSP: no inline
// script, style or event handler.
func TestNoInlineCode(t *testing.T) {
	t.Parallel()
	names, _ := fs.Glob(templateFiles, "templates/*.html")
	for _, n := range names {
		b, _ := fs.ReadFile(templateFiles, n)
		s := strings.ToLower(string(b))
		for _, bad := range []string{"<script>", "<style", "style=", " onclick", " onload", " onsubmit", " onchange", "javascript:"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s contains %q", n, bad)
			}
		}
	}
	for _, f := range []string{"site.css", "common.js", "book.js", "success.js", "login.js", "dashboard.js", "desk.js", "settings.js", "favicon.ico", "favicon.svg"} {
		if _, err := fs.Stat(Static(), f); err != nil {
			t.Errorf("static file %s: %v", f, err)
		}
	}
}
