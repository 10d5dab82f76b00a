# Sourced by the scripts that build tools into a cache folder keyed by
# version (build-control-plane.sh, build-pulumi-engine.sh).
#
# exit_if_built CACHE BIN prints BIN and exits when the caller's `complete`
# function holds. Otherwise it takes the cache's build lock and returns: one
# build at a time, and a second caller waits, then finds the binaries built.
exit_if_built() {
  local cache=$1 bin=$2
  if complete; then
    echo "$bin"
    exit 0
  fi
  exec 9>"$cache/.build.lock"
  flock 9
  if complete; then
    echo "$bin"
    exit 0
  fi
}
