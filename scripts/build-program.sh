#!/usr/bin/env bash
# Builds one of the program's binaries and says what it is doing: the first
# build compiles the Pulumi AWS, EKS and Kubernetes SDKs (about 820
# packages; about 4 minutes on two cores), later ones take under a minute.
#   scripts/build-program.sh OUTPUT PACKAGE
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1 pkg=$2
total=$(go list -deps "$pkg" | wc -l)
echo "building $pkg into $out ($total packages; the first build takes about 4 min on two cores, later ones under a minute)" >&2
started=$SECONDS
# go build -v names each package as it compiles it: a line every 50.
go build -v -o "$out" "$pkg" 2>&1 | awk -v total="$total" -v start="$(date +%s)" '
  /^#|: / { print > "/dev/stderr"; next }
  { n++; if (n % 50 == 0) { printf "  compiled %d of at most %d packages (%d s)\n", n, total, systime() - start > "/dev/stderr"; fflush("/dev/stderr") } }
'
echo "built $out in $((SECONDS - started)) s" >&2
