#!/usr/bin/env bash
# Runs a Pulumi command on a stack of this project. Without a Pulumi Cloud
# login it uses the local file backend under ~/.pulumi, so no account is
# needed beyond AWS credentials.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd="$1" stack="${2:-dev}"

command -v pulumi >/dev/null || { echo "pulumi CLI not found: install it from https://www.pulumi.com/docs/install/" >&2; exit 1; }
command -v aws >/dev/null || { echo "AWS CLI v2 not found: the cluster's kubeconfig uses 'aws eks get-token'" >&2; exit 1; }
if ! pulumi whoami >/dev/null 2>&1; then
  pulumi login --local
  export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
fi
pulumi stack select --create "$stack" >/dev/null
case "$cmd" in
  up) pulumi up --stack "$stack" ;;
  preview) pulumi preview --stack "$stack" ;;
  destroy) pulumi destroy --stack "$stack" ;;
  *) echo "unknown command $cmd: use up, preview or destroy" >&2; exit 1 ;;
esac
