# One environment program, one test command. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
STACK ?= dev
BUILD := build
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Engine scenarios wait on the local API server more than they compute:
# run this many at once.
TEST_PARALLEL ?= 4
# The root module's packages with benchmarks (the others need no test binary for them).
BENCH_PACKAGES = $(addprefix ./,$(sort $(dir $(shell git grep -l '^func Benchmark' -- '*_test.go' ':!microservices'))))
GO_MODULES := $(shell find microservices -name go.mod -not -path '*/node_modules/*' -exec dirname {} \;)

.PHONY: up preview destroy graph test test-unit test-engine pulumi-engine bench-smoke lint test-deps vet bench scale demo build lambda tools control-plane checks aws-models

## up: build and deploy the whole environment of stack $(STACK) (local state backend unless logged in)
up:
	scripts/pulumi.sh up $(STACK)

preview:
	scripts/pulumi.sh preview $(STACK)

## destroy: remove everything the stack created
destroy:
	scripts/pulumi.sh destroy $(STACK)

## graph: the resource tree the stack config would create, offline, no credentials
graph:
	scripts/build-program.sh $(BUILD)/bin/graph ./stacks/cmd/graph
	$(BUILD)/bin/graph --stack $(STACK)

## test: every test, against the real things that run here (the fast lane first); each phase prints its time
test:
	TEST_PARALLEL=$(TEST_PARALLEL) scripts/test.sh

test-deps:
	scripts/install-test-deps.sh

## test-engine: the Kubernetes layer of both traffic layers deployed, updated and destroyed by the real Pulumi engine on a local control plane (part of test)
test-engine: control-plane pulumi-engine
	CANARY_PULUMI_ENGINE_BIN=$$(scripts/build-pulumi-engine.sh) go test -count=1 -timeout 30m ./stacks/kubelayer

## pulumi-engine: build the Pulumi CLI and the Kubernetes provider once into a cache folder (prints it)
pulumi-engine:
	scripts/build-pulumi-engine.sh

## test-unit: the tests that need nothing but Go (no control plane, no Pulumi link); about a minute warm
test-unit:
	go test -timeout 40m $$(scripts/unit-packages.sh)

## lint: formatting, go vet and staticcheck over every module
lint: vet
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [[ -n $$unformatted ]]; then echo "gofmt would change:" $$unformatted >&2; exit 1; fi
	go run $(STATICCHECK) ./...
	for m in $(GO_MODULES); do (cd $$m && go run $(STATICCHECK) ./...); done

## checks: the program against AWS's and Kubernetes' own rules (part of test; see docs/testing.md "Offline checks")
checks: test-deps
	go test ./internal/upstream ./internal/awsrules ./internal/chartcheck ./internal/kubecheck ./infra/traffic/manifests ./stacks/checks

## aws-models: regenerate the pinned subset of AWS's service models the checks use
aws-models:
	go run ./internal/awsrules/gen

vet:
	go vet ./...
	for m in $(GO_MODULES); do (cd $$m && go vet ./...); done

## bench: speed and size figures (handler time per step, overhead, rollback latency, Lambda zip and cold start)
bench: test-deps
	go test -run '^$$' -bench . -benchtime 20x -benchmem ./lambdas/...
	go run ./lambdas/cmd/lambdabench
	for m in $(GO_MODULES); do (cd $$m && go test -run '^$$' -bench . -benchmem ./...); done

## bench-smoke: every benchmark once, to prove each one ends (part of test; asserts nothing about speed)
bench-smoke:
	go test -run '^$$' -bench . -benchtime 1x $(BENCH_PACKAGES)
	for m in $(GO_MODULES); do (cd $$m && go test -run '^$$' -bench . -benchtime 1x ./...); done

## scale: 500 rollouts at once (100 failing) on one local control plane; minutes, so not part of test
scale: control-plane
	go run ./lambdas/cmd/scalebench $(SCALE_FLAGS)

## demo: a canary rollout and a roll back on a local control plane, watched live (needs only Go and the control plane)
demo: control-plane tools
	scripts/demo.sh

## tools: the operator CLI and the local runner, in $(BUILD)/bin
tools:
	mkdir -p $(BUILD)/bin
	go build -o $(BUILD)/bin/canaryctl ./lambdas/cmd/canaryctl
	go build -o $(BUILD)/bin/canary-run ./lambdas/cmd/canary-run

control-plane:
	scripts/build-control-plane.sh
