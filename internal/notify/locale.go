package notify

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// locale is a language's locale.json: how dates, times, durations and
// amounts are written.
type locale struct {
	// Weekdays from Sunday, Months from January.
	Weekdays []string `json:"weekdays"`
	Months   []string `json:"months"`
	// Date is the date pattern, with {weekday}, {day}, {month} and {year}.
	Date string `json:"date"`
	// Time is a Go time layout, e.g. "15:04".
	Time string `json:"time"`
	// Range is a period within one day, with {date}, {start}, {end} and
	// {zone}; RangeDays a period across days, with {endDate} too.
	Range     string `json:"range"`
	RangeDays string `json:"rangeDays"`
	// Hours and Minutes are the singular and plural of a duration part,
	// with {n}; DurationJoin goes between hours and minutes.
	Hours        [2]string `json:"hours"`
	Minutes      [2]string `json:"minutes"`
	DurationJoin string    `json:"durationJoin"`
	// Money is an amount with a currency symbol ({symbol}, {amount});
	// MoneyCode one with the ISO code where no symbol is known ({code},
	// {amount}).
	Money       string `json:"money"`
	MoneyCode   string `json:"moneyCode"`
	DecimalMark string `json:"decimalMark"`
	GroupMark   string `json:"groupMark"`
	// CalendarReference and CalendarManage label the reference and the
	// manage link in the calendar event's description.
	CalendarReference string `json:"calendarReference"`
	CalendarManage    string `json:"calendarManage"`
}

// parseLocale reads and checks a locale.json.
func parseLocale(data []byte) (*locale, error) {
	var l locale
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, err
	}
	switch {
	case len(l.Weekdays) != 7:
		return nil, fmt.Errorf("weekdays: want 7 names, have %d", len(l.Weekdays))
	case len(l.Months) != 12:
		return nil, fmt.Errorf("months: want 12 names, have %d", len(l.Months))
	case l.Date == "" || l.Time == "" || l.Range == "" || l.RangeDays == "":
		return nil, fmt.Errorf("date, time, range and rangeDays are required")
	case l.Hours[0] == "" || l.Hours[1] == "" || l.Minutes[0] == "" || l.Minutes[1] == "":
		return nil, fmt.Errorf("hours and minutes need a singular and a plural")
	case l.Money == "" || l.MoneyCode == "" || l.DecimalMark == "":
		return nil, fmt.Errorf("money, moneyCode and decimalMark are required")
	case l.CalendarReference == "" || l.CalendarManage == "":
		return nil, fmt.Errorf("calendarReference and calendarManage are required")
	}
	return &l, nil
}

// fill replaces each {key} of pattern with its value.
func fill(pattern string, kv ...string) string {
	pairs := make([]string, 0, len(kv))
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, "{"+kv[i]+"}", kv[i+1])
	}
	return strings.NewReplacer(pairs...).Replace(pattern)
}

// date writes t's calendar day (in t's location), e.g. "Friday 5 December 2026".
func (l *locale) date(t time.Time) string {
	return fill(l.Date,
		"weekday", l.Weekdays[t.Weekday()],
		"day", strconv.Itoa(t.Day()),
		"month", l.Months[t.Month()-1],
		"year", strconv.Itoa(t.Year()))
}

// when writes the period [start, end) in loc with the zone named, e.g.
// "Friday 5 December 2026, 10:00–11:00 (Europe/Paris, CET)". When the zone's
// abbreviation changes within the period (a daylight-saving change), each
// time carries its own abbreviation and the label only the zone's name.
func (l *locale) when(start, end time.Time, loc *time.Location) string {
	start, end = start.In(loc), end.In(loc)
	startAbbr, endAbbr := zoneAbbr(start), zoneAbbr(end)
	startText, endText := start.Format(l.Time), end.Format(l.Time)
	zone := zoneLabel(loc.String(), startAbbr)
	if startAbbr != endAbbr {
		startText += " " + startAbbr
		endText += " " + endAbbr
		zone = loc.String()
	}
	y1, m1, d1 := start.Date()
	y2, m2, d2 := end.Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		return fill(l.Range, "date", l.date(start), "start", startText, "end", endText, "zone", zone)
	}
	return fill(l.RangeDays, "date", l.date(start), "start", startText,
		"endDate", l.date(end), "end", endText, "zone", zone)
}

