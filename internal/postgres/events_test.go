package postgres_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// bookingWrites are the statements that write the bookings table, and why
// each queues the outgoing events of docs/adr/0010 (or why it has none).
var bookingWrites = map[string]string{
	"insertBookingSQL":     "insertHold: CreateHold and CreateHoldAny queue booking.created (enqueueCreated)",
	"updateBookingSQL":     "queuePlan and takeSlot: ChangeBooking and ApplyEvent queue the plan's events (enqueueNotices)",
	"rescheduleBookingSQL": "queueReschedule in queuePlan: booking.rescheduled (enqueueNotices)",
	"releaseLapsedSQL":     "expires lapsed holds: no outgoing event for expired",
	"expireLapsedSQL":      "expires lapsed holds (the sweep): no outgoing event for expired",
	"eraseBookingsSQL":     "erases customer data (GDPR), status unchanged: no event",
}

// eventQueuers: a function that calls the key writes a booking, and must
// also call the value, which queues the outgoing events in its
// transaction.
var eventQueuers = map[string]string{
	"queuePlan":  "enqueueNotices",
	"takeSlot":   "enqueueNotices",
	"insertHold": "enqueueCreated",
}

var bookingWriteRE = regexp.MustCompile(`(?i)\b(UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+bookings\b`)

// TestBookingWritesQueueEvents: every statement that writes a booking is
// one whose events are accounted for, and every function that applies a
// plan or inserts a hold queues the outgoing events in the same
// transaction (a write path that forgets them was how pool holds sent no
// booking.created).
func TestBookingWritesQueueEvents(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var writers []string
	calls := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				for _, s := range d.Specs {
					vs, ok := s.(*ast.ValueSpec)
					if !ok {
						continue
					}
					for i, n := range vs.Names {
						if i < len(vs.Values) && writesBookings(vs.Values[i]) {
							writers = append(writers, n.Name)
						}
					}
				}
			case *ast.FuncDecl:
				if d.Body == nil {
					continue
				}
				called := map[string]bool{}
				ast.Inspect(d.Body, func(n ast.Node) bool {
					if c, ok := n.(*ast.CallExpr); ok {
						switch fn := c.Fun.(type) {
						case *ast.Ident:
							called[fn.Name] = true
						case *ast.SelectorExpr:
							called[fn.Sel.Name] = true
						}
					}
					return true
				})
				for writer, queuer := range eventQueuers {
					if called[writer] {
						calls++
						if !called[queuer] {
							t.Errorf("%s (%s) calls %s but not %s: the change's outgoing events are not queued",
								d.Name.Name, fset.Position(d.Pos()), writer, queuer)
						}
					}
				}
			}
		}
	}
	if calls < 4 {
		t.Fatalf("found only %d calls of %v: the scan is broken", calls, eventQueuers)
	}
	for _, w := range writers {
		if _, ok := bookingWrites[w]; !ok {
			t.Errorf("%s writes bookings: make its path queue the outgoing events (docs/adr/0010) and list it in "+
				"bookingWrites with how, or why it has none", w)
		}
	}
	for w := range bookingWrites {
		if !slices.Contains(writers, w) {
			t.Errorf("bookingWrites lists %s, which no longer writes bookings", w)
		}
	}
}

// writesBookings reports whether a string literal in e writes bookings.
func writesBookings(e ast.Expr) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if l, ok := n.(*ast.BasicLit); ok && l.Kind == token.STRING && bookingWriteRE.MatchString(l.Value) {
			found = true
		}
		return !found
	})
	return found
}
