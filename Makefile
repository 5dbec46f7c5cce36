# Build, test and tooling entry points; `make help` lists them.
#
# Tools the targets install live under .cache (git-ignored), except the protoc plugins, which `go install` puts in
# the Go bin directory where the packages' //go:generate lines look for them.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO ?= go
MVN ?= mvn
MODULE := github.com/pulsar-kinesis/kinesis-sink
# Downloads and tool installs; scripts/local-env.sh uses the same directory.
CACHE_DIR ?= $(or $(KS_CACHE_DIR),$(CURDIR)/.cache)
LOCAL_ENV := scripts/local-env.sh

# Stamped into internal/version by `build`; overridable, e.g. make build VERSION=v1.2.3.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X $(MODULE)/internal/version.Version=$(VERSION) -X $(MODULE)/internal/version.Commit=$(COMMIT)

STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(CACHE_DIR)/bin/staticcheck-$(STATICCHECK_VERSION)/staticcheck
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
GO_BIN_DIR = $(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin)

# Run apt-get through sudo unless already root.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

# The variables integration tests read: `make unit` clears them so that nothing reaches for a service.
SERVICE_VARS := PULSAR_HOME PULSAR_SERVICE_URL PULSAR_WEB_URL KINESIS_ENDPOINT AWS_EMULATOR_ENDPOINT KS_REQUIRE_SERVICES

.PHONY: help build test test-tools test-faults test-compat soak unit lint generate generate-tools up down env status clean demo bench package fuzz test-nar-java

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -e 's/:.*## /\t/' | expand -t 16

build: ## build bin/kinesis-sink (static, version-stamped)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/kinesis-sink ./cmd/kinesis-sink

# The fault suite (internal/faultsuite): records per scenario in make test-faults and in make test.
FAULTS_N ?= 20000
FAULTS_SHORT_N ?= 2000
# The soak: how long it publishes and at what rate (records/s).
SOAK_DURATION ?= 30m
SOAK_RATE ?= 200

# Integration packages share one Pulsar and one kinesalite; -p 2 keeps at most two packages on them at a time. The
# short fault suite runs afterwards, alone (go test ./... skips it without KS_FAULTS=1).
test: build test-tools ## build, start the local services, run every test against them, a short fault suite and the Pulsar-line tests, stop the services
	scripts/lib/with-services.sh bash -c '$(GO) test -count=1 -timeout 40m -p 2 ./... && (cd packaging/grafana && $(GO) test -count=1 ./...) && KS_SINK_VIA_NAR=archive $(GO) test -count=1 -timeout 15m -run "^TestEveryFormatThroughTheRuntime$$" ./sink/ && KS_SINK_VIA_NAR=sink-type $(GO) test -count=1 -timeout 15m -run "^TestEveryFormatThroughTheRuntime$$" ./sink/ && KS_FAULTS_N=$(FAULTS_SHORT_N) scripts/fault-suite.sh suite && scripts/compat.sh'
	FUZZTIME=$(TEST_FUZZTIME) GO=$(GO) scripts/fuzz.sh
	$(MAKE) test-nar-java

test-nar-java: ## the NAR's JUnit tests (the sidecar protocol's golden frames, shared with runtime/sidecar; the Java sink against a stand-in child)
	$(GO) build -o packaging/nar/target/nar_fakechild ./sink/testdata/nar_fakechild
	$(MVN) -q -B -Dstyle.color=never -f packaging/nar/pom.xml test

# Which sinks the fault suite runs, comma-separated: go (localrun), nar (our NAR), java (Apache Pulsar's Kinesis sink NAR).
SINKS ?= go
test-faults: build test-tools ## fault suite: every scenario with FAULTS_N records for SINKS (go, nar, java, comma-separated), table of missing/duplicates/out-of-order/unacked
	scripts/lib/with-services.sh env KS_FAULTS_N=$(FAULTS_N) KS_FAULTS_SINKS=$(SINKS) scripts/fault-suite.sh suite

# Pulsar lines the worker tests run on (make test-compat; make test runs them too).
COMPAT_VERSIONS ?= 3.3.6 4.0.8 5.0.1
test-compat: build test-tools ## worker deploy, status, stop/delete and the four formats through parallelism 2, on each Pulsar line (COMPAT_VERSIONS)
	scripts/lib/with-services.sh env KS_COMPAT_VERSIONS='$(COMPAT_VERSIONS)' scripts/compat.sh

soak: build test-tools ## soak (not in CI): SOAK_DURATION at SOAK_RATE/s with rotating faults; RSS, goroutines, missing
	scripts/lib/with-services.sh env KS_SOAK_DURATION=$(SOAK_DURATION) KS_SOAK_RATE=$(SOAK_RATE) scripts/fault-suite.sh soak

unit: ## run the tests that need no service (go test -short)
	env $(addprefix -u ,$(SERVICE_VARS)) $(GO) test -short -count=1 ./...
	cd packaging/grafana && env $(addprefix -u ,$(SERVICE_VARS)) $(GO) test -short -count=1 ./...

# The producer's randomized simulation (sink/producer/sim_test.go) on the in-process Kinesis model and a fake
# clock: SEEDS seeds from SIM_FIRST; make test runs its default 2,000.
SEEDS ?= 100000
SIM_FIRST ?= 1
.PHONY: sim
sim: ## producer simulation: SEEDS seeds (default 100000) from SIM_FIRST, seeds run and simulated hours at the end
	$(GO) test -count=1 -timeout 0 -run '^TestSimulation$$' -v ./sink/producer -sim.seeds=$(SEEDS) -sim.first=$(SIM_FIRST) | grep -v -e '^=== ' -e '--- PASS: TestSimulation/'

