package httpapi

import (
	"context"
	"encoding/csv"
	"net/http"

	"github.com/bookingplatform/booking/internal/booking"
)

// exportFilter reads the filters of an export: status, resourceId, from, to.
func exportFilter(r *http.Request) (booking.BookingFilter, error) {
	q := r.URL.Query()
	v := booking.ValidationError{}
	f := booking.BookingFilter{Status: booking.Status(q.Get("status")), ResourceID: q.Get("resourceId"),
		From: parseBound(q, "from", v), To: parseBound(q, "to", v)}
	if err := v.Err(); err != nil {
		return f, err
	}
	return f, booking.ExportFilter(&f)
}

// handleExportBookings streams the bookings as CSV.
func (s *Server) handleExportBookings(w http.ResponseWriter, r *http.Request) error {
	f, err := exportFilter(r)
	if err != nil {
		return err
	}
	s.staffLog(r, "export.bookings")
	return s.streamCSV(w, r, "bookings.csv", booking.BookingExportColumns, func(ctx context.Context, row func([]string) error) error {
		return s.Exports.Bookings(ctx, f, row)
	})
}

// handleExportMoney streams the payments, refunds and disputes as CSV.
func (s *Server) handleExportMoney(w http.ResponseWriter, r *http.Request) error {
	f, err := exportFilter(r)
	if err != nil {
		return err
	}
	s.staffLog(r, "export.money")
	return s.streamCSV(w, r, "money.csv", booking.MoneyExportColumns, func(ctx context.Context, row func([]string) error) error {
		return s.Exports.Money(ctx, f, row)
	})
}

// streamCSV writes the rows of run as a CSV attachment, each row as it
// comes, every cell defused (booking.CSVSafe). The status line is sent with
// the first row, so an export that fails before it is answered as an
// error; one that fails later is cut off (the connection is aborted, so a
// client never takes a truncated file for a whole one).
func (s *Server) streamCSV(w http.ResponseWriter, r *http.Request, name string, columns []string,
	run func(ctx context.Context, row func([]string) error) error,
) error {
	cw := csv.NewWriter(w)
	started := false
	start := func() error {
		started = true
		h := w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		return cw.Write(columns)
	}
	err := run(r.Context(), func(rec []string) error {
		if !started {
			if err := start(); err != nil {
				return err
			}
		}
		for i := range rec {
			rec[i] = booking.CSVSafe(rec[i])
		}
		return cw.Write(rec)
	})
	if err == nil && !started {
		err = start()
	}
	if err == nil {
		cw.Flush()
		err = cw.Error()
	}
	if err != nil && !started {
		return err
	}
	if err != nil {
		if r.Context().Err() == nil {
			s.Logger.ErrorContext(r.Context(), "export failed", "request_id", RequestID(r.Context()), "export", name, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
	return nil
}
