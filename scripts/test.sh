#!/usr/bin/env bash
# `make test`: every test, each phase timed (scripts/phase.sh). The local
# control plane builds from source in the background while the packages
# install, lint compiles and the unit tests run, since on a fresh machine
# it is the longest single wait.
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
scripts/phase.sh deps -- scripts/install-test-deps.sh --no-control-plane
scripts/phase.sh lint -- make --no-print-directory lint
scripts/phase.sh unit --log "$logs/test-unit.log" -- make --no-print-directory test-unit
if ! wait "$plane"; then
  echo "building the local control plane failed: see $logs/control-plane.log" >&2
  exit 1
fi
scripts/phase.sh integration --log "$logs/test.log" -- go test -timeout 40m -parallel "$parallel" ./...
modules=$(find microservices -name go.mod -not -path '*/node_modules/*' -exec dirname {} \; | sort)
for m in $modules; do
  scripts/phase.sh "module ${m#microservices/}" --log "$logs/test-${m//\//-}.log" -- bash -c "cd $m && go test -timeout 20m ./..."
done
scripts/phase.sh bench-smoke -- make --no-print-directory bench-smoke
