#!/usr/bin/env bash
# Runs every test: starts (installing if needed) PostgreSQL and stripe-mock,
# downloads Go modules, then gofmt, go vet, go test -race and short fuzz runs.
# FUZZTIME=0 skips the fuzz runs.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_postgres
ensure_stripe_mock
ensure_chromium
cleanup() { if [ -n "${STRIPE_MOCK_PID:-}" ]; then kill "$STRIPE_MOCK_PID" 2>/dev/null || true; fi; }
trap cleanup EXIT

log "downloading Go modules"
go mod download

log "gofmt"
unformatted="$(gofmt -l cmd internal)"
if [ -n "$unformatted" ]; then echo "not gofmt-ed:"; echo "$unformatted"; exit 1; fi
log "go vet"
go vet ./...

log "go test -race"
go test -race -count=1 -timeout 15m ./...

fuzztime="${FUZZTIME:-20s}"
if [ "$fuzztime" != "0" ]; then
  log "fuzzing ($fuzztime each)"
  go test -run '^$' -fuzz '^FuzzWebhook$' -fuzztime "$fuzztime" ./internal/httpapi/
  go test -run '^$' -fuzz '^FuzzDecodeBookingRequest$' -fuzztime "$fuzztime" ./internal/httpapi/
fi
log "all tests passed"
