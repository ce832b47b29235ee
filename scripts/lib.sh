# Shared helpers of the scripts in this folder (sourced, not run).
set -euo pipefail

export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"

log() { printf '==> %s\n' "$*" >&2; }

# ensure_postgres makes sure a PostgreSQL server answers on PGHOST:PGPORT,
# installing it from Debian's packages and starting the local cluster if needed.
ensure_postgres() {
  local host="${PGHOST:-127.0.0.1}" port="${PGPORT:-5432}"
  if command -v pg_isready >/dev/null && pg_isready -q -h "$host" -p "$port"; then
    return 0
  fi
  if ! command -v pg_ctlcluster >/dev/null; then
    log "installing PostgreSQL"
    if [ "$(id -u)" -ne 0 ]; then echo "PostgreSQL is not installed; install it (apt-get install postgresql) and retry" >&2; exit 1; fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  local ver
  ver="$(ls /etc/postgresql | sort -V | tail -1)"
  log "starting PostgreSQL $ver"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 30); do
    pg_isready -q -h "$host" -p "$port" && return 0
    sleep 1
  done
  echo "PostgreSQL did not start on $host:$port" >&2
  exit 1
}

STRIPE_MOCK_VERSION=v0.203.0

# ensure_stripe_mock starts stripe-mock on 127.0.0.1:12111 unless one answers;
# STRIPE_MOCK_PID is set when this script started it.
ensure_stripe_mock() {
  STRIPE_MOCK_PID=""
  if curl -fsS -o /dev/null -H 'Authorization: Bearer sk_test_123' http://127.0.0.1:12111/v1/customers 2>/dev/null; then
    return 0
  fi
  if ! command -v stripe-mock >/dev/null; then
    log "installing stripe-mock $STRIPE_MOCK_VERSION"
    go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION"
  fi
  log "starting stripe-mock"
  stripe-mock -http-addr 127.0.0.1:12111 -https-addr 127.0.0.1:12112 >/tmp/stripe-mock.log 2>&1 &
  STRIPE_MOCK_PID=$!
  for _ in $(seq 1 30); do
    curl -fsS -o /dev/null -H 'Authorization: Bearer sk_test_123' http://127.0.0.1:12111/v1/customers 2>/dev/null && return 0
    sleep 0.5
  done
  echo "stripe-mock did not start; see /tmp/stripe-mock.log" >&2
  exit 1
}

# ensure_chromium installs Debian's Chromium for the browser tests
# (e2e/browsertest) unless it is there or BROWSER_TESTS=skip.
ensure_chromium() {
  if [ "${BROWSER_TESTS:-}" = "skip" ] || command -v chromium >/dev/null; then
    return 0
  fi
  log "installing Chromium for the browser tests"
  if [ "$(id -u)" -ne 0 ]; then echo "Chromium is not installed; install it (apt-get install chromium) or set BROWSER_TESTS=skip" >&2; exit 1; fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}

GOLANGCI_LINT_VERSION=v2.15.0

# ensure_golangci_lint installs golangci-lint $GOLANGCI_LINT_VERSION into
# GOPATH/bin unless that version is there already, and puts that directory
# first in PATH so this version is the one run.
ensure_golangci_lint() {
  local gopath bin
  gopath="$(go env GOPATH)"
  bin="${gopath%%:*}/bin"
  export PATH="$bin:$PATH"
  if [ -x "$bin/golangci-lint" ] && [ "v$("$bin/golangci-lint" version --short 2>/dev/null)" = "$GOLANGCI_LINT_VERSION" ]; then
    return 0
  fi
  log "installing golangci-lint $GOLANGCI_LINT_VERSION into $bin (once; it takes a few minutes)"
  GOBIN="$bin" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
}
