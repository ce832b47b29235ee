#!/usr/bin/env bash
# Where the payment write path's cost goes: pgbench runs the write path
# built up from the minimal durable work one piece at a time (the payment
# row, one round trip, the product's statements, its message job), in turn
# and in rounds, on a fresh database (docs/BENCHMARKS.md, "The write path,
# one piece at a time").
#
#   ./scripts/write-steps.sh                          # c=32, 3 rounds of 6 s per step
#   STEPS_C=8 STEPS_SECONDS=5 STEPS_ROUNDS=2 ./scripts/write-steps.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

db=booking_steps
db_url="postgres://postgres@127.0.0.1:5432/${db}?sslmode=disable"
psql_admin=(env PGOPTIONS="-c client_min_messages=warning" psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -v ON_ERROR_STOP=1 -qX)

ensure_postgres
command -v pgbench >/dev/null || { echo "pgbench is missing (apt-get install postgresql-client)" >&2; exit 1; }

work="$(mktemp -d)"
cleanup() {
  "${psql_admin[@]}" -c "DROP DATABASE IF EXISTS ${db} WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

log "creating database ${db}"
"${psql_admin[@]}" -c "DROP DATABASE IF EXISTS ${db} WITH (FORCE)" -c "CREATE DATABASE ${db}"
(cd e2e && go build -o "$work/webhookbench" ./webhookbench)
: >"$work/empty.env"
ENV_FILE="$work/empty.env" DATABASE_URL="$db_url" LOG_LEVEL=warn go run ./cmd/booking migrate

log "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"
"$work/webhookbench" steps -db "$db_url" -bench bench -c "${STEPS_C:-32}" -seconds "${STEPS_SECONDS:-6}" \
  -rounds "${STEPS_ROUNDS:-3}"
