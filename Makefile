.DEFAULT_GOAL := help
.PHONY: help run test lint bench build fmt vet fuzz

# The Go modules: the product at the root, browser tests and the benchmark tool in e2e/.
MODULES := . e2e

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

run: ## run the product locally (PostgreSQL, demo resource, demo payments, admin account)
	./scripts/dev.sh

test: ## run every test of both modules (installs and starts PostgreSQL, stripe-mock and Chromium when absent)
	./scripts/test.sh

lint: ## golangci-lint on both modules (.golangci.yml), installing the pinned version when missing
	./scripts/lint.sh

bench: ## webhook ingestion benchmark side by side with pgbench; writes docs/BENCHMARKS.md
	./scripts/bench.sh

build: ## static release binary in bin/booking, built like the Dockerfile
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o bin/booking ./cmd/booking

fmt: ## gofmt the sources
	gofmt -w cmd internal e2e

vet: ## go vet both modules
	@for m in $(MODULES); do (cd $$m && go vet ./...) || exit 1; done

fuzz: ## fuzz the webhook handler and the booking decoder for a minute each
	go test -run '^$$' -fuzz '^FuzzWebhook$$' -fuzztime 60s ./internal/httpapi/
	go test -run '^$$' -fuzz '^FuzzDecodeBookingRequest$$' -fuzztime 60s ./internal/httpapi/
