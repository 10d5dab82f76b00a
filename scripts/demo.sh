#!/usr/bin/env bash
# A canary rollout and a roll back of yelb-appserver on a local Kubernetes
# control plane, watched live with canaryctl watch and canaryctl dashboard
# (`make demo`).
#
# It starts the local control plane (etcd, kube-apiserver, controller manager,
# scheduler and a kwok fake node), installs version 1 of yelb-appserver, rolls
# out a healthy version 2 step by step while `canaryctl watch` draws it, then
# rolls out a broken version 3, which the analysis rejects and the engine rolls
# back. The engine runs in-process (canary-run) with synthetic metrics, on a
# schedule sped up DEMO_SPEED times.
#
# Settings (environment):
#   DEMO_ROUTER  gatewayapi (default, the environment's default layer) or appmesh: which template and router to use
#   DEMO_SERVICE_DOMAIN  the stack domain of the VPC Lattice names (default canary.internal)
#   DEMO_SPEED   how many times faster than deploy.json's schedule (default 10)
#   DEMO_DIR     working folder for the kubeconfig and logs (default: a new temporary folder, removed at the end)
#   BIN          where the commands are built (default build/bin)
#   DEMO_HOLD    1: keep the control plane and the dashboard running at the end until Ctrl-C (the default
#                in a terminal); 0: stop at the end (the default without a terminal)
#   DEMO_DASHBOARD_ADDR  where canaryctl dashboard listens (default 127.0.0.1:8080; a free port if that is taken)
set -euo pipefail
cd "$(dirname "$0")/.."

router=${DEMO_ROUTER:-gatewayapi}
hold=${DEMO_HOLD:-}
if [[ -z $hold ]]; then
  hold=0
  [[ -t 0 && -t 1 ]] && hold=1
fi
speed=${DEMO_SPEED:-10}
bin=${BIN:-build/bin}
ns=yelb
svc=yelb-appserver
registry=local.registry/yelb
domain=${DEMO_SERVICE_DOMAIN:-canary.internal} # fills the templates' ${SERVICE_DOMAIN}
template=microservices/$svc/specfiles/$router/kubernetes_template.yml

case $router in
  appmesh) wait_time=30 ;;
  gatewayapi) wait_time=90 ;; # VPC Lattice needs about 90 s per weight change; the spec enforces it
  *) echo "demo: DEMO_ROUTER=$router is not known: use appmesh or gatewayapi" >&2; exit 2 ;;
esac
if [[ ! -f $template ]]; then
  echo "demo: template $template not found" >&2
  exit 1
fi

keep_dir=${DEMO_DIR:+yes}
work=${DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/canary-demo.XXXXXX")}
mkdir -p "$work" "$bin"
kubeconfig=$work/kubeconfig
rm -f "$kubeconfig"

say() { printf '\n== %s\n' "$*"; }
plain() { printf '   %s\n' "$*"; }

plane_pid=""
run_pid=""
dash_pid=""
cleanup() {
  local rc=$?
  if [[ -n $dash_pid ]] && kill -0 "$dash_pid" 2>/dev/null; then
    kill -TERM "$dash_pid" 2>/dev/null || true
    wait "$dash_pid" 2>/dev/null || true
  fi
  if [[ -n $run_pid ]] && kill -0 "$run_pid" 2>/dev/null; then
    kill -TERM "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
  fi
  if [[ -n $plane_pid ]] && kill -0 "$plane_pid" 2>/dev/null; then
    say "Stopping the local control plane."
    kill -TERM "$plane_pid" 2>/dev/null || true
    wait "$plane_pid" 2>/dev/null || true
  fi
  if ((rc != 0)); then
    echo "demo: failed (exit $rc); logs are in $work" >&2
  elif [[ -z $keep_dir ]]; then
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "Building canaryctl, canary-run and the local control plane runner into $bin."
go build -o "$bin/canaryctl" ./lambdas/cmd/canaryctl
go build -o "$bin/canary-run" ./lambdas/cmd/canary-run
go build -o "$bin/localplane" ./internal/testcluster/cmd/localplane
go build -o "$bin/demo-prepare" ./scripts/demo/prepare

say "Checking the control plane binaries (the first build takes about 15 minutes)."
plain "$(scripts/build-control-plane.sh)"

say "Starting a local Kubernetes control plane on 127.0.0.1 (log: $work/localplane.log)."
"$bin/localplane" -kubeconfig "$kubeconfig" 2>"$work/localplane.log" &
plane_pid=$!
for ((i = 0; i < 600; i++)); do
  [[ -s $kubeconfig ]] && break
  if ! kill -0 "$plane_pid" 2>/dev/null; then
    plane_pid=""
    echo "demo: the local control plane did not start:" >&2
    tail -n 40 "$work/localplane.log" >&2
    exit 1
  fi
  sleep 0.5
done
if [[ ! -s $kubeconfig ]]; then
  echo "demo: the local control plane did not write $kubeconfig within 5 minutes" >&2
  exit 1
fi
plain "Ready. kubeconfig: $kubeconfig"

case $router in
  appmesh) prepared="the mesh labels, the Mesh, the envoy ServiceAccount and the database Secret" ;;
  gatewayapi) prepared="the Gateway API Gateway canary-gateway and the database Secret" ;;
