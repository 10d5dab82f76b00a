#!/usr/bin/env bash
# Runs a Pulumi command on a stack of this project. Without a Pulumi Cloud
# login it uses the local file backend under ~/.pulumi, so no account is
# needed beyond AWS credentials.
#
# On the local backend the stack's secrets (the cluster's kubeconfig, the
# database password) are encrypted with a passphrase, and this script will
# not run without one: it takes PULUMI_CONFIG_PASSPHRASE or
# PULUMI_CONFIG_PASSPHRASE_FILE, or asks for it when run in a terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd="${1-}" stack="${2:-dev}"

case "$cmd" in
  up | preview | destroy) ;;
  *) echo "unknown command '$cmd': use up, preview or destroy" >&2; exit 1 ;;
esac
command -v pulumi >/dev/null || { echo "pulumi CLI not found: install it from https://www.pulumi.com/docs/install/" >&2; exit 1; }
command -v aws >/dev/null || { echo "AWS CLI v2 not found: the cluster's kubeconfig uses 'aws eks get-token'" >&2; exit 1; }

how_to_set="set PULUMI_CONFIG_PASSPHRASE, or PULUMI_CONFIG_PASSPHRASE_FILE to a file holding it (e.g. chmod 600 ~/.config/canary-passphrase), or run make $cmd in a terminal to be asked"

refuse() {
  echo "$1: the local backend encrypts the stack's secrets (kubeconfig, database password) with it; $how_to_set" >&2
  exit 1
}

# require_passphrase makes sure Pulumi gets a non-empty passphrase; a new
# stack's is asked twice, since a typo there would lock its secrets away.
require_passphrase() {
  local new=$1 passphrase again
  if [[ -n ${PULUMI_CONFIG_PASSPHRASE_FILE-} ]]; then
    [[ -f $PULUMI_CONFIG_PASSPHRASE_FILE ]] || refuse "PULUMI_CONFIG_PASSPHRASE_FILE=$PULUMI_CONFIG_PASSPHRASE_FILE does not exist"
    [[ -n $(tr -d '[:space:]' <"$PULUMI_CONFIG_PASSPHRASE_FILE") ]] || refuse "PULUMI_CONFIG_PASSPHRASE_FILE=$PULUMI_CONFIG_PASSPHRASE_FILE is empty"
    # Pulumi prefers PULUMI_CONFIG_PASSPHRASE when both are set.
    unset PULUMI_CONFIG_PASSPHRASE
    return
  fi
  if [[ -n ${PULUMI_CONFIG_PASSPHRASE+set} ]]; then
    [[ -n $PULUMI_CONFIG_PASSPHRASE ]] || refuse "PULUMI_CONFIG_PASSPHRASE is set but empty, and an empty passphrase protects nothing"
    return
  fi
  [[ -t 0 ]] || refuse "no passphrase for stack $stack and no terminal to ask for one"
  read -rsp "Passphrase for the secrets of stack $stack: " passphrase
  echo >&2
  [[ -n $passphrase ]] || refuse "an empty passphrase protects nothing"
  if [[ $new == yes ]]; then
    read -rsp "Stack $stack is new: type the passphrase again: " again
    echo >&2
    [[ $again == "$passphrase" ]] || { echo "the two passphrases differ; nothing was changed" >&2; exit 1; }
  fi
  export PULUMI_CONFIG_PASSPHRASE=$passphrase
}

if ! pulumi whoami >/dev/null 2>&1; then
  pulumi login --local
fi
if [[ ${PULUMI_BACKEND_URL-} == file://* ]] || pulumi whoami --verbose 2>/dev/null | grep -q 'Backend URL: *file://'; then
  new=no
  pulumi stack select "$stack" >/dev/null 2>&1 || new=yes
  require_passphrase "$new"
fi
pulumi stack select --create "$stack" >/dev/null
case "$cmd" in
  up) pulumi up --stack "$stack" ;;
  preview) pulumi preview --stack "$stack" ;;
  destroy) pulumi destroy --stack "$stack" ;;
esac
