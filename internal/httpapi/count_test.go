package httpapi_test

import (
	"testing"

	"github.com/bookingplatform/booking/internal/pgtest"
)

func pgtestCount(t testing.TB, tb *testBundle, q string, args ...any) int {
	t.Helper()
	return pgtest.Count(t, tb.db, q, args...)
}