// zoneAbbr is t's zone abbreviation; a numeric one from the time zone
// database ("+0530", "-03") becomes "UTC+05:30", "UTC-03:00".
func zoneAbbr(t time.Time) string {
	name, offset := t.Zone()
	if name != "" && name[0] != '+' && name[0] != '-' {
		return name
	}
	sign := '+'
	if offset < 0 {
		sign, offset = '-', -offset
	}
	return fmt.Sprintf("UTC%c%02d:%02d", sign, offset/3600, offset%3600/60)
}

// zoneLabel names a zone and its abbreviation, once when they are the same
// ("UTC").
func zoneLabel(name, abbr string) string {
	if name == abbr {
		return name
	}
	return name + ", " + abbr
}

// duration writes d in hours and minutes, e.g. "1 hour 30 minutes".
func (l *locale) duration(d time.Duration) string {
	total := int(d.Round(time.Minute) / time.Minute)
	if total < 0 {
		total = 0
	}
	h, m := total/60, total%60
	var parts []string
	if h > 0 {
		parts = append(parts, plural(l.Hours, h))
	}
	if m > 0 || h == 0 {
		parts = append(parts, plural(l.Minutes, m))
	}
	return strings.Join(parts, l.DurationJoin)
}

func plural(forms [2]string, n int) string {
	form := forms[1]
	if n == 1 {
		form = forms[0]
	}
	return fill(form, "n", strconv.Itoa(n))
}

// money writes an amount in minor units of currency, e.g. 5400 EUR as
// "€54.00" and 5400 JPY as "¥5,400", with integer arithmetic only.
func (l *locale) money(amount int64, currency string) string {
	code := strings.ToUpper(strings.TrimSpace(currency))
	decimals := currencyDecimals(code)
	neg := amount < 0
	abs := uint64(amount)
	if neg {
		abs = -abs // two's complement: right for math.MinInt64 too
	}
	unit := uint64(1)
	for range decimals {
		unit *= 10
	}
	major := group(strconv.FormatUint(abs/unit, 10), l.GroupMark)
	text := major
	if decimals > 0 {
		minor := strconv.FormatUint(abs%unit, 10)
		text += l.DecimalMark + strings.Repeat("0", decimals-len(minor)) + minor
	}
	if symbol, ok := currencySymbols[code]; ok {
		text = fill(l.Money, "symbol", symbol, "amount", text)
	} else {
		text = fill(l.MoneyCode, "code", code, "amount", text)
	}
	if neg {
		text = "-" + text
	}
	return text
}

// group inserts mark between groups of three digits.
func group(digits, mark string) string {
	if mark == "" || len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	lead := len(digits) % 3
	if lead > 0 {
		b.WriteString(digits[:lead])
	}
	for i := lead; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteString(mark)
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// currencySymbols are the symbols of common currencies whose symbol is not
// ambiguous; others are written with their ISO code.
var currencySymbols = map[string]string{
	"EUR": "€",
	"USD": "$",
	"GBP": "£",
	"JPY": "¥",
	"INR": "₹",
	"KRW": "₩",
	"CAD": "CA$",
	"AUD": "A$",
	"NZD": "NZ$",
	"HKD": "HK$",
	"SGD": "S$",
	"MXN": "MX$",
	"BRL": "R$",
	"CNY": "CN¥",
	"ILS": "₪",
	"PLN": "zł",
	"VND": "₫",
}

// currencyDecimals is the number of digits after the decimal mark of an
// amount in the currency's minor units, as Stripe counts them: zero for
// Stripe's zero-decimal currencies, three for the three-decimal ones, two
// for all others.
func currencyDecimals(code string) int {
	switch code {
	case "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "JOD", "KWD", "OMR", "TND":
		return 3
	}
	return 2
}
