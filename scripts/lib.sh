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

PGBOUNCER_PORT="${PGBOUNCER_PORT:-6432}"

# ensure_pgbouncer starts a PgBouncer in transaction pooling mode on
# 127.0.0.1:$PGBOUNCER_PORT in front of the local PostgreSQL (installing it
# from Debian's packages when missing), unless one answers there already;
# PGBOUNCER_PID is set when this script started it. Every database is
# reachable through it under its own name; users connect as themselves
# (trust, like the local PostgreSQL). The tests run their duplicate-storm
# and two-replica cases through it.
ensure_pgbouncer() {
  PGBOUNCER_PID=""
  if pg_isready -q -h 127.0.0.1 -p "$PGBOUNCER_PORT" 2>/dev/null; then
    return 0
  fi
  if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
    log "installing PgBouncer"
    if [ "$(id -u)" -ne 0 ]; then echo "PgBouncer is not installed; install it (apt-get install pgbouncer) and retry" >&2; exit 1; fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
  fi
  local bin dir
  bin="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"
  dir="$(mktemp -d /tmp/pgbouncer.XXXXXX)"
  printf '"postgres" ""\n"pgtdbuser" ""\n' >"$dir/userlist.txt"
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=${PGPORT:-5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${PGBOUNCER_PORT}
unix_socket_dir =
auth_type = trust
auth_file = ${dir}/userlist.txt
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 20
max_db_connections = 40
server_reset_query =
ignore_startup_parameters = extra_float_digits,statement_timeout,idle_in_transaction_session_timeout,synchronous_commit
logfile = ${dir}/pgbouncer.log
pidfile = ${dir}/pgbouncer.pid
INI
  log "starting PgBouncer (transaction pooling) on 127.0.0.1:${PGBOUNCER_PORT}"
  local user="${PGBOUNCER_USER:-postgres}"
  if [ "$(id -u)" -eq 0 ]; then
    # PgBouncer refuses to run as root.
    chown -R "$user" "$dir"
    runuser -u "$user" -- "$bin" -d "$dir/pgbouncer.ini"
  else
    "$bin" -d "$dir/pgbouncer.ini"
  fi
  for _ in $(seq 1 50); do
    if pg_isready -q -h 127.0.0.1 -p "$PGBOUNCER_PORT" 2>/dev/null; then
      PGBOUNCER_PID="$(cat "$dir/pgbouncer.pid")"
      return 0
    fi
    sleep 0.2
  done
  echo "PgBouncer did not start; see $dir/pgbouncer.log" >&2
  exit 1
}

MAILPIT_VERSION=v1.33.1

# ensure_mailpit starts Mailpit (SMTP on 127.0.0.1:1025, web inbox and API on
# http://127.0.0.1:8025) unless something answers on 127.0.0.1:8025,
# installing it with go install when missing; MAILPIT_PID is set when this
# script started it. It accepts any SMTP credentials (or none) over plain
# SMTP, so an SMTP_URL with or without user:pass works against it.
ensure_mailpit() {
  MAILPIT_PID=""
  if curl -fsS -o /dev/null http://127.0.0.1:8025/api/v1/info 2>/dev/null; then
    return 0
  fi
  if ! command -v mailpit >/dev/null; then
    log "installing Mailpit $MAILPIT_VERSION (once; it takes a few minutes)"
    go install "github.com/axllent/mailpit@$MAILPIT_VERSION"
  fi
  log "starting Mailpit (SMTP 127.0.0.1:1025, inbox http://127.0.0.1:8025)"
  mailpit --smtp 127.0.0.1:1025 --listen 127.0.0.1:8025 \
    --smtp-auth-accept-any --smtp-auth-allow-insecure --smtp-disable-rdns \
    --max 5000 --quiet >/tmp/mailpit.log 2>&1 &
  MAILPIT_PID=$!
  for _ in $(seq 1 50); do
    curl -fsS -o /dev/null http://127.0.0.1:8025/api/v1/info 2>/dev/null && return 0
    sleep 0.2
  done
  echo "Mailpit did not start; see /tmp/mailpit.log" >&2
  exit 1
}
