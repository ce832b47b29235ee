#!/usr/bin/env bash
# Runs every test of both Go modules: the product (the repository root) and
# e2e/ (browser tests and the benchmark tool). Starts (installing if needed)
# PostgreSQL, a PgBouncer in transaction pooling mode in front of it,
# stripe-mock, Mailpit and Chromium, downloads Go modules, then gofmt,
# go vet, golangci-lint, go test -race and short fuzz runs.
# FUZZTIME=0 skips the fuzz runs.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_postgres
ensure_pgbouncer
ensure_stripe_mock
ensure_mailpit
ensure_chromium
cleanup() {
  if [ -n "${STRIPE_MOCK_PID:-}" ]; then kill "$STRIPE_MOCK_PID" 2>/dev/null || true; fi
  if [ -n "${MAILPIT_PID:-}" ]; then kill "$MAILPIT_PID" 2>/dev/null || true; fi
  if [ -n "${PGBOUNCER_PID:-}" ]; then kill "$PGBOUNCER_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

modules=(. e2e)

log "downloading Go modules"
for m in "${modules[@]}"; do (cd "$m" && go mod download); done

log "gofmt"
unformatted="$(gofmt -l cmd internal e2e)"
if [ -n "$unformatted" ]; then echo "not gofmt-ed:"; echo "$unformatted"; exit 1; fi
log "go vet"
for m in "${modules[@]}"; do (cd "$m" && go vet ./...); done
scripts/lint.sh

log "go test -race"
go test -race -count=1 -timeout 15m ./...
log "go test -race (e2e)"
(cd e2e && go test -race -count=1 -timeout 15m ./...)

fuzztime="${FUZZTIME:-20s}"
if [ "$fuzztime" != "0" ]; then
  log "fuzzing ($fuzztime each)"
  go test -run '^$' -fuzz '^FuzzWebhook$' -fuzztime "$fuzztime" ./internal/httpapi/
  go test -run '^$' -fuzz '^FuzzDecodeBookingRequest$' -fuzztime "$fuzztime" ./internal/httpapi/
fi
log "all tests passed"
