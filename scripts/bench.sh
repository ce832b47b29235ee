#!/usr/bin/env bash
# Benchmarks webhook ingestion (docs/BENCHMARKS.md): builds bin/booking like a
# release, serves it on a loopback port against a fresh booking_bench
# database, fires signed checkout.session.completed events at concurrency
# 1, 8 and 32 and runs pgbench with the same SQL per event right after each,
# then prints the table, records the server's peak RSS and rewrites the
# results section of docs/BENCHMARKS.md. Exits non-zero when any answer or
# final state was wrong.
#
# BENCH_SECONDS (default 15) is the time of each phase at a level, split
# into BENCH_ROUNDS (default 3) rounds in which the three phases take turns;
# BENCH_LEVELS (default 1,8,32) the concurrency levels.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

seconds="${BENCH_SECONDS:-15}"
rounds="${BENCH_ROUNDS:-3}"
levels="${BENCH_LEVELS:-1,8,32}"
db=booking_bench
db_url="postgres://postgres@127.0.0.1:5432/${db}?sslmode=disable"
psql_admin=(env PGOPTIONS="-c client_min_messages=warning" psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -v ON_ERROR_STOP=1 -qX)

ensure_postgres
command -v pgbench >/dev/null || { echo "pgbench is missing (apt-get install postgresql-client)" >&2; exit 1; }

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  "${psql_admin[@]}" -c "DROP DATABASE IF EXISTS ${db} WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

log "creating database ${db}"
"${psql_admin[@]}" -c "DROP DATABASE IF EXISTS ${db} WITH (FORCE)" -c "CREATE DATABASE ${db}"

log "building bin/booking (release flags) and the load generator (module e2e)"
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/booking ./cmd/booking
(cd e2e && go build -o "$work/webhookbench" ./webhookbench)

: >"$work/empty.env" # no .env file from the working tree
export ENV_FILE="$work/empty.env"
DATABASE_URL="$db_url" LOG_LEVEL=warn bin/booking migrate

port="$("$work/webhookbench" freeport)"
secret="whsec_bench$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
log "starting booking serve on 127.0.0.1:${port}"
env DATABASE_URL="$db_url" APP_ENV=development LOG_LEVEL=warn \
  LISTEN_ADDR="127.0.0.1:${port}" APP_URL="http://127.0.0.1:${port}" \
  STRIPE_SECRET_KEY=sk_test_123 STRIPE_API_BASE=http://127.0.0.1:12111 \
  STRIPE_WEBHOOK_SECRET="$secret" \
  bin/booking serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 50); do
  curl -fsS -o /dev/null "http://127.0.0.1:${port}/livez" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; echo "server exited" >&2; exit 1; }
  sleep 0.2
done
curl -fsS -o /dev/null "http://127.0.0.1:${port}/livez" || { cat "$work/server.log" >&2; exit 1; }
log "server PID ${server_pid}"

status=0
"$work/webhookbench" run -db "$db_url" -url "http://127.0.0.1:${port}" -secret "$secret" \
  -levels "$levels" -seconds "$seconds" -rounds "$rounds" -minimal bench/minimal_event.sql \
  -server-pid "$server_pid" -out "$work/results.json" || status=$?

rss_kb="$(awk '/^VmHWM:/ {print $2}' "/proc/${server_pid}/status")"
kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=""
if [ -s "$work/server.log" ]; then
  log "server log (warnings and errors):"
  tail -n 20 "$work/server.log" >&2
fi
if [ "$status" -ne 0 ]; then
  echo "benchmark run failed" >&2
  exit "$status"
fi

"$work/webhookbench" report -in "$work/results.json" -rss-kb "$rss_kb" -out docs/BENCHMARKS.md \
  -command "./scripts/bench.sh"
