package browsertest_test

import (
	"encoding/json"
	"time"
)

func timeParse(s string) (time.Time, error) { return time.Parse(time.RFC3339, s) }

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
