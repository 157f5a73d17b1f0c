#!/usr/bin/env bash
# Run first by `npm test` and `npm run test:host` (npm's pre-scripts). The tests drive real tools: a few
# Debian packages. When they are all there this prints nothing. When some are missing: as root it
# installs them (scripts/install-test-deps.sh, once; later runs find them); otherwise it stops at once
# with the one command to run.
set -euo pipefail
cd "$(dirname "$0")/.."
installer=${K3SBK_INSTALL_DEPS:-scripts/install-test-deps.sh}
missing=()
for tool in shellcheck systemd-analyze systemd-nspawn debootstrap ssh-keygen bwrap docker-registry htpasswd openssl busybox faketime; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
# Go is not a Debian package here (bookworm's is too old): the tests build BuildKit and kube-apiserver, and the real-host
# tests the Pulumi CLI, from their Go modules.
if ! command -v go >/dev/null 2>&1; then
  echo "npm test: Go >= 1.26 is needed (the tests build BuildKit, kube-apiserver, etcd and the Pulumi CLI from Go modules): install it, see https://go.dev/doc/install" >&2
  exit 1
fi
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "npm test: installing the Debian packages the tests need (missing: ${missing[*]}) with $installer"
  exec bash "$installer"
fi
echo "npm test: missing ${missing[*]}; run once as root:  sudo bash scripts/install-test-deps.sh" >&2
exit 1
