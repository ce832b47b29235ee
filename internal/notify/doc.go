// Package notify renders the product's messages: the emails to customers
// and staff (Render) and the iCalendar file that goes with a booking (ICS).
// It does no I/O and knows nothing of the database or of SMTP: callers fill
// a Booking (plain data) and hand the result to package mailer.
//
// Templates are embedded, one directory per language under templates/
// (templates/en/...). For each message kind, <kind>.txt defines the
// "subject" and "text" templates (text/template) and <kind>.html the
// "content" of the HTML layout (html/template); common.txt and layout.html
// hold what the kinds share, and locale.json the language's day and month
// names, date, time and money formats and the few words the calendar file
// uses. Adding a language is adding its directory: a language without a
// kind's templates, or a language not there at all, falls back to English.
//
// Times are always shown in the resource's time zone with the zone named,
// amounts in the currency's own minor units (zero-decimal currencies such as
// JPY included) with integer arithmetic only.
package notify