esac
say "Preparing namespace $ns as the environment program does on EKS: $prepared."
"$bin/demo-prepare" --kubeconfig "$kubeconfig" --namespace "$ns" --router "$router"

ctl() { "$bin/canaryctl" --kubeconfig "$kubeconfig" -n "$ns" "$@"; }

# start_dashboard ADDR serves canaryctl dashboard in the background and sets
# dashboard_url, or returns 1 if it did not come up (the port is taken).
start_dashboard() {
  local log=$work/dashboard.log
  : >"$log"
  # The command itself, not through ctl, so that $! is canaryctl's pid.
  "$bin/canaryctl" --kubeconfig "$kubeconfig" -n "$ns" dashboard --addr "$1" >"$log" 2>&1 &
  dash_pid=$!
  for ((i = 0; i < 100; i++)); do
    dashboard_url=$(grep -o 'http://[^ ]*/' "$log" || true)
    [[ -n $dashboard_url ]] && return 0
    kill -0 "$dash_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -TERM "$dash_pid" 2>/dev/null || true
  wait "$dash_pid" 2>/dev/null || true
  dash_pid=""
  return 1
}

say "Serving the live dashboard (canaryctl dashboard -n $ns) next to canaryctl watch."
dash_addr=${DEMO_DASHBOARD_ADDR:-127.0.0.1:8080}
if ! start_dashboard "$dash_addr"; then
  plain "$dash_addr is not free ($(tail -n 1 "$work/dashboard.log")); taking any free port."
  start_dashboard 127.0.0.1:0 || { echo "demo: canaryctl dashboard did not start:" >&2; cat "$work/dashboard.log" >&2; exit 1; }
fi
plain "Open $dashboard_url in a browser on this machine. Where to look:"
plain "- the table at the top: every microservice of $ns, its phase, versions and traffic weight;"
plain "- under yelb-appserver, \"Over time\": the weight climbing step by step and the success rate,"
plain "  p99, request count and p-value of every analysis, growing live (no reload needed);"
plain "- \"Gates and verdicts\": each analysis with its pod-health check, result and reason;"
plain "- \"History\": every finished rollout; the Pause, Resume, Promote and Abort buttons act as"
plain "  the canaryctl commands do and show their messages."
if [[ $hold == 1 ]]; then
  plain "It keeps running after the demo until Ctrl-C (DEMO_HOLD=0 stops it with the demo)."
else
  plain "It stops with the demo (DEMO_HOLD=1 keeps it and the control plane running until Ctrl-C)."
fi
if [[ -n ${DISPLAY:-}${WAYLAND_DISPLAY:-} ]] && command -v xdg-open >/dev/null; then
  xdg-open "$dashboard_url" >/dev/null 2>&1 || true
fi

