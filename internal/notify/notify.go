package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
)

// Kind is a kind of message.
type Kind string

// Customer messages go to the booking's customer; they never show staff-only
// data (Data.Staff, the customer's email).
const (
	// KindConfirmation: the booking is confirmed (paid). Send with the
	// ICS of method REQUEST.
	KindConfirmation Kind = "confirmation"
	// KindReminder: the booking starts soon.
	KindReminder Kind = "reminder"
	// KindCancellation: the booking is cancelled, with the refund if any.
	// Send with the ICS of method CANCEL.
	KindCancellation Kind = "cancellation"
	// KindRefund: money was refunded (Booking.AmountRefunded). When the
	// booking is no longer going ahead, send with the ICS of method CANCEL.
	KindRefund Kind = "refund"
	// KindReschedule: the booking moved from Data.PreviousStartsAt/EndsAt to
	// its new times. Send with the ICS of method REQUEST and the next
	// Booking.Sequence.
	KindReschedule Kind = "reschedule"
	// KindPaymentLink: staff booked a slot for the customer; the message
	// carries the link to pay it (Booking.PayURL) and when it lapses
	// (Booking.PayBy).
	KindPaymentLink Kind = "payment_link"
)

// Staff messages go to STAFF_NOTIFY_EMAIL and show Data.Staff.
const (
	// KindStaffNewBooking: a booking was confirmed.
	KindStaffNewBooking Kind = "staff_new_booking"
	// KindStaffNeedsReview: a booking entered needs_review (Staff.Reason).
	KindStaffNeedsReview Kind = "staff_needs_review"
	// KindStaffDispute: the customer disputed the payment (Staff.Dispute...).
	KindStaffDispute Kind = "staff_dispute"
	// KindStaffRefundFailing: an automatic refund keeps failing
	// (Staff.Reason).
	KindStaffRefundFailing Kind = "staff_refund_failing"
)

