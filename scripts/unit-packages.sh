#!/usr/bin/env bash
# Prints the root module's packages whose tests need nothing but Go: no local
# control plane, no state machine interpreter, no Pulumi program link. `make
# test-unit` runs exactly these; `make test` runs everything.
set -euo pipefail
cd "$(dirname "$0")/.."
# Packages whose tests run programs that scripts/install-test-deps.sh
# installs (cfn-lint, Node's asl-validator), though they import nothing heavy.
tools='/internal/awsrules$'
heavy='(^| )github\.com/eks-canary/platform/(internal/testcluster|internal/asl)( |$)|(^| )github\.com/pulumi/pulumi/sdk/v3/go/pulumi( |$)'
{
  # Test variants: the package under test and whether its tests link anything heavy.
  go list -test -f '{{if .ForTest}}variant {{.ForTest}} {{join .Deps " "}}{{end}}' ./...
  # Packages that have tests at all.
  go list -f '{{if or .TestGoFiles .XTestGoFiles}}tested {{.ImportPath}}{{end}}' ./...
} | awk -v heavy="$heavy" -v tools="$tools" '
  $1 == "variant" { pkg = $2; $1 = ""; $2 = ""; if ($0 ~ heavy || pkg ~ /\/internal\/testcluster$/ || pkg ~ tools) slow[pkg] = 1; next }
  $1 == "tested"  { tested[$2] = 1 }
  END { for (p in tested) if (!(p in slow)) print p }
' | sort
