package notify

import (
	"math"
	"testing"
	"time"
)

func english(t *testing.T) *locale {
	t.Helper()
	l, err := localeFor("en")
	if err != nil {
		t.Fatalf("English locale: %v", err)
	}
	return l
}

func TestMoney(t *testing.T) {
	t.Parallel()
	l := english(t)
	tests := []struct {
		name     string
		amount   int64
		currency string
		want     string
	}{
		{"euros", 5400, "eur", "€54.00"},
		{"cents only", 5, "EUR", "€0.05"},
		{"dollars", 5400, "usd", "$54.00"},
		{"pounds", 123456789, "gbp", "£1,234,567.89"},
		{"zero-decimal yen", 5400, "jpy", "¥5,400"},
		{"zero-decimal won", 1000000, "krw", "₩1,000,000"},
		{"three decimals", 12345, "kwd", "KWD 12.345"},
		{"no symbol", 9990, "sek", "SEK 99.90"},
		{"swiss francs", 10000, "chf", "CHF 100.00"},
		{"zero", 0, "eur", "€0.00"},
		{"negative", -5400, "eur", "-€54.00"},
		{"exact beyond float precision", 9007199254740993, "usd", "$90,071,992,547,409.93"},
		{"smallest int64", math.MinInt64, "usd", "-$92,233,720,368,547,758.08"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := l.money(tc.amount, tc.currency); got != tc.want {
				t.Errorf("money(%d, %q) = %q, want %q", tc.amount, tc.currency, got, tc.want)
			}
		})
	}
}

func TestWhen(t *testing.T) {
	t.Parallel()
	l := english(t)
	load := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	paris, kolkata, saoPaulo := load("Europe/Paris"), load("Asia/Kolkata"), load("America/Sao_Paulo")
	tests := []struct {
		name       string
		start, end time.Time
		loc        *time.Location
		want       string
	}{
		{
			"one day", time.Date(2026, 12, 4, 10, 0, 0, 0, paris), time.Date(2026, 12, 4, 11, 0, 0, 0, paris), paris,
			"Friday 4 December 2026, 10:00–11:00 (Europe/Paris, CET)",
		},
		{
			"shown in the resource zone whatever the input zone", time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC),
			time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC), paris,
			"Wednesday 1 July 2026, 10:00–11:00 (Europe/Paris, CEST)",
		},
		{
			"across midnight", time.Date(2026, 12, 31, 23, 0, 0, 0, paris), time.Date(2027, 1, 1, 1, 0, 0, 0, paris), paris,
			"Thursday 31 December 2026, 23:00 – Friday 1 January 2027, 01:00 (Europe/Paris, CET)",
		},
		{
			"across a clock change", time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC), time.Date(2026, 3, 29, 2, 30, 0, 0, time.UTC), paris,
			"Sunday 29 March 2026, 01:30 CET–04:30 CEST (Europe/Paris)",
		},
		{
			"half-hour zone", time.Date(2026, 1, 5, 9, 0, 0, 0, kolkata), time.Date(2026, 1, 5, 9, 45, 0, 0, kolkata), kolkata,
			"Monday 5 January 2026, 09:00–09:45 (Asia/Kolkata, IST)",
		},
		{
			"numeric abbreviation", time.Date(2026, 1, 5, 9, 0, 0, 0, saoPaulo), time.Date(2026, 1, 5, 10, 0, 0, 0, saoPaulo), saoPaulo,
			"Monday 5 January 2026, 09:00–10:00 (America/Sao_Paulo, UTC-03:00)",
		},
		{
			"UTC", time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC), time.UTC,
			"Monday 5 January 2026, 09:00–10:00 (UTC)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := l.when(tc.start, tc.end, tc.loc); got != tc.want {
				t.Errorf("when = %q\n want %q", got, tc.want)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	l := english(t)
	for d, want := range map[time.Duration]string{
		15 * time.Minute:                "15 minutes",
		time.Minute:                     "1 minute",
		time.Hour:                       "1 hour",
		90 * time.Minute:                "1 hour 30 minutes",
		2*time.Hour + time.Minute:       "2 hours 1 minute",
		24 * time.Hour:                  "24 hours",
		0:                               "0 minutes",
		59*time.Minute + 31*time.Second: "1 hour",
	} {
		if got := l.duration(d); got != want {
			t.Errorf("duration(%v) = %q, want %q", d, got, want)
		}
	}
}
