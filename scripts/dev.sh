#!/usr/bin/env bash
# Runs the product locally: starts (or reuses) PostgreSQL, creates the
# database, migrates, seeds a demo resource and serves on http://localhost:3000.
# Without STRIPE_SECRET_KEY, payments run in demo mode. Without SMTP_URL,
# messages go to a local Mailpit (installed and started here): its inbox is
# at http://127.0.0.1:8025.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_postgres
if [ -z "${SMTP_URL:-}" ]; then
  ensure_mailpit
  export SMTP_URL="smtp://127.0.0.1:1025?tls=none"
  export MAIL_FROM="${MAIL_FROM:-Demo Studio <bookings@example.com>}"
  export STAFF_NOTIFY_EMAIL="${STAFF_NOTIFY_EMAIL:-staff@example.com}"
  mail_note="messages (customers and ${STAFF_NOTIFY_EMAIL}) go to Mailpit: http://127.0.0.1:8025"
else
  mail_note="messages go to the mail server of SMTP_URL"
fi
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
log "$mail_note"
log "serving on ${APP_URL:-http://localhost:${PORT:-3000}} (Ctrl-C to stop)"
exec bin/booking serve
