#!/usr/bin/env bash
# Runs the product locally: starts (or reuses) PostgreSQL, creates the
# database, migrates, seeds a demo resource and serves on http://localhost:3000.
# Without STRIPE_SECRET_KEY, payments run in demo mode.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_postgres
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/booking?sslmode=disable}"
if [ -z "${DATABASE_URL##*127.0.0.1:5432/booking?*}" ]; then
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'booking'" | grep -q 1 \
    || { log "creating database booking"; psql -h 127.0.0.1 -U postgres -qc 'CREATE DATABASE booking'; }
fi
log "building"
mkdir -p bin
go build -o bin/booking ./cmd/booking
bin/booking migrate
bin/booking seed

# --- staff account -----------------------------------------------------------
# On a database without staff, create the ADMIN account admin@example.com; its
# generated password is printed once, here. Sign in at /login.
if [ "$(psql "$DATABASE_URL" -tAc 'SELECT count(*) FROM staff_users')" = "0" ]; then
  log "creating the staff account admin@example.com (ADMIN); note the password below"
  bin/booking user create --email admin@example.com --role ADMIN </dev/null
fi
# ------------------------------------------------------------------------------
log "serving on ${APP_URL:-http://localhost:${PORT:-3000}} (Ctrl-C to stop)"
exec bin/booking serve
