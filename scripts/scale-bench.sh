#!/usr/bin/env bash
# Scale benchmark (docs/BENCHMARKS.md, "Scale"): for each database size
# (default 1,000 and 1,000,000 bookings over 50 resources, with payments,
# refunds, disputes, audit rows and ledger rows of 1.5 KB in proportion,
# generated in SQL by internal/bulk) loads a database, and serves it with a
# release build of `booking serve` on a loopback port; then e2e/scalebench
# measures every endpoint (availability, booking creation, the staff lists,
# the booking view, the ledger) on every size in turn, each followed by
# pgbench running the minimal SQL for the same answer (bench/scale_*.sql),
# and the table with the growth from the smallest to the largest size is
# written into docs/BENCHMARKS.md (between its scale markers). Exits non-zero
# when any answer was wrong.
#
# SCALE_SIZES (default 1000,1000000) are the sizes, smallest first;
# SCALE_SECONDS (default 5) the length of each timed phase and SCALE_ROUNDS
# (default 3) the phases per endpoint and size, the sizes in turn;
# SCALE_ONLY (default all) a comma-separated list of endpoint names;
# SCALE_KEEP a directory to keep the results JSON in; SCALE_KEEP_DBS=1 keeps
# the databases (booking_scale_*) for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

sizes="${SCALE_SIZES:-1000,1000000}"
seconds="${SCALE_SECONDS:-5}"
rounds="${SCALE_ROUNDS:-3}"
only="${SCALE_ONLY:-}"
psql_admin=(env PGOPTIONS="-c client_min_messages=warning" psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -v ON_ERROR_STOP=1 -qX)

ensure_postgres
command -v pgbench >/dev/null || { echo "pgbench is missing (apt-get install postgresql-client)" >&2; exit 1; }

work="$(mktemp -d)"
pids=()
dbs=()
cleanup() {
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ "${SCALE_KEEP_DBS:-}" != 1 ]; then
    for db in "${dbs[@]}"; do
      "${psql_admin[@]}" -c "DROP DATABASE IF EXISTS ${db} WITH (FORCE)" >/dev/null 2>&1 || true
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

log "building the booking binary (release flags) and the load generator (module e2e)"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/booking" ./cmd/booking
(cd e2e && go build -o "$work/scalebench" ./scalebench)
: >"$work/empty.env" # no .env file from the working tree
export ENV_FILE="$work/empty.env"
password="scale-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

run_args=()
labels=()
IFS=, read -r -a size_list <<<"$sizes"
for n in "${size_list[@]}"; do
  case "$n" in
    1000) label=1k ;; 1000000) label=1M ;; *) label="$n" ;;
  esac
  db="booking_scale_$(echo "$label" | tr 'A-Z' 'a-z')"
  db_url="postgres://postgres@127.0.0.1:5432/${db}?sslmode=disable"
  dbs+=("$db")
  log "size ${label}: creating database ${db} and loading ${n} bookings"
  "${psql_admin[@]}" -c "DROP DATABASE IF EXISTS ${db} WITH (FORCE)" -c "CREATE DATABASE ${db}"
  DATABASE_URL="$db_url" LOG_LEVEL=warn "$work/booking" migrate
  start=$SECONDS
  "$work/scalebench" load -db "$db_url" -bookings "$n"
  load_seconds=$((SECONDS - start))
  # Write out what the load left dirty now, rather than in a checkpoint
  # spread over the first minutes of the measurements (it slowed the
  # endpoints measured first at a million bookings, pgbench as much as HTTP).
  "${psql_admin[@]}" -c "CHECKPOINT"
  printf '%s\n' "$password" | DATABASE_URL="$db_url" LOG_LEVEL=warn "$work/booking" user create --email scale@example.com --role READONLY >/dev/null

  port="$("$work/scalebench" freeport)"
  log "size ${label}: starting booking serve on 127.0.0.1:${port}"
  env DATABASE_URL="$db_url" APP_ENV=development LOG_LEVEL=warn \
    LISTEN_ADDR="127.0.0.1:${port}" APP_URL="http://127.0.0.1:${port}" \
    BOOKING_PER_MINUTE=0 LOGIN_PER_MINUTE=100 \
    "$work/booking" serve >"$work/server-${label}.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 1 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:${port}/livez" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/server-${label}.log" >&2; echo "server exited" >&2; exit 1; }
    sleep 0.2
  done
  log "size ${label}: server PID ${pid}"
  run_args+=(-size "${label},${n},${db_url},http://127.0.0.1:${port},${pid},${load_seconds}")
  labels+=("$label")
done

status=0
"$work/scalebench" run "${run_args[@]}" -email scale@example.com -password "$password" \
  -seconds "$seconds" -rounds "$rounds" -only "$only" -out-dir "$work" || status=$?
for label in "${labels[@]}"; do
  if [ -s "$work/server-${label}.log" ]; then
    log "server log of size ${label} (warnings and errors):"
    tail -n 20 "$work/server-${label}.log" >&2
  fi
done
if [ -n "${SCALE_KEEP:-}" ]; then
  mkdir -p "$SCALE_KEEP" && cp "$work"/*.json "$SCALE_KEEP/" 2>/dev/null || true
fi
if [ "$status" -ne 0 ]; then
  echo "scale benchmark failed" >&2
  exit "$status"
fi
in="$(for label in "${labels[@]}"; do printf '%s/%s.json,' "$work" "$label"; done)"
"$work/scalebench" report -in "${in%,}" -out docs/BENCHMARKS.md -command "./scripts/scale-bench.sh"