# deploy_json VERSION writes the deploy.json a build would hand to the
# pipeline, with a short schedule: 10%, 30%, 60%, then 100% with a bake.
deploy_json() {
  local file=$work/deploy-$1.json
  cat >"$file" <<JSON
{
  "cluster_name": "local-demo",
  "kubernetes_namespace": "$ns",
  "microservice_name": "$svc",
  "container_image": "$registry/$svc:$1",
  "config_file": "$(base64 -w0 "$template")",
  "router": "$router",
  "percentage_step": 10,
  "wait_time": $wait_time,
  "failure_threshold_value": 0,
  "failure_threshold_time": 60,
  "steps": [10, 30, 60],
  "bake_time": 30,
  "progress_deadline": 120,
  "analysis": {"interval": 30, "min_success_rate": 99, "min_request_count": 20, "consecutive_failure_limit": 1}
}
JSON
  echo "$file"
}

# rollout VERSION METRICS starts canary-run in the background.
rollout() {
  "$bin/canary-run" --kubeconfig "$kubeconfig" --deploy "$(deploy_json "$1")" \
    --service-domain "$domain" --metrics "$2" --speed "$speed" >"$work/run-$1.log" 2>&1 &
  run_pid=$!
}

# finish_rollout waits for canary-run and sets rc to its exit code.
finish_rollout() {
  rc=0
  wait "$run_pid" || rc=$?
  run_pid=""
}

# watched_rollout VERSION METRICS WATCH_EXIT RUN_EXIT FAILURE runs a rollout
# while canaryctl watch follows it, and stops the demo with FAILURE and the
# engine's log unless watch and canary-run exit with the codes expected.
watched_rollout() {
  local version=$1 metrics=$2 want_watch=$3 want_run=$4 failure=$5 watch_rc=0
  rollout "$version" "$metrics"
  ctl watch "$svc" --next --timeout 10m || watch_rc=$?
  finish_rollout
  if ((watch_rc != want_watch || rc != want_run)); then
    echo "demo: $failure (watch exit $watch_rc, want $want_watch; canary-run exit $rc, want $want_run):" >&2
    cat "$work/run-$version.log" >&2
    exit 1
  fi
}

say "Installing version 1.0.0 of $svc. It is the first version, so it goes straight to 100%:"
plain "there is nothing to compare it with."
rollout 1.0.0 healthy
finish_rollout
if ((rc != 0)); then
  echo "demo: installing version 1.0.0 failed (canary-run exit $rc):" >&2
  cat "$work/run-1.0.0.log" >&2
  exit 1
fi
ctl status

say "Rolling out version 1.1.0, which is healthy. Traffic moves 10% -> 30% -> 60% -> 100%,"
plain "the canary is analysed at every step (success rate, request count, comparison with the"
plain "stable version), then baked at 100% before the old version is removed."
plain "canaryctl watch shows it live and ends when the rollout ends."
watched_rollout 1.1.0 healthy 0 0 "the healthy rollout did not succeed"
plain "canaryctl watch exited 0: the rollout succeeded."

say "Rolling out version 1.2.0, which answers a fifth of its requests with server errors."
plain "The first analysis finds a success rate far below 99%, and the engine sends all traffic"
plain "back to 1.1.0 and removes the canary. canaryctl watch exits non-zero (5: rolled back)."
watched_rollout 1.2.0 failing 5 1 "the broken version was not rolled back as expected"
plain "canaryctl watch exited 5, as expected: the bad version was rolled back."

say "All rollouts of namespace $ns (canaryctl status):"
ctl status
say "What happened to $svc (canaryctl history $svc):"
ctl history "$svc"

if [[ $hold == 1 ]]; then
  say "The control plane and the dashboard keep running until Ctrl-C. In another terminal:"
  plain "export KUBECONFIG=$kubeconfig"
  plain "$bin/canary-run --deploy $work/deploy-1.1.0.json --image $registry/$svc:1.3.0 --speed 2 &"
  plain "$bin/canaryctl -n $ns watch $svc    # and pause, resume, promote or abort it"
  plain "or follow and steer it in the dashboard: $dashboard_url"
  trap ':' INT TERM
  wait "$plane_pid" || true
  wait "$plane_pid" 2>/dev/null || true
  plane_pid=""
fi
say "Done."
