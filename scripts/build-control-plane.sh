#!/usr/bin/env bash
# Builds a local Kubernetes control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, etcd, kwok) from the Go module proxy into a cache folder outside
# the repository, keyed by version. Integration tests start these on 127.0.0.1.
# Re-running is cheap: finished binaries are reused. kwok builds in the
# Kubernetes binaries' module, against the same client libraries, so that it
# compiles only its own packages (about 25 CPU-s, not 280 in a module of its own).
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.8}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
CACHE="${CONTROL_PLANE_CACHE:-$HOME/.cache/canary-platform/control-plane}"
BIN="$CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"

complete() {
  [[ -x $BIN/kube-apiserver && -x $BIN/kube-controller-manager && -x $BIN/kube-scheduler && -x $BIN/etcd && -x $BIN/kwok && -d $BIN/kwok-stages ]]
}

mkdir -p "$BIN"
# shellcheck source=lib/build-once.sh
source "$(dirname "$0")/lib/build-once.sh"
exit_if_built "$CACHE" "$BIN"

work="$CACHE/src"
mkdir -p "$work/kubernetes" "$work/etcd"

# k8s_modules lists each module, at the version actually used, that provides
# a package of the Kubernetes binaries.
k8s_modules() {
  go list -tags tools -deps -f '{{with .Module}}{{.Path}} {{with .Replace}}{{.Version}}{{else}}{{.Version}}{{end}}{{end}}' \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler |
    LC_ALL=C sort -u
}

build_kubernetes() {
  cd "$work/kubernetes"
  rm -f kwok.go
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local staging="v0.${K8S_VERSION#v1.}"
  go mod download -json "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
  local upstream
  upstream="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$K8S_VERSION.mod"
  {
    echo "module local/kubernetes-binaries"
    echo
    grep -E '^go ' "$upstream"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    grep -E '=> \./staging/' "$upstream" | awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}'
  } > go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
  go mod tidy -e >/dev/null 2>&1 || true
  go get "k8s.io/kubernetes@$K8S_VERSION" >/dev/null
  # kwok may add modules but must not move any module the Kubernetes
  # binaries are built from, so that they are built as upstream pins them.
  local pinned
  pinned="$(k8s_modules)"
  printf '//go:build tools\n\npackage tools\n\nimport _ "sigs.k8s.io/kwok/cmd/kwok"\n' > kwok.go
  go get "sigs.k8s.io/kwok@$KWOK_VERSION" >/dev/null
  go mod tidy -e >/dev/null 2>&1 || true
  local moved
  moved="$(comm -3 <(echo "$pinned") <(k8s_modules))"
  if [[ -n $moved ]]; then
    echo "kwok $KWOK_VERSION would change the modules Kubernetes $K8S_VERSION is built from:" >&2
    echo "$moved" >&2
    echo "pick a kwok release built for this Kubernetes minor (KWOK_VERSION)" >&2
    exit 1
  fi
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
    [[ -x $BIN/$cmd ]] && continue
    go build -tags tools -trimpath -ldflags "$ld" -o "$BIN/$cmd.partial" "k8s.io/kubernetes/cmd/$cmd"
    mv "$BIN/$cmd.partial" "$BIN/$cmd"
  done
  if [[ ! -x $BIN/kwok ]]; then
    go build -tags tools -trimpath -ldflags "-s -w" -o "$BIN/kwok.partial" sigs.k8s.io/kwok/cmd/kwok
    mv "$BIN/kwok.partial" "$BIN/kwok"
  fi
}

build_etcd() {
  [[ -x $BIN/etcd ]] && return
  cd "$work/etcd"
  cat > go.mod <<GOMOD
module local/etcd-binary

go 1.24

require go.etcd.io/etcd/server/v3 $ETCD_VERSION

replace (
	go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 => go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/v3 => go.etcd.io/etcd/client/v3 $ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 => go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
)
GOMOD
  cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go mod tidy >/dev/null
  go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.partial" .
  mv "$BIN/etcd.partial" "$BIN/etcd"
}

# kwok's stage configs ship in its module; keep a copy beside the binary.
copy_kwok_stages() {
  [[ -d $BIN/kwok-stages ]] && return
  local dir
  dir="$(cd "$work/kubernetes" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage"
  rm -rf "$BIN/kwok-stages.partial" && cp -r "$dir" "$BIN/kwok-stages.partial" && chmod -R u+w "$BIN/kwok-stages.partial"
  mv "$BIN/kwok-stages.partial" "$BIN/kwok-stages"
}

(build_etcd) >&2
(build_kubernetes) >&2
(copy_kwok_stages) >&2
echo "$BIN"
