#!/usr/bin/env bash
# `npm run preview` / `npm run up` (and any `bash scripts/pulumi.sh <args>`): the Pulumi CLI with a local
# default, so a fresh clone needs no other step.
# - The CLI: `pulumi` on PATH when one runs there; otherwise the engine scripts/engine.sh builds from Go
#   modules (cached by version: seconds after the first time), with its own PULUMI_HOME.
# - The backend: an existing one is used as it is (PULUMI_BACKEND_URL, or a `pulumi login`). With none,
#   a file backend inside the project, `.pulumi/` (git-ignored), through PULUMI_BACKEND_URL for this run
#   only: no login state is written.
# - The stack: the selected one; with none, `dev` (created when missing).
# - The passphrase (local backends encrypt secrets with it): PULUMI_CONFIG_PASSPHRASE when set; for the
#   project's own `.pulumi/` backend only, the documented default `k3s-buildkit-dev`. That keeps the dev
#   stack's secrets out of plain text in files; it does not keep them from anyone who has this repository.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! pulumi version >/dev/null 2>&1; then
  echo "no Pulumi CLI on PATH: using the engine built by scripts/engine.sh" >&2
  bash scripts/engine.sh >&2
  # shellcheck source=/dev/null
  . .cache/engine/env
fi
if [ -z "${PULUMI_BACKEND_URL:-}" ] && ! pulumi whoami >/dev/null 2>&1; then
  mkdir -p .pulumi
  export PULUMI_BACKEND_URL="file://$PWD/.pulumi"
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    export PULUMI_CONFIG_PASSPHRASE=k3s-buildkit-dev
  fi
  echo "no Pulumi backend configured: using the project's local backend $PULUMI_BACKEND_URL" >&2
fi
if ! pulumi stack --show-name >/dev/null 2>&1; then
  pulumi stack select dev --create
fi
exec pulumi "$@"
