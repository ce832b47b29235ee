package booking

import (
	"context"
	"strings"
)

// BookingExportColumns are the columns of the bookings export, in order.
// Times are given in UTC (RFC 3339) and, beside them, as the wall-clock
// time of the resource's time zone.
var BookingExportColumns = []string{
	"id", "reference", "resourceId", "resourceName", "timezone", "status",
	"startsAtUtc", "endsAtUtc", "startsAtLocal", "endsAtLocal",
	"amountTotal", "amountPaid", "amountRefunded", "currency",
	"customerFirstName", "customerLastName", "customerEmail",
	"stripeSessionId", "createdAtUtc", "updatedAtUtc",
}

// MoneyExportColumns are the columns of the money export: one row per
// payment, refund, dispute and dispute closure.
var MoneyExportColumns = []string{
	"kind", "id", "stripeRef", "bookingId", "bookingReference", "bookingStatus", "resourceId", "timezone",
	"amount", "currency", "detail", "createdAtUtc", "createdAtLocal",
}

// ExportStore streams export rows, calling row once per record in order;
// an error from row stops the export and is returned.
type ExportStore interface {
	ExportBookings(ctx context.Context, f BookingFilter, row func([]string) error) error
	ExportMoney(ctx context.Context, f BookingFilter, row func([]string) error) error
}

// Exporter runs the CSV exports of bookings and money movements.
type Exporter struct {
	Store ExportStore
}

// ExportFilter checks the filters of an export: status, resourceId and
// from/to (on a booking's start for the bookings export, on the movement's
// time for the money export). Errors: validation_failed.
func ExportFilter(f *BookingFilter) error {
	v := ValidationError{}
	f.Email, f.After, f.Limit = "", nil, 1
	f.Validate(v)
	f.Limit = 0
	return v.Err()
}

// Bookings streams the bookings f selects, in calendar order.
func (e *Exporter) Bookings(ctx context.Context, f BookingFilter, row func([]string) error) error {
	return e.Store.ExportBookings(ctx, f, row)
}

// Money streams the money movements f selects, oldest first.
func (e *Exporter) Money(ctx context.Context, f BookingFilter, row func([]string) error) error {
	return e.Store.ExportMoney(ctx, f, row)
}

// CSVSafe defuses a cell that a spreadsheet would run as a formula (one
// starting with =, +, -, @, a tab or a carriage return) by prefixing a
// single quote (OWASP "CSV injection").
func CSVSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
