#!/usr/bin/env bash
# Runs node (>= 22: scripts/use-supported-node.sh brings it where the machine's is older) with the
# arguments given. `npm test` and `npm run test:host` run through it, so a machine with Node 20 needs
# no step of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/use-supported-node.sh
. scripts/use-supported-node.sh >&2
exec node "$@"
