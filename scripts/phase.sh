#!/usr/bin/env bash
# Runs one phase of `make test` and prints its wall and CPU time, so a run
# shows where its minutes went. With a log, it also keeps the phase's output
# there and lists the slowest Go test packages it reported.
#   scripts/phase.sh NAME [--log FILE] -- COMMAND...
set -euo pipefail
name=$1
shift
log=""
if [[ ${1:-} == --log ]]; then
  log=$2
  shift 2
fi
[[ ${1:-} == -- ]] && shift

started=$SECONDS
read -r _ _ cu cs < <(awk '{print $14, $15, $16, $17}' /proc/$$/stat)
status=0
if [[ -n $log ]]; then
  mkdir -p "$(dirname "$log")"
  "$@" 2>&1 | tee "$log" || status=$?
else
  "$@" || status=$?
fi
read -r _ _ cu2 cs2 < <(awk '{print $14, $15, $16, $17}' /proc/$$/stat)
tick=$(getconf CLK_TCK)
cpu=$(((cu2 + cs2 - cu - cs) / tick))
echo "phase ${name}: $((SECONDS - started)) s wall, ${cpu} s CPU$([[ $status -eq 0 ]] || echo ", FAILED (exit $status)")" >&2
if [[ -n $log ]]; then
  # go test prints "ok <package> <seconds>s" per package: the slowest first.
  awk '$1 == "ok" && $3 ~ /s$/ { t = $3; sub(/s$/, "", t); if (t + 0 >= 20) printf "  %6.0f s  %s\n", t, $2 }' "$log" |
    sort -rn | head -8 >&2
fi
exit "$status"