lint: $(STATICCHECK) ## go vet and staticcheck
	$(GO) vet ./...
	$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN='$(dir $@)' $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

generate: generate-tools ## regenerate protobuf/gRPC and flatbuffers code (go generate ./...)
	PATH='$(GO_BIN_DIR)':"$$PATH" $(GO) generate ./...

# protoc and flatc from Debian; the Go plugins at the versions matching go.mod's runtime libraries.
generate-tools:
	@command -v protoc >/dev/null || { $(SUDO) apt-get install -y -q protobuf-compiler || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q protobuf-compiler; }; }
	@command -v flatc >/dev/null || { $(SUDO) apt-get install -y -q flatbuffers-compiler || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q flatbuffers-compiler; }; }
	@$(GO) version -m '$(GO_BIN_DIR)/protoc-gen-go' 2>/dev/null | grep -q 'google.golang.org/protobuf[[:space:]]*$(PROTOC_GEN_GO_VERSION)' || \
		$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	@$(GO) version -m '$(GO_BIN_DIR)/protoc-gen-go-grpc' 2>/dev/null | grep -q 'google.golang.org/grpc/cmd/protoc-gen-go-grpc[[:space:]]*$(PROTOC_GEN_GO_GRPC_VERSION)' || \
		$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

# What some tests compare against besides the services: flatc decodes our FlatBuffers output, the Java
# reference tests run real Gson and flatbuffers-java on the same records, and aws-kinesis-agg (npm) de-aggregates
# the KPL aggregated records we write (scripts/kpl-deagg.js).
AWS_KINESIS_AGG_VERSION := 4.2.8
test-tools:
	@[ "$$(node -p "require('$(CACHE_DIR)/aws-kinesis-agg/node_modules/aws-kinesis-agg/package.json').version" 2>/dev/null)" = "$(AWS_KINESIS_AGG_VERSION)" ] || \
		npm install --prefix '$(CACHE_DIR)/aws-kinesis-agg' --no-audit --no-fund --loglevel=error aws-kinesis-agg@$(AWS_KINESIS_AGG_VERSION) >&2
	@command -v flatc >/dev/null || { $(SUDO) apt-get install -y -q flatbuffers-compiler || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q flatbuffers-compiler; }; }
	@for a in com.google.code.gson:gson:2.11.0 com.google.flatbuffers:flatbuffers-java:2.0.8; do \
		f=$$HOME/.m2/repository/$$(echo $$a | cut -d: -f1 | tr . /)/$$(echo $$a | cut -d: -f2)/$$(echo $$a | cut -d: -f3); \
		[ -d "$$f" ] || mvn -q -B dependency:get -Dartifact=$$a >/dev/null; done

up: ## install (first time) and start Pulsar, kinesalite and moto on 127.0.0.1
	$(LOCAL_ENV) up

down: ## stop what `up` started
	$(LOCAL_ENV) down

env: ## print the export lines for the services: eval "$(make -s env)"
	@$(LOCAL_ENV) env

status: ## show what runs
	@$(LOCAL_ENV) status

# A multi-node Pulsar cluster (docs/cluster.md) with its own state dir (.local-cluster) and ports, so that it runs
# beside the standalone of `make up`.
.PHONY: cluster-up cluster-down test-cluster
cluster-up: ## start a local Pulsar cluster (ZooKeeper, 2 bookies, 2 brokers with functions workers) and kinesalite
	KS_TOPOLOGY=cluster $(LOCAL_ENV) up pulsar kinesalite

cluster-down: ## stop what cluster-up (or test-cluster) started, function instances included
	KS_TOPOLOGY=cluster $(LOCAL_ENV) down

# A cluster already up (make cluster-up) is used and left running; otherwise one is started and stopped again.
test-cluster: ## the tests on a multi-node cluster (sink/cluster_e2e_test.go), started for them unless already up
	KS_TOPOLOGY=cluster scripts/lib/with-services.sh env KS_REQUIRE_CLUSTER=1 $(GO) test -count=1 -timeout 40m -run '^TestCluster' -v ./sink/

clean: ## remove build output
	rm -rf bin dist

package: ## reproducible release zips (linux amd64 and arm64) and the kinesis-go NAR in dist/
	scripts/package.sh

demo: build ## deploy the sink in every message format through the local functions worker and show what reaches Kinesis
	scripts/demo.sh

# BENCH_ARGS passes flags to the benchmark, e.g. make bench BENCH_ARGS=-quick (go run ./scripts/bench -h lists them).
BENCH_ARGS ?=
bench: build ## benchmark: our sink vs a consume-only ceiling and the Java sink (table, bench/results/*.json and .png)
	scripts/bench.sh $(BENCH_ARGS)

# Every `func Fuzz...` of the module (found by grep, so new targets are included), FUZZTIME each.
FUZZTIME ?= 60s
# make test's short pass per target: a count of inputs, not a duration. With a few seconds the fuzzing engine
# sometimes ends a target with "context deadline exceeded" before its workers have started (a clean clone's
# make test failed so on sink/format's FuzzEncode while the machine was loaded); a count has no deadline.
TEST_FUZZTIME ?= 2000x

fuzz: ## run every fuzz target for FUZZTIME each (default 60s); crashers land in <pkg>/testdata/fuzz
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh
