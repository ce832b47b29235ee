#!/usr/bin/env bash
# Runs golangci-lint (.golangci.yml) on both Go modules, the product at the
# root and e2e/, installing the pinned version into GOPATH/bin when it is
# missing (cached across runs).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_golangci_lint
for m in . e2e; do
  log "golangci-lint ($m)"
  (cd "$m" && golangci-lint run ./...)
done