// Kinds lists every kind, customer kinds first.
var Kinds = []Kind{
	KindConfirmation, KindReminder, KindCancellation, KindRefund, KindReschedule, KindPaymentLink,
	KindStaffNewBooking, KindStaffNeedsReview, KindStaffDispute, KindStaffRefundFailing,
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// ForStaff reports whether k is a staff message.
func (k Kind) ForStaff() bool { return strings.HasPrefix(string(k), "staff_") }

// Booking is what the messages and the calendar file say about a booking.
// It is plain data, filled by the caller from the database.
type Booking struct {
	// ID is the booking's id; the calendar UID is derived from it.
	ID string
	// Reference is the short reference the customer quotes, e.g. "BK-7Q2M4X".
	Reference string
	// Status is the booking's status (e.g. "confirmed", "refunded").
	Status string
	// ResourceName is what was booked, e.g. "Tennis court 1".
	ResourceName string
	// Location is where it takes place; optional.
	Location string
	// Timezone is the resource's IANA time zone, e.g. "Europe/Paris"; every
	// time is shown in it.
	Timezone string
	// StartsAt and EndsAt are the booked slot.
	StartsAt time.Time
	EndsAt   time.Time
	// AmountTotal is the price, AmountPaid what was paid and AmountRefunded
	// what was refunded, all in minor units of Currency (cents; yen).
	AmountTotal    int64
	AmountPaid     int64
	AmountRefunded int64
	// Currency is the ISO 4217 code, any case ("eur", "JPY").
	Currency string
	// FirstName, LastName and Email are the customer's.
	FirstName string
	LastName  string
	Email     string
	// ManageURL is the customer's self-service link (with its token).
	ManageURL string
	// PayURL is the link that pays the booking, and PayBy when it lapses
	// (KindPaymentLink only).
	PayURL string
	PayBy  time.Time
	// Sequence is the calendar SEQUENCE: 0 for the first invitation, one
	// more for each later change (reschedule, cancellation).
	Sequence int
	// Language is the customer's language tag ("en", "fr-CA"), "" when
	// unknown; it selects the templates of customer messages and the
	// words of the calendar file.
	Language string
}

// Data is everything a message can show.
type Data struct {
	// Booking is the booking, as it is now.
	Booking Booking
	// PreviousStartsAt and PreviousEndsAt are the slot before a reschedule
	// (KindReschedule only).
	PreviousStartsAt time.Time
	PreviousEndsAt   time.Time
	// Staff is shown in staff messages only.
	Staff Staff
}

// Staff holds what only staff messages show.
type Staff struct {
	// BookingURL is the booking's page in the staff dashboard.
	BookingURL string
	// Reason says why the booking needs review or why its refund fails.
	Reason string
	// DisputeAmount (minor units of the booking's currency), DisputeReason
	// and DisputeStatus describe a dispute (Stripe's reason and status).
	DisputeAmount int64
	DisputeReason string
	DisputeStatus string
}

// DefaultLanguage is the language every other falls back to.
const DefaultLanguage = "en"

// Render renders a message of kind from data in the language lang (the
// recipient's: the customer's Booking.Language, or the staff's), falling back
// to English for a language or kind without templates. The subject is one
// line; text and html are the two bodies.
func Render(kind Kind, data Data, lang string) (subject, text, html string, err error) {
	if !kind.Valid() {
		return "", "", "", fmt.Errorf("render %q: unknown message kind", kind)
	}
	cat, err := loadCatalog()
	if err != nil {
		return "", "", "", fmt.Errorf("render %s: %w", kind, err)
	}
	set := cat.lookup(kind, lang)
	v, err := newView(kind, data, set.locale)
	if err != nil {
		return "", "", "", fmt.Errorf("render %s: %w", kind, err)
	}
	var buf bytes.Buffer
	if err := set.text.ExecuteTemplate(&buf, "subject", v); err != nil {
		return "", "", "", fmt.Errorf("render %s subject: %w", kind, err)
	}
	subject = oneLine(buf.String())
	v.Subject = subject
	buf.Reset()
	if err := set.text.ExecuteTemplate(&buf, "text", v); err != nil {
		return "", "", "", fmt.Errorf("render %s text: %w", kind, err)
	}
	text = tidyText(buf.String())
	buf.Reset()
	if err := set.html.ExecuteTemplate(&buf, "layout", v); err != nil {
		return "", "", "", fmt.Errorf("render %s html: %w", kind, err)
	}
	return subject, text, buf.String(), nil
}

// view is what the templates see. Customer messages get a nil Staff.
type view struct {
	Kind Kind
	// Subject is the rendered subject, for the HTML title.
	Subject string
	// FirstName and LastName are the customer's, Name both.
	FirstName, LastName, Name                            string
	Reference, ResourceName, Location, ManageURL, Status string
	// When is the slot with date, times and zone; PreviousWhen the slot
	// before a reschedule.
	When, PreviousWhen string
	// PayURL is the payment link and PayBy when it lapses, in the
	// resource's zone (KindPaymentLink).
	PayURL, PayBy string
	Duration      string
	// Amounts, formatted with their currency.
	AmountTotal, AmountPaid, AmountRefunded string
	Paid, Refunded                          bool
	Staff                                   *staffView
}

// staffView is what staff messages see beyond the customer's view.
type staffView struct {
	Email, BookingURL, Reason                   string
	DisputeAmount, DisputeReason, DisputeStatus string
	// Outstanding is what was paid and not refunded yet.
	Outstanding string
}

// newView checks data and formats it for kind in locale l.
func newView(kind Kind, data Data, l *locale) (*view, error) {
	b := data.Booking
	loc, err := loadZone(b.Timezone)
	if err != nil {
		return nil, err
	}
	if err := checkSlot(b.StartsAt, b.EndsAt); err != nil {
		return nil, err
	}
	if strings.TrimSpace(b.ResourceName) == "" || strings.TrimSpace(b.Reference) == "" {
		return nil, errors.New("resource name and reference are required")
	}
	v := &view{
		Kind:           kind,
		FirstName:      strings.TrimSpace(b.FirstName),
		LastName:       strings.TrimSpace(b.LastName),
		Name:           strings.TrimSpace(b.FirstName + " " + b.LastName),
		Reference:      b.Reference,
		ResourceName:   b.ResourceName,
		Location:       strings.TrimSpace(b.Location),
		ManageURL:      b.ManageURL,
		Status:         b.Status,
		When:           l.when(b.StartsAt, b.EndsAt, loc),
		Duration:       l.duration(b.EndsAt.Sub(b.StartsAt)),
		AmountTotal:    l.money(b.AmountTotal, b.Currency),
		AmountPaid:     l.money(b.AmountPaid, b.Currency),
		AmountRefunded: l.money(b.AmountRefunded, b.Currency),
		Paid:           b.AmountPaid > 0,
		Refunded:       b.AmountRefunded > 0,
	}
	if kind == KindReschedule {
		if err := checkSlot(data.PreviousStartsAt, data.PreviousEndsAt); err != nil {
			return nil, fmt.Errorf("previous slot: %w", err)
		}
		v.PreviousWhen = l.when(data.PreviousStartsAt, data.PreviousEndsAt, loc)
	}
	if kind == KindPaymentLink {
		if !strings.HasPrefix(b.PayURL, "https://") && !strings.HasPrefix(b.PayURL, "http://") {
			return nil, errors.New("a payment link needs its absolute URL")
		}
		v.PayURL = b.PayURL
		lt := b.PayBy.In(loc)
		v.PayBy = l.date(lt) + ", " + lt.Format(l.Time) + " " + zoneLabel(loc.String(), zoneAbbr(lt))
	}
	if kind.ForStaff() {
		s := data.Staff
		v.Staff = &staffView{
			Email:         b.Email,
			BookingURL:    s.BookingURL,
			Reason:        s.Reason,
			DisputeAmount: l.money(s.DisputeAmount, b.Currency),
			DisputeReason: s.DisputeReason,
			DisputeStatus: s.DisputeStatus,
			Outstanding:   l.money(b.AmountPaid-b.AmountRefunded, b.Currency),
		}
	}
	return v, nil
}

// loadZone loads an IANA zone, refusing "" and "Local" (the server's zone
// is never the resource's).
func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("time zone %q: want an IANA name such as Europe/Paris", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return loc, nil
}

func checkSlot(start, end time.Time) error {
	if start.IsZero() || end.IsZero() {
		return errors.New("start and end are required")
	}
	if !end.After(start) {
		return errors.New("end is not after start")
	}
	return nil
}

// oneLine folds every run of whitespace into one space.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// tidyText trims trailing spaces of each line, collapses runs of blank
// lines left by template conditionals into one and ends with one newline.
func tidyText(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	out := make([]string, 0, len(lines))
	for _, line := range lines {
		line = strings.TrimRight(line, " \t")
		if line == "" && (len(out) == 0 || out[len(out)-1] == "") {
			continue
		}
		out = append(out, line)
	}
	return strings.TrimRight(strings.Join(out, "\n"), "\n") + "\n"
}

//go:embed templates
var templateFS embed.FS

// templateSet is the parsed templates of one kind in one language.
type templateSet struct {
	text   *texttemplate.Template
	html   *htmltemplate.Template
	locale *locale
}

// catalog is every language's template sets, parsed once.
type catalog struct {
	sets    map[string]map[Kind]*templateSet // language → kind → set
	locales map[string]*locale               // language → its locale
}

// loadCatalog parses the embedded templates once; an error is a bug in a
// template, caught by the tests.
var loadCatalog = sync.OnceValues(func() (*catalog, error) {
	return parseCatalog(templateFS)
})

// parseCatalog parses every language directory of fsys's templates/. A
// language's shared files (locale.json, common.txt, layout.html) default to
// English's; a kind whose templates a language lacks is left out, so lookup
// falls back to English for it.
func parseCatalog(fsys fs.FS) (*catalog, error) {
	dirs, err := fs.ReadDir(fsys, "templates")
	if err != nil {
		return nil, err
	}
	cat := &catalog{sets: map[string]map[Kind]*templateSet{}, locales: map[string]*locale{}}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		lang := d.Name()
		shared := func(name string) (string, []byte, error) {
			for _, l := range []string{lang, DefaultLanguage} {
				p := path.Join("templates", l, name)
				if data, err := fs.ReadFile(fsys, p); err == nil {
					return p, data, nil
				}
			}
			return "", nil, fmt.Errorf("templates: %s is missing in %s and %s", name, lang, DefaultLanguage)
		}
		localePath, localeData, err := shared("locale.json")
		if err != nil {
			return nil, err
		}
		loc, err := parseLocale(localeData)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", localePath, err)
		}
		commonPath, commonText, err := shared("common.txt")
		if err != nil {
			return nil, err
		}
		layoutPath, layoutHTML, err := shared("layout.html")
		if err != nil {
			return nil, err
		}
		sets := map[Kind]*templateSet{}
		for _, kind := range Kinds {
			textPath := path.Join("templates", lang, string(kind)+".txt")
			htmlPath := path.Join("templates", lang, string(kind)+".html")
			textSrc, textErr := fs.ReadFile(fsys, textPath)
			htmlSrc, htmlErr := fs.ReadFile(fsys, htmlPath)
			if errors.Is(textErr, fs.ErrNotExist) && errors.Is(htmlErr, fs.ErrNotExist) {
				continue
			}
			if textErr != nil || htmlErr != nil {
				return nil, fmt.Errorf("templates: %s needs both %s.txt and %s.html: %w", lang, kind, kind, errors.Join(textErr, htmlErr))
			}
			t := texttemplate.New(string(kind)).Option("missingkey=error")
			if _, err := t.New(commonPath).Parse(string(commonText)); err != nil {
				return nil, err
			}
			if _, err := t.New(textPath).Parse(string(textSrc)); err != nil {
				return nil, err
			}
			h := htmltemplate.New(string(kind)).Option("missingkey=error").Funcs(htmlFuncs)
			if _, err := h.New(layoutPath).Parse(string(layoutHTML)); err != nil {
				return nil, err
			}
			if _, err := h.New(htmlPath).Parse(string(htmlSrc)); err != nil {
				return nil, err
			}
			for _, name := range []string{"subject", "text"} {
				if t.Lookup(name) == nil {
					return nil, fmt.Errorf("%s defines no %q template", textPath, name)
				}
			}
			for _, name := range []string{"layout", "content"} {
				if h.Lookup(name) == nil {
					return nil, fmt.Errorf("%s and %s define no %q template", layoutPath, htmlPath, name)
				}
			}
			sets[kind] = &templateSet{text: t, html: h, locale: loc}
		}
		cat.sets[lang] = sets
		cat.locales[lang] = loc
	}
	for _, kind := range Kinds {
		if cat.sets[DefaultLanguage][kind] == nil {
			return nil, fmt.Errorf("templates: %s has no templates for %s", DefaultLanguage, kind)
		}
	}
	return cat, nil
}

