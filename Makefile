.DEFAULT_GOAL := help
.PHONY: help run test lint bench steps build fmt vet fuzz soak scale

# The Go modules: the product at the root, browser tests and the benchmark tool in e2e/.
MODULES := . e2e

# Size of `make soak`: histories of the model-based test and steps per history.
SOAK_HISTORIES ?= 5000
SOAK_STEPS ?= 60

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

run: ## run the product locally (PostgreSQL, demo resource, demo payments, admin account)
	./scripts/dev.sh

test: ## run every test of both modules (installs and starts PostgreSQL, PgBouncer, stripe-mock, Mailpit and Chromium when absent)
	./scripts/test.sh

lint: ## golangci-lint on both modules (.golangci.yml), installing the pinned version when missing
	./scripts/lint.sh

bench: ## webhook ingestion benchmark side by side with pgbench; writes docs/BENCHMARKS.md
	./scripts/bench.sh

steps: ## the payment write path's SQL built up from the minimal durable work, with pgbench (about 2 min)
	./scripts/write-steps.sh

scale: ## every endpoint at 1k and 1M bookings side by side with pgbench (about 25 min); writes docs/BENCHMARKS.md
	./scripts/scale-bench.sh

build: ## static release binary in bin/booking, built like the Dockerfile
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o bin/booking ./cmd/booking

fmt: ## gofmt the sources
	gofmt -w cmd internal e2e

vet: ## go vet both modules
	@for m in $(MODULES); do (cd $$m && go vet ./...) || exit 1; done

fuzz: ## fuzz the webhook handler and the booking decoder for a minute each
	go test -run '^$$' -fuzz '^FuzzWebhook$$' -fuzztime 60s ./internal/httpapi/
	go test -run '^$$' -fuzz '^FuzzDecodeBookingRequest$$' -fuzztime 60s ./internal/httpapi/

soak: ## model-based test of the money rules at length (5000 histories of 60 steps, up to 2 h; PostgreSQL on 127.0.0.1:5432); prints the summary and the paths taken
	@log="$${TMPDIR:-/tmp}/booking-soak.log"; echo "soak: $(SOAK_HISTORIES) histories of $(SOAK_STEPS) steps; full output in $$log"; \
	MODEL_HISTORIES=$(SOAK_HISTORIES) MODEL_STEPS=$(SOAK_STEPS) go test -run '^TestModel$$' -count=1 -timeout 2h -v ./internal/modeltest/ >"$$log" 2>&1; rc=$$?; \
	grep -E '^# |\.go:[0-9]+:[0-9]+: |model test:|paths taken|^ +[0-9]+  |failed at step|reproduce:|shrunk to|--- FAIL|^FAIL|^ok' "$$log"; \
	exit $$rc
