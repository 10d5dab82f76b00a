#!/usr/bin/env bash
# Builds the real Pulumi engine the Kubernetes layer's test runs under: the
# Pulumi CLI and the Kubernetes provider (pulumi-resource-kubernetes), from
# the Go module proxy, into a cache folder outside the repository keyed by
# version, and prints that folder (the binaries are in its bin/, where the
# Automation API looks for the CLI). Re-running is cheap: finished binaries
# are reused.
#
# The provider module is served only as a pseudo-version and without its
# generated schema-embed.json; the build regenerates it with the provider's
# own generate.go. The CLI is built from the pulumi/pkg version the
# provider pins, in the same module, so the engine packages both need
# compile once.
set -euo pipefail
cd "$(dirname "$0")/.."

PROVIDER_MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
PROVIDER_VERSION="${PULUMI_KUBERNETES_PROVIDER:-v4.0.0-20260115033456-f47bc2d6f199}"
# The provider reports the SDK's version, the one the program registers
# its resources with.
SDK_VERSION="$(go list -m -f '{{.Version}}' github.com/pulumi/pulumi-kubernetes/sdk/v4)"
CACHE="${PULUMI_ENGINE_CACHE:-$HOME/.cache/canary-platform/pulumi-engine}"
BIN="$CACHE/kubernetes-$SDK_VERSION-provider-$PROVIDER_VERSION"

complete() { [[ -x $BIN/bin/pulumi && -x $BIN/bin/pulumi-resource-kubernetes ]]; }

mkdir -p "$BIN/bin"
# shellcheck source=scripts/lib/build-once.sh
source scripts/lib/build-once.sh
exit_if_built "$CACHE" "$BIN"

build() {
  local work="$CACHE/src"
  rm -rf "$work" && mkdir -p "$work"
  cd "$work"
  local dir
  dir="$(go mod download -json "$PROVIDER_MODULE@$PROVIDER_VERSION" | jq -r .Dir)"
  cp -r "$dir" provider && chmod -R u+w provider
  local pkg_version
  pkg_version="$(awk '$1 == "github.com/pulumi/pulumi/pkg/v3" {print $2}' provider/go.mod)"
  local pkg_mod
  pkg_mod="$(go mod download -json "github.com/pulumi/pulumi/pkg/v3@$pkg_version" | jq -r .GoMod)"
  {
    echo "module local/pulumi-engine"
    echo
    grep -E '^go ' provider/go.mod
    echo
    echo "require $PROVIDER_MODULE $PROVIDER_VERSION"
    echo
    echo "replace $PROVIDER_MODULE => ./provider"
    # pkg's own replaces that name another module (the CLI needs them).
    grep -E '^replace .* => [^.]' "$pkg_mod" || true
  } > go.mod
  cp provider/go.sum go.sum
  cat > tools.go <<GO
//go:build tools

package tools

import (
	_ "$PROVIDER_MODULE/cmd/pulumi-resource-kubernetes"
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
GO
  GOFLAGS=-mod=mod go mod tidy >/dev/null

  # schema-embed.json and terraform-mapping-embed.json, as the provider's
  # go:generate writes them.
  mkdir -p gen && sed '/^\/\/go:build ignore/d; /^\/\/ +build ignore/d' provider/cmd/pulumi-resource-kubernetes/generate.go > gen/main.go
  GOFLAGS=-mod=mod go build -trimpath -o gen/generate ./gen
  (cd provider/cmd/pulumi-resource-kubernetes && VERSION="${SDK_VERSION#v}" "$work/gen/generate")

  GOFLAGS=-mod=mod go build -trimpath \
    -ldflags "-s -w -X $PROVIDER_MODULE/pkg/version.Version=${SDK_VERSION#v}" \
    -o "$BIN/bin/pulumi-resource-kubernetes.partial" "$PROVIDER_MODULE/cmd/pulumi-resource-kubernetes"
  GOFLAGS=-mod=mod go build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$pkg_version" \
    -o "$BIN/bin/pulumi.partial" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  mv "$BIN/bin/pulumi-resource-kubernetes.partial" "$BIN/bin/pulumi-resource-kubernetes"
  mv "$BIN/bin/pulumi.partial" "$BIN/bin/pulumi"
}

(build) >&2
echo "$BIN"