// lookup returns kind's templates in lang: the language tag as given
// ("pt-br"), then its primary language ("pt"), then English.
func (c *catalog) lookup(kind Kind, lang string) *templateSet {
	for _, l := range languageChain(lang) {
		if set := c.sets[l][kind]; set != nil {
			return set
		}
	}
	return c.sets[DefaultLanguage][kind]
}

// languageChain lists the directories to try for a language tag, most
// specific first: "fr-CA" gives "fr-ca", "fr".
func languageChain(tag string) []string {
	tag = strings.ToLower(strings.TrimSpace(strings.ReplaceAll(tag, "_", "-")))
	if tag == "" {
		return nil
	}
	chain := []string{tag}
	if i := strings.IndexByte(tag, '-'); i > 0 {
		chain = append(chain, tag[:i])
	}
	return chain
}

// htmlFuncs are the functions of the HTML templates.
var htmlFuncs = htmltemplate.FuncMap{
	// row pairs a label and a value for the "row" template.
	"row": func(label, value string) struct{ Label, Value string } {
		return struct{ Label, Value string }{label, value}
	},
}

// localeFor is the locale of a language, with the same fallback as lookup.
func localeFor(lang string) (*locale, error) {
	cat, err := loadCatalog()
	if err != nil {
		return nil, err
	}
	for _, l := range languageChain(lang) {
		if loc := cat.locales[l]; loc != nil {
			return loc, nil
		}
	}
	return cat.locales[DefaultLanguage], nil
}
