package httpapi

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

// openAPIDocument is the OpenAPI 3.1 description of every route; a test
// checks it against the registered routes and the server's answers.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the embedded OpenAPI document served at
// GET /openapi.json.
func OpenAPIDocument() []byte { return openAPIDocument }

// openAPIHandler serves the document with a strong ETag, answering 304 to a
// matching If-None-Match.
func openAPIHandler() http.Handler {
	sum := sha256.Sum256(openAPIDocument)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	size := strconv.Itoa(len(openAPIDocument))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("ETag", etag)
		h.Set("Cache-Control", "no-cache")
		for _, t := range strings.Split(r.Header.Get("If-None-Match"), ",") {
			if t = strings.TrimSpace(t); t == etag || t == "*" {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", size)
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(openAPIDocument)
		}
	})
}
