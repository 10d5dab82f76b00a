#!/usr/bin/env bash
# `make test`: every test, each phase timed (scripts/phase.sh). The local
# control plane and the Pulumi engine build from source in the background
# while the packages install, lint compiles and the unit tests run, since on
# a fresh machine they are the longest waits.
set -euo pipefail
cd "$(dirname "$0")/.."
logs=build/logs
mkdir -p "$logs"
parallel=${TEST_PARALLEL:-4}
# Test binaries link without a symbol table or DWARF (-s implies -w): a
# binary that links the Pulumi SDKs then takes 5 CPU-s to link, not 10.
# -trimpath keeps the checkout's folder out of every compile, so a clone
# in another folder reuses the build cache (go vet and staticcheck of a
# fresh clone: 75 s instead of 3); nothing here reads its own source path.
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-ldflags=-s -trimpath"

scripts/phase.sh control-plane --log "$logs/control-plane.log" -- scripts/build-control-plane.sh >/dev/null &
plane=$!
# The script prints the engine's folder; stacks/kubelayer's test reads it
# from CANARY_PULUMI_ENGINE_BIN.
engine_dir="$logs/pulumi-engine.dir"
scripts/phase.sh pulumi-engine --log "$logs/pulumi-engine.log" -- bash -c 'scripts/build-pulumi-engine.sh >"$0"' "$engine_dir" >/dev/null &
engine=$!
scripts/phase.sh deps -- scripts/install-test-deps.sh --no-control-plane
scripts/phase.sh lint -- make --no-print-directory lint
scripts/phase.sh unit --log "$logs/test-unit.log" -- make --no-print-directory test-unit
if ! wait "$plane"; then
  echo "building the local control plane failed: see $logs/control-plane.log" >&2
  exit 1
fi
if ! wait "$engine"; then
  echo "building the Pulumi engine failed: see $logs/pulumi-engine.log" >&2
  exit 1
fi
CANARY_PULUMI_ENGINE_BIN="$(cat "$engine_dir")"
export CANARY_PULUMI_ENGINE_BIN
scripts/phase.sh integration --log "$logs/test.log" -- go test -timeout 40m -parallel "$parallel" ./...
modules=$(find microservices -name go.mod -not -path '*/node_modules/*' -exec dirname {} \; | sort)
for m in $modules; do
  scripts/phase.sh "module ${m#microservices/}" --log "$logs/test-${m//\//-}.log" -- bash -c "cd $m && go test -timeout 20m ./..."
done
scripts/phase.sh bench-smoke -- make --no-print-directory bench-smoke
