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

# Preflight, in seconds and before anything is built or changed: each check
# names its fix.
command -v pulumi >/dev/null || { echo "pulumi CLI not found: install it from https://www.pulumi.com/docs/install/" >&2; exit 1; }
command -v aws >/dev/null || { echo "AWS CLI v2 not found: install it (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html); the cluster's kubeconfig uses 'aws eks get-token'" >&2; exit 1; }
[[ -f Pulumi.$stack.yaml ]] || { echo "Pulumi.$stack.yaml not found: copy Pulumi.dev.yaml to Pulumi.$stack.yaml and edit it, or use STACK=dev" >&2; exit 1; }
region=$(awk '$1 == "aws:region:" { print $2 }' "Pulumi.$stack.yaml")
[[ -n $region ]] || { echo "Pulumi.$stack.yaml sets no aws:region: add e.g. 'aws:region: us-west-2' under config" >&2; exit 1; }
[[ $region =~ ^[a-z]{2}(-[a-z]+)+-[0-9]$ ]] || { echo "Pulumi.$stack.yaml: aws:region '$region' is not an AWS region name such as us-west-2" >&2; exit 1; }
if ! identity=$(timeout 30 aws sts get-caller-identity --region "$region" --query Arn --output text 2>&1); then
  echo "no usable AWS credentials for region $region: $identity" >&2
  echo "fix: run 'aws configure' or 'aws sso login', or export AWS_PROFILE / AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" >&2
  exit 1
fi
echo "AWS identity: $identity, region $region" >&2

how_to_set="set PULUMI_CONFIG_PASSPHRASE, or PULUMI_CONFIG_PASSPHRASE_FILE to a file holding it (e.g. chmod 600 ~/.config/canary-passphrase), or run make $cmd in a terminal to be asked"

# refuse ends the run before anything changed; fix defaults to every way of
# giving a passphrase.
refuse() {
  echo "$1: the local backend encrypts the stack's secrets (kubeconfig, database password) with it; ${2:-$how_to_set}" >&2
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
  [[ -n $passphrase ]] || refuse "an empty passphrase protects nothing" "run make $cmd again and type a passphrase"
  if [[ $new == yes ]]; then
    read -rsp "Stack $stack is new: type the passphrase again: " again
    echo >&2
    [[ $again == "$passphrase" ]] || { echo "the two passphrases differ; nothing was changed" >&2; exit 1; }
  fi
  export PULUMI_CONFIG_PASSPHRASE=$passphrase
}

# Not logged in anywhere: the local file backend, once the passphrase is
# settled, so a refusal leaves no login behind.
local_backend=no login=no
if ! pulumi whoami >/dev/null 2>&1; then
  local_backend=yes login=yes
elif [[ ${PULUMI_BACKEND_URL-} == file://* ]] || pulumi whoami --verbose 2>/dev/null | grep -q 'Backend URL: *file://'; then
  local_backend=yes
fi
if [[ $local_backend == yes ]]; then
  new=no
  backend=${PULUMI_BACKEND_URL-}
  [[ $login == yes ]] && backend=file://~
  env ${backend:+PULUMI_BACKEND_URL=$backend} pulumi stack select "$stack" >/dev/null 2>&1 || new=yes
  require_passphrase "$new"
  if [[ $login == yes ]]; then
    echo "no Pulumi login: using the local state backend in ~/.pulumi (run 'pulumi login' first for Pulumi Cloud)" >&2
    pulumi login --local >/dev/null
  fi
fi

# The program Pulumi runs (Pulumi.yaml's buildTarget), built here so the
# first, long build shows its progress. CANARY_BUILD_PROGRAM replaces the
# command (the script's tests use true).
if [[ -n ${CANARY_BUILD_PROGRAM-} ]]; then
  bash -c "$CANARY_BUILD_PROGRAM"
else
  scripts/build-program.sh bin/eks-canary .
fi
pulumi stack select --create "$stack" >/dev/null
case "$cmd" in
  up) pulumi up --stack "$stack" ;;
  preview) pulumi preview --stack "$stack" ;;
  destroy) pulumi destroy --stack "$stack" ;;
esac
