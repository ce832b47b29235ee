package httpapi

import (
	"net/http"
	"time"
)

type webhookCounters struct {
	Received   int64 `json:"received"`
	Processed  int64 `json:"processed"`
	Duplicates int64 `json:"duplicates"`
	Rejected   int64 `json:"rejected"`
	Errors     int64 `json:"errors"`
}

type runtimeCounters struct {
	UptimeSeconds int64  `json:"uptimeSeconds"`
	Version       string `json:"version"`
	HTTP5xx       int64  `json:"http5xx"`
}

// handleStaffMetrics reports this process's webhook and runtime counters,
// and the money figures of the last check.
func (s *Server) handleStaffMetrics(w http.ResponseWriter, r *http.Request) error {
	m := s.Metrics
	writeJSON(w, http.StatusOK, map[string]any{
		"webhook": webhookCounters{Received: m.Received.Load(), Processed: m.Processed.Load(),
			Duplicates: m.Duplicates.Load(), Rejected: m.Rejected.Load(), Errors: m.Errors.Load()},
		"runtime": runtimeCounters{UptimeSeconds: int64(time.Since(m.Started).Seconds()), Version: s.Version,
			HTTP5xx: m.HTTP5xx.Load()},
		"money": m.MoneySnapshot(),
	})
	return nil
}
