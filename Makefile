# sproudchat — see README.md. `make run` starts the product, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := build

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/sproudstack/sproudchat/instance/internal/app.Version=$(VERSION)
BIN := $(CURDIR)/bin
MODULES := platform instance provisioning controlplane scripts
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Every target builds with the Go release named by go.work's toolchain line (a patch
# release carrying the standard library's security fixes), which the go command fetches
# from the module proxy once; the environment can still override it.
export GOTOOLCHAIN ?= $(shell sed -n 's/^toolchain //p' go.work)

.PHONY: build images run run-instance test test-unit lint tidy-check vulncheck bench clean

## build: static binaries sproudchat and sproudctl into ./bin (CGO off: they run FROM scratch)
build:
	cd instance && CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/sproudchat ./cmd/sproudchat
	cd controlplane && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w -X github.com/sproudstack/sproudchat/controlplane/internal/cli.Version=$(VERSION)' -o $(BIN)/sproudctl ./cmd/sproudctl

## images: the instance image sproudchat/app:$(VERSION), FROM scratch, nothing pulled
images:
	bash scripts/build-images.sh $(VERSION)

## run: build and start the control plane on embedded defaults (see README)
run: build
	@VERSION=$(VERSION) bash scripts/run.sh

## run-instance: build and start one instance alone (SQLite under ./data)
run-instance: build
	@bash scripts/run-local.sh

## test: every test, against real PostgreSQL (started by scripts/test-services.sh); prints
## one line per package, failed tests' output and skipped tests (a failure when CI=true)
test: build
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@set -o pipefail; eval "$$(bash scripts/test-services.sh)" && export SPROUDCHAT_BINARY=$(BIN)/sproudchat SPROUDCTL_BINARY=$(BIN)/sproudctl && \
	{ rc=0; for m in $(MODULES); do (cd $$m && go test -json -race -count=1 -timeout 20m ./...) || rc=1; done; exit $$rc; } | \
	(cd scripts && go run ./testreport)

## test-unit: the fast tests only; PostgreSQL tests skip unless CI=true
test-unit:
	for m in $(MODULES); do (cd $$m && go test -short ./...) || exit 1; done

## lint: gofmt, go vet, staticcheck
lint:
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	for m in $(MODULES); do (cd $$m && go vet ./... && go run $(STATICCHECK) ./...) || exit 1; done

## tidy-check: every module's go.mod says exactly what its code imports
tidy-check:
	@for m in $(MODULES); do (cd $$m && go mod tidy -diff) || { echo "$$m/go.mod is not tidy: run go mod tidy there" >&2; exit 1; }; done

## vulncheck: govulncheck on every module, with the vulnerability database from the module proxy
vulncheck:
	bash scripts/vulncheck.sh $(MODULES)

## bench: benchmarks (not tests); figures go to bench/results/*.json
bench: build
	cd instance && go run ./cmd/benchinstance -binary $(BIN)/sproudchat -out $(CURDIR)/bench/results/instance.json
	@eval "$$(bash scripts/test-services.sh)" && go run ./instance/cmd/benchhelpdesk -out bench/results/tickets-kb.json
	go run ./instance/cmd/benchchat -binary $(BIN)/sproudchat -out bench/results/chat.json
	go run ./instance/cmd/benchbooking -out bench/results/booking-notify.json
	go run ./provisioning/cmd/benchprovisioning -out bench/results/provisioning.json
	go run ./controlplane/cmd/benchcontrolplane -sproudctl $(BIN)/sproudctl -sproudchat $(BIN)/sproudchat -out bench/results/controlplane.json
	cd instance && go build -o $(BIN)/benchdata ./cmd/benchdata
	go run ./controlplane/cmd/benchbackup -sproudchat $(BIN)/sproudchat -benchdata $(BIN)/benchdata -out bench/results/backups.json

clean:
	rm -rf $(BIN)
