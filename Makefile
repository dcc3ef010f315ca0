# hamnflow: build, test, demo, bench. `make test` is what CI runs.
GO        ?= go
BIN       ?= bin/hamnflow
TESTFLAGS ?= -count=1 -timeout 25m

.PHONY: all build deps test unit demo bench man clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/hamnflow
	$(GO) build -o bin/hamnflow-lab ./cmd/hamnflow-lab

# What the lab and its tests need (Debian packages), installed if missing.
deps:
	./integration/deps.sh

# Every test: unit, CLI scripts, crash tests and the lab end-to-end tests
# (build tag lab: they need root, network namespaces and deps' packages).
# Then the engine, journal, steps and CLI once more under the race detector.
test: deps
	$(GO) test -tags lab $(TESTFLAGS) ./...
	$(GO) test -race $(TESTFLAGS) ./workflow/... ./journal/... ./steps/... ./playbooks ./cmd/...

# Tests that need no lab and no root: what `go test ./...` runs.
unit:
	$(GO) test -count=1 ./...

# Build, bring up the lab, run a failover on it, show the history, tear down.
demo: deps build
	./integration/demo/demo.sh $(BIN)

# Benchmarks whose figures are in the README (the lab ones need root, jq,
# and for the comparison, ansible: apt-get install -y jq ansible).
bench: build
	./bench/run.sh ./bench/engine ./journal ./journal/etcd
	./bench/ssh/run.sh
	./bench/failover/run.sh

man: build
	$(BIN) man > hamnflow.1

clean:
	rm -rf bin hamnflow.1
