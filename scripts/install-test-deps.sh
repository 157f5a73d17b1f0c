#!/usr/bin/env bash
# Installs the Debian packages the tests need: a real OpenSSH client, shellcheck, systemd-nspawn and
# debootstrap (the real-host harness boots a Debian machine), systemd (systemd-analyze), bubblewrap (the
# fuzz test runs generated scripts in a read-only sandbox), docker-registry and apache2-utils (a private
# registry with htpasswd for the real-host host-build test), busybox (the in-cluster scripts run under the
# buildkit image's busybox sh and awk), faketime (libfaketime moves the clock of the Node processes of one
# engine run, for the certificate renewal scenario). Run as root.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "run as root: sudo bash scripts/install-test-deps.sh" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
  openssh-client shellcheck systemd systemd-container debootstrap debian-archive-keyring tar ca-certificates openssl bubblewrap docker-registry apache2-utils busybox faketime
